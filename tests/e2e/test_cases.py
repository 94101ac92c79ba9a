"""csvkit-style cases: each tests/fixtures/cases/NAME.csv beside NAME.expected.json (and an optional
NAME.mapping.toml), run through the real ``invoice-import validate`` command.

An expected file holds the extra arguments, the exit code, and either the invoices of the results
workbook's Invoices sheet (status, lines, total, currency, source rows) and the errors (row, header, start
of the message), or, for a file that cannot be used, words the one-line message must contain.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e_helpers import invoices_sheet, invoke

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "cases"


def case_names() -> list[str]:
    return sorted(path.name.removesuffix(".expected.json") for path in CASES.glob("*.expected.json"))


def as_text(value: Any) -> str | None:
    return None if value is None else f"{Decimal(str(value)):.2f}"


@pytest.mark.parametrize("name", case_names())
def test_case(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = json.loads((CASES / f"{name}.expected.json").read_text(encoding="utf-8"))
    monkeypatch.chdir(CASES)
    results = tmp_path / f"{name}.results.xlsx"
    result = invoke("validate", f"{name}.csv", *expected["args"], "--results", results)

    assert result.exit_code == expected["exit_code"], result.stderr
    if "message" in expected:
        assert "Traceback" not in result.stderr and result.stderr.startswith("error: ")
        for words in expected["message"]:
            assert words in result.stderr
        assert not results.exists()
        return
    sheet = invoices_sheet(results)
    got = {
        number: {
            "status": row["status"],
            "lines": row["lines"],
            "total": as_text(row["total"]),
            "currency": row["currency"],
            "source_rows": row["source_rows"],
        }
        for number, row in sheet.items()
    }
    assert got == expected["invoices"]
    for row, header, start in expected["errors"]:
        assert f"{name}.csv: row {row}, {header}: {start}" in result.stderr
    shown = [line for line in result.stderr.splitlines() if line.startswith(f"{name}.csv: row")]
    assert len(shown) == len(expected["errors"]), shown
