"""Crash safety of the real CLI: Ctrl-C, kill -9 at random moments, a second run at once, faults.

Every test starts ``python -m importer.cli run ...`` as a separate process against an in-process sandbox CRM
(killing the CLI never touches the CRM), then checks through the CRM's API and the results workbook that
every invoice number exists exactly once and that the workbook's statuses and IDs are right.

The kill loop prints its kill points (``pytest -s``); its rounds are reproducible from ``KILL_LOOP_SEED``
up to the timing of the processes. A longer soak with other kill points:
``CRASH_SAFETY_SEED=7 CRASH_SAFETY_ROUNDS=100 pytest tests/e2e/test_crash_safety.py -k kill_at -s``
(the test's time limit grows with the rounds).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from importer import pipeline, rates
from importer.journal import Journal
from importer.pipeline import Connection, RunOptions, Source, run_command
from importer.sandbox import SandboxConfig, SandboxServer
from tests.e2e_helpers import TOKEN, invoices_sheet, invoke, sheet_rows, spawn

# fixed, for reproducible runs; set CRASH_SAFETY_SEED / CRASH_SAFETY_ROUNDS for a longer or different soak
KILL_LOOP_SEED = int(os.environ.get("CRASH_SAFETY_SEED", "20260601"))
KILL_ROUNDS = int(os.environ.get("CRASH_SAFETY_ROUNDS", "20"))
EARLY_WINDOW_S = 1.0  # within this long (the CLI needs 0.6-1 s to start, read, resolve and plan)
SIGINT_EVERY = 4  # one round in four sends SIGINT instead of SIGKILL
INVOICES_PER_ROUND = 30
PROCESS_TIMEOUT_S = 60.0
INTERRUPT_EXIT = 130

ITEMS = ("WID-001", "GAD-002")
HEADER = "Invoice Number,Issue Date,Due Date,Customer,Currency,Item,Qty,Unit Price,Discount %,VAT"


# ----------------------------------------------------------------------------- input files


def write_invoices_csv(path: Path, rng: random.Random, count: int, prefix: str = "CS") -> list[str]:
    """A CSV of ``count`` invoices of 1-2 lines each for Acme in EUR; returns their numbers in order.

    Numbers are ``<prefix>-000``, ``<prefix>-001``, ...; dates, items, quantities, prices and discounts are
    drawn from ``rng``. Continuation rows leave the invoice-level cells blank, as users do.
    """
    numbers = [f"{prefix}-{n:03}" for n in range(count)]
    rows = [HEADER]
    for number in numbers:
        day = rng.randint(1, 28)
        for line in range(rng.randint(1, 2)):
            head = (
                [number, f"2026-06-{day:02}", f"2026-07-{day:02}", "billing@acme.example", "EUR"]
                if line == 0
                else [number, "", "", "", ""]
            )
            price = f"{rng.randint(100, 99_999) / 100:.2f}"
            discount = rng.choice(("0", "5", "12.5"))
            rows.append(
                ",".join([*head, rng.choice(ITEMS), str(rng.randint(1, 40)), price, discount, "VAT 20%"])
            )
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return numbers


# ----------------------------------------------------------------------------- the CRM, read over HTTP


def crm_invoices(url: str) -> list[dict[str, Any]]:
    """Every invoice of the CRM (one page of up to 1000), past any injected 503."""
    for _ in range(100):
        response = httpx.get(
            f"{url}/api/2.0/crm/invoice/filter", params={"count": 1000}, headers={"Authorization": TOKEN}
        )
        if response.status_code != 503:
            break
        time.sleep(0.05)
    response.raise_for_status()
    return list(response.json()["response"])


def crm_ids_by_number(url: str, numbers: list[str]) -> dict[str, int]:
    """The CRM's ID of each number, asserting that each exists exactly once and that nothing else exists."""
    invoices = crm_invoices(url)
    counts = Counter(str(invoice["number"]) for invoice in invoices)
    duplicates = {number: n for number, n in counts.items() if n > 1}
    assert not duplicates, f"numbers created more than once: {duplicates}"
    missing = sorted(set(numbers) - set(counts))
    assert not missing, f"numbers lost: {missing}"
    extra = sorted(set(counts) - set(numbers))
    assert not extra, f"invoices that are not in the file: {extra}"
    return {str(invoice["number"]): int(invoice["id"]) for invoice in invoices}


# ----------------------------------------------------------------------------- the CLI


@dataclass
class Job:
    """One import: the input, its journal and results workbook, and the arguments of ``run``."""

    url: str
    csv: Path
    journal: Path | None
    results: Path
    extra: tuple[str, ...] = ()

    def args(self) -> list[str | Path]:
        args: list[str | Path] = ["run", self.csv, "--url", self.url, "--token", TOKEN]
        if self.journal is not None:
            args += ["--journal", self.journal]
        return [*args, "--results", self.results, "--yes", "--json", "--concurrency", "4", *self.extra]

    def start(self, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return spawn(*self.args(), env=env)


def finish(process: subprocess.Popen[str], timeout: float = PROCESS_TIMEOUT_S) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"the CLI did not finish within {timeout} s; stderr:\n{err}") from None
    return process.returncode, out, err


def run_to_completion(job: Job, numbers: list[str], env: dict[str, str] | None = None) -> dict[str, int]:
    """Run the import to the end (exit 0) and check the CRM and the workbook; the CRM IDs by number."""
    code, out, err = finish(job.start(env))
    assert code == 0, f"exit {code}\nstdout:\n{out}\nstderr:\n{err}"
    ids = crm_ids_by_number(job.url, numbers)
    sheet = invoices_sheet(job.results)
    assert sorted(sheet) == sorted(numbers)
    for number in numbers:
        row = sheet[number]
        assert row["status"] in ("created", "skipped"), (number, row)
        assert int(row["crm_id"]) == ids[number], (number, row["crm_id"], ids[number])
    return ids


def check_interrupted(job: Job, numbers: list[str], code: int, err: str, server: SandboxServer) -> str:
    """After Ctrl-C: what happened, having checked that the exit code, the workbook and the CRM agree."""
    if not job.results.exists():
        # Ctrl-C during start-up or while reading the file: the process ends at once, nothing was sent
        assert code in (-signal.SIGINT, INTERRUPT_EXIT), f"exit {code}\nstderr:\n{err}"
        assert code == -signal.SIGINT or "Interrupted" in err, err
        assert server.stats.invoice_creates == 0, err
        return "interrupted before posting"
    sheet = invoices_sheet(job.results)
    assert sorted(sheet) == sorted(numbers)
    statuses = Counter(str(row["status"]) for row in sheet.values())
    crm = {str(invoice["number"]): int(invoice["id"]) for invoice in crm_invoices(job.url)}
    created = {number: int(row["crm_id"]) for number, row in sheet.items() if row["status"] == "created"}
    # in-flight invoices were finished and reconciled: the CRM holds exactly the created ones, with their IDs
    assert created == crm, (created, crm)
    if code == -signal.SIGINT:
        # Ctrl-C after the workbook was written, while the process was exiting: the import was complete
        assert statuses == {"created": len(numbers)}, statuses
        return "interrupted after the workbook was written"
    assert code == INTERRUPT_EXIT, f"exit {code}\nstderr:\n{err}"
    assert "run the same command again to finish" in err, err
    assert set(statuses) <= {"created", "pending"}, statuses
    return f"{statuses['created']} created, {statuses['pending']} pending"


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def server_factory() -> Iterator[Callable[..., SandboxServer]]:
    """Start sandbox CRMs on free ports (``SandboxConfig`` fields as keywords); stop them all after."""
    started: list[SandboxServer] = []

    def start(**fields: Any) -> SandboxServer:
        server = SandboxServer(SandboxConfig(port=0, **fields)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def wait_for_creates(server: SandboxServer, process: subprocess.Popen[str], count: int, limit: float) -> bool:
    """Poll until the CRM has saved ``count`` invoices; False if the process ended first or time ran out."""
    deadline = time.monotonic() + limit
    while server.stats.invoice_creates < count:
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


# ----------------------------------------------------------------------------- 1. the kill loop


@pytest.mark.slow
@pytest.mark.timeout(60 + 10 * KILL_ROUNDS)
def test_kill_at_random_moments_then_rerun_every_invoice_exactly_once(
    server_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    """Each round: a fresh CRM and file, the CLI killed (SIGKILL, or SIGINT one round in four) at a random
    moment, then run again to the end: every number once in the CRM, the workbook's statuses and IDs right.

    See the kill points: ``pytest tests/e2e/test_crash_safety.py -k kill_at -s``.
    """
    rng = random.Random(KILL_LOOP_SEED)
    server = server_factory(latency_ms=15, jitter_ms=10, drop_rate=0.1, random_seed=KILL_LOOP_SEED)
    started = time.monotonic()
    for round_no in range(KILL_ROUNDS):
        server.reset()
        # a fixed fault sequence per round (the sandbox's latency jitter and drops)
        server.reseed(KILL_LOOP_SEED + round_no)
        folder = tmp_path / f"round-{round_no:02}"
        folder.mkdir()
        numbers = write_invoices_csv(folder / "invoices.csv", rng, INVOICES_PER_ROUND)
        job = Job(server.url, folder / "invoices.csv", folder / "journal.sqlite", folder / "results.xlsx")
        sig = signal.SIGINT if round_no % SIGINT_EVERY == SIGINT_EVERY - 1 else signal.SIGKILL
        # one round in four (SIGKILL and SIGINT alike) anywhere from the start to the first creates
        if round_no % 8 in (1, 7):
            kill_at, extra_delay = 0, rng.uniform(0.0, EARLY_WINDOW_S)
        else:  # after a random number of creates
            kill_at, extra_delay = rng.randint(1, INVOICES_PER_ROUND), rng.uniform(0.0, 0.05)

        process = job.start()
        reached = wait_for_creates(server, process, kill_at, PROCESS_TIMEOUT_S)
        time.sleep(extra_delay)
        creates_at_kill = server.stats.invoice_creates
        process.send_signal(sig)
        code, _out, err = finish(process)
        if sig is signal.SIGINT:
            what = check_interrupted(job, numbers, code, err, server)
        else:
            what = "finished before the kill" if code == 0 else f"exit {code}"
            assert code in (0, -signal.SIGKILL), f"exit {code}\nstderr:\n{err}"
        time.sleep(0.1)  # requests the killed process had sent land in the CRM
        saved_before = server.stats.invoice_creates
        line = (
            f"round {round_no:2}: {sig.name:7} after {kill_at:2} creates + {extra_delay * 1000:3.0f} ms "
            f"(reached: {reached}, {creates_at_kill} saved at the signal, {saved_before} in all): {what}"
        )
        print(line)

        run_to_completion(job, numbers)
        # each number was saved once by the CRM over both runs: nothing was posted twice ...
        assert server.stats.invoice_creates == INVOICES_PER_ROUND, line
        # ... and what the first run created is 'skipped' (with its ID), the rest 'created' by the re-run
        statuses = Counter(str(row["status"]) for row in invoices_sheet(job.results).values())
        expected = {"skipped": saved_before, "created": INVOICES_PER_ROUND - saved_before}
        assert statuses == Counter({k: n for k, n in expected.items() if n}), line
    elapsed = time.monotonic() - started
    print(f"{KILL_ROUNDS} rounds in {elapsed:.1f} s")


# ----------------------------------------------------------------------------- Ctrl-C just after posting


def _interrupt_then(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, preceded by a Ctrl-C to this very process (delivered before ``function`` runs)."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGINT)
        return function(*args, **kwargs)

    return wrapped


@pytest.mark.parametrize("moment", ["closing the journal", "writing the workbook"])
def test_ctrl_c_after_posting_keeps_the_workbook_and_says_interrupted(
    fresh_sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moment: str
) -> None:
    # Between the end of posting and the workbook, Ctrl-C once raised KeyboardInterrupt: no workbook of the
    # invoices just created, and the CLI said "Interrupted before anything was posted".
    if moment == "closing the journal":  # after the event loop's own Ctrl-C handler is gone
        monkeypatch.setattr(Journal, "close", _interrupt_then(Journal.close))
    else:
        monkeypatch.setattr(pipeline, "write_results", _interrupt_then(pipeline.write_results))
    numbers = write_invoices_csv(tmp_path / "in.csv", random.Random(5), 4)
    options = RunOptions(
        source=Source(tmp_path / "in.csv"),
        connection=Connection(url=fresh_sandbox.url, token=TOKEN, rate=None),
        results=tmp_path / "results.xlsx",
        journal=tmp_path / "journal.sqlite",
    )
    try:
        report = run_command(options, confirm=lambda plan: True)
    except KeyboardInterrupt:
        pytest.fail(f"Ctrl-C while {moment} escaped as KeyboardInterrupt: no workbook")

    assert report.interrupted and report.exit_code == INTERRUPT_EXIT
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back after the run
    ids = crm_ids_by_number(fresh_sandbox.url, numbers)
    sheet = invoices_sheet(tmp_path / "results.xlsx")
    assert {number: (row["status"], row["crm_id"]) for number, row in sheet.items()} == {
        number: ("created", ids[number]) for number in numbers
    }


# ----------------------------------------------------------------------------- 2. Ctrl-C mid-import


@pytest.mark.slow
def test_ctrl_c_finishes_in_flight_writes_the_workbook_and_a_rerun_finishes(
    server_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    count = 30
    server = server_factory(latency_ms=100)  # 30 creates, 4 at a time: about 1 s of posting
    numbers = write_invoices_csv(tmp_path / "invoices.csv", random.Random(2), count)
    job = Job(server.url, tmp_path / "invoices.csv", tmp_path / "journal.sqlite", tmp_path / "results.xlsx")
    process = job.start()
    assert wait_for_creates(server, process, 5, PROCESS_TIMEOUT_S), "the import did not start posting"
    process.send_signal(signal.SIGINT)
    interrupted_at = time.monotonic()
    code, out, err = finish(process)
    took = time.monotonic() - interrupted_at

    assert code == INTERRUPT_EXIT, err
    assert took < 3.0, f"Ctrl-C took {took:.1f} s to end the run"
    assert "Interrupted: what was not posted is 'pending'; run the same command again to finish." in err
    sheet = invoices_sheet(job.results)
    created = {number: int(row["crm_id"]) for number, row in sheet.items() if row["status"] == "created"}
    pending = sorted(number for number, row in sheet.items() if row["status"] == "pending")
    assert len(created) + len(pending) == count and created and pending, Counter(
        str(row["status"]) for row in sheet.values()
    )
    assert all(sheet[number]["crm_id"] is None for number in pending)
    assert {str(i["number"]): int(i["id"]) for i in crm_invoices(server.url)} == created
    summary = json.loads(out.strip().splitlines()[-1])
    assert (summary["created"], summary["pending"]) == (len(created), len(pending))

    ids = run_to_completion(job, numbers)
    sheet = invoices_sheet(job.results)
    for number, crm_id in created.items():
        assert (sheet[number]["status"], ids[number]) == ("skipped", crm_id)
    assert all(sheet[number]["status"] == "created" for number in pending)
    assert server.stats.invoice_creates == count


# ----------------------------------------------------------------------------- 3. one run at a time


@pytest.mark.slow
def test_a_second_run_at_the_same_time_is_refused_and_posts_nothing(
    server_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    count = 24
    server = server_factory(latency_ms=400)  # 24 creates, 4 at a time: 2.4 s, for a second run to start
    numbers = write_invoices_csv(tmp_path / "invoices.csv", random.Random(3), count)
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}  # both runs use the default journal of this CRM
    first = Job(server.url, tmp_path / "invoices.csv", None, tmp_path / "first.xlsx")
    second = Job(server.url, tmp_path / "invoices.csv", None, tmp_path / "second.xlsx")
    running = first.start(env)
    assert wait_for_creates(server, running, 1, PROCESS_TIMEOUT_S), "the first run did not start posting"

    code, _out, err = finish(second.start(env))
    assert running.poll() is None, "the first run ended before the second was refused: no overlap tested"
    assert code == 2, err
    assert f"another invoice-import run is already importing into {server.url}" in err, err
    assert "wait for it to finish, then run again" in err
    assert not second.results.exists()

    run_code, _out, run_err = finish(running)
    assert run_code == 0, run_err
    ids = crm_ids_by_number(server.url, numbers)
    assert {n: row["crm_id"] for n, row in invoices_sheet(first.results).items()} == ids
    # the first run posted each invoice once; the second posted nothing
    assert server.stats.routes()[("POST", "/api/2.0/crm/invoice")] == count


# ----------------------------------------------------------------------------- 4. the sandbox's faults


FAULTS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "error rate 0.2": ({"error_rate": 0.2}, ()),
    "drop rate 0.2": ({"drop_rate": 0.2}, ()),
    "rate limit 20/1 s": ({"rate_limit": (20, 1.0)}, ("--rate", "20/1")),
    "latency 100 ms": ({"latency_ms": 100, "jitter_ms": 50}, ()),
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(FAULTS))
def test_faults_every_invoice_exactly_once_none_failed(
    server_factory: Callable[..., SandboxServer], tmp_path: Path, fault: str
) -> None:
    count = 20
    config, extra = FAULTS[fault]
    server = server_factory(random_seed=7, **config)
    numbers = write_invoices_csv(tmp_path / "invoices.csv", random.Random(4), count)
    job = Job(server.url, tmp_path / "invoices.csv", tmp_path / "j.sqlite", tmp_path / "r.xlsx", extra)
    started = time.monotonic()
    run_to_completion(job, numbers)
    took = time.monotonic() - started

    assert Counter(str(row["status"]) for row in invoices_sheet(job.results).values()) == {"created": count}
    assert server.stats.invoice_creates == count
    if "error_rate" in config:
        assert server.stats.unavailable > 0, "no 503 was injected: the test tested nothing"
    if "drop_rate" in config:
        assert server.stats.drops > 0, "no answer was dropped: the test tested nothing"
    if "rate_limit" in config:
        assert server.stats.unavailable == 0, "the client did not keep to --rate"
        assert took > server.stats.total_requests / 20 - 1.5  # it could not have been faster


def test_ctrl_c_while_the_command_line_is_read_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    # click turns a KeyboardInterrupt outside the command's own handler into "Aborted!" and exit 1
    # ("some invoices invalid"); the kill loop hit it with Ctrl-C at start-up.
    def interrupted(_text: str) -> tuple[int, float]:
        raise KeyboardInterrupt

    monkeypatch.setattr(rates, "parse_rate", interrupted)  # called while the options are parsed
    result = invoke("run", "in.csv", "--url", "http://127.0.0.1:9", "--yes")
    assert result.exit_code == INTERRUPT_EXIT
    assert "Interrupted." in result.stderr and "Aborted" not in result.stderr


# ----------------------------------------------------------------------------- 5. the kill loop of issue 14

# a third each phase: 21 rounds, 7 of each (the issue asks for 20); CRASH_SAFETY_LIFECYCLE_ROUNDS to change
LIFECYCLE_ROUNDS = int(os.environ.get("CRASH_SAFETY_LIFECYCLE_ROUNDS", "21"))
LIFECYCLE_INVOICES = 12
STATUS_ROUTE = ("PUT", "/api/2.0/crm/invoice/status/{status}")
STATUS_IDS = {"Draft": 1, "Sent": 2, "Rejected": 3, "Paid": 4}
LIFECYCLE_HEADER = f"{HEADER},Status"


def write_status_csv(
    path: Path, rng: random.Random, count: int, prefix: str, *, quantity: int = 0
) -> dict[str, Any]:
    """A CSV of ``count`` one-line invoices with a status each (mostly Paid, as a migration); ``quantity``
    fixed (else drawn). Returns {number: (status, quantity)}."""
    wanted: dict[str, Any] = {}
    rows = [LIFECYCLE_HEADER]
    for n in range(count):
        number = f"{prefix}-{n:03}"
        status = rng.choice(("Paid", "Paid", "Paid", "Sent", "Rejected", "Draft"))
        qty = quantity or rng.randint(1, 40)
        wanted[number] = (status, qty)
        rows.append(
            f"{number},2026-06-01,2026-07-01,billing@acme.example,EUR,WID-001,{qty},10.00,0,VAT 20%,{status}"
        )
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return wanted


def kill_when(
    server: SandboxServer,
    process: subprocess.Popen[str],
    route: tuple[str, str],
    count: int,
    delay: float,
    sig: signal.Signals,
) -> tuple[int, str]:
    """Send ``sig`` ``delay`` s after the CRM received the ``count``-th request of ``route`` (at once for 0),
    or when the process ended first; its exit code and stderr."""
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    while server.stats.count(*route) < count and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(delay)
    process.send_signal(sig)
    code, _out, err = finish(process)
    return code, err


@pytest.mark.slow
@pytest.mark.timeout(60 + 12 * LIFECYCLE_ROUNDS)
def test_kill_during_status_moves_updates_and_undo_then_rerun_converges(
    server_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    """Issue 14's kill loop: rounds cycle through (a) a migration with statuses killed after its creates,
    while the status moves are in flight, (b) ``run --update`` killed while updating, (c) ``undo`` killed
    while deleting; each then run again to the end: every number once in the CRM, every invoice at its
    status (a), every update made with the file's total (b), everything deleted and marked so (c)."""
    rng = random.Random(KILL_LOOP_SEED + 14)
    server = server_factory(latency_ms=15, jitter_ms=10, drop_rate=0.1, random_seed=KILL_LOOP_SEED)
    started = time.monotonic()
    for round_no in range(LIFECYCLE_ROUNDS):
        server.reset()
        server.reseed(KILL_LOOP_SEED + 100 + round_no)
        folder = tmp_path / f"life-{round_no:02}"
        folder.mkdir()
        csv = folder / "invoices.csv"
        journal = folder / "journal.sqlite"
        job = Job(server.url, csv, journal, folder / "results.xlsx")
        sig = signal.SIGINT if round_no % 4 == 3 else signal.SIGKILL
        phase = ("moves", "update", "undo")[round_no % 3]
        if phase == "moves":
            wanted = write_status_csv(csv, rng, LIFECYCLE_INVOICES, f"MV{round_no}")
            process = job.start()
            wait_for_creates(server, process, LIFECYCLE_INVOICES, PROCESS_TIMEOUT_S)
            code, err = kill_when(server, process, STATUS_ROUTE, rng.randint(0, 2), rng.uniform(0, 0.02), sig)
            what = f"exit {code}, {server.stats.count(*STATUS_ROUTE)} status requests before the signal"
            rerun, _out, err = finish(job.start())
            assert rerun == 0, err
            ids = crm_ids_by_number(server.url, list(wanted))
            assert server.stats.invoice_creates == LIFECYCLE_INVOICES, what
            for number, (status, _) in wanted.items():
                record = httpx.get(
                    f"{server.url}/api/2.0/crm/invoice/{ids[number]}", headers={"Authorization": TOKEN}
                ).json()["response"]
                assert record["status"]["id"] == STATUS_IDS[status], (number, status, what)
                assert invoices_sheet(job.results)[number]["crm_status"] == status, (number, what)
        elif phase == "update":
            wanted = write_status_csv(csv, rng, LIFECYCLE_INVOICES, f"UP{round_no}", quantity=2)
            csv.write_text(
                csv.read_text().replace("Paid", "Draft").replace("Sent", "Draft").replace("Rejected", "Draft")
            )
            assert invoke(*job.args()).exit_code == 0
            csv.write_text(csv.read_text().replace("WID-001,2,", "WID-001,7,"))  # every quantity corrected
            update = Job(server.url, csv, journal, folder / "results.xlsx", ("--update",))
            put_route = ("PUT", "/api/2.0/crm/invoice/{id:int}")
            at = rng.randint(1, LIFECYCLE_INVOICES)
            code, err = kill_when(server, update.start(), put_route, at, rng.uniform(0, 0.02), sig)
            puts = server.stats.count(*put_route)
            what = f"exit {code}, {puts} updates sent before the signal"
            rerun, _out, err = finish(update.start())
            assert rerun == 0, f"{what}\n{err}"
            ids = crm_ids_by_number(server.url, list(wanted))
            assert server.stats.invoice_creates == LIFECYCLE_INVOICES, what  # nothing created again
            sheet = invoices_sheet(job.results)
            for number in wanted:
                assert sheet[number]["status"] in ("updated", "skipped"), (number, sheet[number], what)
                record = httpx.get(
                    f"{server.url}/api/2.0/crm/invoice/{ids[number]}", headers={"Authorization": TOKEN}
                ).json()["response"]
                assert record["cost"] == 84.0, (number, record["cost"], what)  # 7 x 10.00 + 20% VAT
        else:
            wanted = write_status_csv(csv, rng, LIFECYCLE_INVOICES, f"UN{round_no}")
            assert invoke(*job.args()).exit_code == 0
            with Journal.open(journal, server.url) as opened:
                (run,) = opened.runs()
            undo = ["undo", run.run_id, "--url", server.url, "--token", TOKEN, "--journal", journal, "--yes"]
            undo += ["--results", folder / "undo.xlsx"]
            # killed while checking the invoices, or just before / after the batch delete lands
            route = rng.choice((("GET", "/api/2.0/crm/invoice/{id:int}"), ("DELETE", "/api/2.0/crm/invoice")))
            count = rng.randint(1, LIFECYCLE_INVOICES) if route[0] == "GET" else 1
            code, err = kill_when(server, spawn(*undo), route, count, rng.uniform(0, 0.03), sig)
            what = f"exit {code}, {len(crm_invoices(server.url))} invoices left at the signal"
            rerun, _out, err = finish(spawn(*undo))
            assert rerun == 0, f"{what}\n{err}"
            assert crm_invoices(server.url) == [], what
            with Journal.open(journal, server.url) as opened:
                states = {entry.state.value for entry in opened.entries()}
            assert states == {"deleted"}, (states, what)
            results = {r["Invoice number"]: r["Undo"] for r in sheet_rows(folder / "undo.xlsx", "Invoices")}
            assert set(results.values()) <= {"deleted", "gone"} and len(results) == LIFECYCLE_INVOICES, what
        print(f"round {round_no:2} ({phase}): {sig.name} -> {what}")
    print(f"{LIFECYCLE_ROUNDS} rounds in {time.monotonic() - started:.1f} s")
