"""A sandbox CRM in a separate process, optionally pre-loaded with N other invoices.

The sandbox runs as ``invoice-import sandbox --port 0 --db FILE ...`` in its own process (so the importer
under test does not share a CPU-bound event loop with the server); its URL is read from the line it prints.

Pre-loading: the N other invoices (every fourth on the seed's private contact 9, Pat Private, so that an
ordinary user such as ``sandbox-viewer`` cannot see them: ``invoice/filter`` leaves them out) are written
straight into the sandbox's SQLite file through ``importer.sandbox.store.Store`` (settings, the demo seed,
then the invoices and their lines in one transaction) *before* the server starts. 10,000 invoices take well
under a second this way, instead of 10,000 POSTs. The server finds the settings already there and does not
seed again.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from importer.sandbox.dates import now_stored
from importer.sandbox.seed import load_demo_data, write_settings
from importer.sandbox.store import Store, number_key
from importer.sandbox.users import ADMIN_USER

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / ".venv" / "bin" / "invoice-import"
START_TIMEOUT_S = 20.0
OTHER_PREFIX = "OTHER"
PRIVATE_CONTACT = 9  # the seed's Pat Private: visible to the administrator only


def preload(db: Path, others: int) -> None:
    """Create the sandbox database with its settings, the demo seed and ``others`` invoices of 2 lines."""
    store = Store(db)
    try:
        write_settings(store)
        load_demo_data(store)
        created = now_stored()
        with store.transaction():
            for index in range(1, others + 1):
                _insert_other(store, index, created)
    finally:
        store.close()


def _insert_other(store: Store, index: int, created: str) -> None:
    number = f"{OTHER_PREFIX}-{index:06d}"
    invoice_id = store.insert(
        "invoice",
        {
            "number": number,
            "number_key": number_key(number),
            "status": 1,
            "issue_date": "2025-12-01T00:00:00.0000000Z",
            "due_date": "2025-12-31T00:00:00.0000000Z",
            "template_type": 0,
            "contact_id": PRIVATE_CONTACT if index % 4 == 0 else 1 + index % 8,
            "consignee_id": 0,
            "entity_id": 0,
            "billing_address_id": 0,
            "delivery_address_id": 0,
            "language": "en-US",
            "currency": "EUR",
            "exchange_rate": "1.00",
            "purchase_order_number": "",
            "terms": "Net 30",
            "description": None,
            "create_on": created,
            "create_by": ADMIN_USER.id,
        },
    )
    for position, (item_id, price) in enumerate(((1, "7.70"), (6, "15.00"))):
        store.insert(
            "invoice_line",
            {
                "invoice_id": invoice_id,
                "item_id": item_id,
                "tax1_id": 1,
                "tax2_id": 0,
                "sort_order": position,
                "description": None,
                "quantity": "2.00",
                "price": price,
                "discount": "0.00",
            },
        )


@dataclass
class Sandbox:
    """``invoice-import sandbox`` in a child process. Use as a context manager."""

    others: int = 0
    latency_ms: int = 0
    rate_limit: str | None = None
    extra: list[str] = field(default_factory=list)  # more options of `invoice-import sandbox`
    url: str = ""
    preload_seconds: float = 0.0
    _folder: Path | None = None
    _process: subprocess.Popen[str] | None = None

    def start(self) -> Sandbox:
        self._folder = Path(tempfile.mkdtemp(prefix="bench-crm-"))
        db = self._folder / "crm.sqlite"
        started = time.perf_counter()
        preload(db, self.others)
        self.preload_seconds = time.perf_counter() - started
        command = [str(CLI), "sandbox", "--port", "0", "--db", str(db), "--latency-ms", str(self.latency_ms)]
        if self.rate_limit:
            command += ["--rate-limit", self.rate_limit]
        self._process = subprocess.Popen(command + self.extra, stdout=subprocess.PIPE, text=True)
        self.url = self._read_url()
        return self

    def _read_url(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            line = self._process.stdout.readline()
            if not line:
                break
            if "listening on " in line:
                return line.split("listening on ", 1)[1].split()[0]
        self.stop()
        raise RuntimeError("the sandbox did not print its URL")

    def _call(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            result: dict[str, Any] = json.load(answer)
        return result

    def stats(self) -> dict[str, Any]:
        """``GET /_sandbox/stats``: requests (total and per route), invoice creates, 503s, drops."""
        return self._call("GET", "/_sandbox/stats")

    def reset_stats(self) -> None:
        self._call("POST", "/_sandbox/reset-stats")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
