"""Latency: 50 ms added to every answer, ``--concurrency 16``.

Target: the time the run spends beyond an offline ``validate`` of the same file is within 1.25x of the
ideal, requests / 16 x 50 ms, with the requests counted at the sandbox. The client's rate limit is lifted
(``--rate 1000000/1``) so that only latency and concurrency count. ``validate`` is timed as the median of
three runs; ``validate --results`` (which, like ``run``, writes the results workbook) is shown for reference.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from common import UNLIMITED_RATE, check_run, run_import, validate, verdict
from crm_fixture import Sandbox
from generate import write_csv

TARGET = 1.25
LATENCY_MS = 50
CONCURRENCY = 16


def median_seconds(file: Path, results: Path | None = None, times: int = 3) -> float:
    return statistics.median(validate(file, results=results).seconds for _ in range(times))


def measure(invoices: int, lines: int) -> bool:
    data = write_csv(invoices, lines, "LAT")
    with tempfile.TemporaryDirectory() as folder:
        offline = median_seconds(data)
        offline_results = median_seconds(data, Path(folder) / "validate.results.xlsx")
        with Sandbox(latency_ms=LATENCY_MS) as crm:
            crm.reset_stats()
            result = run_import(data, crm.url, Path(folder) / "journal.sqlite", concurrency=CONCURRENCY,
                                rate=UNLIMITED_RATE)
            check_run(result, invoices)
            requests = int(crm.stats()["requests"])
    ideal = requests / CONCURRENCY * LATENCY_MS / 1000
    beyond = result.seconds - offline
    print(f"{invoices} invoices x {lines} lines, {LATENCY_MS} ms latency, --concurrency {CONCURRENCY}")
    print(f"  validate:            {offline:.2f} s (median of 3)")
    print(f"  validate --results:  {offline_results:.2f} s (median of 3, for reference)")
    print(f"  run:                 {result.seconds:.2f} s, {requests} requests at the sandbox")
    print(f"  beyond validate:     {beyond:.2f} s")
    print(f"  ideal:               {requests} / {CONCURRENCY} x {LATENCY_MS} ms = {ideal:.2f} s")
    print(f"  beyond validate --results: {result.seconds - offline_results:.2f} s "
          f"({(result.seconds - offline_results) / ideal:.2f}x ideal)")
    ratio = beyond / ideal
    return verdict("time beyond validate / ideal", ratio <= TARGET, f"{ratio:.2f}x (target <= {TARGET}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=3)
    args = parser.parse_args()
    raise SystemExit(0 if measure(args.invoices, args.lines) else 1)


if __name__ == "__main__":
    main()
