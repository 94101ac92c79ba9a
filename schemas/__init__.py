"""pandera schemas of the input rows (schemas.rows, built from importer.columns) and of the rules that
span two columns of an invoice (schemas.invoices).

Each check is named by the stable ``CellError.code`` it produces; ``message(column, code)`` gives the
sentence a finance user reads.
"""

from __future__ import annotations

from schemas.invoices import INVOICE_RULES, INVOICE_SCHEMA
from schemas.rows import MAX_AMOUNT, ROW_SCHEMA, message

__all__ = ["INVOICE_RULES", "INVOICE_SCHEMA", "MAX_AMOUNT", "ROW_SCHEMA", "message"]
