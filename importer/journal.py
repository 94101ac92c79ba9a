"""The import journal: what this import sent to one CRM, so that every run can be repeated safely.

A SQLite file (WAL, every write committed at once) with one row per (CRM URL, invoice number), the number
keyed case-insensitively like the CRM. For each number it records the content hash of what was sent and a
state: ``posting`` (written *before* the request: the outcome is unknown until the CRM is asked),
``created`` (with the CRM ID) or ``failed`` (with the reason; certainly not created); ``updating`` (a
``PUT invoice/{id}`` sent or about to be, its new hash in ``pending_hash``), ``deleting`` (an undo's batch
delete sent or about to be) and ``deleted`` (an undo confirmed it gone: the file's next run creates it anew).

Beside the state, what a later run needs to tell "this import's invoice, as it left it" from "changed in the
CRM since": the run that created it (``run_id``), the status the file asked for (``target_status``), the
status this import last saw it reach (``crm_status``) and the one a move was sent for (``moving_to``), and the
CRM's total and a signature of its lines as the CRM answered the create or update (``crm_total``,
``lines_sig``).

The ``runs`` table records each run (``run`` or ``undo``): its ID, start and end, file name and SHA-256,
user and counts per status, for ``invoice-import history`` and ``undo``. Journals written before these
columns existed are migrated when opened (the new columns empty: those invoices belong to no known run).

The CRM stays the source of truth; the journal only tells "created by this import" from "someone else's
invoice with this number". It never holds a token or a password.

One run at a time: :meth:`Journal.open` takes an exclusive lock on a sidecar ``.lock`` file; the operating
system releases it when the process ends, even by ``kill -9``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sqlite3
import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import urlsplit

import platformdirs

from importer.client import normalize_url
from importer.errors import JournalError, JournalLockedError

APP_NAME = "invoice-import"

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    crm_url      TEXT NOT NULL,
    key          TEXT NOT NULL,
    number       TEXT NOT NULL,
    state        TEXT NOT NULL,
    content_hash TEXT,
    crm_id       INTEGER,
    reason       TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (crm_url, key)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id     TEXT PRIMARY KEY,
    crm_url    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    started    TEXT NOT NULL,
    ended      TEXT,
    file_name  TEXT,
    sha256     TEXT,
    user       TEXT,
    counts     TEXT,
    undoes     TEXT
);
"""
# Columns added to `entries` after its first release: added to older journals when opened.
ADDED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "TEXT"),
    ("target_status", "INTEGER"),
    ("crm_status", "INTEGER"),
    ("moving_to", "INTEGER"),
    ("crm_total", "TEXT"),
    ("lines_sig", "TEXT"),
    ("pending_hash", "TEXT"),
)
_ENTRY_COLUMNS = (
    "number, state, content_hash, crm_id, reason, updated_at, run_id, target_status, crm_status, moving_to, "
    "crm_total, lines_sig, pending_hash"
)


class JournalState(StrEnum):
    POSTING = "posting"  # a create was (or is about to be) sent; its outcome is unknown
    CREATED = "created"  # the CRM created it: crm_id
    FAILED = "failed"  # certainly not created: reason
    UPDATING = "updating"  # created (crm_id); an update was (or is about to be) sent: pending_hash
    DELETING = "deleting"  # created (crm_id); an undo's delete was (or is about to be) sent
    DELETED = "deleted"  # an undo deleted it (crm_id was its ID): the next run of its file creates it anew


# The states in which the CRM holds (or may hold) an invoice this import created, under crm_id.
OWNED_STATES = frozenset({JournalState.CREATED, JournalState.UPDATING, JournalState.DELETING})


@dataclass(frozen=True)
class JournalEntry:
    number: str
    state: JournalState
    content_hash: str | None
    crm_id: int | None
    reason: str | None
    updated_at: str
    run_id: str | None = None
    target_status: int | None = None
    crm_status: int | None = None
    moving_to: int | None = None
    crm_total: str | None = None
    lines_sig: str | None = None
    pending_hash: str | None = None

    @property
    def owned(self) -> bool:
        """Whether the CRM holds (or may hold) this import's invoice under ``crm_id``."""
        return self.state in OWNED_STATES and self.crm_id is not None


@dataclass(frozen=True)
class RunRecord:
    """One run the journal knows: ``kind`` is ``run`` or ``undo`` (``undoes``: the run IDs it undid)."""

    run_id: str
    kind: str
    started: str
    ended: str | None
    file_name: str | None
    sha256: str | None
    user: str | None
    counts: dict[str, int]
    undoes: tuple[str, ...] = ()


def _entry(row: Sequence[Any]) -> JournalEntry:
    return JournalEntry(row[0], JournalState(row[1]), *row[2:])


def new_run_id(now: datetime | None = None) -> str:
    """A run ID a person can read and type: its start (UTC) and 4 random hex digits: 20260601-101500-3fa2."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def number_key(number: str) -> str:
    """How the CRM compares invoice numbers (a count query under MySQL's ``utf8_general_ci``): ignoring case,
    trailing spaces and accents, so ``INV-É1``, ``inv-e1`` and ``INV-E1 `` are one number."""
    if number.isascii():  # nothing to decompose: the same key, without the per-character walk
        return number.rstrip(" ").lower()
    decomposed = unicodedata.normalize("NFKD", number.rstrip(" "))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return bare.replace("ß", "s").replace("ẞ", "s").casefold()


def default_journal_path(crm_url: str) -> Path:
    """One journal per CRM URL in the user's state folder: ``<host>-<hash of the URL>.sqlite``."""
    url = normalize_url(crm_url)
    parts = urlsplit(url)
    host = re.sub(r"[^A-Za-z0-9.-]+", "_", parts.netloc) or "crm"
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return platformdirs.user_state_path(APP_NAME) / f"{host}-{digest}.sqlite"


class Journal:
    """The journal of one CRM, locked for this run. Use :meth:`open`, then as a context manager."""

    def __init__(
        self, path: Path, crm_url: str, connection: sqlite3.Connection, lock: IO[bytes] | None
    ) -> None:
        self.path = path
        self.crm_url = normalize_url(crm_url)
        self._db = connection
        self._lock = lock
        self.run_id: str | None = None  # the run being recorded (begin_run), written on its entries

    @classmethod
    def open(cls, path: Path, crm_url: str) -> Journal:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"cannot create the journal folder {path.parent}: {exc}") from exc
        lock = _acquire_lock(path, crm_url)
        try:
            connection = _connect(path)
            _migrate(connection)
            _rekey(connection)
        except BaseException:
            lock.close()
            raise
        return cls(path, crm_url, connection, lock)

    def close(self) -> None:
        try:
            self._db.close()
        finally:
            if self._lock is not None:
                self._lock.close()  # closing the file releases the lock

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- reads

    def entry(self, number: str) -> JournalEntry | None:
        row = self._db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE crm_url = ? AND key = ?",
            (self.crm_url, number_key(number)),
        ).fetchone()
        return None if row is None else _entry(row)

    def entries(self) -> list[JournalEntry]:
        rows = self._db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE crm_url = ? ORDER BY key", (self.crm_url,)
        ).fetchall()
        return [_entry(row) for row in rows]

    def entries_of_runs(self, run_ids: Iterable[str]) -> list[JournalEntry]:
        """The entries the given runs created (or were creating), by number."""
        ids = list(dict.fromkeys(run_ids))
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = self._db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE crm_url = ? AND run_id IN ({marks}) ORDER BY key",
            (self.crm_url, *ids),
        ).fetchall()
        return [_entry(row) for row in rows]

    def runs(self) -> list[RunRecord]:
        """Every run recorded for this CRM, newest first."""
        rows = self._db.execute(
            "SELECT run_id, kind, started, ended, file_name, sha256, user, counts, undoes FROM runs "
            "WHERE crm_url = ? ORDER BY started DESC, rowid DESC",
            (self.crm_url,),
        ).fetchall()
        return [
            RunRecord(
                run_id=row[0],
                kind=row[1],
                started=row[2],
                ended=row[3],
                file_name=row[4],
                sha256=row[5],
                user=row[6],
                counts=json.loads(row[7]) if row[7] else {},
                undoes=tuple(json.loads(row[8])) if row[8] else (),
            )
            for row in rows
        ]

    # ----------------------------------------------------------------- runs

    def begin_run(
        self,
        kind: str,
        *,
        file_name: str | None,
        sha256: str | None,
        user: str | None,
        undoes: Sequence[str] = (),
        started: datetime | None = None,
    ) -> str:
        """Record a run starting now; its ID is written on every entry it creates. Returns the ID."""
        moment = started or datetime.now(UTC)
        run_id = new_run_id(moment)
        with self._db:
            self._db.execute(
                "INSERT INTO runs (run_id, crm_url, kind, started, file_name, sha256, user, undoes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    self.crm_url,
                    kind,
                    moment.isoformat(timespec="milliseconds"),
                    file_name,
                    sha256,
                    user,
                    json.dumps(list(undoes)) if undoes else None,
                ),
            )
        self.run_id = run_id
        return run_id

    def end_run(self, counts: Mapping[str, int]) -> None:
        """Record the end of the run begun, with its counts per status (those that are not 0)."""
        if self.run_id is None:
            return
        now = datetime.now(UTC).isoformat(timespec="seconds")
        shown = {status: int(count) for status, count in counts.items() if count}
        with self._db:
            self._db.execute(
                "UPDATE runs SET ended = ?, counts = ? WHERE run_id = ?",
                (now, json.dumps(shown), self.run_id),
            )

    # ----------------------------------------------------------------- writes (each committed at once)

    def mark_posting(self, number: str, content_hash: str, target_status: int | None = None) -> None:
        self._write(number, JournalState.POSTING, content_hash, None, None)
        self._set(number, run_id=self.run_id, target_status=target_status, crm_status=None, moving_to=None)

    def mark_created(
        self,
        number: str,
        crm_id: int,
        content_hash: str,
        *,
        crm_status: int | None = None,
        crm_total: str | None = None,
        lines_sig: str | None = None,
    ) -> None:
        """Created (or found created) under ``crm_id``; what the CRM answered is kept where given. The run
        that sent the create keeps the invoice (an adopted one keeps its earlier run)."""
        previous = self.entry(number)
        run_id = previous.run_id if previous is not None and previous.run_id else self.run_id
        self._write(number, JournalState.CREATED, content_hash, crm_id, None)
        values: dict[str, Any] = {"run_id": run_id, "pending_hash": None}
        if crm_status is not None:
            values |= {"crm_status": crm_status, "moving_to": None}
        if crm_total is not None:
            values["crm_total"] = crm_total
        if lines_sig is not None:
            values["lines_sig"] = lines_sig
        self._set(number, **values)

    def mark_failed(self, number: str, reason: str) -> None:
        previous = self.entry(number)
        self._write(number, JournalState.FAILED, previous.content_hash if previous else None, None, reason)

    def mark_target(self, number: str, target_status: int) -> None:
        """The status the file now asks for (recorded before the moves towards it are sent)."""
        self._set(number, target_status=target_status)

    def mark_moving(self, number: str, to: int) -> None:
        """A status move is about to be sent (written before the request)."""
        self._set(number, moving_to=to)

    def mark_status(self, number: str, crm_status: int) -> None:
        """The CRM answered that the invoice is at ``crm_status`` (after a move this import sent)."""
        self._set(number, crm_status=crm_status, moving_to=None)

    def mark_updating(self, number: str, new_hash: str) -> None:
        """An update (``PUT invoice/{id}``) is about to be sent; the entry keeps its CRM ID."""
        self._set(number, state=JournalState.UPDATING.value, pending_hash=new_hash)

    def mark_deleting(self, numbers: Iterable[str]) -> None:
        """An undo's batch delete of these invoices is about to be sent."""
        self._set_many(numbers, state=JournalState.DELETING.value)

    def mark_deleted(self, numbers: Iterable[str], reason: str) -> None:
        """Gone from the CRM: the next run of the file creates them anew."""
        self._set_many(numbers, state=JournalState.DELETED.value, reason=reason)

    def mark_kept(self, number: str) -> None:
        """An undo did not delete it after all: back to ``created``."""
        self._set(number, state=JournalState.CREATED.value)

    def _set(self, number: str, **values: Any) -> None:
        self._set_many([number], **values)

    def _set_many(self, numbers: Iterable[str], **values: Any) -> None:
        keys = [number_key(number) for number in numbers]
        if not keys or not values:
            return
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        names = ", ".join(f"{name} = ?" for name in values)
        with self._db:
            self._db.executemany(
                f"UPDATE entries SET {names}, updated_at = ? WHERE crm_url = ? AND key = ?",
                [(*values.values(), now, self.crm_url, key) for key in keys],
            )

    def forget(self, number: str) -> None:
        with self._db:
            self._db.execute(
                "DELETE FROM entries WHERE crm_url = ? AND key = ?", (self.crm_url, number_key(number))
            )

    def _write(
        self,
        number: str,
        state: JournalState,
        content_hash: str | None,
        crm_id: int | None,
        reason: str | None,
    ) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._db:
            self._db.execute(
                "INSERT INTO entries (crm_url, key, number, state, content_hash, crm_id, reason, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (crm_url, key) DO UPDATE SET number = excluded.number, state = excluded.state, "
                "content_hash = excluded.content_hash, crm_id = excluded.crm_id, reason = excluded.reason, "
                "updated_at = excluded.updated_at",
                (self.crm_url, number_key(number), number, state.value, content_hash, crm_id, reason, now),
            )


def read_runs(path: Path, crm_url: str) -> list[RunRecord]:
    """The runs a journal records for a CRM, newest first, read without taking the run lock (a run may be
    going on) and without changing the file; [] when it has none, or no journal is there."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"the journal {path} cannot be read ({exc})") from exc
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "runs" not in tables:
            return []
        reader = Journal(path, crm_url, connection, lock=None)
        return reader.runs()
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"the journal {path} cannot be read ({exc})") from exc
    finally:
        connection.close()


def _migrate(connection: sqlite3.Connection) -> None:
    """Add the columns of :data:`ADDED_COLUMNS` that an older journal lacks (the runs table is created with
    the schema); the added columns are empty for the entries already there."""
    present = {row[1] for row in connection.execute("PRAGMA table_info(entries)").fetchall()}
    missing = [(name, kind) for name, kind in ADDED_COLUMNS if name not in present]
    if not missing:
        return
    with connection:
        for name, kind in missing:
            connection.execute(f"ALTER TABLE entries ADD COLUMN {name} {kind}")


def _rekey(connection: sqlite3.Connection) -> None:
    """Entries written when the key was only case-folded, keyed as the CRM compares numbers now; where two
    entries become one key, the one with a CRM ID (else the newer) is kept."""
    rows = connection.execute("SELECT crm_url, key, number, crm_id, updated_at FROM entries").fetchall()
    stale = [row for row in rows if row[1] != number_key(row[2])]
    if not stale:
        return
    with connection:
        for crm_url, key, number, crm_id, updated_at in stale:
            new_key = number_key(number)
            other = connection.execute(
                "SELECT crm_id, updated_at FROM entries WHERE crm_url = ? AND key = ?", (crm_url, new_key)
            ).fetchone()
            newer = crm_id is None and other is not None and other[1] >= updated_at
            keep_other = other is not None and (other[0] is not None or newer)
            if other is not None and not keep_other:
                connection.execute("DELETE FROM entries WHERE crm_url = ? AND key = ?", (crm_url, new_key))
            if keep_other:
                connection.execute("DELETE FROM entries WHERE crm_url = ? AND key = ?", (crm_url, key))
            else:
                connection.execute(
                    "UPDATE entries SET key = ? WHERE crm_url = ? AND key = ?", (new_key, crm_url, key)
                )


def _connect(path: Path) -> sqlite3.Connection:
    try:
        connection = sqlite3.connect(path, isolation_level="DEFERRED")
        connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: every commit survives the process being killed (kill -9 included); only a
        # power cut may lose the last entries, and then the number check of the next run finds those
        # invoices in the CRM (reported `exists`), so nothing is ever created twice. FULL costs an fsync
        # per entry, two per invoice, on the event loop.
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=5000")
        with connection:
            connection.executescript(SCHEMA)
    except sqlite3.DatabaseError as exc:
        raise JournalError(
            f"the journal {path} cannot be used ({exc}): move it away or give another --journal"
        ) from exc
    return connection


def _acquire_lock(path: Path, crm_url: str) -> IO[bytes]:
    lock_path = path.with_name(path.name + ".lock")
    try:
        handle = open(lock_path, "a+b")  # noqa: SIM115 - held open for the whole run
    except OSError as exc:
        raise JournalError(f"cannot open the journal lock {lock_path}: {exc}") from exc
    try:
        _lock_file(handle)
    except OSError:
        handle.close()
        raise JournalLockedError(
            f"another invoice-import run is already importing into {normalize_url(crm_url)} "
            f"(its journal {path} is locked): wait for it to finish, then run again"
        ) from None
    except BaseException:
        handle.close()
        raise
    return handle


def _lock_file(handle: IO[bytes]) -> None:
    """An exclusive, non-blocking lock held until the file is closed or the process dies; OSError if held."""
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()).encode())
    handle.flush()


__all__ = [
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalLockedError",
    "JournalState",
    "RunRecord",
    "default_journal_path",
    "number_key",
    "read_runs",
]
