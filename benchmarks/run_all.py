"""Run every benchmark of issue 6, one after another, and print a PASS/FAIL line per target.

    .venv/bin/python benchmarks/run_all.py        # or: make bench

Exits 1 if any target is missed. The machine is printed first, for benchmarks/README.md.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from common import PYTHON, machine

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    "bench_requests.py",
    "bench_latency.py",
    "bench_rate_limit.py",
    "bench_vs_sequential.py",
    "bench_big_files.py",
)


def run(script: str) -> bool:
    print(f"\n=== {script}", flush=True)
    started = time.perf_counter()
    code = subprocess.call([str(PYTHON), str(HERE / script)])
    print(f"=== {script}: exit {code} in {time.perf_counter() - started:.0f} s", flush=True)
    return code == 0


def main() -> None:
    print(f"machine: {machine()}", flush=True)
    results = {script: run(script) for script in SCRIPTS}
    print("\nsummary:")
    for script, passed in results.items():
        print(f"  {'PASS' if passed else 'FAIL'}  {script}")
    sys.exit(0 if all(results.values()) else 1)


if __name__ == "__main__":
    main()
