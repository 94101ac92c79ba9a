"""Against the alternative: the importer vs a plain sequential loop of POSTs, side by side, 50 ms latency.

Target: at least 10x the throughput (invoices per second) of ``sequential_baseline.py``. Both import the
same invoices (same generator seed, different number prefixes) into one sandbox, one after the other, and
both are timed as whole processes, interpreter start-up included. The importer runs with
``--concurrency 16`` and its rate limit lifted (``--rate 1000000/1``): the sandbox has no limit here. The
loop runs once (it is waiting nearly all the time); the importer ``--repeat`` times, each into a fresh
sandbox, and its fastest run counts, as the machine may be shared.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import PYTHON, UNLIMITED_RATE, fastest, fresh_import, timed, verdict
from crm_fixture import Sandbox
from generate import write_csv

TARGET = 10.0
LATENCY_MS = 50
CONCURRENCY = 16
BASELINE = Path(__file__).resolve().parent / "sequential_baseline.py"


def measure(invoices: int, lines: int, concurrency: int, repeat: int) -> bool:
    ours_file = write_csv(invoices, lines, "OURS")
    loop_file = write_csv(invoices, lines, "LOOP")
    with Sandbox(latency_ms=LATENCY_MS) as crm:
        loop = timed([str(PYTHON), str(BASELINE), str(loop_file), crm.url])
    if loop.summary.get("created") != invoices:
        raise SystemExit(f"the loop did not create all {invoices}: {loop.summary} {loop.stderr}")
    ours, _stats = fastest(
        repeat,
        lambda: fresh_import(
            ours_file, invoices, latency_ms=LATENCY_MS, concurrency=concurrency, rate=UNLIMITED_RATE
        ),
        lambda run: run[0].seconds,
    )
    loop_rate, ours_rate = invoices / loop.seconds, invoices / ours.seconds
    print(f"{invoices} invoices x {lines} lines, {LATENCY_MS} ms latency")
    print(f"  sequential loop: {loop.seconds:.2f} s, {loop_rate:.1f} invoices/s")
    print(
        f"  invoice-import --concurrency {concurrency}: {ours.seconds:.2f} s (fastest of {repeat}), "
        f"{ours_rate:.1f} invoices/s"
    )
    speedup = ours_rate / loop_rate
    detail = f"{speedup:.1f}x (target >= {TARGET:.0f}x)"
    return verdict("throughput vs sequential loop", speedup >= TARGET, detail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    raise SystemExit(0 if measure(args.invoices, args.lines, args.concurrency, args.repeat) else 1)


if __name__ == "__main__":
    main()
