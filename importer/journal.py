"""The import journal: what this import sent to one CRM, so that every run can be repeated safely.

A SQLite file (WAL, every write committed at once) with one row per (CRM URL, invoice number), the number
keyed case-insensitively like the CRM. For each number it records the content hash of what was sent and a
state: ``posting`` (written *before* the request: the outcome is unknown until the CRM is asked),
``created`` (with the CRM ID) or ``failed`` (with the reason; certainly not created).

The CRM stays the source of truth; the journal only tells "created by this import" from "someone else's
invoice with this number". It never holds a token or a password.

One run at a time: :meth:`Journal.open` takes an exclusive lock on a sidecar ``.lock`` file; the operating
system releases it when the process ends, even by ``kill -9``.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import sys
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import IO
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
"""


class JournalState(StrEnum):
    POSTING = "posting"  # a create was (or is about to be) sent; its outcome is unknown
    CREATED = "created"  # the CRM created it: crm_id
    FAILED = "failed"  # certainly not created: reason


@dataclass(frozen=True)
class JournalEntry:
    number: str
    state: JournalState
    content_hash: str | None
    crm_id: int | None
    reason: str | None
    updated_at: str


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

    def __init__(self, path: Path, crm_url: str, connection: sqlite3.Connection, lock: IO[bytes]) -> None:
        self.path = path
        self.crm_url = normalize_url(crm_url)
        self._db = connection
        self._lock = lock

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
            _rekey(connection)
        except BaseException:
            lock.close()
            raise
        return cls(path, crm_url, connection, lock)

    def close(self) -> None:
        try:
            self._db.close()
        finally:
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
            "SELECT number, state, content_hash, crm_id, reason, updated_at FROM entries "
            "WHERE crm_url = ? AND key = ?",
            (self.crm_url, number_key(number)),
        ).fetchone()
        if row is None:
            return None
        return JournalEntry(row[0], JournalState(row[1]), row[2], row[3], row[4], row[5])

    def entries(self) -> list[JournalEntry]:
        rows = self._db.execute(
            "SELECT number, state, content_hash, crm_id, reason, updated_at FROM entries "
            "WHERE crm_url = ? ORDER BY key",
            (self.crm_url,),
        ).fetchall()
        return [JournalEntry(r[0], JournalState(r[1]), r[2], r[3], r[4], r[5]) for r in rows]

    # ----------------------------------------------------------------- writes (each committed at once)

    def mark_posting(self, number: str, content_hash: str) -> None:
        self._write(number, JournalState.POSTING, content_hash, None, None)

    def mark_created(self, number: str, crm_id: int, content_hash: str) -> None:
        self._write(number, JournalState.CREATED, content_hash, crm_id, None)

    def mark_failed(self, number: str, reason: str) -> None:
        previous = self.entry(number)
        self._write(number, JournalState.FAILED, previous.content_hash if previous else None, None, reason)

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
    "default_journal_path",
    "number_key",
]
