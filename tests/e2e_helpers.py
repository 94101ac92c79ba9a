"""Helpers of the end-to-end tests: run the real CLI, read the results workbook, ask the sandbox over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from openpyxl import load_workbook

from importer.cli import main
from importer.results_layout import INVOICE_HEADERS

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_data"
TOKEN = "sandbox"


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, Any]:
        """The --json summary: the last line of stdout."""
        return json.loads(self.stdout.strip().splitlines()[-1])


def invoke(*args: str | Path) -> CliResult:
    """Run the CLI in-process, as a user would type it (stdin is not a terminal)."""
    runner = CliRunner()
    result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def spawn(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start the CLI as a real process (for signals and kills)."""
    return subprocess.Popen(
        [sys.executable, "-m", "importer.cli", *[str(a) for a in args]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


def sheet_rows(path: Path, sheet: str) -> list[dict[str, Any]]:
    """A sheet of a workbook as a list of dicts keyed by its header row."""
    workbook = load_workbook(path)
    rows = list(workbook[sheet].iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, row, strict=False)) for row in rows[1:] if any(v is not None for v in row)]


def invoices_sheet(path: Path) -> dict[str, dict[str, Any]]:
    """The Invoices sheet by invoice number, each row keyed by the column's name (not its readable header)."""
    names = {label: name for name, label in INVOICE_HEADERS.items()}
    rows = [{names.get(k, k): v for k, v in row.items()} for row in sheet_rows(path, "Invoices")]
    return {str(row["invoice_number"]): row for row in rows}


class Crm:
    """A few read calls against the sandbox, to check outcomes through the API."""

    def __init__(self, url: str, token: str = TOKEN) -> None:
        self.http = httpx.Client(base_url=f"{url}/api/2.0/crm/", headers={"Authorization": token}, timeout=10)

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()["response"]

    def invoices(self) -> list[dict[str, Any]]:
        return list(self.get("invoice/filter", count=1000))

    def numbers(self) -> list[str]:
        return [invoice["number"] for invoice in self.invoices()]

    def invoice(self, crm_id: int) -> dict[str, Any]:
        return dict(self.get(f"invoice/{crm_id}"))
