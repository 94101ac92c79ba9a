"""Requests per invoice: a clean import of 1,000 invoices into a CRM holding 10,000 others.

Target: at most 1.05 HTTP requests per invoice, look-ups, number checks and retries included, counted at
the sandbox (``GET /_sandbox/stats``). The client's own pacing is lifted (``--rate 1000000/1``): it changes
the time, not the count.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import UNLIMITED_RATE, check_run, run_import, verdict
from crm_fixture import Sandbox
from generate import write_csv

TARGET = 1.05


def measure(invoices: int, lines: int, others: int) -> bool:
    data = write_csv(invoices, lines, "REQ")
    with Sandbox(others=others) as crm, tempfile.TemporaryDirectory() as folder:
        print(f"sandbox {crm.url}: {others} other invoices pre-loaded in {crm.preload_seconds:.2f} s")
        crm.reset_stats()
        result = run_import(data, crm.url, Path(folder) / "journal.sqlite", rate=UNLIMITED_RATE)
        check_run(result, invoices)
        stats = crm.stats()
    requests = int(stats["requests"])
    for route, count in sorted(stats["routes"].items(), key=lambda item: -item[1]):
        print(f"  {count:6d}  {route}")
    print(f"  503 answers: {stats['unavailable']}, invoice creates: {stats['invoiceCreates']}")
    per_invoice = requests / invoices
    print(f"requests: {requests} for {invoices} invoices ({lines} lines each) in {result.seconds:.2f} s")
    return verdict("requests per invoice", per_invoice <= TARGET, f"{per_invoice:.3f} (target <= {TARGET})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument("--others", type=int, default=10_000)
    args = parser.parse_args()
    raise SystemExit(0 if measure(args.invoices, args.lines, args.others) else 1)


if __name__ == "__main__":
    main()
