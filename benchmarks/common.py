"""Shared by the benchmark scripts: running the CLI as a subprocess, timing it, reporting a target."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from crm_fixture import Sandbox

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
CLI = BIN / "invoice-import"
PYTHON = BIN / "python"
T = TypeVar("T")
UNLIMITED_RATE = "1000000/1"  # for benchmarks where the client's own pacing must not be the limit


@dataclass(frozen=True)
class Timed:
    seconds: float
    returncode: int
    summary: dict[str, Any]
    stderr: str
    max_rss_kib: int = 0


def _json_summary(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip().startswith("{")]
    if not lines:
        return {}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def timed(command: list[str]) -> Timed:
    """Run ``command``, wall-clock timed, and read its --json summary."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    return Timed(seconds, process.returncode, _json_summary(stdout), stderr)


def timed_with_rss(command: list[str]) -> Timed:
    """Like :func:`timed`, plus the child's peak resident memory (``ru_maxrss`` of exactly this child).

    Output goes to temporary files so the parent can reap the child itself with ``os.wait4``, which
    returns the same ``ru_maxrss`` as ``getrusage(RUSAGE_CHILDREN)`` would for a single child.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Timed(seconds, process.returncode, _json_summary(out.read()), err.read(), usage.ru_maxrss)


def fresh_import(
    file: Path, invoices: int, *, latency_ms: int, concurrency: int, rate: str
) -> tuple[Timed, dict[str, Any]]:
    """Import ``file`` into a new sandbox (own process), check all were created; the sandbox's stats."""
    with Sandbox(latency_ms=latency_ms) as crm, tempfile.TemporaryDirectory() as folder:
        crm.reset_stats()
        journal = Path(folder) / "journal.sqlite"
        result = run_import(file, crm.url, journal, concurrency=concurrency, rate=rate)
        check_run(result, invoices)
        return result, crm.stats()


def run_import(
    file: Path, url: str, journal: Path, *, concurrency: int | None = None, rate: str | None = None
) -> Timed:
    """``invoice-import run FILE --url URL --token sandbox --yes --json --journal JOURNAL``, timed."""
    command = [
        str(CLI),
        "run",
        str(file),
        "--url",
        url,
        "--token",
        "sandbox",
        "--yes",
        "--json",
        "--journal",
        str(journal),
        "--results",
        str(journal.with_suffix(".results.xlsx")),
    ]
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    if rate is not None:
        command += ["--rate", rate]
    return timed(command)


def validate(file: Path, *, results: Path | None = None) -> Timed:
    """``invoice-import validate FILE --json``, timed (and its peak memory)."""
    command = [str(CLI), "validate", str(file), "--json"]
    if results is not None:
        command += ["--results", str(results)]
    return timed_with_rss(command)


def check_run(result: Timed, invoices: int) -> None:
    """Stop the benchmark if the import did not create every invoice: its figures would mean nothing."""
    created = result.summary.get("created")
    if created != invoices:
        print(result.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"the import created {created} of {invoices} invoices (exit {result.returncode})")


def verdict(name: str, passed: bool, detail: str) -> bool:
    """Print the PASS/FAIL line, with the load average (other work on the machine skews timings)."""
    load = os.getloadavg()[0]
    print(f"{'PASS' if passed else 'FAIL'}  {name}: {detail}  [load average {load:.2f}]", flush=True)
    return passed


def fastest(times: int, run: Callable[[], T], seconds: Callable[[T], float]) -> T:
    """The fastest of ``times`` runs: the one least disturbed by other work on the machine."""
    return min((run() for _ in range(max(1, times))), key=seconds)


def machine() -> str:
    """nproc, CPU model, RAM and Python version, one line."""
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPUs ({model}), {ram_gib:.0f} GiB RAM, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
