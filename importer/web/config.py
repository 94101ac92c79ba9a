"""What ``invoice-import serve`` was started with, and where its files live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import platformdirs

from importer.client import is_loopback
from importer.errors import UsageError

APP_NAME = "invoice-import"


def default_data_dir() -> Path:
    """The per-user state folder (``XDG_STATE_HOME`` honoured on Linux), ``web`` under it."""
    return platformdirs.user_state_path(APP_NAME) / "web"


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    url: str | None = None  # the portal; None with sandbox
    token: str | None = None  # shared credentials: used for everyone (no sign-in page)
    user: str | None = None
    password: str | None = None
    sandbox: bool = False
    journal: Path | None = None  # None: one per CRM in the per-user state folder
    data_dir: Path | None = None  # uploads, results, saved mappings; None: default_data_dir()
    max_upload_mb: int = 50
    retention_days: int = 30
    allow_http: bool = False
    ca_bundle: Path | None = None
    certfile: Path | None = None  # serve https:// with this certificate (PEM)
    keyfile: Path | None = None

    @property
    def shared_login(self) -> bool:
        """Whether one set of credentials is used for everyone (no sign-in page)."""
        return self.sandbox or bool(self.token) or bool(self.user)

    @property
    def tls(self) -> bool:
        return self.certfile is not None

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def folder(self) -> Path:
        return self.data_dir if self.data_dir is not None else default_data_dir()

    def check(self) -> None:
        """Refuse what would be unsafe or cannot work, before anything starts (UsageError)."""
        if not self.sandbox and not self.url:
            raise UsageError(
                "No CRM given: pass --url (or set ONLYOFFICE_URL), or --sandbox to rehearse locally."
            )
        if self.user and not self.password:
            raise UsageError("--user needs --password (or ONLYOFFICE_PASSWORD).")
        if not self.tls and not self.allow_http and not is_loopback(self.host):
            raise UsageError(
                f"refusing to serve plain http:// on {self.host}: sign-ins and invoices would travel "
                "unencrypted. Give --certfile (and --keyfile), or add --allow-http if a TLS proxy "
                "stands in front."
            )
        if self.keyfile is not None and self.certfile is None:
            raise UsageError("--keyfile needs --certfile.")
        if self.max_upload_mb < 1:
            raise UsageError("--max-upload-mb must be at least 1.")
