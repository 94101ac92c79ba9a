"""The commands past the import: ``history`` (the runs the journal knows) and ``undo`` (delete exactly the
invoices a run created). Like importer.pipeline, plain functions that return values; only cli.py (and the
web application) know how to show them.

Undo, exactly once:

* It deletes only what the journal says the runs created (``run_id`` on each entry), each checked in the CRM
  first (``GET invoice/{id}``): an invoice whose status someone moved (the journal keeps the status this
  import left it at, and the one a move was sent for), or whose lines or total differ from what the CRM
  answered this import, is **kept** and reported, unless ``force``. One this user may not delete is kept.
* The journal says ``deleting`` *before* the batch delete (``DELETE invoice``, one request for up to
  :data:`DELETE_BATCH` invoices); afterwards each invoice is looked up again, and only one the CRM no longer
  has is marked ``deleted`` (the next run of its file creates it anew). Interrupted at any point, the same
  undo run again finds the ``deleting`` entries, looks them up, and finishes: nothing is deleted twice (an ID
  is never reused) and nothing is left half-recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from importer import __version__
from importer.client import CrmApi
from importer.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_NOT_DONE,
    CrmAuthError,
    CrmError,
    CrmUnreachableError,
    ForbiddenError,
    UsageError,
    exit_code,
)
from importer.journal import Journal, JournalEntry, JournalState, RunRecord, default_journal_path, read_runs
from importer.models import CrmStatus, UndoItem, UndoReport, UndoStatus
from importer.pipeline import Connection, crm_endpoint, make_client, os_user, plural, sigint_sets
from importer.post import lines_signature
from importer.totals import crm_cost

DELETE_BATCH = 500  # invoice IDs per batch delete


# ----------------------------------------------------------------------------- history


def journal_for(conn: Connection, journal: Path | None) -> tuple[str, Path]:
    """The CRM URL and its journal: ``journal`` if given, else the default one of the URL."""
    if not conn.url:
        raise UsageError("No CRM given: pass --url (or set ONLYOFFICE_URL): each CRM has its own journal.")
    return conn.url, journal or default_journal_path(conn.url)


def history(conn: Connection, journal: Path | None = None) -> tuple[RunRecord, ...]:
    """The runs the journal knows for the CRM of ``conn``, newest first (no request is sent)."""
    crm_url, path = journal_for(conn, journal)
    return tuple(read_runs(path, crm_url))


def run_as_json(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "kind": run.kind,
        "started": run.started,
        "ended": run.ended,
        "file": run.file_name,
        "sha256": run.sha256,
        "user": run.user,
        "counts": dict(run.counts),
        "undoes": list(run.undoes),
    }


def render_history(runs: Sequence[RunRecord]) -> str:
    """The runs as a table for the console, newest first."""
    if not runs:
        return "No runs recorded for this CRM yet."
    lines = [f"{'run ID':<22} {'started (UTC)':<20} {'kind':<5} {'user':<16} file, SHA-256 / counts"]
    for run in runs:
        counts = ", ".join(f"{count} {status}" for status, count in run.counts.items()) or "(not finished)"
        started = run.started.replace("T", " ")[:19]
        what = run.file_name or ("undo of " + ", ".join(run.undoes) if run.undoes else "")
        sha = f" {run.sha256[:12]}…" if run.sha256 else ""
        lines.append(f"{run.run_id:<22} {started:<20} {run.kind:<5} {(run.user or '')[:16]:<16} {what}{sha}")
        lines.append(f"{'':<22} {counts}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- undo: the plan


@dataclass(frozen=True)
class UndoOptions:
    connection: Connection
    run_id: str | None = None
    file: Path | None = None  # every run of this file (by SHA-256 or name)
    journal: Path | None = None
    results: Path | None = None
    dry_run: bool = False
    force: bool = False  # delete what was changed in the CRM since, too


@dataclass(frozen=True)
class UndoPlan:
    """What an undo is about to do, shown before anything is deleted."""

    crm_url: str
    runs: tuple[RunRecord, ...]
    to_delete: tuple[UndoItem, ...]  # status PLANNED: checked in the CRM, to delete
    settled: tuple[UndoItem, ...]  # KEPT (with the reason) or GONE, decided before deleting
    forced: int = 0  # changed in the CRM since, deleted anyway (--force)

    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(run.run_id for run in self.runs)

    def render(self) -> str:
        kept = [item for item in self.settled if item.status is UndoStatus.KEPT]
        gone = [item for item in self.settled if item.status is UndoStatus.GONE]
        lines = [f"Undo plan for {self.crm_url}: run {', '.join(self.run_ids)}"]
        for run in self.runs:
            lines.append(
                f"  run {run.run_id}: {run.file_name or '?'}, started {run.started}, by {run.user or '?'}"
            )
        lines.append(f"  delete   {plural(len(self.to_delete), 'invoice')} this import created")
        if self.forced:
            lines.append(f"           of which {self.forced} changed in the CRM since (--force)")
        lines.append(
            f"  keep     {plural(len(kept), 'invoice')} changed in the CRM since, or not yours to delete"
        )
        for item in kept[:10]:
            lines.append(f"           {item.number} (CRM invoice {item.crm_id}): {item.reason}")
        if len(kept) > 10:
            lines.append(f"           ... and {len(kept) - 10} more (see the results workbook)")
        lines.append(f"  gone     {plural(len(gone), 'invoice')} already deleted in the CRM")
        return "\n".join(lines)


@dataclass(frozen=True)
class UndoResult:
    """How an undo ended: the report (every invoice), the plan, the workbook, and why it stopped."""

    report: UndoReport
    plan: UndoPlan | None = None
    results_path: Path | None = None
    crm_error: CrmError | None = None
    interrupted: bool = False
    notes: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.crm_error is not None:
            return exit_code(self.crm_error)
        done = {UndoStatus.DELETED, UndoStatus.GONE, UndoStatus.PLANNED}
        return EXIT_OK if all(item.status in done for item in self.report.items) else EXIT_SOME_NOT_DONE

    def summary(self) -> dict[str, object]:
        summary: dict[str, object] = dict(self.report.counts())
        summary["runs"] = list(self.report.run_ids)
        summary["results"] = str(self.results_path) if self.results_path else None
        return summary


def select_runs(runs: Sequence[RunRecord], run_id: str | None, file: Path | None) -> tuple[RunRecord, ...]:
    """The runs to undo: the one with ``run_id``, or every run of ``file`` (same SHA-256, or same name)."""
    imports = [run for run in runs if run.kind == "run"]
    if run_id is not None:
        chosen = tuple(run for run in imports if run.run_id == run_id)
        if not chosen:
            known = ", ".join(run.run_id for run in imports[:5]) or "none yet"
            raise UsageError(
                f"No run {run_id} in the journal of this CRM (latest runs: {known}); "
                "see invoice-import history."
            )
        return chosen
    if file is None:
        raise UsageError("Say what to undo: a RUN_ID (see invoice-import history) or --file FILE.")
    digest = _sha256(file) if file.exists() else None
    chosen = tuple(run for run in imports if (digest and run.sha256 == digest) or run.file_name == file.name)
    if not chosen:
        raise UsageError(
            f"No run of {file.name} in the journal of this CRM; "
            "see invoice-import history for the runs it knows."
        )
    return chosen


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


async def plan_undo(
    runs: Sequence[RunRecord], crm: CrmApi, journal: Journal, *, force: bool = False
) -> UndoPlan:
    """Check each invoice the runs created in the CRM: to delete, kept (with the reason) or gone."""
    entries = [
        e for e in journal.entries_of_runs(run.run_id for run in runs) if e.state is not JournalState.FAILED
    ]
    gate = asyncio.Semaphore(crm.concurrency)

    async def check(entry: JournalEntry) -> tuple[UndoItem, bool]:
        async with gate:
            return await _check_one(entry, crm, force)

    checked = await asyncio.gather(*(check(entry) for entry in entries))
    to_delete = tuple(item for item, _ in checked if item.status is UndoStatus.PLANNED)
    settled = tuple(item for item, _ in checked if item.status is not UndoStatus.PLANNED)
    return UndoPlan(
        crm_url=journal.crm_url,
        runs=tuple(runs),
        to_delete=to_delete,
        settled=settled,
        forced=sum(1 for item, forced in checked if forced),
    )


async def _check_one(entry: JournalEntry, crm: CrmApi, force: bool) -> tuple[UndoItem, bool]:
    """The undo item of one journal entry, and whether it is deleted only because of ``force``."""
    base = UndoItem(entry.number, entry.crm_id, entry.run_id, UndoStatus.KEPT)
    if entry.state is JournalState.DELETED:
        return replace(base, status=UndoStatus.GONE, reason="deleted by an earlier undo"), False
    if entry.state is JournalState.POSTING or entry.crm_id is None:
        reason = "its create was interrupted and never confirmed: run its import again first, then undo"
        return replace(base, reason=reason), False
    try:
        record = await crm.get_or_none(f"invoice/{entry.crm_id}")
    except ForbiddenError:
        return replace(base, reason="not visible to you in the CRM any more"), False
    if not isinstance(record, dict):
        if entry.state is JournalState.DELETING:  # an interrupted undo of ours had deleted it
            return replace(base, status=UndoStatus.PLANNED, reason="deleted by an interrupted undo"), False
        return replace(
            base, status=UndoStatus.GONE, reason="already deleted in the CRM by someone else"
        ), False
    status = CrmStatus.of(record)
    total = crm_cost(record)
    item = replace(base, crm_status=status, crm_total=total)
    if record.get("canDelete") is False:
        return replace(item, reason="you may not delete it (only a CRM administrator or its creator)"), False
    if entry.state is JournalState.DELETING:
        return replace(item, status=UndoStatus.PLANNED, reason="an interrupted undo of it is finished"), False
    changed = _changes(entry, record, status, total)
    if changed and not force:
        return replace(item, reason=f"{changed}; kept (undo --force deletes it anyway)"), False
    reason = f"{changed}; deleted anyway (--force)" if changed else ""
    return replace(item, status=UndoStatus.PLANNED, reason=reason), bool(changed)


def _changes(
    entry: JournalEntry, record: Mapping[str, Any], status: CrmStatus | None, total: Decimal | None
) -> str:
    """How the CRM's copy differs from what this import left ("" when it does not)."""
    left = {entry.crm_status or int(CrmStatus.DRAFT)}
    if entry.moving_to is not None:
        left.add(entry.moving_to)  # a move this import sent, perhaps made before it could record it
    reasons = []
    if status is not None and int(status) not in left:
        was = CrmStatus(min(left)).title if min(left) in CrmStatus._value2member_map_ else "?"
        reasons.append(f"its status was moved to {status.title} in the CRM since (this import left it {was})")
    if entry.state is JournalState.UPDATING:  # an update of ours was interrupted: its lines are in flux
        return "; ".join(reasons)
    signature = lines_signature(record.get("invoiceLines"))
    if entry.lines_sig is not None and signature is not None and signature != entry.lines_sig:
        reasons.append("its lines were changed in the CRM since the import")
    elif entry.crm_total is not None and total is not None and format(total, "f") != entry.crm_total:
        reasons.append(f"its total is {total} in the CRM, {entry.crm_total} when imported")
    return "; ".join(reasons)


# ----------------------------------------------------------------------------- undo: the deletes


async def delete_planned(
    plan: UndoPlan, crm: CrmApi, journal: Journal, *, stop: asyncio.Event | None = None
) -> tuple[tuple[UndoItem, ...], CrmError | None]:
    """Delete the plan's invoices in batches, then check each is gone: the items (deleted, kept when the
    CRM still has it, pending when not attempted) and the CRM failure that stopped it, if one did."""
    stop = stop or asyncio.Event()
    items = {item.number: item for item in plan.to_delete}
    fatal: CrmError | None = None
    sent: list[UndoItem] = []
    todo = list(plan.to_delete)
    for start in range(0, len(todo), DELETE_BATCH):
        if stop.is_set():
            break
        batch = todo[start : start + DELETE_BATCH]
        journal.mark_deleting(item.number for item in batch)
        sent.extend(batch)
        try:
            await crm.delete_many("invoice", {"invoiceids": [item.crm_id for item in batch]})
        except CrmError as exc:
            if isinstance(exc, CrmUnreachableError | CrmAuthError):
                fatal = exc
                break
            # refused (e.g. 400): the check below tells what was deleted
    checked = await _still_there(sent, crm) if fatal is None else {}
    for item in sent:
        if fatal is not None:
            items[item.number] = replace(
                item,
                status=UndoStatus.PENDING,
                reason=f"not known whether it was deleted ({fatal}): run the same undo again to finish",
            )
        elif checked.get(item.number):
            journal.mark_kept(item.number)
            items[item.number] = replace(
                item, status=UndoStatus.KEPT, reason="the CRM did not delete it (you may not delete it?)"
            )
        else:
            items[item.number] = replace(item, status=UndoStatus.DELETED)
    journal.mark_deleted(
        (n for n, item in items.items() if item.status is UndoStatus.DELETED), "deleted by an undo"
    )
    for item in todo[len(sent) :]:
        items[item.number] = replace(
            item, status=UndoStatus.PENDING, reason="not attempted: the undo was interrupted"
        )
    return tuple(items.values()), fatal


async def _still_there(items: Sequence[UndoItem], crm: CrmApi) -> dict[str, bool]:
    """Whether the CRM still has each invoice: one listing when cheaper than a look-up each."""
    listed = await crm.list_all("invoice/filter", {"sortBy": "Id"}, cheaper_than=len(items))
    if listed is not None:
        ids = {record.get("id") for record in listed if isinstance(record, dict)}
        return {item.number: item.crm_id in ids for item in items}
    gate = asyncio.Semaphore(crm.concurrency)

    async def there(item: UndoItem) -> bool:
        async with gate:
            return isinstance(await crm.get_or_none(f"invoice/{item.crm_id}"), dict)

    found = await asyncio.gather(*(there(item) for item in items))
    return {item.number: present for item, present in zip(items, found, strict=True)}


# ----------------------------------------------------------------------------- undo: the command


async def undo_online(
    options: UndoOptions,
    crm_url: str,
    token: str | None,
    journal_path: Path,
    *,
    confirm: Callable[[UndoPlan], bool],
    log: Callable[[str], None] | None = None,
    user: str | None = None,
    stop: asyncio.Event | None = None,
) -> UndoResult:
    """Plan, confirm, delete, check: the undo of the runs ``options`` names, as one value."""
    started = datetime.now(UTC)
    stop = stop or asyncio.Event()
    client = make_client(options.connection, crm_url, token, log)
    plan: UndoPlan | None = None
    items: tuple[UndoItem, ...] = ()
    crm_error: CrmError | None = None
    notes: list[str] = []
    undo_run: str | None = None
    run_ids: tuple[str, ...] = ()
    with Journal.open(journal_path, crm_url) as journal, _stop_on_interrupt(stop):
        runs = select_runs(journal.runs(), options.run_id, options.file)
        run_ids = tuple(run.run_id for run in runs)
        try:
            async with client:
                plan = await plan_undo(runs, client, journal, force=options.force)
                items = (*plan.to_delete, *plan.settled)
                if options.dry_run or stop.is_set():
                    pass
                elif plan.to_delete and not confirm(plan):
                    notes.append("Nothing was deleted: the plan was not confirmed.")
                    items = (
                        *_pending(plan.to_delete, "not deleted: the plan was not confirmed"),
                        *plan.settled,
                    )
                elif plan.to_delete:
                    undo_run = journal.begin_run(
                        "undo", file_name=None, sha256=None, user=user, undoes=run_ids
                    )
                    done, crm_error = await delete_planned(plan, client, journal, stop=stop)
                    items = (*done, *plan.settled)
                    counts = UndoReport(crm_url, run_ids, items, started, __version__).counts()
                    journal.end_run({k: v for k, v in counts.items() if k != "invoices"})
        except CrmError as exc:
            crm_error = exc
            if plan is not None and not items:
                items = (*_pending(plan.to_delete, f"not attempted: {exc}"), *plan.settled)
    if not options.dry_run and plan is not None and stop.is_set():
        items = tuple(
            replace(item, status=UndoStatus.PENDING, reason="not attempted: the undo was interrupted")
            if item.status is UndoStatus.PLANNED
            else item
            for item in items
        )
    report = UndoReport(
        crm_url=crm_url,
        run_ids=run_ids,
        items=tuple(sorted(items, key=lambda item: item.number)),
        started=started,
        version=__version__,
        ended=datetime.now(UTC),
        dry_run=options.dry_run,
        undo_run_id=undo_run,
    )
    return UndoResult(
        report=report, plan=plan, crm_error=crm_error, interrupted=stop.is_set(), notes=tuple(notes)
    )


def _pending(items: Sequence[UndoItem], reason: str) -> tuple[UndoItem, ...]:
    return tuple(replace(item, status=UndoStatus.PENDING, reason=reason) for item in items)


@contextlib.contextmanager
def _stop_on_interrupt(stop: asyncio.Event) -> Iterator[None]:
    """Ctrl-C sets ``stop`` while the undo runs (the batch in flight finishes and is checked)."""
    with sigint_sets(stop):
        yield


def undo_command(
    options: UndoOptions,
    *,
    confirm: Callable[[UndoPlan], bool],
    log: Callable[[str], None] | None = None,
    user: str | None = None,
) -> UndoResult:
    """The ``undo`` command: the result, its workbook written (``options.results`` or the default name)."""
    user = user or os_user()
    from importer.results import default_undo_path, write_undo_results

    if options.connection.sandbox:
        raise UsageError("undo needs the CRM the run imported into: pass --url (a sandbox run is discarded).")
    _, journal_path = journal_for(options.connection, options.journal)
    with crm_endpoint(options.connection) as (url, token):
        result = asyncio.run(
            undo_online(options, url, token, journal_path, confirm=confirm, log=log, user=user)
        )
    folder = options.file.parent if options.file is not None else None
    path = options.results or default_undo_path(result.report.run_ids, folder)
    if result.report.run_ids:
        write_undo_results(path, result.report)
        result = replace(result, results_path=path)
    return result


__all__ = [
    "UndoOptions",
    "UndoPlan",
    "UndoResult",
    "delete_planned",
    "history",
    "plan_undo",
    "render_history",
    "run_as_json",
    "select_runs",
    "undo_command",
    "undo_online",
]
