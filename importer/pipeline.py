"""The import, stage by stage: file → frame → validated invoices → resolved → plan → posted → workbook.

Each stage is a plain function in its own module; this module only strings them together for the
``run`` and ``validate`` commands, and knows nothing of click. The CLI passes in the interactive bits
(how to confirm a plan, how to show progress) as callables.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import FrameType

from importer import __version__
from importer.client import CrmClient, RetryPolicy, url_note
from importer.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_NOT_DONE,
    CrmError,
    CrmRequestError,
    FormatUndecidedError,
    UsageError,
    exit_code,
)
from importer.journal import Journal, default_journal_path, number_key
from importer.load import load_table
from importer.mapping import load_mapping, map_columns
from importer.models import (
    CrmStatus,
    FormatOptions,
    ImportReport,
    MappingConfig,
    Outcome,
    Resolution,
    ResolvedInvoice,
    RunInfo,
    Status,
    Validation,
)
from importer.post import (
    PostState,
    classify_existing,
    list_existing,
    move_to_targets,
    needs_moves,
    post_invoices,
    update_changed,
)
from importer.resolve import resolve_invoices
from importer.results import (
    CHECK,
    DRY_RUN,
    RESULTS,
    check_results_path,
    default_results_path,
    summary_counts,
    write_results,
)
from importer.validate import validate_table

SANDBOX_TOKEN = "sandbox"
INTERRUPTS = (signal.SIGINT, signal.SIGTERM)

# Given the number of invoices about to be posted, returns the callable told of each one posted.
ProgressFactory = Callable[[int], Callable[[str, Outcome], None]]


@dataclass(frozen=True)
class Source:
    """Where the rows come from and how to read them."""

    file: Path
    sheet: str | None = None
    mapping: Path | None = None
    # the command line's formats: each one given wins over the mapping file's
    fmt: FormatOptions = field(default_factory=FormatOptions)


@dataclass(frozen=True)
class Connection:
    """Which CRM, and how to reach it."""

    url: str | None = None
    token: str | None = None
    user: str | None = None
    password: str | None = None
    sandbox: bool = False
    allow_http: bool = False
    ca_bundle: Path | None = None
    concurrency: int = 8
    rate: tuple[int, float] | None = (500, 10.0)
    retries: int = 6
    timeout: float = 30.0


@dataclass(frozen=True)
class RunOptions:
    source: Source
    connection: Connection
    results: Path | None = None
    journal: Path | None = None
    dry_run: bool = False
    update: bool = False  # --update: changed Draft invoices this import created are updated in place


def plural(count: int, noun: str) -> str:
    """``1 invoice``, ``2 invoices``, ``0 invoices`` (the console's nouns all take an s)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@dataclass(frozen=True)
class Plan:
    """What a run is about to do, shown to the user before anything is posted."""

    crm_url: str
    to_create: tuple[ResolvedInvoice, ...]
    skipped: int
    exists: int
    invalid: int
    to_move: tuple[ResolvedInvoice, ...] = ()  # created earlier, short of the file's status: moves to finish
    to_update: tuple[ResolvedInvoice, ...] = ()  # --update: changed, to update in place (if still Draft)
    changed: int = 0

    @property
    def has_work(self) -> bool:
        """Whether confirming the plan would send anything."""
        return bool(self.to_create or self.to_move or self.to_update)

    @property
    def ending_statuses(self) -> dict[str, int]:
        """How many of the invoices to create will end in each status (Draft, Sent, Paid, Rejected)."""
        counts: dict[str, int] = {}
        for invoice in sorted(self.to_create, key=lambda i: int(i.invoice.target_status)):
            title = invoice.invoice.target_status.title
            counts[title] = counts.get(title, 0) + 1
        return counts

    @property
    def moves_stock(self) -> bool:
        """Whether an invoice will be moved to Sent (the CRM then takes its quantities off tracked stock)."""
        return any(
            invoice.invoice.target_status is not CrmStatus.DRAFT
            for invoice in (*self.to_create, *self.to_move)
        )

    @property
    def lines(self) -> int:
        return sum(len(invoice.lines) for invoice in self.to_create)

    @property
    def totals_by_currency(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for invoice in self.to_create:
            totals[invoice.currency] = totals.get(invoice.currency, Decimal(0)) + invoice.total
        return dict(sorted(totals.items()))

    def render(self) -> str:
        lines = [
            f"Plan for {self.crm_url}:",
            f"  create   {plural(len(self.to_create), 'invoice')} with {plural(self.lines, 'line')}",
        ]
        lines += [
            f"           {amount:,.2f} {currency}" for currency, amount in self.totals_by_currency.items()
        ]
        statuses = self.ending_statuses
        if set(statuses) - {CrmStatus.DRAFT.title}:
            shown = ", ".join(f"{count} {title}" for title, count in statuses.items())
            lines.append(f"           ending as: {shown}")
        if self.to_move:
            lines.append(
                f"  finish   {plural(len(self.to_move), 'invoice')} created earlier, not yet at "
                "the status the file asks for"
            )
        if self.to_update:
            lines.append(
                f"  update   {plural(len(self.to_update), 'invoice')} created earlier whose rows changed "
                "(in place, if still a Draft in the CRM)"
            )
        elif self.changed:
            lines.append(
                f"  changed  {plural(self.changed, 'invoice')} created earlier whose rows changed "
                "(not posted; --update updates them in place)"
            )
        lines += [
            f"  skip     {self.skipped} already created by an earlier run of this import",
            f"  exists   {plural(self.exists, 'number')} already used in the CRM by "
            f"{'another invoice' if self.exists == 1 else 'other invoices'} (not posted)",
            f"  invalid  {plural(self.invalid, 'invoice')} with errors "
            "(not posted; see the results workbook)",
        ]
        if self.moves_stock:
            lines.append(
                "Note: moving an invoice to Sent takes its lines' quantities off the stock of items with "
                "inventory tracking (moving it on to Rejected puts them back)."
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class RunResult:
    """The outcome of a command: the report every stage contributed to, and how the command ended. The
    CLI prints it and exits with :attr:`exit_code`."""

    report: ImportReport
    run: RunInfo
    results_path: Path | None = None
    plan: Plan | None = None
    interrupted: bool = False
    crm_error: CrmError | None = None
    requests_sent: int = 0
    notes: tuple[str, ...] = ()
    offline: bool = False  # the validate command: valid invoices stay pending, and that is success

    @property
    def counts(self) -> dict[str, int]:
        return summary_counts(self.report)

    @property
    def orphan_rows(self) -> int:
        """Rows that belong to no invoice (e.g. no invoice number) and carry an error."""
        grouped = {row for invoice in self.report.invoices for row in invoice.rows}
        return len({e.row for e in self.report.errors if e.row is not None and e.row not in grouped})

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.crm_error is not None:
            return exit_code(self.crm_error)
        ok = {Status.CREATED, Status.SKIPPED, Status.PLANNED, Status.UPDATED}
        if self.offline:
            ok.add(Status.PENDING)
        statuses = (self.report.status(invoice) for invoice in self.report.invoices)
        if self.orphan_rows or any(status not in ok for status in statuses):
            return EXIT_SOME_NOT_DONE
        return EXIT_OK

    def summary(self) -> dict[str, object]:
        """The --json summary object."""
        summary: dict[str, object] = dict(self.counts)
        summary["results"] = str(self.results_path) if self.results_path else None
        return summary


# ── offline stages ──────────────────────────────────────────────────────────────────────────────


def read_mapping(path: Path | None) -> MappingConfig:
    return load_mapping(path) if path is not None else MappingConfig()


def validate_source(source: Source) -> Validation:
    """Load → map → parse → validate → group, with no network. Raises UsageError for an unusable file."""
    config = read_mapping(source.mapping)
    fmt = with_options(config.format, source.fmt)
    raw = load_table(source.file, sheet=source.sheet, fmt=fmt)
    table = map_columns(raw, config)
    try:
        return validate_table(table, fmt)
    except FormatUndecidedError as exc:
        raise FormatUndecidedError(f"{source.file.name}: {_with_headers(str(exc), table.headers)}") from exc


def with_options(mapping: FormatOptions, given: FormatOptions) -> FormatOptions:
    """The mapping file's formats, with each one the command line gives instead (a date format there
    replaces a day/month order here, and the other way round)."""
    chosen = {name: value for name, value in vars(given).items() if value is not None}
    if "day_first" in chosen:
        chosen.setdefault("date", None)
    if "date" in chosen and chosen["date"] is not None:
        chosen.setdefault("day_first", None)
    return replace(mapping, **chosen)


def _with_headers(message: str, headers: dict[str, str]) -> str:
    """Name a column by the user's header ("Column 'Menge'") rather than its canonical name."""
    for canonical, header in headers.items():
        message = message.replace(f"Column {canonical}:", f"Column '{header}':")
    return message


def new_run_info(validation: Validation, crm_url: str | None, *, dry_run: bool = False) -> RunInfo:
    raw = validation.table.raw
    return RunInfo(
        source=raw.source,
        sha256=raw.sha256,
        crm_url=crm_url,
        version=__version__,
        started=datetime.now(UTC),
        dry_run=dry_run,
    )


def build_report(
    validation: Validation,
    resolution: Resolution | None = None,
    outcomes: Mapping[str, Outcome] | None = None,
) -> ImportReport:
    """The one report of a command: every error of every stage in row order, the outcomes, the totals."""
    if resolution is None:
        return ImportReport.offline(validation)
    errors = sorted((*validation.errors, *resolution.errors), key=lambda error: error.row or 0)
    totals = {invoice.number: invoice.total for invoice in validation.invoices if invoice.total is not None}
    totals.update(resolution.totals)
    totals.update({number: resolved.total for number, resolved in resolution.resolved.items()})
    return ImportReport(
        table=validation.table,
        invoices=validation.invoices,
        errors=tuple(dict.fromkeys(errors)),
        outcomes=dict(outcomes or {}),
        totals=totals,
        notes=validation.notes,
        left_out=validation.left_out,
    )


def finish(result: RunResult, results: Path | None) -> RunResult:
    """Stamp the end time and write the results workbook (atomically) if a path is given."""
    run = replace(result.run, ended=datetime.now(UTC))
    path = write_results(results, result.report, run) if results is not None else None
    return replace(result, run=run, results_path=path)


def validate_command(source: Source, results: Path | None = None, *, workbook: bool = False) -> RunResult:
    """The ``validate`` command: offline checks, and a workbook if asked for: at ``results``, or with
    ``workbook`` at ``<stem>.check.xlsx`` (never a run's ``<stem>.results.xlsx``)."""
    if results is None and workbook:
        results = default_results_path(source.file, CHECK)
    if results is not None:
        check_results_path(results, source.file)
    validation = validate_source(source)
    result = RunResult(report=build_report(validation), run=new_run_info(validation, None), offline=True)
    return finish(result, results)


# ── online stages ───────────────────────────────────────────────────────────────────────────────


def make_plan(
    crm_url: str,
    validation: Validation,
    resolution: Resolution,
    existing: Mapping[str, Outcome],
    *,
    to_move: tuple[ResolvedInvoice, ...] = (),
    update: bool = False,
) -> Plan:
    statuses = [outcome.status for outcome in existing.values()]
    changed = tuple(
        r
        for number, r in resolution.resolved.items()
        if number in existing and existing[number].status is Status.CHANGED
    )
    return Plan(
        crm_url=crm_url,
        to_create=tuple(r for number, r in resolution.resolved.items() if number not in existing),
        skipped=statuses.count(Status.SKIPPED),
        exists=statuses.count(Status.EXISTS),
        invalid=len(validation.invoices) - len(resolution.resolved),
        to_move=to_move,
        to_update=changed if update else (),
        changed=len(changed),
    )


def with_status(invoices: Iterable[ResolvedInvoice], status: Status, message: str = "") -> dict[str, Outcome]:
    """The same outcome for each of ``invoices``, by number."""
    return {invoice.number: Outcome(status=status, message=message) for invoice in invoices}


class Interruption:
    """Whether Ctrl-C (or SIGTERM) came while a command ran: set by the signal handlers below."""

    def __init__(self) -> None:
        self.happened = False


@contextlib.contextmanager
def sigint_sets(stop: asyncio.Event) -> Iterator[None]:
    """While active, Ctrl-C sets ``stop`` (finish in-flight work) instead of raising KeyboardInterrupt.

    On exit the handlers that were there before are put back (asyncio would put the default ones back,
    under which a Ctrl-C between the end of posting and the results workbook would lose the workbook).
    """
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in INTERRUPTS}
    try:
        for sig in INTERRUPTS:
            loop.add_signal_handler(sig, stop.set)
    except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            if handler is not None:
                signal.signal(sig, handler)


@contextlib.contextmanager
def interrupts_recorded(interruption: Interruption) -> Iterator[None]:
    """While active, Ctrl-C (or SIGTERM) sets ``interruption.happened`` instead of raising KeyboardInterrupt.

    Active from before the journal is opened until the results workbook is written, around the event loop
    (whose ``sigint_sets`` stops the posting itself): a Ctrl-C just after posting must neither lose the
    workbook of what was created nor be reported as "interrupted before anything was posted".
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def record(_signum: int, _frame: FrameType | None) -> None:
        interruption.happened = True

    previous = {sig: signal.signal(sig, record) for sig in INTERRUPTS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass(frozen=True)
class Online:
    """What the CRM stages found and did."""

    resolution: Resolution
    outcomes: Mapping[str, Outcome]
    plan: Plan | None = None
    crm_error: CrmError | None = None
    requests_sent: int = 0
    notes: tuple[str, ...] = ()


def make_client(
    conn: Connection, crm_url: str, token: str | None, log: Callable[[str], None] | None = None
) -> CrmClient:
    """The CRM client of a command, as its connection options say."""
    return CrmClient(
        crm_url,
        token=token,
        user=conn.user,
        password=conn.password,
        concurrency=conn.concurrency,
        rate=conn.rate,
        retry=RetryPolicy(attempts=conn.retries),
        timeout=conn.timeout,
        verify=str(conn.ca_bundle) if conn.ca_bundle else True,
        allow_http=conn.allow_http,
        log=log,
    )


async def import_online(
    options: RunOptions,
    validation: Validation,
    crm_url: str,
    token: str | None,
    interruption: Interruption,
    *,
    confirm: Callable[[Plan], bool],
    progress: ProgressFactory | None,
    log: Callable[[str], None] | None,
) -> Online:
    """Resolve → classify → plan → confirm → post. Every valid invoice ends with an outcome."""
    conn = options.connection
    stop = asyncio.Event()
    journal_path = options.journal or default_journal_path(crm_url)
    client = make_client(conn, crm_url, token, log)
    resolution = Resolution(resolved={}, errors=())
    outcomes: dict[str, Outcome] = {}
    plan: Plan | None = None
    crm_error: CrmError | None = None
    notes: list[str] = []
    resolved = False  # whether the pre-flight ended (else no invoice was looked at in full)
    with Journal.open(journal_path, crm_url) as journal, sigint_sets(stop):
        if interruption.happened:  # Ctrl-C while the journal was being opened
            stop.set()
        try:
            async with client:
                if validation.invoices:  # the access check, the look-ups and the numbers in use, side by side
                    # The access check fetches the invoice settings: the default terms come from its answer.
                    access = asyncio.ensure_future(client.check_access())
                    _, resolution, existing = await asyncio.gather(
                        access,
                        resolve_invoices(validation.invoices, client, settings=access),
                        list_existing(validation.invoices, client),
                    )
                    resolved = True
                    outcomes.update(
                        await classify_existing(
                            list(resolution.resolved.values()),
                            client,
                            journal,
                            existing=existing,
                            listed=True,
                        )
                    )
                else:
                    await client.check_access()
                    resolved = True
                to_move = tuple(
                    r
                    for number, r in resolution.resolved.items()
                    if number in outcomes and needs_moves(r, outcomes[number], journal)
                )
                plan = make_plan(
                    crm_url, validation, resolution, outcomes, to_move=to_move, update=options.update
                )
                if stop.is_set():
                    interruption.happened = True
                elif options.dry_run:
                    outcomes.update(with_status(plan.to_create, Status.PLANNED))
                elif plan.has_work and not confirm(plan):
                    notes.append("Nothing was posted: the plan was not confirmed.")
                else:  # recorded in the journal's runs (invoice-import history), even with nothing to do
                    journal.begin_run(
                        "run",
                        file_name=validation.table.raw.source.name,
                        sha256=validation.table.raw.sha256,
                        user=conn.user or os_user(),
                    )
                    crm_error = await _post_update_move(
                        plan, resolution, outcomes, client, journal, stop, progress
                    )
                    interruption.happened = interruption.happened or stop.is_set()
        except CrmRequestError as exc:  # a look-up the CRM refused outright (e.g. 500): unusable
            crm_error = CrmError(f"the CRM failed a request: {exc}")
        except CrmError as exc:
            crm_error = exc
        if crm_error is not None:
            outcomes.update(_known_ids(validation, outcomes, journal))
        journal.end_run(_counts(validation, resolution, outcomes))
    unfinished = [r for number, r in resolution.resolved.items() if number not in outcomes]
    outcomes.update(with_status(unfinished, Status.PENDING))
    if not resolved:  # the CRM stopped the run before the pre-flight ended: every valid invoice is pending
        for invoice in validation.invoices:
            if invoice.is_valid and invoice.number not in outcomes:
                outcomes[invoice.number] = Outcome(status=Status.PENDING)
    return Online(
        resolution=resolution,
        outcomes=outcomes,
        plan=plan,
        crm_error=crm_error,
        requests_sent=client.requests_sent,
        notes=tuple(notes),
    )


async def _post_update_move(
    plan: Plan,
    resolution: Resolution,
    outcomes: dict[str, Outcome],
    client: CrmClient,
    journal: Journal,
    stop: asyncio.Event,
    progress: ProgressFactory | None,
) -> CrmError | None:
    """Create what the plan creates, update the changed invoices (--update), then bring every invoice of
    this import to the status its file asks for. Updates ``outcomes``; the CRM failure that stopped it."""
    states: dict[str, PostState] = {}  # where each invoice's state machine stands
    if plan.to_create:
        on_posted = progress(len(plan.to_create)) if progress else None
        posted = await post_invoices(plan.to_create, client, journal, stop=stop, progress=on_posted)
        outcomes.update(posted.outcomes)
        states.update({number: path[-1] for number, path in posted.paths.items()})
        if posted.fatal is not None:
            return posted.fatal
    if plan.to_update and not stop.is_set():
        changed = [(r, outcomes[r.number]) for r in plan.to_update]
        updated = await update_changed(changed, client, journal, stop=stop)
        outcomes.update(updated.outcomes)
        states.update({number: path[-1] for number, path in updated.paths.items()})
        if updated.fatal is not None:
            return updated.fatal
    movable = [
        (r, outcomes[r.number])
        for r in resolution.resolved.values()
        if r.number in outcomes and needs_moves(r, outcomes[r.number], journal)
    ]
    if movable and not stop.is_set():
        moved = await move_to_targets(movable, client, journal, stop=stop, states=states)
        outcomes.update(moved.outcomes)
        return moved.fatal
    return None


def os_user() -> str | None:
    """Who runs the command, as the operating system says (recorded with each run in the journal)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def _counts(
    validation: Validation, resolution: Resolution, outcomes: Mapping[str, Outcome]
) -> dict[str, int]:
    """The count of invoices per status, as the run's record in the journal keeps it."""
    error_rows = {error.row for error in resolution.errors}
    counts: dict[str, int] = {}
    for invoice in validation.invoices:
        outcome = outcomes.get(invoice.number)
        if outcome is not None:
            status = outcome.status
        elif not invoice.is_valid or error_rows.intersection(invoice.rows):
            status = Status.INVALID
        else:
            status = Status.PENDING
        counts[status.value] = counts.get(status.value, 0) + 1
    return counts


def _known_ids(
    validation: Validation, outcomes: Mapping[str, Outcome], journal: Journal
) -> dict[str, Outcome]:
    """When the CRM could not be used: the CRM ID the journal knows for each invoice of the file that an
    earlier run created and this run could not confirm, with a note (its status stays pending)."""
    created = {number_key(entry.number): entry for entry in journal.entries() if entry.owned}
    known: dict[str, Outcome] = {}
    for invoice in validation.invoices:
        entry = created.get(number_key(invoice.number))
        outcome = outcomes.get(invoice.number)
        if entry is None or not invoice.is_valid or (outcome is not None and outcome.crm_id is not None):
            continue
        if outcome is not None and outcome.status is not Status.PENDING:
            continue
        known[invoice.number] = Outcome(
            status=Status.PENDING,
            crm_id=entry.crm_id,
            message=(
                f"the journal records CRM ID {entry.crm_id} for it, created by an earlier run of this "
                "import; the CRM could not be reached to confirm it: run again when it can"
            ),
        )
    return known


@contextlib.contextmanager
def crm_endpoint(conn: Connection) -> Iterator[tuple[str, str | None]]:
    """The CRM URL and token to use: the given ones, or a seeded sandbox started in-process."""
    if not conn.sandbox:
        if not conn.url:
            raise UsageError(
                "No CRM given: pass --url (or set ONLYOFFICE_URL), or --sandbox to rehearse locally."
            )
        yield conn.url, conn.token
        return
    from importer.sandbox import SandboxConfig, SandboxServer

    with SandboxServer(SandboxConfig(port=0, token=SANDBOX_TOKEN, seed=True)) as server:
        yield server.url, SANDBOX_TOKEN


def run_command(
    options: RunOptions,
    *,
    confirm: Callable[[Plan], bool],
    progress: ProgressFactory | None = None,
    log: Callable[[str], None] | None = None,
    announce: Callable[[str], None] | None = None,
) -> RunResult:
    """The ``run`` command. Input problems raise UsageError (exit 2) before anything is sent."""
    validation = validate_source(options.source)
    kind = DRY_RUN if options.dry_run else RESULTS  # a dry run never replaces a real run's workbook
    results = options.results or default_results_path(options.source.file, kind)
    check_results_path(results, options.source.file)
    with crm_endpoint(options.connection) as (crm_url, token), _sandbox_journal(options) as journal:
        if options.connection.sandbox and announce:
            announce(f"Rehearsing against a seeded sandbox CRM at {crm_url} (discarded after the run).")
        note = None if options.connection.sandbox else url_note(crm_url)
        if note and announce:
            announce(note)
        run = new_run_info(validation, crm_url, dry_run=options.dry_run)
        run_options = replace(options, results=results, journal=journal)
        interruption = Interruption()
        with interrupts_recorded(interruption):
            online = asyncio.run(
                import_online(
                    run_options,
                    validation,
                    crm_url,
                    token,
                    interruption,
                    confirm=confirm,
                    progress=progress,
                    log=log,
                )
            )
            result = RunResult(
                report=build_report(validation, online.resolution, online.outcomes),
                run=run,
                plan=online.plan,
                crm_error=online.crm_error,
                requests_sent=online.requests_sent,
                notes=online.notes,
            )
            result = finish(result, results)
        return replace(result, interrupted=interruption.happened)


@contextlib.contextmanager
def _sandbox_journal(options: RunOptions) -> Iterator[Path | None]:
    """A throw-away journal for a throw-away sandbox (unless --journal names one)."""
    if options.journal is not None or not options.connection.sandbox:
        yield options.journal
        return
    with tempfile.TemporaryDirectory(prefix="invoice-import-sandbox-") as folder:
        yield Path(folder) / "journal.sqlite"
