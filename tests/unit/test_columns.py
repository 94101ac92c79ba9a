"""A new input column is one entry in importer.columns: validate, group, the row schema, the template and
the request body all pick it up (checked on a copy of the package with one extra entry), and no other
module of the offline stages lists the columns by name."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from importer.columns import BY_NAME, CANONICAL, COLUMNS, INVOICE_KEY, TOTAL

ROOT = Path(__file__).resolve().parents[2]

EXTRA_ENTRY = """
    Column(
        "priority",
        Kind.TEXT,
        Level.INVOICE,
        default="low",
        normalize=lambda values: values.str.lower(),
        checks=(Check("priority", lambda s: s.isin(["low", "high"]), "The priority must be low or high."),),
        doc="The invoice's priority.",
        example="low",
        template=("high",),
        choices=("low", "high"),
        payload=Payload("priority", 13),
    ),
"""

SCRIPT = """
import datetime as dt
from pathlib import Path

import pandas as pd

from importer.columns import BY_NAME, CANONICAL
from importer.models import Invoice, MappedTable, RawTable, ResolvedInvoice
from importer.payload import build_payload
from importer.template import build_template
from importer.validate import validate_table

good = {"invoice_number": "A", "issue_date": "2026-06-01", "due_date": "2026-07-01", "contact": "x",
        "currency": "EUR", "item": "W", "quantity": "1", "price": "2"}
rows = [{**good, "priority": "HIGH"}, {**good, "invoice_number": "B", "priority": "urgent"},
        {**good, "invoice_number": "C"}]
frame = pd.DataFrame({c: [r.get(c) for r in rows] for c in CANONICAL}, dtype=object)
frame["row"] = [2, 3, 4]
raw = RawTable(frame=frame, row_numbers=[2, 3, 4], source=Path("in.csv"))
validation = validate_table(MappedTable(raw=raw, frame=frame, headers={c: c for c in CANONICAL}))
print([(e.row, e.column, e.code, e.message) for e in validation.errors])
print([i.values["priority"] for i in validation.invoices])
sheet = build_template()["Example"]  # the example invoice (the Invoices sheet is left empty)
print([c.value for c in sheet[1]][-1], [c.value for c in sheet[2]][-1])
invoice = validation.invoices[0]
body = build_payload(ResolvedInvoice(invoice=invoice, contact_id=1, consignee_id=None, currency="EUR",
                                     language="en-US", terms="t", lines=(), total=invoice.total))
print(list(body)[12:15], body["priority"])
"""


def test_an_extra_column_is_one_entry(tmp_path: Path) -> None:
    for package in ("importer", "schemas"):
        shutil.copytree(ROOT / package, tmp_path / package)
    columns = tmp_path / "importer" / "columns.py"
    source = columns.read_text()
    end = source.index("\n)\n\nBY_NAME")
    columns.write_text(source[:end] + EXTRA_ENTRY.rstrip("\n") + source[end:])
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    errors, values, template, body = result.stdout.splitlines()
    assert errors == "[(3, 'priority', 'priority', 'The priority must be low or high.')]"
    assert values == "['high', 'urgent', 'low']"  # normalised; the built-in default where blank
    assert template == "priority high"
    assert body == "['templateType', 'priority', 'invoiceLines'] high"


OFFLINE_MODULES = ("validate", "group", "parse", "load", "mapping", "payload", "template")


def test_no_offline_module_names_a_column() -> None:
    """Columns are named only in importer.columns (and the rules spanning two columns in
    schemas/invoices.py); the other modules read the declaration."""
    allowed = {INVOICE_KEY, TOTAL.expected}  # the invoice key and the expected total: named in columns.py
    names = set(CANONICAL) - allowed
    for module in (
        *(ROOT / "importer" / f"{name}.py" for name in OFFLINE_MODULES),
        ROOT / "schemas" / "rows.py",
    ):
        tree = ast.parse(module.read_text())
        strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
        docstrings = {
            ast.get_docstring(node)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        }
        named = {s for s in strings - docstrings if isinstance(s, str)} & names
        assert not named, f"{module.name} names the columns {sorted(named)}"


def test_every_column_but_the_expected_total_and_the_status_is_sent() -> None:
    # the status is reached after the create, through PUT invoice/status/{status} (issue 14)
    assert [c.name for c in COLUMNS if c.payload is None] == [TOTAL.expected, "status"]


def test_the_status_column_is_one_entry_read_case_insensitively_with_billed_for_sent() -> None:
    import pandas as pd

    from importer.models import CrmStatus, MappedTable, RawTable
    from importer.validate import validate_table

    column = BY_NAME["status"]
    assert column.aliases == ("invoice status", "state") and column.default == "Draft"
    good = {
        "invoice_number": "A",
        "issue_date": "2026-06-01",
        "due_date": "2026-07-01",
        "contact": "x",
        "currency": "EUR",
        "item": "W",
        "quantity": "1",
        "price": "2",
    }
    written = ["PAID", "billed", "Sent", "rejected", None, "draft", "archived"]
    rows = [{**good, "invoice_number": f"N{i}", "status": value} for i, value in enumerate(written)]
    frame = pd.DataFrame({c: [r.get(c) for r in rows] for c in CANONICAL}, dtype=object)
    frame["row"] = list(range(2, 2 + len(rows)))
    raw = RawTable(frame=frame, row_numbers=list(range(2, 2 + len(rows))), source=Path("in.csv"))
    validation = validate_table(MappedTable(raw=raw, frame=frame, headers={c: c for c in CANONICAL}))
    assert [(e.row, e.column, e.code) for e in validation.errors] == [(8, "status", "status")]
    assert "Draft, Sent (or Billed), Paid or Rejected" in validation.errors[0].message
    valid = [i.target_status for i in validation.invoices if i.is_valid]
    S = CrmStatus
    assert valid == [S.PAID, S.SENT, S.SENT, S.REJECTED, S.DRAFT, S.DRAFT]
