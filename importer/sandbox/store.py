"""The sandbox's SQLite storage: one connection guarded by a re-entrant lock.

Amounts are stored as decimal text with 2 decimals; dates as ``yyyy-MM-ddTHH:mm:ss.fffffffZ`` text (UTC).
Invoice numbers carry a ``number_key`` (lower-cased, accents and trailing spaces dropped, as the server's
MySQL collation compares them) that has no unique index, like the real table.
"""

from __future__ import annotations

import sqlite3
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Row = dict[str, Any]

_TABLES = (
    "contact",
    "contact_info",
    "tax",
    "item",
    "deal",
    "deal_member",
    "invoice",
    "invoice_line",
    "setting",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contact (
    id INTEGER PRIMARY KEY AUTOINCREMENT, is_company INTEGER NOT NULL, first_name TEXT, last_name TEXT,
    company_name TEXT, display_name TEXT NOT NULL, job_title TEXT, company_id INTEGER NOT NULL DEFAULT 0,
    about TEXT, created TEXT NOT NULL, is_private INTEGER NOT NULL DEFAULT 0,
    share_type INTEGER NOT NULL DEFAULT 0, owner TEXT NOT NULL DEFAULT '',
    managers TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS contact_info (
    id INTEGER PRIMARY KEY AUTOINCREMENT, contact_id INTEGER NOT NULL, info_type INTEGER NOT NULL,
    category INTEGER NOT NULL, data TEXT NOT NULL, is_primary INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tax (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, description TEXT, rate TEXT NOT NULL,
    created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS item (
    id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, sku TEXT, description TEXT,
    price TEXT NOT NULL, currency TEXT NOT NULL, stock_quantity TEXT NOT NULL,
    track_inventory INTEGER NOT NULL,
    tax1_id INTEGER NOT NULL, tax2_id INTEGER NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deal (
    id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, description TEXT, contact_id INTEGER NOT NULL,
    created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deal_member (
    deal_id INTEGER NOT NULL, contact_id INTEGER NOT NULL, PRIMARY KEY (deal_id, contact_id));
CREATE TABLE IF NOT EXISTS invoice (
    id INTEGER PRIMARY KEY AUTOINCREMENT, number TEXT NOT NULL, number_key TEXT NOT NULL,
    status INTEGER NOT NULL, issue_date TEXT NOT NULL, due_date TEXT NOT NULL, template_type INTEGER NOT NULL,
    contact_id INTEGER NOT NULL, consignee_id INTEGER NOT NULL, entity_id INTEGER NOT NULL,
    billing_address_id INTEGER NOT NULL, delivery_address_id INTEGER NOT NULL, language TEXT,
    currency TEXT NOT NULL, exchange_rate TEXT NOT NULL, purchase_order_number TEXT, terms TEXT NOT NULL,
    description TEXT, create_on TEXT NOT NULL, create_by TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS invoice_number_key ON invoice (number_key);
CREATE TABLE IF NOT EXISTS invoice_line (
    id INTEGER PRIMARY KEY AUTOINCREMENT, invoice_id INTEGER NOT NULL, item_id INTEGER NOT NULL,
    tax1_id INTEGER NOT NULL, tax2_id INTEGER NOT NULL, sort_order INTEGER NOT NULL, description TEXT,
    quantity TEXT NOT NULL, price TEXT NOT NULL, discount TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS invoice_line_invoice ON invoice_line (invoice_id);
CREATE TABLE IF NOT EXISTS setting (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def number_key(number: str) -> str:
    """How the server's count query compares invoice numbers under MySQL's ``utf8_general_ci`` collation:
    ignoring case, trailing spaces and accents (``INV-É1`` = ``inv-e1``; ``ß`` = ``s``)."""
    decomposed = unicodedata.normalize("NFKD", number.rstrip(" "))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return bare.replace("ß", "s").replace("ẞ", "s").lower()


class Store:
    """A SQLite database shared by the server's event loop and the owning thread (for reset)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.executescript(_SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Bring a database file made by an older sandbox up to the current schema."""
        added = {
            "contact": (
                ("is_private", "INTEGER NOT NULL DEFAULT 0"),
                ("share_type", "INTEGER NOT NULL DEFAULT 0"),
                ("owner", "TEXT NOT NULL DEFAULT ''"),
                ("managers", "TEXT NOT NULL DEFAULT '[]'"),
            ),
            "invoice": (("create_by", "TEXT NOT NULL DEFAULT ''"),),
        }
        for table, wanted in added.items():
            columns = {row["name"] for row in self._conn.execute(f"PRAGMA table_info({table})").fetchall()}
            for name, kind in wanted:
                if name not in columns:
                    self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    def close(self) -> None:
        with self.lock:
            self._conn.close()

    def wipe(self) -> None:
        """Drop every table (and the ID counters) and create them again, empty."""
        with self.lock:
            for table in _TABLES:
                self._conn.execute(f"DROP TABLE IF EXISTS {table}")
            self._conn.execute("DELETE FROM sqlite_sequence")
            self._conn.executescript(_SCHEMA)

    def is_new(self) -> bool:
        """True when the database has never been set up (no settings written yet)."""
        return self.one("SELECT 1 AS found FROM setting LIMIT 1") is None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction, held under the lock: nothing else reads or writes meanwhile."""
        with self.lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.lock:
            return [dict(row) for row in self._conn.execute(sql, params).fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self.lock:
            row = self._conn.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def insert(self, table: str, values: dict[str, Any]) -> int:
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self.lock:
            cursor = self._conn.execute(
                f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(values.values())
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; return the number of rows changed."""
        with self.lock:
            return self._conn.execute(sql, params).rowcount

    def get(self, table: str, row_id: int) -> Row | None:
        return self.one(f"SELECT * FROM {table} WHERE id = ?", (row_id,))

    def setting(self, key: str, default: str = "") -> str:
        row = self.one("SELECT value FROM setting WHERE key = ?", (key,))
        return str(row["value"]) if row else default

    def set_setting(self, key: str, value: str) -> None:
        self.execute("INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)", (key, value))
