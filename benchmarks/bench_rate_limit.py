"""Rate limit: the sandbox refuses more than 500 requests per 10 s; the importer runs with the same --rate.

Target: 2,000 invoices created within 1.1x of the ideal 40 s (2,000 requests at 50 per second), with no
invoice failed. The sandbox adds 50 ms to every answer and the importer uses ``--concurrency 16``, as in
the latency benchmark. The sandbox's 503 answers (requests over its limit) are reported too.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import check_run, run_import, verdict
from crm_fixture import Sandbox
from generate import write_csv

TARGET = 1.1
RATE = "500/10"
LATENCY_MS = 50
CONCURRENCY = 16


def measure(invoices: int, lines: int) -> bool:
    data = write_csv(invoices, lines, "RATE")
    count, seconds = (float(part) for part in RATE.split("/"))
    ideal = invoices / (count / seconds)
    with Sandbox(latency_ms=LATENCY_MS, rate_limit=RATE) as crm, tempfile.TemporaryDirectory() as folder:
        crm.reset_stats()
        journal = Path(folder) / "journal.sqlite"
        result = run_import(data, crm.url, journal, concurrency=CONCURRENCY, rate=RATE)
        stats = crm.stats()
    print(
        f"{invoices} invoices x {lines} lines, sandbox --rate-limit {RATE} --latency-ms {LATENCY_MS}, "
        f"importer --rate {RATE} --concurrency {CONCURRENCY}"
    )
    print(
        f"  run: {result.seconds:.2f} s, {stats['requests']} requests at the sandbox, "
        f"{stats['unavailable']} answered 503"
    )
    print(f"  summary: {result.summary}")
    check_run(result, invoices)
    ratio = result.seconds / ideal
    failed = int(result.summary.get("failed", 0))
    detail = f"{result.seconds:.2f} s / {ideal:.0f} s = {ratio:.3f}x (target <= {TARGET}x), {failed} failed"
    return verdict("time / ideal, none failed", ratio <= TARGET and failed == 0, detail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=2)
    args = parser.parse_args()
    raise SystemExit(0 if measure(args.invoices, args.lines) else 1)


if __name__ == "__main__":
    main()
