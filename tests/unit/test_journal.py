"""Tests of importer.journal: persistence, case-insensitive keys, the run lock."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from importer.errors import JournalError, JournalLockedError, exit_code
from importer.journal import Journal, JournalState, default_journal_path, number_key

URL = "https://crm.example.com"


def test_states_round_trip_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal.open(path, URL) as journal:
        assert journal.entry("INV-1") is None
        journal.mark_posting("INV-1", "h1")
        entry = journal.entry("INV-1")
        assert entry is not None and entry.state is JournalState.POSTING and entry.content_hash == "h1"
        journal.mark_created("INV-1", 42, "h1")
        journal.mark_posting("INV-2", "h2")
        journal.mark_failed("INV-2", "400: Value does not fall within the expected range.")
    with Journal.open(path, URL + "/") as journal:
        created = journal.entry("INV-1")
        failed = journal.entry("INV-2")
    assert created is not None and (created.state, created.crm_id, created.content_hash) == (
        JournalState.CREATED,
        42,
        "h1",
    )
    assert failed is not None and failed.state is JournalState.FAILED and failed.crm_id is None
    assert failed.reason is not None and "expected range" in failed.reason
    assert failed.content_hash == "h2"


def test_numbers_are_keyed_case_insensitively(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite", URL) as journal:
        journal.mark_created("inv-a", 7, "h")
        entry = journal.entry("INV-A")
        assert entry is not None and entry.crm_id == 7 and entry.number == "inv-a"
        journal.forget("Inv-A")
        assert journal.entry("inv-a") is None
        assert journal.entries() == []


def test_numbers_are_keyed_as_the_crm_compares_them(tmp_path: Path) -> None:
    # contract: numbers are "compared ignoring case, trailing spaces **and accents** (`INV-É1` = `inv-e1`)"
    assert number_key("INV-É1") == number_key("inv-e1") == number_key("INV-E1  ")
    assert number_key(" INV-E1") != number_key("INV-E1")  # leading spaces count
    with Journal.open(tmp_path / "j.sqlite", URL) as journal:
        journal.mark_created("INV-É1", 7, "h")
        entry = journal.entry("inv-e1 ")
        assert entry is not None and entry.crm_id == 7


def test_entries_keyed_by_an_older_journal_are_rekeyed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal.open(path, URL) as journal:
        journal.mark_created("INV-É1", 7, "h")
        journal.mark_failed("Inv-e1", "an older attempt")
        journal.mark_created("INV-Ü2", 8, "h")
    with sqlite3.connect(path) as db:  # as a journal of the case-folding-only key wrote them
        db.execute("DELETE FROM entries")
        for key, number, state, crm_id in (
            ("inv-é1", "INV-É1", "created", 7),
            ("inv-e1", "Inv-e1", "failed", None),
            ("inv-ü2", "INV-Ü2", "created", 8),
        ):
            db.execute(
                "INSERT INTO entries (crm_url, key, number, state, content_hash, crm_id, reason, updated_at) "
                "VALUES (?, ?, ?, ?, 'h', ?, NULL, '2026-01-01')",
                (URL, key, number, state, crm_id),
            )
    with Journal.open(path, URL) as journal:
        first, second = journal.entry("inv-e1"), journal.entry("INV-U2")
        assert first is not None and (first.state, first.crm_id) == (JournalState.CREATED, 7)
        assert second is not None and second.crm_id == 8
        assert len(journal.entries()) == 2


def test_entries_of_another_crm_are_not_mixed_up(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal.open(path, URL) as journal:
        journal.mark_created("INV-1", 1, "h")
    with Journal.open(path, "https://other.example.com") as journal:
        assert journal.entry("INV-1") is None


def test_the_journal_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal.open(path, URL) as journal:
        journal.mark_posting("X", "h")
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_second_run_is_refused_while_the_first_holds_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal.open(path, URL):
        with pytest.raises(JournalLockedError, match="another invoice-import run") as info:
            Journal.open(path, URL)
        assert exit_code(info.value) == 2
    Journal.open(path, URL).close()  # released on close


def test_the_lock_is_released_when_the_holder_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    script = (
        "import sys, time; from pathlib import Path; from importer.journal import Journal\n"
        f"j = Journal.open(Path({str(path)!r}), {URL!r}); j.mark_posting('INV-9', 'h')\n"
        "print('ready', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(JournalLockedError):
            Journal.open(path, URL)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
    with Journal.open(path, URL) as journal:
        entry = journal.entry("inv-9")
    assert entry is not None and entry.state is JournalState.POSTING


def test_default_path_is_one_file_per_crm_url_in_the_state_folder() -> None:
    first = default_journal_path("https://crm.example.com/")
    assert first == default_journal_path("HTTPS://CRM.example.com")
    assert first != default_journal_path("https://crm.example.com:8443")
    assert first != default_journal_path("https://crm.example.com/other")
    assert first.parent == platformdirs.user_state_path("invoice-import")
    assert first.name.startswith("crm.example.com-") and first.suffix == ".sqlite"


def test_a_journal_that_is_not_a_database_is_a_journal_error_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not a SQLite database, it is text " * 100)
    with pytest.raises(JournalError, match="cannot be used") as info:
        Journal.open(path, URL)
    assert exit_code(info.value) == 2
    with Journal.open(tmp_path / "other.sqlite", URL):  # the lock of the refused one was let go
        pass


OLD_SCHEMA = """
CREATE TABLE entries (
    crm_url TEXT NOT NULL, key TEXT NOT NULL, number TEXT NOT NULL, state TEXT NOT NULL, content_hash TEXT,
    crm_id INTEGER, reason TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (crm_url, key)
);
"""


def test_a_journal_from_before_the_runs_table_is_migrated_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # as the importer wrote journals before issue 14
        db.executescript(OLD_SCHEMA)
        db.execute(
            "INSERT INTO entries VALUES (?, 'inv-1', 'INV-1', 'created', 'h', 7, NULL, '2026-01-01')", (URL,)
        )
    with Journal.open(path, URL) as journal:
        entry = journal.entry("INV-1")
        assert entry is not None and entry.owned and entry.crm_id == 7 and entry.run_id is None
        assert journal.runs() == []
        run_id = journal.begin_run("run", file_name="march.xlsx", sha256="ab", user="alice")
        journal.mark_posting("INV-2", "h2", 4)
        journal.mark_created("INV-2", 8, "h2", crm_status=1, crm_total="10.00", lines_sig="sig")
        journal.mark_status("INV-2", 4)
        journal.end_run({"created": 1, "invalid": 0})
    with Journal.open(path, URL) as journal:  # opened again: nothing to migrate, everything kept
        (run,) = journal.runs()
        assert (run.run_id, run.kind, run.file_name, run.user, run.counts) == (
            run_id,
            "run",
            "march.xlsx",
            "alice",
            {"created": 1},
        )
        (mine,) = journal.entries_of_runs([run_id])
        assert (mine.number, mine.crm_status, mine.target_status, mine.crm_total, mine.lines_sig) == (
            "INV-2",
            4,
            4,
            "10.00",
            "sig",
        )
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(entries)")}
    assert {"run_id", "target_status", "crm_status", "moving_to", "crm_total", "lines_sig"} <= columns


def test_runs_are_listed_newest_first_and_deleted_entries_are_not_owned(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    with Journal.open(tmp_path / "j.sqlite", URL) as journal:
        first = journal.begin_run(
            "run", file_name="a.csv", sha256="1", user="u", started=datetime(2026, 1, 1, tzinfo=UTC)
        )
        journal.mark_created("A-1", 1, "h")
        second = journal.begin_run("undo", file_name=None, sha256=None, user="u", undoes=[first])
        journal.mark_deleting(["A-1"])
        assert journal.entry("A-1").owned  # type: ignore[union-attr]
        journal.mark_deleted(["A-1"], "deleted by an undo")
        assert not journal.entry("A-1").owned  # type: ignore[union-attr]
        assert [run.run_id for run in journal.runs()] == [second, first]
        assert journal.runs()[0].undoes == (first,)
