"""The command line: click only, and thin. Every stage lives in its own module; see importer.pipeline."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from importer import __version__
from importer.errors import EXIT_INTERRUPTED, ImporterError, UsageError, exit_code

if TYPE_CHECKING:  # the pipeline (pandas, pandera, openpyxl) is imported by the commands that use it,
    # so that --help and the sandbox start at once
    from importer.models import FormatOptions, Outcome
    from importer.pipeline import Plan, RunResult

MAX_ERRORS_SHOWN = 20


def _parse_rate(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[int, float] | None:
    if value is None:
        return None
    from importer.rates import parse_rate

    try:
        return parse_rate(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc)) from exc


def _fail(exc: BaseException, debug: bool) -> NoReturn:
    if debug:
        traceback.print_exception(exc)
    code = exit_code(exc)
    message = str(exc) if isinstance(exc, ImporterError) else f"unexpected error: {exc!r} (run with --debug)"
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _print_errors(result: RunResult) -> None:
    from importer.pipeline import plural
    from importer.results import all_errors, describe_error

    source = result.report.table.raw.source
    headers = result.report.table.headers
    errors = sorted(all_errors(result.report), key=lambda e: e.row or 0)
    for error in errors[:MAX_ERRORS_SHOWN]:
        click.echo(f"{source.name}: {describe_error(error, headers)}", err=True)
    if len(errors) > MAX_ERRORS_SHOWN:
        more = plural(len(errors) - MAX_ERRORS_SHOWN, "more error")
        where = "see the results workbook" if result.results_path else "add --results to see all of them"
        click.echo(f"... and {more}: {where}.", err=True)


def _print_changed(result: RunResult) -> None:
    """The invoices this import created earlier whose rows now differ, and those not yet at the status the
    file asks for, each with what happened (first MAX_ERRORS_SHOWN)."""
    from importer.models import Status

    report = result.report
    shown = (Status.CHANGED, Status.INCOMPLETE)
    listed = [i for i in report.invoices if report.status(i) in shown]
    source = report.table.raw.source.name
    for invoice in listed[:MAX_ERRORS_SHOWN]:
        outcome = report.outcomes[invoice.number]
        row = f"row {invoice.rows[0]}, " if invoice.rows else ""
        click.echo(f"{source}: {row}invoice {invoice.number}: {outcome.status}: {outcome.message}", err=True)
    if len(listed) > MAX_ERRORS_SHOWN:
        more = len(listed) - MAX_ERRORS_SHOWN
        click.echo(f"... and {more} more changed or incomplete: see the results workbook.", err=True)


def _print_report(report: RunResult, as_json: bool) -> None:
    from importer.pipeline import plural

    _print_errors(report)
    _print_changed(report)
    if report.plan is not None and report.run.dry_run:
        click.echo(report.plan.render(), err=True)
    for note in (*report.report.notes, *report.notes):
        click.echo(note, err=True)
    if report.crm_error is not None:  # the reason first, then what it left behind
        click.echo(f"error: {report.crm_error}", err=True)
    counts = report.counts
    if report.offline:
        counts = {("valid" if status == "pending" else status): n for status, n in counts.items()}
    shown = ", ".join(f"{counts[k]} {k}" for k in counts if counts[k] and k not in ("invoices", "lines"))
    summary = f"{plural(counts['invoices'], 'invoice')}, {plural(counts['lines'], 'line')}"
    click.echo(f"{summary}: {shown or 'nothing to do'}.", err=True)
    if report.interrupted:
        click.echo(
            "Interrupted: what was not posted is 'pending'; run the same command again to finish.", err=True
        )
    if report.results_path is not None:
        click.echo(f"Results workbook: {report.results_path}", err=True)
    elif report.offline and report.exit_code != 0:
        from importer.results import CHECK, default_results_path

        check = default_results_path(report.run.source, CHECK)
        click.echo(
            f"To see every row with its error in a workbook, run again with --results (writes {check.name}).",
            err=True,
        )
    if as_json:
        click.echo(json.dumps(report.summary()))


def _confirm_plan(yes: bool) -> Callable[[Plan], bool]:
    def confirm(plan: Plan) -> bool:
        click.echo(plan.render(), err=True)
        if yes:
            return True
        if not sys.stdin.isatty():
            click.echo(
                "Not posted: this is not an interactive terminal; add --yes to post the plan.", err=True
            )
            return False
        return click.confirm("Create these invoices?", default=False, err=True)

    return confirm


def _debug_log(debug: bool) -> Callable[[str], None] | None:
    return (lambda line: click.echo(line, err=True)) if debug else None


def _progress_factory(total: int) -> Callable[[str, Outcome], None]:
    from importer.progress import Progress

    return Progress(total)


@contextlib.contextmanager
def _interrupt_exits_130() -> Iterator[None]:
    """Ctrl-C turned into exit 130 (click would print "Aborted!" and exit 1, which means "some invalid")."""
    try:
        yield
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None


class _Main(click.Group):
    """The command group. A Ctrl-C while the command line is read or a command starts exits 130."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        with _interrupt_exits_130():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _interrupt_exits_130():
            return super().invoke(ctx)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="invoice-import")
def main() -> None:
    """Import invoices from a spreadsheet into ONLYOFFICE CRM, exactly once, with a results workbook.

    \b
    Start with a rehearsal against a local sandbox CRM:
      invoice-import template invoices.xlsx
      invoice-import validate invoices.xlsx
      invoice-import run invoices.xlsx --sandbox --yes
    After a run: `history` lists the runs, `undo RUN_ID` deletes what one created.
    """


def source_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """FILE, --sheet, --mapping and the format options; the command gets the formats as one ``fmt``."""

    @functools.wraps(func)
    def with_format(
        *args: Any,
        header_row: int | None,
        decimal: str | None,
        date_format: str | None,
        day_first: bool | None,
        **kwargs: Any,
    ) -> Any:
        from importer.models import FormatOptions

        fmt = FormatOptions(decimal=decimal, date=date_format, day_first=day_first, header_row=header_row)
        return func(*args, fmt=fmt, **kwargs)

    options = (
        click.option(
            "--day-first/--month-first",
            "day_first",
            default=None,
            help="Dates like 03/04/2026 are day/month (or month/day) first.",
        ),
        click.option(
            "--date-format", callback=_date_format, help="Dates as written, in strptime codes, e.g. %d.%m.%Y."
        ),
        click.option("--decimal", type=click.Choice([".", ","]), help="The decimal mark of the numbers."),
        click.option(
            "--header-row",
            type=click.IntRange(1),
            help="The row holding the column names (default: found among the first rows).",
        ),
        click.option(
            "--mapping", type=click.Path(path_type=Path), help="TOML file: column names, defaults, formats."
        ),
        click.option("--sheet", help="Sheet of a workbook to read (default: the first visible one)."),
        click.argument("file", type=click.Path(path_type=Path)),
    )
    wrapped: Callable[..., Any] = with_format
    for option in options:
        wrapped = option(wrapped)
    return wrapped


def _date_format(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from importer.mapping import check_date_format

    try:
        return check_date_format("--date-format", value)
    except ImporterError as exc:
        raise click.BadParameter(str(exc).removeprefix("--date-format ")) from exc


@main.command()
@source_options
@click.option(
    "--url", envvar="ONLYOFFICE_URL", show_envvar=True, help="The portal, e.g. https://portal.example.com"
)
@click.option("--token", envvar="ONLYOFFICE_TOKEN", show_envvar=True, help="API token sent as Authorization.")
@click.option(
    "--user", envvar="ONLYOFFICE_USER", show_envvar=True, help="Log in with this user instead of a token."
)
@click.option("--password", envvar="ONLYOFFICE_PASSWORD", show_envvar=True, help="Password for --user.")
@click.option(
    "--sandbox", is_flag=True, help="Import into a seeded sandbox CRM started in-process (a rehearsal)."
)
@click.option(
    "--results",
    type=click.Path(path_type=Path),
    help="Results workbook (default: <input>.results.xlsx; with --dry-run <input>.dry-run.xlsx).",
)
@click.option("--journal", type=click.Path(path_type=Path), help="Import journal (default: one per CRM URL).")
@click.option("--dry-run", is_flag=True, help="Check everything against the CRM and plan, but post nothing.")
@click.option(
    "--update",
    is_flag=True,
    help="Update in place the invoices this import created earlier whose rows changed, while they are "
    "still Draft in the CRM and unchanged there.",
)
@click.option(
    "--concurrency", type=click.IntRange(1, 64), default=8, show_default=True, help="Requests in flight."
)
@click.option(
    "--rate",
    default="500/10",
    show_default=True,
    callback=_parse_rate,
    help="At most N requests per S seconds.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=6,
    show_default=True,
    help="Attempts for a transient failure.",
)
@click.option(
    "--timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True, help="Seconds per request."
)
@click.option("--yes", is_flag=True, help="Post without asking for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary as the last line of stdout.")
@click.option("--allow-http", is_flag=True, help="Permit plain http:// to a host other than loopback.")
@click.option(
    "--ca-bundle",
    type=click.Path(path_type=Path, exists=True),
    envvar="ONLYOFFICE_CA_BUNDLE",
    show_envvar=True,
    help="CA certificates for a portal with a private CA.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and request logs (secrets redacted).")
def run(
    file: Path,
    sheet: str | None,
    mapping: Path | None,
    fmt: FormatOptions,
    url: str | None,
    token: str | None,
    user: str | None,
    password: str | None,
    sandbox: bool,
    results: Path | None,
    journal: Path | None,
    dry_run: bool,
    update: bool,
    concurrency: int,
    rate: tuple[int, float],
    retries: int,
    timeout: float,
    yes: bool,
    as_json: bool,
    allow_http: bool,
    ca_bundle: Path | None,
    debug: bool,
) -> None:
    """Validate FILE, resolve it against the CRM, create its invoices, bring each to the status of its
    `status` column (Draft, Sent, Paid, Rejected), and write the results workbook.

    \b
    Examples:
      invoice-import run invoices.xlsx --sandbox --yes
      invoice-import run invoices.xlsx --url https://portal.example.com --dry-run
      ONLYOFFICE_TOKEN=... invoice-import run march.csv --url https://portal.example.com --yes --json
      invoice-import run march.xlsx --url https://portal.example.com --update   (after fixing a quantity)
    Exit codes: 0 all created, updated or skipped; 1 some invalid, exists, changed, incomplete, failed or
    pending; 2 bad input or usage; 3 the CRM could not be used; 130 interrupted.
    """
    from importer.pipeline import Connection, RunOptions, Source, run_command

    options = RunOptions(
        source=Source(file, sheet, mapping, fmt),
        connection=Connection(
            url=url,
            token=token,
            user=user,
            password=password,
            sandbox=sandbox,
            allow_http=allow_http,
            ca_bundle=ca_bundle,
            concurrency=concurrency,
            rate=rate,
            retries=retries,
            timeout=timeout,
        ),
        results=results,
        journal=journal,
        dry_run=dry_run,
        update=update,
    )
    try:
        report = run_command(
            options,
            confirm=_confirm_plan(yes),
            progress=_progress_factory,
            log=_debug_log(debug),
            announce=lambda text: click.echo(text, err=True),
        )
    except KeyboardInterrupt:
        click.echo("Interrupted before anything was posted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        _fail(exc, debug)
    _print_report(report, as_json)
    sys.exit(report.exit_code)


@main.command()
@source_options
@click.option(
    "--results",
    is_flag=False,
    flag_value="",
    metavar="[PATH]",
    help="Also write a results workbook: to PATH, or without PATH to <input>.check.xlsx "
    "(never a run's <input>.results.xlsx).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary as the last line of stdout.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def validate(
    file: Path,
    sheet: str | None,
    mapping: Path | None,
    fmt: FormatOptions,
    results: str | None,
    as_json: bool,
    debug: bool,
) -> None:
    """Check FILE offline (no network): columns, formats, values, consistency of each invoice.

    \b
    Examples:
      invoice-import validate invoices.xlsx
      invoice-import validate invoices.xlsx --results          (writes invoices.check.xlsx)
      invoice-import validate export.csv --mapping mapping.toml --results checked.xlsx
    Exit codes: 0 no problems; 1 some invoices are invalid; 2 the file cannot be used.
    """
    try:
        from importer.pipeline import Source, validate_command

        report = validate_command(
            Source(file, sheet, mapping, fmt), Path(results) if results else None, workbook=results == ""
        )
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        _fail(exc, debug)
    _print_report(report, as_json)
    sys.exit(report.exit_code)


def crm_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options naming the CRM and its journal (as ``run`` has them)."""
    for option in reversed(
        (
            click.option(
                "--url",
                envvar="ONLYOFFICE_URL",
                show_envvar=True,
                help="The portal, e.g. https://portal.example.com",
            ),
            click.option(
                "--token",
                envvar="ONLYOFFICE_TOKEN",
                show_envvar=True,
                help="API token sent as Authorization.",
            ),
            click.option(
                "--user",
                envvar="ONLYOFFICE_USER",
                show_envvar=True,
                help="Log in with this user instead of a token.",
            ),
            click.option(
                "--password", envvar="ONLYOFFICE_PASSWORD", show_envvar=True, help="Password for --user."
            ),
            click.option(
                "--journal",
                type=click.Path(path_type=Path),
                help="Import journal (default: one per CRM URL).",
            ),
            click.option(
                "--allow-http", is_flag=True, help="Permit plain http:// to a host other than loopback."
            ),
            click.option(
                "--ca-bundle",
                type=click.Path(path_type=Path, exists=True),
                envvar="ONLYOFFICE_CA_BUNDLE",
                show_envvar=True,
                help="CA certificates for a portal with a private CA.",
            ),
        )
    ):
        func = option(func)
    return func


@main.command()
@crm_options
@click.option("--json", "as_json", is_flag=True, help="Print the runs as a JSON list on stdout.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def history(
    url: str | None,
    token: str | None,
    user: str | None,
    password: str | None,
    journal: Path | None,
    allow_http: bool,
    ca_bundle: Path | None,
    as_json: bool,
    debug: bool,
) -> None:
    """The runs the journal knows for a CRM, newest first: run ID, start, file name and SHA-256, user, and
    how many invoices ended in each status. Reads the journal only (nothing is sent to the CRM).

    \b
    Examples:
      invoice-import history --url https://portal.example.com
      invoice-import history --url https://portal.example.com --json
    """
    from importer.lifecycle import history as runs_of
    from importer.lifecycle import render_history, run_as_json
    from importer.pipeline import Connection

    try:
        runs = runs_of(Connection(url=url), journal)
    except Exception as exc:
        _fail(exc, debug)
    if as_json:
        click.echo(json.dumps([run_as_json(run) for run in runs]))
    else:
        click.echo(render_history(runs))


@main.command()
@click.argument("run_id", required=False)
@click.option(
    "--file",
    "source",
    type=click.Path(path_type=Path),
    help="Undo every run of this file (matched by its SHA-256 or its name) instead of one RUN_ID.",
)
@crm_options
@click.option(
    "--results",
    type=click.Path(path_type=Path),
    help="Results workbook (default: undo-<RUN_ID>.results.xlsx, beside --file or here).",
)
@click.option("--dry-run", is_flag=True, help="Check each invoice in the CRM and plan, but delete nothing.")
@click.option("--force", is_flag=True, help="Delete also the invoices changed in the CRM since the import.")
@click.option("--yes", is_flag=True, help="Delete without asking for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary as the last line of stdout.")
@click.option("--debug", is_flag=True, help="Show tracebacks and request logs (secrets redacted).")
def undo(
    run_id: str | None,
    source: Path | None,
    url: str | None,
    token: str | None,
    user: str | None,
    password: str | None,
    journal: Path | None,
    allow_http: bool,
    ca_bundle: Path | None,
    results: Path | None,
    dry_run: bool,
    force: bool,
    yes: bool,
    as_json: bool,
    debug: bool,
) -> None:
    """Delete exactly the invoices that run RUN_ID created (see `invoice-import history`), through the
    CRM's batch delete, after a plan and a confirmation; then check each is gone and write a results
    workbook: deleted, kept (with the reason) or gone (someone had deleted it already). An invoice changed
    in the CRM since (its status moved by someone else, its lines or total different) is kept unless
    --force. Running the file again afterwards creates its invoices anew. Interrupted, run the same undo
    again to finish it.

    \b
    Examples:
      invoice-import undo 20260601-101500-3fa2 --url https://portal.example.com --dry-run
      invoice-import undo 20260601-101500-3fa2 --url https://portal.example.com --yes
      invoice-import undo --file march.xlsx --url https://portal.example.com
    Exit codes: 0 every invoice deleted (or already gone); 1 some kept or pending; 2 usage;
    3 the CRM could not be used; 130 interrupted.
    """
    from importer.lifecycle import UndoOptions, undo_command
    from importer.pipeline import Connection

    if run_id is None and source is None:
        _fail(UsageError("Say what to undo: a RUN_ID (see invoice-import history) or --file FILE."), debug)
    options = UndoOptions(
        connection=Connection(
            url=url, token=token, user=user, password=password, allow_http=allow_http, ca_bundle=ca_bundle
        ),
        run_id=run_id,
        file=source,
        journal=journal,
        results=results,
        dry_run=dry_run,
        force=force,
    )
    try:
        result = undo_command(options, confirm=_confirm_undo(yes), log=_debug_log(debug), user=user)
    except KeyboardInterrupt:
        click.echo("Interrupted before anything was deleted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        _fail(exc, debug)
    if result.plan is not None and dry_run:
        click.echo(result.plan.render(), err=True)
    for note in result.notes:
        click.echo(note, err=True)
    if result.crm_error is not None:
        click.echo(f"error: {result.crm_error}", err=True)
    counts = result.report.counts()
    shown = ", ".join(f"{counts[k]} {k}" for k in counts if counts[k] and k != "invoices")
    click.echo(
        f"{counts['invoices']} invoices of run {', '.join(result.report.run_ids)}: {shown or 'none'}.",
        err=True,
    )
    if result.interrupted:
        click.echo("Interrupted: run the same undo again to finish.", err=True)
    if result.results_path is not None:
        click.echo(f"Results workbook: {result.results_path}", err=True)
    if as_json:
        click.echo(json.dumps(result.summary()))
    sys.exit(result.exit_code)


def _confirm_undo(yes: bool) -> Callable[[Any], bool]:
    def confirm(plan: Any) -> bool:
        click.echo(plan.render(), err=True)
        if yes:
            return True
        if not sys.stdin.isatty():
            click.echo("Nothing deleted: this is not an interactive terminal; add --yes to delete.", err=True)
            return False
        return click.confirm("Delete these invoices?", default=False, err=True)

    return confirm


@main.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace OUT if it already exists.")
def template(out: Path, force: bool) -> None:
    """Write an empty input workbook OUT (.xlsx): the columns to fill in on its Invoices sheet, an example
    invoice on its own Example sheet (never read unless --sheet Example), and every column documented.

    \b
    Example:
      invoice-import template invoices.xlsx
    Refuses to replace an existing file (add --force) and creates no folder.
    """
    from importer.template import write_template

    try:
        path = write_template(out, force=force)
    except ImporterError as exc:
        _fail(exc, False)
    except OSError as exc:
        _fail(ImporterError(f"{out}: cannot write the template: {exc.strerror or exc}"), False)
    click.echo(f"Template written: {path}", err=True)
    click.echo(
        "Fill in its Invoices sheet (the Example sheet shows one invoice), then: "
        f"invoice-import validate {path}",
        err=True,
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="0 picks a free port."
)
@click.option("--db", type=click.Path(path_type=Path), help="SQLite file (default: a temporary one).")
@click.option("--token", default="sandbox", show_default=True, help="The API token it accepts.")
@click.option("--user", default="admin@example.com", show_default=True, help="The login it accepts.")
@click.option("--password", default="sandbox", show_default=True, help="The password of that login.")
@click.option(
    "--seed/--no-seed", default=True, show_default=True, help="Load the demo contacts, items and taxes."
)
@click.option("--latency-ms", type=click.IntRange(0), default=0, help="Delay every answer by this much.")
@click.option("--jitter-ms", type=click.IntRange(0), default=0, help="Add up to this much random delay.")
@click.option(
    "--error-rate", type=click.FloatRange(0, 1), default=0.0, help="Answer this fraction 503 first."
)
@click.option(
    "--drop-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="For this fraction of invoice creates: save, then drop the connection.",
)
@click.option("--rate-limit", help="More than N requests in S seconds -> 503 with Retry-After, e.g. 500/10.")
@click.option("--racy-numbers", is_flag=True, help="Keep the real server's non-atomic invoice number check.")
@click.option("--random-seed", type=int, help="Seed for reproducible fault injection.")
@click.option(
    "--certfile",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Serve https:// with this certificate (PEM; the chain, and the key unless --keyfile).",
)
@click.option(
    "--keyfile",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The certificate's key (PEM).",
)
def sandbox(
    host: str,
    port: int,
    db: Path | None,
    token: str,
    user: str,
    password: str,
    seed: bool,
    latency_ms: int,
    jitter_ms: int,
    error_rate: float,
    drop_rate: float,
    rate_limit: str | None,
    racy_numbers: bool,
    random_seed: int | None,
    certfile: Path | None,
    keyfile: Path | None,
) -> None:
    """Serve a local ONLYOFFICE-compatible CRM for rehearsals and tests.

    Besides the administrator (--user/--token) it accepts an ordinary user, viewer@example.com (password
    "sandbox", token "sandbox-viewer"), who may not see the private demo contact 9 nor make admin-only calls.

    \b
    Example:
      invoice-import sandbox --port 8080 --latency-ms 50
      invoice-import run invoices.xlsx --url http://127.0.0.1:8080 --token sandbox --yes
      invoice-import sandbox --certfile cert.pem --keyfile key.pem    (then run --url https://... --ca-bundle)
    """
    from importer.rates import parse_rate
    from importer.sandbox import SandboxConfig, run_sandbox

    try:
        limit = parse_rate(rate_limit) if rate_limit else None
    except UsageError as exc:
        raise click.BadParameter(str(exc), param_hint="--rate-limit") from exc
    if keyfile is not None and certfile is None:
        raise click.BadParameter("needs --certfile", param_hint="--keyfile")
    config = SandboxConfig(
        host=host,
        port=port,
        db=db,
        token=token,
        user=user,
        password=password,
        seed=seed,
        latency_ms=latency_ms,
        jitter_ms=jitter_ms,
        error_rate=error_rate,
        drop_rate=drop_rate,
        rate_limit=limit,
        racy_numbers=racy_numbers,
        random_seed=random_seed,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    run_sandbox(config)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="0 picks a free port."
)
@click.option(
    "--url", envvar="ONLYOFFICE_URL", show_envvar=True, help="The portal, e.g. https://portal.example.com"
)
@click.option(
    "--token",
    envvar="ONLYOFFICE_TOKEN",
    show_envvar=True,
    help="API token used for everyone (no sign-in page).",
)
@click.option(
    "--user",
    envvar="ONLYOFFICE_USER",
    show_envvar=True,
    help="One login used for everyone (no sign-in page).",
)
@click.option("--password", envvar="ONLYOFFICE_PASSWORD", show_envvar=True, help="Password for --user.")
@click.option(
    "--sandbox", is_flag=True, help="Rehearse: import into a seeded sandbox CRM started in-process."
)
@click.option(
    "--journal", type=click.Path(path_type=Path), help="Import journal (default: one per CRM URL, per user)."
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Private folder for uploads, results and saved mappings (default: the per-user state folder).",
)
@click.option(
    "--max-upload-mb", type=click.IntRange(1, 2048), default=50, show_default=True, help="Upload limit."
)
@click.option(
    "--retention-days", type=click.IntRange(1), default=30, show_default=True, help="Keep uploads this long."
)
@click.option(
    "--allow-http",
    is_flag=True,
    help="Serve plain http:// on a non-loopback --host (behind a TLS proxy), and permit an http:// --url.",
)
@click.option(
    "--certfile",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Serve https:// (PEM chain).",
)
@click.option(
    "--keyfile",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The certificate's key (PEM).",
)
@click.option(
    "--ca-bundle",
    type=click.Path(path_type=Path, exists=True),
    envvar="ONLYOFFICE_CA_BUNDLE",
    show_envvar=True,
    help="CA certificates for a portal with a private CA.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def serve(
    host: str,
    port: int,
    url: str | None,
    token: str | None,
    user: str | None,
    password: str | None,
    sandbox: bool,
    journal: Path | None,
    data_dir: Path | None,
    max_upload_mb: int,
    retention_days: int,
    allow_http: bool,
    certfile: Path | None,
    keyfile: Path | None,
    ca_bundle: Path | None,
    debug: bool,
) -> None:
    """Serve the importer as a web application: upload, columns, check, plan, posting, results, history.

    Without --token/--user each person signs in with their own ONLYOFFICE login.

    \b
    Examples:
      invoice-import serve --sandbox
      invoice-import serve --url https://portal.example.com
      invoice-import serve --host 0.0.0.0 --url https://portal.example.com --certfile c.pem --keyfile k.pem
    """
    from importer.web.config import WebConfig
    from importer.web.server import serve as serve_web

    config = WebConfig(
        host=host,
        port=port,
        url=url,
        token=token,
        user=user,
        password=password,
        sandbox=sandbox,
        journal=journal,
        data_dir=data_dir,
        max_upload_mb=max_upload_mb,
        retention_days=retention_days,
        allow_http=allow_http,
        ca_bundle=ca_bundle,
        certfile=certfile,
        keyfile=keyfile,
    )
    try:
        serve_web(config, announce=lambda text: click.echo(text, err=True))
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        _fail(exc, debug)


if __name__ == "__main__":
    main()
