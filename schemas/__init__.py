"""pandera schemas of the input rows (schemas.rows) and of the invoice-level checks (schemas.invoices).

Each check is named by the stable ``CellError.code`` it produces; ``message(column, code, example)``
gives the sentence a finance user reads.
"""

from __future__ import annotations

from schemas.invoices import INVOICE_SCHEMA
from schemas.rows import MAX_AMOUNT, ROW_SCHEMA, message

__all__ = ["INVOICE_SCHEMA", "MAX_AMOUNT", "ROW_SCHEMA", "message"]
