"""The exception hierarchy of invoice-import, and the one place exit codes are decided.

Bad *data* (a wrong cell, an unknown customer) is never an exception: it is a
:class:`importer.models.CellError` collected in the report. Exceptions are for *operations* that failed:

    ImporterError
    ├── UsageError                 exit 2: the command could not start
    │   ├── InputFileError         the file is missing, unreadable, not a table, hostile ...
    │   ├── MappingFileError       the --mapping TOML is bad
    │   ├── MissingColumnsError    required columns are absent
    │   ├── FormatUndecidedError   a column's decimal mark or date order cannot be decided
    │   ├── ResultsPathError       the results workbook would overwrite the input
    │   └── InsecureUrlError       plain http:// to a non-loopback host without --allow-http
    ├── JournalError               exit 2: the journal cannot be used
    │   └── JournalLockedError     another run holds the journal of this CRM
    └── CrmError                   exit 3: the CRM could not be used
        ├── CrmUnreachableError    DNS, connection refused, TLS ... after retries
        ├── CrmAuthError           token rejected (401), login failed, or no access to CRM invoices
        └── CrmRequestError        one request was answered with an error (status, message, method, path)
            ├── TransientError     429/502/503/504, a timeout or a lost connection: may be retried
            ├── NotFoundError      404: the record does not exist (or is hidden from this user)
            ├── ForbiddenError     403: this user may not see or do that
            └── RefusedError       any other error answer (400 "Value does not fall within ...", 500 ...)

HTTP status codes are read only in :mod:`importer.client`, which raises these. A stage that gets a
:class:`CrmRequestError` for one invoice records it on that invoice; only :class:`CrmUnreachableError` and
:class:`CrmAuthError` make the whole run stop. Every message is one line a finance user can act on; the CLI
prints ``str(exc)`` and exits with :func:`exit_code`.
"""

from __future__ import annotations

# exit codes of the product contract
EXIT_OK = 0
EXIT_SOME_NOT_DONE = 1  # some invoices are invalid, exists, failed or pending
EXIT_USAGE = 2
EXIT_CRM = 3
EXIT_INTERRUPTED = 130


class ImporterError(Exception):
    """Base of every error this package raises on purpose."""


class UsageError(ImporterError):
    """The input (file, mapping, options) cannot be used: exit 2."""


class InputFileError(UsageError):
    """The input file cannot be read as a table."""


class MappingFileError(UsageError):
    """The --mapping file is unreadable or names unknown columns."""


class MissingColumnsError(UsageError):
    """Required columns are missing from the file."""

    def __init__(self, message: str, missing: list[str] | None = None) -> None:
        super().__init__(message)
        self.missing = missing or []


class FormatUndecidedError(UsageError):
    """A column's number or date format cannot be decided from its values."""


class ResultsPathError(UsageError):
    """The results workbook path cannot be used (it would replace the input file)."""


class InsecureUrlError(UsageError):
    """A plain-HTTP URL to a non-loopback host, refused before anything is sent."""


class JournalError(ImporterError):
    """The import journal cannot be used."""


class JournalLockedError(JournalError):
    """Another run of the same import holds the journal."""


class CrmError(ImporterError):
    """The CRM could not be used."""


class CrmUnreachableError(CrmError):
    """The CRM did not answer (after retries)."""


class CrmAuthError(CrmError):
    """The token or the login was rejected, or the user has no access to CRM invoices."""


class CrmRequestError(CrmError):
    """One request was answered with an error.

    ``status`` is the HTTP status (0 when no answer came), ``message`` the CRM's ``error.message`` (or
    the plain body), ``method``/``path`` what was asked.
    """

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(f"{method} {path} answered {status}: {message}".strip())
        self.status = status
        self.message = message
        self.method = method
        self.path = path


class TransientError(CrmRequestError):
    """A transient failure (429/502/503/504, timeout, lost connection): the outcome of a write is unknown.

    ``sent``: whether the request may have reached the server (False: certainly not sent, e.g. the
    connection could not be opened). ``retry_after``: the server's Retry-After, in seconds.
    """

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


class NotFoundError(CrmRequestError):
    """404: no such record (a real portal also answers 404 for a contact private to another user)."""


class ForbiddenError(CrmRequestError):
    """403: the record exists but this user may not read or change it."""


class RefusedError(CrmRequestError):
    """Any other error answer: the CRM refused the request (400 with its message, 500 ...)."""


def exit_code(exc: BaseException) -> int:
    """The exit code for a command that ended with ``exc`` (the one place this is decided)."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, UsageError | JournalError):
        return EXIT_USAGE
    if isinstance(exc, CrmError):
        return EXIT_CRM
    return EXIT_SOME_NOT_DONE
