"""The script a user would otherwise write: read the CSV, POST each invoice, one after another.

IDs are hard-coded from the CRM's catalogue (as a user would copy them), blank prices take the catalogue
price, and nothing is validated, resolved, journalled or retried. Prints one JSON line:
``{"created": n, "failed": n, "seconds": s}``.

    .venv/bin/python benchmarks/sequential_baseline.py FILE.csv URL [TOKEN]
"""

from __future__ import annotations

import csv
import json
import sys
import time
from itertools import groupby
from pathlib import Path
from typing import Any

import httpx

CONTACT_IDS = {"billing@acme.example": 1, "accounts@globex.example": 2, "Acme Ltd": 1}
ITEMS = {"WID-001": (1, "7.70"), "GAD-002": (2, "19.99"), "SRV-HOUR": (3, "120.00"), "SHIP": (6, "15.00")}
TAX_IDS = {"VAT 20%": 1, "GST 10%": 4, "": 0}


def payload(rows: list[dict[str, str]]) -> dict[str, Any]:
    first = rows[0]
    contact = first["contact"]
    return {
        "number": first["invoice_number"],
        "issueDate": first["issue_date"],
        "dueDate": first["due_date"],
        "contactId": int(contact) if contact.isdigit() else CONTACT_IDS[contact],
        "currency": first["currency"],
        "language": "en-US",
        "exchangeRate": 1,
        "terms": "Payment is due within 30 days of the invoice date.",
        "templateType": 0,
        "invoiceLines": [
            {
                "invoiceItemID": ITEMS[row["item"]][0],
                "invoiceTax1ID": TAX_IDS[row["tax1"]],
                "invoiceTax2ID": 0,
                "quantity": row["quantity"],
                "price": row["price"] or ITEMS[row["item"]][1],
                "discount": row["discount"],
                "description": row["line_description"],
            }
            for row in rows
        ],
    }


def main() -> None:
    file, url = Path(sys.argv[1]), sys.argv[2].rstrip("/")
    token = sys.argv[3] if len(sys.argv) > 3 else "sandbox"
    started = time.perf_counter()
    created = failed = 0
    with (
        file.open(newline="", encoding="utf-8") as handle,
        httpx.Client(base_url=url, headers={"Authorization": token}, timeout=30) as client,
    ):
        for _number, rows in groupby(csv.DictReader(handle), key=lambda row: row["invoice_number"]):
            answer = client.post("/api/2.0/crm/invoice", json=payload(list(rows)))
            if answer.status_code == 201:
                created += 1
            else:
                failed += 1
    print(json.dumps({"created": created, "failed": failed, "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
