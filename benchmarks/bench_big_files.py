"""Big files: ``validate`` of 50,000 / 100,000 / 200,000 rows (5 lines per invoice), CSV and XLSX.

Targets, at 200,000 rows (40,000 invoices):
- ``validate`` of the CSV takes at most 6x a bare ``pandas.read_csv(path, dtype=str)`` of the same file
  (issue 11: pandas' default C engine; a faster reader inside the product counts in its favour);
- of the same data as XLSX at most 3x a bare ``python_calamine`` read of the first sheet;
- peak memory (``ru_maxrss`` of the validating child) stays under 1 GB, and grows linearly: the memory
  added per row from 100k to 200k rows is at most 1.25x that added per row from 50k to 100k.

The ratio compares the work on the file: in one warm process (imports done, everything read once
first), the best of ``--calls`` (default 5) calls of ``importer.pipeline.validate_source(Source(path))``
against the best of as many calls of ``pandas.read_csv(path, dtype=str)`` or
``python_calamine.CalamineWorkbook.from_path(path).get_sheet_by_index(0).to_python()``. Beside it, for
the user's view, the whole ``invoice-import validate FILE`` process (interpreter start-up and imports
included, the median of ``--repeat``) and its peak memory, which the memory targets use.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from common import PYTHON, ROOT, Timed, validate, verdict
from generate import write_csv, write_xlsx

LINES = 5
SIZES = (50_000, 100_000, 200_000)
CSV_TARGET, XLSX_TARGET = 6.0, 3.0
MEMORY_LIMIT_MB = 1000.0
LINEARITY = 1.25

IN_PROCESS = """
import json, sys, time
from pathlib import Path
import pandas, python_calamine
from importer.pipeline import Source, validate_source

path, repeat = Path(sys.argv[1]), int(sys.argv[2])
def bare():
    if path.suffix == ".csv":
        return len(pandas.read_csv(path, dtype=str))
    return len(python_calamine.CalamineWorkbook.from_path(path).get_sheet_by_index(0).to_python())
def ours():
    return len(validate_source(Source(path)).invoices)
def best(run):
    result = run()  # warm: file in the page cache, lazy imports done
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result
bare_seconds, _ = best(bare)
validate_seconds, invoices = best(ours)
print(json.dumps({"bare": bare_seconds, "validate": validate_seconds, "invoices": invoices}))
"""


def in_process(file: object, repeat: int) -> dict[str, float]:
    """Best-of-``repeat`` seconds of validate_source and of the bare read, in one warm process."""
    done = subprocess.run(
        [str(PYTHON), "-c", IN_PROCESS, str(file), str(repeat)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"in-process timing of {file} failed: {done.stderr[-2000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


@dataclass(frozen=True)
class Figures:
    rows: int
    kind: str
    process: Timed  # the whole `invoice-import validate` process
    validate_seconds: float  # validate_source in a warm process, best of --calls
    bare_seconds: float  # the bare read in the same process, best of --calls

    @property
    def ratio(self) -> float:
        return self.validate_seconds / self.bare_seconds

    @property
    def validate_mb(self) -> float:
        return self.process.max_rss_kib / 1024

    def show(self) -> None:
        print(
            f"  {self.kind:4} {self.rows:7d} rows: in-process validate_source {self.validate_seconds:5.2f} s "
            f"vs bare read {self.bare_seconds:5.2f} s = ratio {self.ratio:.2f}x | whole process "
            f"`invoice-import validate` {self.process.seconds:5.2f} s (start-up and imports included), "
            f"{self.validate_mb:4.0f} MB peak"
        )


def median_run(run: Callable[[], Timed], repeat: int) -> Timed:
    results = sorted((run() for _ in range(repeat)), key=lambda result: result.seconds)
    return results[len(results) // 2]


def measure_one(rows: int, kind: str, repeat: int, calls: int) -> Figures:
    invoices = rows // LINES
    file = write_csv(invoices, LINES, "BIG") if kind == "csv" else write_xlsx(invoices, LINES, "BIG")
    checked = median_run(lambda: validate(file), repeat)
    if checked.summary.get("invoices") != invoices or checked.summary.get("invalid"):
        raise SystemExit(
            f"validate of {file} did not find {invoices} valid invoices: {checked.summary} "
            f"(exit {checked.returncode}) {checked.stderr[-2000:]}"
        )
    timing = in_process(file, calls)
    if timing["invoices"] != invoices:
        raise SystemExit(f"validate_source of {file} found {timing['invoices']} invoices, not {invoices}")
    figures = Figures(rows, kind, checked, timing["validate"], timing["bare"])
    figures.show()
    return figures


def linear(figures: list[Figures]) -> tuple[bool, str]:
    small, medium, large = (f.validate_mb for f in figures)
    first = (medium - small) / (figures[1].rows - figures[0].rows)
    second = (large - medium) / (figures[2].rows - figures[1].rows)
    passed = second <= LINEARITY * first
    return passed, f"{first * 1024 * 1024:.0f} then {second * 1024 * 1024:.0f} bytes per added row"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="whole-process runs (median)")
    parser.add_argument("--calls", type=int, default=5, help="in-process calls of each side (fastest)")
    parser.add_argument("--sizes", type=int, nargs=3, default=SIZES)
    args = parser.parse_args()
    print(
        f"validate vs bare reads, {LINES} lines per invoice: in-process best of {args.calls}, "
        f"whole process median of {args.repeat}"
    )
    results = {
        kind: [measure_one(rows, kind, args.repeat, args.calls) for rows in args.sizes]
        for kind in ("csv", "xlsx")
    }
    csv_big, xlsx_big = results["csv"][-1], results["xlsx"][-1]
    peak = max(f.validate_mb for kind in results.values() for f in kind)
    outcomes = [
        verdict(
            f"CSV {csv_big.rows} rows, validate_source vs pandas.read_csv(dtype=str) (in-process)",
            csv_big.ratio <= CSV_TARGET,
            f"{csv_big.validate_seconds:.2f} s / {csv_big.bare_seconds:.2f} s = {csv_big.ratio:.2f}x "
            f"(target <= {CSV_TARGET:.0f}x; whole process {csv_big.process.seconds:.2f} s)",
        ),
        verdict(
            f"XLSX {xlsx_big.rows} rows, validate_source vs calamine read (in-process)",
            xlsx_big.ratio <= XLSX_TARGET,
            f"{xlsx_big.validate_seconds:.2f} s / {xlsx_big.bare_seconds:.2f} s = {xlsx_big.ratio:.2f}x "
            f"(target <= {XLSX_TARGET:.0f}x; whole process {xlsx_big.process.seconds:.2f} s)",
        ),
        verdict("peak memory", peak < MEMORY_LIMIT_MB, f"{peak:.0f} MB (target < {MEMORY_LIMIT_MB:.0f} MB)"),
    ]
    for kind, figures in results.items():
        passed, detail = linear(figures)
        outcomes.append(verdict(f"{kind.upper()} memory grows linearly", passed, detail))
    raise SystemExit(0 if all(outcomes) else 1)


if __name__ == "__main__":
    main()
