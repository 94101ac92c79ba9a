"""The exception hierarchy of invoice-import.

Bad *data* (a wrong cell, an unknown customer) is never an exception: it is collected as a
:class:`importer.models.CellError` in a report. Exceptions are for *operations* that failed:

    ImporterError
    ├── InputError                 exit 2: the command could not start
    │   ├── InputFileError         the file is missing, unreadable, not a table, hostile ...
    │   ├── MappingFileError       the --mapping TOML is bad
    │   ├── MissingColumnsError    required columns are absent
    │   └── FormatUndecidedError   a column's decimal mark or date order cannot be decided
    ├── CrmError                   exit 3: the CRM could not be used
    │   ├── CrmUnreachableError    DNS, connection refused, TLS ... after retries
    │   ├── AuthenticationError    token rejected (401) or login failed
    │   └── InsecureUrlError       plain http:// to a non-loopback host without --allow-http
    ├── CrmRequestError            one request was answered with an error (carries status and message)
    │   └── TransientCrmError      429/502/503/504 or a lost connection: may be retried
    └── JournalLockedError         another run holds the journal of this CRM (exit 2)

Every message is one line a finance user can act on; the CLI prints ``str(exc)``.
"""

from __future__ import annotations


class ImporterError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code: int = 1


class InputError(ImporterError):
    """The input (file, mapping, options) cannot be used: exit 2."""

    exit_code = 2


class InputFileError(InputError):
    """The input file cannot be read as a table."""


class MappingFileError(InputError):
    """The --mapping file is unreadable or names unknown columns."""


class MissingColumnsError(InputError):
    """Required columns are missing from the file."""

    def __init__(self, message: str, missing: list[str] | None = None) -> None:
        super().__init__(message)
        self.missing = missing or []


class FormatUndecidedError(InputError):
    """A column's number or date format cannot be decided from its values."""


class JournalLockedError(ImporterError):
    """Another run of the same import holds the journal."""

    exit_code = 2


class CrmError(ImporterError):
    """The CRM cannot be used at all: exit 3."""

    exit_code = 3


class CrmUnreachableError(CrmError):
    """The CRM did not answer (after retries)."""


class AuthenticationError(CrmError):
    """The token or the login was rejected."""


class InsecureUrlError(CrmError):
    """A plain-HTTP URL to a non-loopback host, refused before anything is sent."""

    exit_code = 2


class CrmRequestError(ImporterError):
    """One request was answered with an error status.

    ``status`` is the HTTP status (0 when no answer came), ``message`` the CRM's ``error.message``
    (or the plain body), ``method``/``path`` what was asked.
    """

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(f"{method} {path} answered {status}: {message}".strip())
        self.status = status
        self.message = message
        self.method = method
        self.path = path


class TransientCrmError(CrmRequestError):
    """A transient failure (429/502/503/504, timeout, lost connection): the outcome of a write is unknown."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
        sent: bool = True,
    ) -> None:
        super().__init__(status, message, method=method, path=path)
        self.retry_after = retry_after
        self.sent = sent
