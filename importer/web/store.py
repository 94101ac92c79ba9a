"""The server's files: each upload in its own private folder (the file, its mapping, the check's and the
import's results workbooks, a ``meta.json``), saved mappings, and the retention period.

Everything lives under the data folder, created 0700 (files 0600): other users of the machine see nothing.
Uploads older than the retention period are deleted (``Store.purge``), except those still being worked on.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from importer.errors import UsageError
from importer.files import save_atomically

ALLOWED_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".xls", ".ods")
_ID = re.compile(r"^[0-9a-f]{32}$")
_MAPPING_NAME = re.compile(r"^[\w][\w .()-]{0,63}$")
META = "meta.json"
MAPPING = "mapping.toml"
CHECK_RESULTS = "check.results.xlsx"
RESULTS = "results.xlsx"


def private_folder(path: Path) -> Path:
    """Create ``path`` (and parents) readable by this user only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def safe_filename(name: str) -> str:
    """The uploaded file's own name, made safe for the disk: no folders, no control or odd characters,
    and one of the accepted extensions (else UsageError naming them)."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    stem, dot, suffix = base.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in ALLOWED_SUFFIXES:
        shown = base[:80] or "the file"
        raise UsageError(
            f"{shown}: not a spreadsheet this importer reads; upload a {', '.join(ALLOWED_SUFFIXES)} file."
        )
    stem = re.sub(r"[^\w .()-]+", "_", stem).strip(" .") or "upload"
    return stem[:100] + suffix


@dataclass(frozen=True)
class Upload:
    """One file uploaded to the server, and how far it went."""

    id: str
    who: str
    created: str  # ISO 8601, UTC
    filename: str
    crm_url: str
    sheet: str | None = None
    header_row: int | None = None
    mapping_name: str | None = None
    state: str = "uploaded"  # uploaded, checked, posting, posted, failed
    counts: dict[str, int] = field(default_factory=dict)  # of the last check or import
    message: str = ""  # what stopped it, when something did
    posted_at: str | None = None

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.created)


class Store:
    def __init__(self, root: Path, retention_days: int = 30) -> None:
        self.root = private_folder(Path(root))
        self.uploads = private_folder(self.root / "uploads")
        self.mappings = private_folder(self.root / "mappings")
        self.retention_days = retention_days

    # ------------------------------------------------------------------------------------ uploads

    def folder(self, upload: Upload | str) -> Path:
        upload_id = upload if isinstance(upload, str) else upload.id
        if not _ID.match(upload_id):
            raise KeyError(upload_id)
        return self.uploads / upload_id

    def file(self, upload: Upload) -> Path:
        return self.folder(upload) / upload.filename

    def mapping(self, upload: Upload) -> Path | None:
        path = self.folder(upload) / MAPPING
        return path if path.is_file() else None

    def new(self, *, who: str, crm_url: str, filename: str, write: Callable[[Path], None]) -> Upload:
        """A new upload of ``filename``; ``write(path)`` puts the file's bytes there."""
        name = safe_filename(filename)
        upload = Upload(
            id=secrets.token_hex(16),
            who=who,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            filename=name,
            crm_url=crm_url,
        )
        folder = private_folder(self.folder(upload))
        write(folder / name)
        os.chmod(folder / name, 0o600)
        self.save(upload)
        return upload

    def save(self, upload: Upload) -> Upload:
        data = json.dumps(asdict(upload), indent=1).encode()
        save_atomically(self.folder(upload) / META, lambda path: path.write_bytes(data))
        return upload

    def update(self, upload: Upload, **changes: Any) -> Upload:
        return self.save(replace(upload, **changes))

    def get(self, upload_id: str) -> Upload | None:
        try:
            path = self.folder(upload_id) / META
            data = json.loads(path.read_text())
            return Upload(**data)
        except (KeyError, OSError, ValueError, TypeError):
            return None

    def delete(self, upload: Upload) -> None:
        shutil.rmtree(self.folder(upload), ignore_errors=True)

    def history(self, crm_url: str) -> list[Upload]:
        """The uploads to this CRM, newest first."""
        found = [self.get(path.name) for path in self.uploads.iterdir() if _ID.match(path.name)]
        return sorted(
            (u for u in found if u is not None and u.crm_url == crm_url),
            key=lambda u: u.created,
            reverse=True,
        )

    def purge(self, keep: Iterable[str] = (), now: float | None = None) -> int:
        """Delete the uploads older than the retention period (but not those in ``keep``)."""
        limit = (now if now is not None else time.time()) - self.retention_days * 86400
        kept = set(keep)
        removed = 0
        for path in self.uploads.iterdir():
            if path.name in kept or not _ID.match(path.name):
                continue
            upload = self.get(path.name)
            created = upload.created_at.timestamp() if upload else path.stat().st_mtime
            if created < limit:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        return removed

    # ----------------------------------------------------------------------------------- mappings

    def mapping_names(self) -> list[str]:
        return sorted(path.stem for path in self.mappings.glob("*.toml"))

    def named_mapping(self, name: str) -> Path | None:
        if not _MAPPING_NAME.match(name):
            return None
        path = self.mappings / f"{name}.toml"
        return path if path.is_file() else None

    def save_named_mapping(self, name: str, text: str) -> Path:
        name = name.strip()
        if not _MAPPING_NAME.match(name):
            raise UsageError(
                "A mapping's name is letters, digits, spaces, dots, dashes or brackets (at most 64)."
            )
        path = self.mappings / f"{name}.toml"
        save_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
        os.chmod(path, 0o600)
        return path
