"""Big files: ``validate`` of 50,000 / 100,000 / 200,000 rows (5 lines per invoice), CSV and XLSX.

Targets, at 200,000 rows (40,000 invoices):
- ``invoice-import validate`` of the CSV takes at most 4x a bare ``pandas.read_csv`` of the same file;
- of the same data as XLSX at most 3x a bare ``python_calamine`` read of the first sheet;
- peak memory (``ru_maxrss`` of the validating child) stays under 1.5 GB, and grows linearly: the memory
  added per row from 100k to 200k rows is at most 1.25x that added per row from 50k to 100k.

Both sides are timed as whole child processes (interpreter start and imports included), each the median
of ``--repeat`` runs; the bare reads also report the read alone, timed inside the child.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from common import PYTHON, Timed, timed_with_rss, validate, verdict
from generate import write_csv, write_xlsx

LINES = 5
SIZES = (50_000, 100_000, 200_000)
CSV_TARGET, XLSX_TARGET = 4.0, 3.0
MEMORY_LIMIT_MB = 1500.0
LINEARITY = 1.25

_READER = """
import json, sys, time
started = time.perf_counter()
{body}
print(json.dumps({{"read_seconds": time.perf_counter() - started}}))
"""
BARE_CSV = _READER.format(body="import pandas\nrows = len(pandas.read_csv(sys.argv[1]))")
BARE_XLSX = _READER.format(
    body="import python_calamine\n"
    "rows = len(python_calamine.CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_index(0).to_python())"
)


@dataclass(frozen=True)
class Figures:
    rows: int
    kind: str
    validate: Timed
    bare: Timed

    @property
    def ratio(self) -> float:
        return self.validate.seconds / self.bare.seconds

    @property
    def validate_mb(self) -> float:
        return self.validate.max_rss_kib / 1024

    def show(self) -> None:
        read_only = float(self.bare.summary.get("read_seconds", 0.0))
        print(
            f"  {self.kind:4} {self.rows:7d} rows: validate {self.validate.seconds:6.2f} s, "
            f"{self.validate_mb:6.0f} MB peak | bare read {self.bare.seconds:5.2f} s "
            f"({read_only:.2f} s reading), {self.bare.max_rss_kib / 1024:4.0f} MB | "
            f"ratio {self.ratio:.2f}x"
        )


def median_run(run: Callable[[], Timed], repeat: int) -> Timed:
    results = sorted((run() for _ in range(repeat)), key=lambda result: result.seconds)
    return results[len(results) // 2]


def measure_one(rows: int, kind: str, repeat: int) -> Figures:
    invoices = rows // LINES
    file = write_csv(invoices, LINES, "BIG") if kind == "csv" else write_xlsx(invoices, LINES, "BIG")
    script = BARE_CSV if kind == "csv" else BARE_XLSX
    checked = median_run(lambda: validate(file), repeat)
    if checked.summary.get("invoices") != invoices or checked.summary.get("invalid"):
        raise SystemExit(
            f"validate of {file} did not find {invoices} valid invoices: {checked.summary} "
            f"(exit {checked.returncode}) {checked.stderr[-2000:]}"
        )
    bare = median_run(lambda: timed_with_rss([str(PYTHON), "-c", script, str(file)]), repeat)
    figures = Figures(rows, kind, checked, bare)
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
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs=3, default=SIZES)
    args = parser.parse_args()
    print(f"validate vs bare reads, {LINES} lines per invoice, median of {args.repeat}")
    results = {
        kind: [measure_one(rows, kind, args.repeat) for rows in args.sizes] for kind in ("csv", "xlsx")
    }
    csv_big, xlsx_big = results["csv"][-1], results["xlsx"][-1]
    peak = max(f.validate_mb for kind in results.values() for f in kind)
    outcomes = [
        verdict(
            f"CSV {csv_big.rows} rows vs pandas.read_csv",
            csv_big.ratio <= CSV_TARGET,
            f"{csv_big.ratio:.2f}x (target <= {CSV_TARGET:.0f}x)",
        ),
        verdict(
            f"XLSX {xlsx_big.rows} rows vs calamine",
            xlsx_big.ratio <= XLSX_TARGET,
            f"{xlsx_big.ratio:.2f}x (target <= {XLSX_TARGET:.0f}x)",
        ),
        verdict("peak memory", peak < MEMORY_LIMIT_MB, f"{peak:.0f} MB (target < {MEMORY_LIMIT_MB:.0f} MB)"),
    ]
    for kind, figures in results.items():
        passed, detail = linear(figures)
        outcomes.append(verdict(f"{kind.upper()} memory grows linearly", passed, detail))
    raise SystemExit(0 if all(outcomes) else 1)


if __name__ == "__main__":
    main()
