"""Latency: 50 ms added to every answer, ``--concurrency 16``.

Target: the time the run spends beyond an offline ``validate`` of the same file is within 1.25x of the
ideal, requests / 16 x 50 ms, with the requests counted at the sandbox. The client's rate limit is lifted
(``--rate 1000000/1``) so that only latency and concurrency count. Each command is run ``--repeat`` times
(the import into a fresh sandbox each time) and the fastest run counts: the machine may be shared.
``validate --results`` (which, like ``run``, writes the results workbook) is shown for reference.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import UNLIMITED_RATE, fastest, fresh_import, validate, verdict
from generate import write_csv

TARGET = 1.25
LATENCY_MS = 50
CONCURRENCY = 16


def fastest_validate(file: Path, repeat: int, results: Path | None = None) -> float:
    return fastest(repeat, lambda: validate(file, results=results), lambda r: r.seconds).seconds


def measure(invoices: int, lines: int, repeat: int) -> bool:
    data = write_csv(invoices, lines, "LAT")
    with tempfile.TemporaryDirectory() as folder:
        offline = fastest_validate(data, repeat)
        offline_results = fastest_validate(data, repeat, Path(folder) / "validate.results.xlsx")
    result, stats = fastest(
        repeat,
        lambda: fresh_import(
            data, invoices, latency_ms=LATENCY_MS, concurrency=CONCURRENCY, rate=UNLIMITED_RATE
        ),
        lambda run: run[0].seconds,
    )
    requests = int(stats["requests"])
    ideal = requests / CONCURRENCY * LATENCY_MS / 1000
    beyond = result.seconds - offline
    print(f"{invoices} invoices x {lines} lines, {LATENCY_MS} ms latency, --concurrency {CONCURRENCY}")
    print(f"  validate:            {offline:.2f} s (fastest)")
    print(f"  validate --results:  {offline_results:.2f} s (fastest, for reference)")
    print(f"  run:                 {result.seconds:.2f} s (fastest), {requests} requests at the sandbox")
    print(f"  beyond validate:     {beyond:.2f} s")
    print(f"  ideal:               {requests} / {CONCURRENCY} x {LATENCY_MS} ms = {ideal:.2f} s")
    print(
        f"  beyond validate --results: {result.seconds - offline_results:.2f} s "
        f"({(result.seconds - offline_results) / ideal:.2f}x ideal)"
    )
    ratio = beyond / ideal
    return verdict("time beyond validate / ideal", ratio <= TARGET, f"{ratio:.2f}x (target <= {TARGET}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    raise SystemExit(0 if measure(args.invoices, args.lines, args.repeat) else 1)


if __name__ == "__main__":
    main()
