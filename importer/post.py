"""Posting: create each resolved invoice in the CRM exactly once, whatever fails or is interrupted.

The CRM has no idempotency key, so exactly-once rests on three rules:

* The journal is written *before* every create (``posting``, with the content hash of the body) and after
  it (``created`` with the CRM ID, or ``failed``). A ``posting`` entry found later means "the outcome is
  unknown": the number is looked up in the CRM before anything else is sent.
* An ambiguous answer (timeout, lost connection, 5xx) is never taken as a failure: after a backoff the number
  is looked up; if it is there, it is adopted (created, with its ID); only if it is not is the create retried.
* One number is never in flight twice (a lock per case-folded number).

A SIGKILL between any two statements therefore leaves either no entry (nothing sent), a ``posting`` entry
(looked up on the next run), or a final entry that matches the CRM.

The states of one invoice in a run (:class:`PostState`) and the only moves allowed between them
(:data:`TRANSITIONS`, enforced by :func:`advance`)::

    NEW ──▶ POSTING          journal `posting` written, the create sent
    NEW ──▶ SKIPPED          the journal says this import created it, and the CRM has it      (final)
    NEW ──▶ CHANGED          as SKIPPED, but the file now differs from what was sent: nothing posted (final)
    NEW ──▶ EXISTS           the CRM has the number (perhaps on an invoice this user cannot see),
                             not created by this import                                       (final)
    NEW ──▶ PENDING          not attempted: stopped, or the CRM became unusable               (final)
    POSTING ──▶ CREATED      the CRM answered with the new invoice's ID; journal `created`    (final)
    POSTING ──▶ UNCLEAR      sent, but no clear answer (timeout, lost connection, 5xx)
    POSTING ──▶ REFUSED      a 400: perhaps the number was taken since the check
    POSTING ──▶ NEW          certainly not sent (connection refused, 429): tried again after a backoff
    POSTING ──▶ FAILED       refused otherwise, or not accepted within the retries; `failed`   (final)
    POSTING ──▶ PENDING      the CRM became unusable (token rejected ...) or answered nonsense (final)
    UNCLEAR ──▶ ADOPTED      after a backoff the number is found: created by this run         (final)
    UNCLEAR ──▶ EXISTS       the number is found on an invoice this user cannot see: not ours (final)
    UNCLEAR ──▶ POSTING      not found: the create is sent again (the journal stays `posting`)
    UNCLEAR ──▶ FAILED       not found and no retry left; the journal stays `posting`         (final)
    UNCLEAR ──▶ PENDING      stopped before sending again, or the look-up failed              (final)
    REFUSED ──▶ ADOPTED      the number is found and is plainly this invoice                  (final)
    REFUSED ──▶ EXISTS       the number is found and is someone else's                        (final)
    REFUSED ──▶ FAILED       the number is not found: the CRM refused the values              (final)
    REFUSED ──▶ PENDING      the look-up failed                                               (final)

After the creates, each invoice is brought to the status its file asks for (``status`` column), and with
``--update`` a changed one is updated in place::

    CREATED, ADOPTED, SKIPPED, UPDATED ──▶ MOVING
                             its status is short of the target: the moves along the allowed path are sent
                             in batches (one ``PUT invoice/status/{status}`` for many invoices), the journal's
                             ``moving_to`` written before each and ``crm_status`` after the answer
    MOVING ──▶ MOVED         the CRM's answer shows the target status                         (final)
    MOVING ──▶ INCOMPLETE    a move not made (the CRM left it, interrupted, unreachable, or its status is
                             off the path): a re-run reads its status in the CRM and goes on  (final)
    CHANGED ──▶ UPDATING     --update: the CRM still has it as Draft, editable by this user, and its lines
                             and total are what the journal recorded; journal `updating` (the new hash),
                             then ``PUT invoice/{id}`` with every field
    UPDATING ──▶ UPDATED     the CRM answered the updated invoice; journal `created`, new hash (final)
    UPDATING ──▶ CHANGED     the CRM refused the update (not Draft any more, 400): nothing changed (final)
    UPDATING ──▶ PENDING     no answer: the journal stays `updating`, a re-run sends it again  (final)

CREATED, ADOPTED, SKIPPED, CHANGED and UPDATED are final when nothing follows (a Draft target, no
``--update``); MOVED keeps the status the invoice had before its moves (created, skipped or updated).

The CRM total of a created, adopted or skipped invoice is read from the invoice itself (a listing or
``GET invoice/{id}``), never from the by-number answer, whose ``cost`` is always 0. A by-number look-up that
answers 403 (an invoice of a contact this user may not see) means the number is taken by someone else's
invoice: ``exists``.

The journal's states are where a run can end: ``posting`` (POSTING, UNCLEAR, or FAILED/PENDING after a
send), ``created`` (CREATED, ADOPTED, SKIPPED, CHANGED) and ``failed`` (FAILED before any send, PENDING
before a send). Each final state gives the invoice's :class:`~importer.models.Outcome`: CREATED and
ADOPTED are ``created``; the others have the status of their name.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from importer.client import CrmApi, answer_text, is_hidden, is_retryable, may_mean_taken
from importer.errors import (
    CrmAuthError,
    CrmError,
    CrmRequestError,
    CrmUnreachableError,
    ForbiddenError,
    NotFoundError,
    RefusedError,
    TransientError,
)
from importer.journal import Journal, JournalEntry, JournalState, number_key
from importer.models import CrmStatus, Invoice, Outcome, ResolvedInvoice, Status, moves_left
from importer.payload import build_payload, content_hash, decimal_text, describe_sent
from importer.totals import crm_cost

T = TypeVar("T")
CrmInvoice = dict[str, Any]


# ----------------------------------------------------------------------------- the states of one invoice


class PostState(StrEnum):
    """Where one invoice is on its way to the CRM in this run (see the module doc)."""

    NEW = "new"  # not sent in this run (the journal may hold an earlier run's entry)
    POSTING = "posting"  # the journal says `posting`; the create is being sent
    UNCLEAR = "unclear"  # sent, but no clear answer: the CRM must be asked
    REFUSED = "refused"  # a 400, which may mean the number was taken: the CRM must be asked
    CREATED = "created"
    ADOPTED = "adopted"
    SKIPPED = "skipped"
    CHANGED = "changed"
    EXISTS = "exists"
    FAILED = "failed"
    PENDING = "pending"
    UPDATING = "updating"  # --update: the journal says `updating`; the PUT is being sent
    UPDATED = "updated"
    MOVING = "moving"  # status moves towards the file's status are being sent
    MOVED = "moved"  # at the file's status
    INCOMPLETE = "incomplete"  # created, not (yet) at the file's status


S = PostState
TRANSITIONS: Mapping[PostState, frozenset[PostState]] = {
    S.NEW: frozenset({S.POSTING, S.SKIPPED, S.CHANGED, S.EXISTS, S.PENDING}),
    S.POSTING: frozenset({S.CREATED, S.UNCLEAR, S.REFUSED, S.NEW, S.FAILED, S.PENDING}),
    S.UNCLEAR: frozenset({S.ADOPTED, S.EXISTS, S.POSTING, S.FAILED, S.PENDING}),
    S.REFUSED: frozenset({S.ADOPTED, S.EXISTS, S.FAILED, S.PENDING}),
    S.CREATED: frozenset({S.MOVING}),
    S.ADOPTED: frozenset({S.MOVING}),
    S.SKIPPED: frozenset({S.MOVING}),
    S.CHANGED: frozenset({S.UPDATING}),
    S.UPDATING: frozenset({S.UPDATED, S.CHANGED, S.PENDING}),
    S.UPDATED: frozenset({S.MOVING}),
    S.MOVING: frozenset({S.MOVED, S.INCOMPLETE}),
    S.MOVED: frozenset(),
    S.INCOMPLETE: frozenset(),
    S.EXISTS: frozenset(),
    S.FAILED: frozenset(),
    S.PENDING: frozenset(),
}
# Where an invoice may end a run, and the statuses its outcome may then have.
STATUS_OF_FINAL: Mapping[PostState, frozenset[Status]] = {
    S.CREATED: frozenset({Status.CREATED}),
    S.ADOPTED: frozenset({Status.CREATED}),
    S.SKIPPED: frozenset({Status.SKIPPED}),
    S.CHANGED: frozenset({Status.CHANGED}),
    S.EXISTS: frozenset({Status.EXISTS}),
    S.FAILED: frozenset({Status.FAILED}),
    S.PENDING: frozenset({Status.PENDING}),
    S.UPDATED: frozenset({Status.UPDATED}),
    S.MOVED: frozenset({Status.CREATED, Status.SKIPPED, Status.UPDATED}),
    S.INCOMPLETE: frozenset({Status.INCOMPLETE}),
}
FINAL = frozenset(STATUS_OF_FINAL)


class TransitionError(RuntimeError):
    """A move the state table does not allow: a bug of this module, never a problem of the data."""


def advance(current: PostState, to: PostState) -> PostState:
    """``to``, if the table allows moving there from ``current``; else TransitionError."""
    if to not in TRANSITIONS[current]:
        raise TransitionError(f"an invoice cannot go from {current} to {to}")
    return to


class _Track:
    """One invoice's state in this run, the states it went through, and its outcome once final."""

    def __init__(self, number: str, state: PostState = PostState.NEW, outcome: Outcome | None = None) -> None:
        self.number = number
        self.state = state
        self.path: list[PostState] = [state]
        self.outcome: Outcome | None = outcome

    def move(self, to: PostState, outcome: Outcome | None = None) -> None:
        self.state = advance(self.state, to)
        self.path.append(to)
        if to in FINAL:
            assert outcome is not None and outcome.status in STATUS_OF_FINAL[to], (to, outcome)
            self.outcome = outcome

    @property
    def done(self) -> bool:
        return self.state in FINAL


@dataclass(frozen=True)
class Posted:
    """What :func:`post_invoices` returns: an outcome for every invoice given, by number; the CRM failure
    that stopped the run, if one did (the caller ends with exit 3 after writing every outcome); and the
    states each invoice went through (``NEW`` first, its final state last)."""

    outcomes: dict[str, Outcome]
    fatal: CrmError | None = None
    paths: Mapping[str, tuple[PostState, ...]] = field(default_factory=dict)


# ----------------------------------------------------------------------------- before posting: classify


ExistingInvoices = dict[str, CrmInvoice]  # every CRM invoice by case-folded number


async def list_existing(invoices: Sequence[Invoice], crm: CrmApi) -> ExistingInvoices | None:
    """Every CRM invoice by case-folded number, when one paged listing costs fewer requests than a
    look-up per valid invoice; else None. Needs only the numbers, so it can run beside the look-ups
    of the pre-flight; pass its answer to :func:`classify_existing`."""
    return await _list_if_cheaper(sum(1 for i in invoices if i.is_valid), crm)


async def classify_existing(
    resolved: Sequence[ResolvedInvoice],
    crm: CrmApi,
    journal: Journal,
    *,
    existing: ExistingInvoices | None = None,
    listed: bool = False,
) -> dict[str, Outcome]:
    """The outcome (``skipped`` / ``exists``) of each invoice whose number the CRM already has, by number;
    the others are not in the answer (they are to be posted).

    Uses one paged listing of all invoices when that costs fewer requests than one look-up per invoice;
    with ``listed``, ``existing`` is that listing, already fetched (None: look each one up).
    """
    if not resolved:
        return {}
    listing = existing if listed else await _list_if_cheaper(len(resolved), crm)
    if listing is not None:
        found = [listing.get(number_key(invoice.number)) for invoice in resolved]
    else:
        found = await _bounded(resolved, lambda invoice: _find_own_or_number(invoice, crm, journal), crm)
    outcomes: dict[str, Outcome] = {}
    for invoice, record in zip(resolved, found, strict=True):
        track = _Track(invoice.number)
        await _settle_existing(invoice, track, record, crm, journal, cost_known=listing is not None)
        if track.outcome is not None:
            outcomes[invoice.number] = track.outcome
    return outcomes


async def _list_if_cheaper(count: int, crm: CrmApi) -> ExistingInvoices | None:
    """Every CRM invoice by case-folded number, if listing costs fewer requests than ``count`` look-ups."""
    listed = await crm.list_all("invoice/filter", {"sortBy": "Id"}, cheaper_than=count)
    if listed is None:
        return None
    by_number: ExistingInvoices = {}
    for record in listed:
        if isinstance(record, dict) and isinstance(record.get("number"), str):
            by_number.setdefault(number_key(record["number"]), record)
    return by_number


async def _find_own_or_number(invoice: ResolvedInvoice, crm: CrmApi, journal: Journal) -> CrmInvoice | None:
    """The CRM invoice with this number; when the journal knows our ID, fetched by ID (full, with cost)."""
    entry = journal.entry(invoice.number)
    if entry is not None and entry.owned and entry.crm_id is not None:
        own = await _get_invoice(crm, entry.crm_id)
        if own is not None and number_key(str(own.get("number", ""))) == number_key(invoice.number):
            return own
    return await crm.find_invoice(invoice.number)


async def _settle_existing(
    invoice: ResolvedInvoice,
    track: _Track,
    record: CrmInvoice | None,
    crm: CrmApi,
    journal: Journal,
    cost_known: bool,
) -> None:
    """NEW → SKIPPED / EXISTS for an invoice whose number the CRM has (``record``); with none, it stays
    NEW (to post), the journal's stale entry put right."""
    entry = journal.entry(invoice.number)
    if is_hidden(record):  # an invoice this user cannot see: never one this import created
        if entry is not None and entry.owned:
            journal.forget(invoice.number)
        track.move(S.EXISTS, _exists_hidden())
        return
    if record is None:
        if entry is not None and entry.owned:
            journal.forget(invoice.number)  # deleted in the CRM since: post it again
        elif entry is not None and entry.state is JournalState.POSTING:
            journal.mark_failed(invoice.number, "an interrupted earlier attempt did not reach the CRM")
        return
    crm_id = int(record["id"])
    if entry is not None and entry.owned and entry.crm_id == crm_id:
        cost = await _known_cost(crm, record, cost_known)
        status = CrmStatus.of(record)
        if status is not None and entry.moving_to == int(status):  # a move of ours landed unrecorded
            journal.mark_status(invoice.number, int(status))
        outcome = _skipped(invoice, entry, crm_id, cost, status=status)
        track.move(S.CHANGED if outcome.status is Status.CHANGED else S.SKIPPED, outcome)
    elif entry is not None and entry.state is JournalState.POSTING:
        full = record if _is_full(record) else await _get_invoice(crm, crm_id)
        _record_answer(journal, invoice.number, crm_id, entry.content_hash or "", full)
        cost = crm_cost(record) if cost_known else _full_cost(full)
        how = "created by an interrupted earlier run"
        outcome = _skipped(invoice, entry, crm_id, cost, how, status=CrmStatus.of(full or record))
        track.move(S.CHANGED if outcome.status is Status.CHANGED else S.SKIPPED, outcome)
    else:
        if entry is not None and entry.owned:
            journal.forget(invoice.number)  # ours was deleted; the number now belongs to someone else
        track.move(S.EXISTS, _exists(crm_id))


def _skipped(
    invoice: ResolvedInvoice,
    entry: JournalEntry,
    crm_id: int,
    crm_total: Decimal | None,
    how: str = "",
    *,
    status: CrmStatus | None = None,
) -> Outcome:
    """SKIPPED, or CHANGED when the file's rows now differ from what was sent (nothing is posted), or an
    update of it was interrupted (``--update`` finishes it)."""
    notes = [f"already imported as CRM invoice {crm_id}" + (f" ({how})" if how else "")]
    changed = Outcome(Status.CHANGED, crm_id=crm_id, crm_total=crm_total, crm_status=status)
    if entry.state is JournalState.UPDATING:
        notes.append("an update of it was interrupted: run again with --update to finish it")
        return replace(changed, message="; ".join(notes))
    if entry.content_hash and entry.content_hash != content_hash(build_payload(invoice)):
        notes.append(
            "the file now differs from what was imported; nothing posted (run with --update to update it "
            "while it is a Draft, or change it in the CRM)"
        )
        return replace(changed, message="; ".join(notes))
    return Outcome(
        Status.SKIPPED, crm_id=crm_id, crm_total=crm_total, message="; ".join(notes), crm_status=status
    )


HIDDEN_MESSAGE = (
    "the number is already used by an invoice you cannot see in the CRM (its contact is private to another "
    "user); nothing posted: give this invoice another number, or ask a CRM administrator"
)


def _exists_hidden() -> Outcome:
    return Outcome(Status.EXISTS, message=HIDDEN_MESSAGE)


def _exists(crm_id: int, when: str = "") -> Outcome:
    return Outcome(
        Status.EXISTS,
        crm_id=crm_id,
        message=f"the number is already used by CRM invoice {crm_id}{when}, not created by this import; "
        "nothing posted",
    )


# ----------------------------------------------------------------------------- posting


@dataclass
class _PostRun:
    crm: CrmApi
    journal: Journal
    stop: asyncio.Event
    fatal: CrmError | None = None
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    @property
    def halted(self) -> bool:
        return self.stop.is_set() or self.fatal is not None

    def lock(self, number: str) -> asyncio.Lock:
        return self.locks.setdefault(number_key(number), asyncio.Lock())


async def post_invoices(
    resolved: Sequence[ResolvedInvoice],
    crm: CrmApi,
    journal: Journal,
    *,
    stop: asyncio.Event | None = None,
    progress: Callable[[str, Outcome], None] | None = None,
) -> Posted:
    """Create every invoice given, ``crm.concurrency`` at a time; an outcome for each, by number.

    Give it the resolved invoices that :func:`classify_existing` did not settle. ``progress`` is called
    with each invoice's number and outcome as it is done. When ``stop`` is set, nothing new starts;
    invoices in flight finish (or are reconciled) and the rest are left ``pending``. If the CRM becomes
    unusable (token rejected, unreachable), the same happens, and that CrmError is returned as
    ``Posted.fatal`` beside every outcome, so that the caller can write them all and then end with exit 3.
    """
    tracks = {invoice.number: _Track(invoice.number) for invoice in resolved}
    todo = deque(resolved)
    run = _PostRun(crm, journal, stop or asyncio.Event())

    async def worker() -> None:
        while todo and not run.halted:
            invoice = todo.popleft()
            track = tracks[invoice.number]
            async with run.lock(invoice.number):
                await _post_guarded(invoice, track, run)
            if progress is not None and track.outcome is not None:
                progress(invoice.number, track.outcome)

    await asyncio.gather(*(worker() for _ in range(min(crm.concurrency, len(todo)))))
    reason = "not attempted: the run was interrupted"
    if run.fatal is not None:
        reason = f"not attempted: {run.fatal}"
    for invoice in todo:
        tracks[invoice.number].move(S.PENDING, Outcome(Status.PENDING, message=reason))
    outcomes = {number: track.outcome for number, track in tracks.items() if track.outcome is not None}
    assert len(outcomes) == len(tracks), "every invoice given ends in a final state"
    return Posted(outcomes, run.fatal, {number: tuple(track.path) for number, track in tracks.items()})


async def _post_guarded(invoice: ResolvedInvoice, track: _Track, run: _PostRun) -> None:
    """Post one invoice; a failure of the CRM itself leaves it pending (the journal keeps what is known)."""
    try:
        await _post_one(invoice, track, run)
    except CrmError as exc:
        if isinstance(exc, CrmUnreachableError | CrmAuthError):
            run.fatal = run.fatal or exc
        track.move(
            S.PENDING,
            Outcome(
                Status.PENDING,
                message=f"not known whether it was created ({exc}); run the same import again to finish it",
            ),
        )


async def _post_one(invoice: ResolvedInvoice, track: _Track, run: _PostRun) -> None:
    crm, journal = run.crm, run.journal
    payload = build_payload(invoice)
    digest = content_hash(payload)
    entry = journal.entry(invoice.number)
    if entry is not None and (entry.state is JournalState.POSTING or entry.owned):
        # An earlier attempt may have created it: never send again before the CRM says it does not exist.
        record = await crm.find_invoice(invoice.number)
        if record is not None:
            await _settle_existing(invoice, track, record, crm, journal, cost_known=False)
            return
        if entry.owned:
            journal.forget(invoice.number)
    await _create(invoice, track, payload, digest, run)


async def _create(
    invoice: ResolvedInvoice, track: _Track, payload: dict[str, Any], digest: str, run: _PostRun
) -> None:
    """Send the create, retrying transient failures, adopting a create whose answer was lost."""
    crm, journal, number = run.crm, run.journal, invoice.number
    attempts = max(1, crm.retry.attempts)
    sent_before = False
    for attempt in range(attempts):
        if attempt and run.halted:
            if not sent_before:  # else the entry stays `posting`: the next run asks the CRM first
                journal.mark_failed(number, "interrupted before it was created")
            track.move(S.PENDING, Outcome(Status.PENDING, message="interrupted before it was created"))
            return
        journal.mark_posting(number, digest, int(invoice.invoice.target_status))
        track.move(S.POSTING)
        try:
            created = await crm.post("invoice", payload)
        except TransientError as exc:
            if exc.sent:
                sent_before = True
                track.move(S.UNCLEAR)
                await crm.backoff(attempt, exc.retry_after)  # give a slow create time to land
                how = f"the answer was lost ({exc.message})"
                if await _adopt_if_there(invoice, track, digest, run, how):
                    return
            if not is_retryable(exc) or attempt == attempts - 1:
                _fail(track, payload, run, _transient_reason(exc, attempt + 1), sent=sent_before)
                return
            if not exc.sent:
                track.move(S.NEW)  # certainly not sent: the same as never tried
                await crm.backoff(attempt, exc.retry_after)
            continue
        except ForbiddenError:
            _fail(
                track,
                payload,
                run,
                "the CRM refused it (403 Access Denied): its customer or consignee is not visible to you in "
                "the CRM: ask its owner to share it",
            )
            return
        except CrmRequestError as exc:
            if may_mean_taken(exc):
                track.move(S.REFUSED)
                if await _resolve_refusal(invoice, track, payload, digest, run, sent_before):
                    return
            _fail(track, payload, run, f"the CRM refused it ({answer_text(exc)})")
            return
        _record_created(invoice, track, created, digest, journal)
        return


def _record_created(
    invoice: ResolvedInvoice, track: _Track, created: Any, digest: str, journal: Journal
) -> None:
    if not isinstance(created, dict) or not isinstance(created.get("id"), int):
        raise RefusedError(
            201, "the CRM answered the create without an invoice ID", method="POST", path="invoice"
        )
    _record_answer(journal, invoice.number, created["id"], digest, created)
    track.move(
        S.CREATED,
        Outcome(
            Status.CREATED,
            crm_id=created["id"],
            crm_total=crm_cost(created),
            crm_status=CrmStatus.of(created) or CrmStatus.DRAFT,
        ),
    )


def _record_answer(
    journal: Journal, number: str, crm_id: int, digest: str, full: Mapping[str, Any] | None
) -> None:
    """Journal `created`, with what the CRM's full invoice says (status, total, lines) where known: what a
    later --update or undo compares the CRM's copy with."""
    journal.mark_created(
        number,
        crm_id,
        digest,
        crm_status=CrmStatus.of(full),
        crm_total=_total_text(_full_cost(full)),
        lines_sig=lines_signature(full.get("invoiceLines")) if full is not None and _is_full(full) else None,
    )


def _total_text(total: Decimal | None) -> str | None:
    return None if total is None else format(total, "f")


def lines_signature(lines: Any) -> str | None:
    """A fingerprint of an invoice's lines as the CRM stores them (item, taxes, quantity, price, discount,
    description, in order): the same for the body sent and the CRM's answer when nothing changed in between.
    None when ``lines`` is not a list."""
    if not isinstance(lines, list):
        return None
    parts = []
    for line in lines:
        if not isinstance(line, Mapping):
            return None
        parts.append(
            [
                _int_of(line.get("invoiceItemID")),
                _int_of(line.get("invoiceTax1ID")),
                _int_of(line.get("invoiceTax2ID")),
                _amount_of(line.get("quantity")),
                _amount_of(line.get("price")),
                _amount_of(line.get("discount")),
                str(line.get("description") or ""),
            ]
        )
    return content_hash({"lines": parts})[:32]


def _int_of(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _amount_of(value: Any) -> str:
    try:
        return decimal_text(Decimal(str(value or 0)))
    except ArithmeticError:
        return str(value)


async def _adopt_if_there(
    invoice: ResolvedInvoice, track: _Track, digest: str, run: _PostRun, how: str
) -> bool:
    """UNCLEAR: if the CRM has the number, record it as created by this run (ADOPTED)."""
    record = await run.crm.find_invoice(invoice.number)
    if record is None:
        return False
    if is_hidden(record):  # not ours: this user would see an invoice they created
        run.journal.forget(invoice.number)
        track.move(S.EXISTS, _exists_hidden())
        return True
    full = await _get_invoice(run.crm, int(record["id"]))
    _record_answer(run.journal, invoice.number, int(record["id"]), digest, full)
    track.move(
        S.ADOPTED,
        Outcome(
            Status.CREATED,
            crm_id=int(record["id"]),
            crm_total=_full_cost(full),
            message=f"{how}; found in the CRM and adopted",
            crm_status=CrmStatus.of(full or record),
        ),
    )
    return True


async def _resolve_refusal(
    invoice: ResolvedInvoice,
    track: _Track,
    payload: Mapping[str, Any],
    digest: str,
    run: _PostRun,
    sent_before: bool,
) -> bool:
    """REFUSED: if the number now exists, it is ours (ADOPTED) or someone else's (EXISTS). False if absent."""
    record = await run.crm.find_invoice(invoice.number)
    if record is None:
        return False
    if is_hidden(record):  # taken by an invoice this user cannot see: someone else's
        run.journal.forget(invoice.number)
        track.move(S.EXISTS, _exists_hidden())
        return True
    crm_id = int(record["id"])
    full = await _get_invoice(run.crm, crm_id) or record
    if sent_before or _matches(payload, full):
        _record_answer(run.journal, invoice.number, crm_id, digest, full)
        track.move(
            S.ADOPTED,
            Outcome(
                Status.CREATED,
                crm_id=crm_id,
                crm_total=_full_cost(full),
                message="the CRM refused a repeated create because the first one had succeeded; adopted",
                crm_status=CrmStatus.of(full),
            ),
        )
    else:
        run.journal.forget(invoice.number)
        track.move(S.EXISTS, _exists(crm_id, " (created by someone else since the check)"))
    return True


def _matches(payload: Mapping[str, Any], crm: Mapping[str, Any]) -> bool:
    """Whether a CRM invoice is plainly the one in ``payload`` (same contact, currency and line items)."""
    contact = crm.get("contact") or {}
    currency = crm.get("currency") or {}
    lines = crm.get("invoiceLines")
    if not isinstance(contact, dict) or not isinstance(currency, dict) or not isinstance(lines, list):
        return False
    return (
        contact.get("id") == payload["contactId"]
        and currency.get("abbreviation") == payload["currency"]
        and [line.get("invoiceItemID") for line in lines]
        == [line["invoiceItemID"] for line in payload["invoiceLines"]]
    )


def _fail(
    track: _Track, payload: Mapping[str, Any], run: _PostRun, reason: str, *, sent: bool = False
) -> None:
    """FAILED: not created, as far as the CRM said. A create that was sent without a clear answer stays
    `posting` in the journal, so that a later run asks the CRM first: were it to land late, it is adopted
    as ours (skipped), not reported as someone else's invoice (exists)."""
    if not sent:
        run.journal.mark_failed(track.number, reason)
    track.move(
        S.FAILED,
        Outcome(Status.FAILED, message=f"{reason}; nothing was created. Sent: {describe_sent(payload)}"),
    )


def _transient_reason(exc: TransientError, attempts: int) -> str:
    if is_retryable(exc):
        return f"the CRM did not accept it after {attempts} attempts (last answer: {answer_text(exc)})"
    return f"the CRM failed to create it ({answer_text(exc)})"


# ----------------------------------------------------------------------------- helpers


async def _get_invoice(crm: CrmApi, crm_id: int) -> CrmInvoice | None:
    found = await crm.get_or_none(f"invoice/{crm_id}")
    return found if isinstance(found, dict) else None


def _is_full(record: Mapping[str, Any] | None) -> bool:
    """Whether a record is the full invoice of ``GET invoice/{id}`` (its lines a list): the by-number answer
    has ``"invoiceLines": null`` and ``"cost": 0``, whatever the invoice's total."""
    return record is not None and isinstance(record.get("invoiceLines"), list)


def _full_cost(full: Mapping[str, Any] | None) -> Decimal | None:
    """The total of a full invoice; None for anything else (a thin answer's cost is always 0)."""
    return crm_cost(full) if full is not None and _is_full(full) else None


async def _known_cost(crm: CrmApi, record: CrmInvoice, cost_known: bool) -> Decimal | None:
    """The CRM's total of an invoice: from a listing (``cost_known``) or a full record; a thin (by-number)
    record says 0, so the full one is fetched."""
    if cost_known or _is_full(record):
        return crm_cost(record)
    return _full_cost(await _get_invoice(crm, int(record["id"])))


async def _bounded(
    items: Iterable[T], fn: Callable[[T], Awaitable[CrmInvoice | None]], crm: CrmApi
) -> list[CrmInvoice | None]:
    """``fn`` over items, at most ``crm.concurrency`` at a time, results in order."""
    gate = asyncio.Semaphore(crm.concurrency)

    async def one(item: T) -> CrmInvoice | None:
        async with gate:
            return await fn(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


# ----------------------------------------------------------------------------- after the creates: statuses

MOVE_BATCH = 500  # invoice IDs per status move request


@dataclass(frozen=True)
class Finished:
    """What :func:`update_changed` and :func:`move_to_targets` return: the new outcome of each invoice they
    took on, by number; the states each went through (its state before them first); and the CRM failure
    that stopped them, if one did."""

    outcomes: dict[str, Outcome]
    paths: Mapping[str, tuple[PostState, ...]] = field(default_factory=dict)
    fatal: CrmError | None = None


_STATE_OF_STATUS: Mapping[Status, PostState] = {
    Status.CREATED: S.CREATED,
    Status.SKIPPED: S.SKIPPED,
    Status.UPDATED: S.UPDATED,
    Status.CHANGED: S.CHANGED,
}


def needs_moves(invoice: ResolvedInvoice, outcome: Outcome, journal: Journal) -> bool:
    """Whether an invoice created by this import is short of the status its file asks for: its status in
    the CRM lies before the target on the way from Draft. An invoice already at (or past, or off) that way
    is left alone, and so is one this import brought to its target before (someone moved it since)."""
    if outcome.status not in (Status.CREATED, Status.SKIPPED, Status.UPDATED) or outcome.crm_id is None:
        return False
    target = invoice.invoice.target_status
    if outcome.crm_status is not None and not moves_left(outcome.crm_status, target):
        return False
    entry = journal.entry(invoice.number)
    reached_before = entry is not None and entry.crm_status == target and entry.target_status == target
    return not (outcome.status is Status.SKIPPED and reached_before)


async def move_to_targets(
    items: Sequence[tuple[ResolvedInvoice, Outcome]],
    crm: CrmApi,
    journal: Journal,
    *,
    stop: asyncio.Event | None = None,
    states: Mapping[str, PostState] | None = None,
) -> Finished:
    """Bring each invoice to the status its file asks for, along the CRM's allowed moves, in batches: one
    ``PUT invoice/status/{status}`` for up to :data:`MOVE_BATCH` invoices making the same move. The status
    each reached is read from the answer. Give it the created, skipped and updated invoices for which
    :func:`needs_moves` says so; each comes back MOVED (its status unchanged, ``crm_status`` the target)
    or INCOMPLETE. ``states``: the state each reached before (by number; else the one of its status)."""
    stop = stop or asyncio.Event()
    tracks: dict[str, _Track] = {}
    left: dict[str, list[CrmStatus]] = {}
    by_id: dict[int, str] = {}
    before: dict[str, Outcome] = {}
    fatal: CrmError | None = None
    for invoice, outcome in items:
        number = invoice.number
        track = _Track(number, (states or {}).get(number) or _STATE_OF_STATUS[outcome.status], outcome)
        tracks[number], before[number] = track, outcome
        target = invoice.invoice.target_status
        journal.mark_target(number, int(target))
        current = outcome.crm_status
        if current is None:
            current = CrmStatus.of(await _get_invoice(crm, int(outcome.crm_id or 0)))
        track.move(S.MOVING)
        way = moves_left(current, target) if current is not None else None
        if way is None:
            shown = current.title if current is not None else "unknown (not found)"
            track.move(
                S.INCOMPLETE,
                _incomplete(
                    outcome,
                    current,
                    f"its status in the CRM is {shown}, from which the CRM's allowed moves do not lead to "
                    f"{target.title}: move it in the CRM",
                ),
            )
            continue
        left[number] = list(way)
        by_id[int(outcome.crm_id or 0)] = number
    reached: dict[str, CrmStatus] = {number: _start(before[number]) for number in left}
    while left and not stop.is_set() and fatal is None:
        step = {number: way[0] for number, way in left.items() if way}
        if not step:
            break
        to = min(step.values(), key=lambda status: (_rank(status), status))
        batch_numbers = [number for number, status in step.items() if status is to]
        for start in range(0, len(batch_numbers), MOVE_BATCH):
            if stop.is_set():
                break
            chunk = batch_numbers[start : start + MOVE_BATCH]
            ids = [int(before[number].crm_id or 0) for number in chunk]
            for number in chunk:
                journal.mark_moving(number, int(to))
            try:
                answer = await crm.put(f"invoice/status/{to.word}", {"invoiceids": ids})
            except CrmError as exc:
                if isinstance(exc, CrmUnreachableError | CrmAuthError):
                    fatal = exc
                for number in chunk:
                    del left[number]
                    tracks[number].move(
                        S.INCOMPLETE,
                        _incomplete(
                            before[number],
                            reached[number],
                            f"the move to {to.title} was not confirmed ({exc}); run the same import again to "
                            "finish it",
                        ),
                    )
                if fatal is not None:
                    break
                continue
            statuses = _statuses_of(answer)
            for crm_id, number in ((crm_id, by_id[crm_id]) for crm_id in ids):
                now = statuses.get(crm_id)
                if now is to:
                    journal.mark_status(number, int(now))
                    reached[number] = now
                    left[number].pop(0)
                    if not left[number]:
                        del left[number]
                        tracks[number].move(S.MOVED, _moved(before[number], now))
                    continue
                if now is not None:
                    journal.mark_status(number, int(now))
                    reached[number] = now
                why = (
                    f"the CRM did not move it to {to.title} (it has it as {now.title})"
                    if now is not None
                    else f"the CRM left it out of its answer to the move to {to.title} (deleted, or not "
                    "visible to you)"
                )
                del left[number]
                tracks[number].move(
                    S.INCOMPLETE, _incomplete(before[number], now, why + "; check it in the CRM")
                )
    for number in list(left):
        target_way = left.pop(number)
        tracks[number].move(
            S.INCOMPLETE,
            _incomplete(
                before[number],
                reached[number],
                f"interrupted before its move to {target_way[0].title}; run the same import again to "
                "finish it",
            ),
        )
    outcomes = {number: track.outcome for number, track in tracks.items() if track.outcome is not None}
    assert len(outcomes) == len(tracks)
    return Finished(outcomes, {number: tuple(track.path) for number, track in tracks.items()}, fatal)


def _rank(status: CrmStatus) -> int:
    """Moves are made in path order: every Sent before any Paid or Rejected."""
    return 0 if status is CrmStatus.SENT else 1


def _start(outcome: Outcome) -> CrmStatus:
    return outcome.crm_status or CrmStatus.DRAFT


def _statuses_of(answer: Any) -> dict[int, CrmStatus]:
    """The status of each invoice in the answer of a status move (``{"key": [invoices], ...}``), by ID."""
    listed = answer.get("key") if isinstance(answer, dict) else answer
    statuses: dict[int, CrmStatus] = {}
    for record in listed if isinstance(listed, list) else []:
        if isinstance(record, dict) and isinstance(record.get("id"), int):
            status = CrmStatus.of(record)
            if status is not None:
                statuses[record["id"]] = status
    return statuses


def _moved(outcome: Outcome, status: CrmStatus) -> Outcome:
    note = f"moved to {status.title}"
    return replace(outcome, crm_status=status, message="; ".join(m for m in (outcome.message, note) if m))


def _incomplete(outcome: Outcome, status: CrmStatus | None, why: str) -> Outcome:
    at = f"created as CRM invoice {outcome.crm_id}, not yet at its status: {why}"
    return Outcome(
        Status.INCOMPLETE,
        crm_id=outcome.crm_id,
        crm_total=outcome.crm_total,
        crm_status=status,
        message=at,
    )


# ----------------------------------------------------------------------------- --update


async def update_changed(
    items: Sequence[tuple[ResolvedInvoice, Outcome]],
    crm: CrmApi,
    journal: Journal,
    *,
    stop: asyncio.Event | None = None,
) -> Finished:
    """``--update``: update in place each changed invoice (created earlier by this import, the file now
    different) that the CRM still has as Draft, that this user may edit, and whose lines and total are
    what the journal recorded (else it stays CHANGED, with the reason). ``PUT invoice/{id}`` sends every
    field again; the CRM's new total is checked to the cent."""
    stop = stop or asyncio.Event()
    tracks: dict[str, _Track] = {}
    fatal: CrmError | None = None
    for invoice, outcome in items:
        track = _Track(invoice.number, S.CHANGED, outcome)
        tracks[invoice.number] = track
        if stop.is_set() or fatal is not None:
            continue
        try:
            await _update_one(invoice, outcome, track, crm, journal)
        except CrmError as exc:
            if isinstance(exc, CrmUnreachableError | CrmAuthError):
                fatal = exc
            if track.state is S.UPDATING:
                track.move(
                    S.PENDING,
                    Outcome(
                        Status.PENDING,
                        crm_id=outcome.crm_id,
                        message=f"not known whether the update reached the CRM ({exc}); run the same import "
                        "again with --update to finish it",
                    ),
                )
    outcomes = {number: track.outcome for number, track in tracks.items() if track.outcome is not None}
    return Finished(outcomes, {number: tuple(track.path) for number, track in tracks.items()}, fatal)


async def _update_one(
    invoice: ResolvedInvoice, outcome: Outcome, track: _Track, crm: CrmApi, journal: Journal
) -> None:
    entry = journal.entry(invoice.number)
    crm_id = outcome.crm_id
    if entry is None or crm_id is None or not entry.owned:
        return
    full = await _get_invoice(crm, crm_id)
    payload = build_payload(invoice)
    digest = content_hash(payload)
    expected_sig = lines_signature(payload["invoiceLines"])
    why = _why_not_updatable(full, entry, expected_sig, invoice.total)
    if why is not None:
        track.outcome = replace(
            outcome, crm_status=CrmStatus.of(full) or outcome.crm_status, message=f"{outcome.message}; {why}"
        )
        return
    assert full is not None
    landed = lines_signature(full.get("invoiceLines")) == expected_sig and crm_cost(full) == invoice.total
    if entry.state is JournalState.UPDATING and landed and entry.pending_hash == digest:
        track.move(S.UPDATING)  # the interrupted update had reached the CRM: record it
        _record_answer(journal, invoice.number, crm_id, digest, full)
        track.move(S.UPDATED, _updated(outcome, full, "an interrupted update had reached the CRM"))
        return
    journal.mark_updating(invoice.number, digest)
    track.move(S.UPDATING)
    body = {key: value for key, value in payload.items() if key != "number"}
    try:
        answer = await crm.put(f"invoice/{crm_id}", body)
    except CrmRequestError as exc:  # 404: not Draft any more, or not editable; 400: refused (nothing changed)
        journal.mark_kept(invoice.number)
        reason = (
            "the CRM would not update it (no longer a Draft, or you may not edit it)"
            if isinstance(exc, NotFoundError | ForbiddenError)
            else f"the CRM refused the update ({answer_text(exc)})"
        )
        track.move(S.CHANGED, replace(outcome, message=f"{outcome.message}; {reason}; nothing changed"))
        return
    if not isinstance(answer, dict) or not _is_full(answer):
        raise RefusedError(
            200, "the CRM answered the update without the invoice", method="PUT", path="invoice"
        )
    _record_answer(journal, invoice.number, crm_id, digest, answer)
    track.move(S.UPDATED, _updated(outcome, answer, ""))
    if crm_cost(answer) != invoice.total:
        track.outcome = replace(
            track.outcome or outcome,
            message=f"updated, but the CRM's total {crm_cost(answer)} differs from the file's "
            f"{invoice.total}: check its taxes in the CRM",
        )


def _why_not_updatable(
    full: Mapping[str, Any] | None, entry: JournalEntry, expected_sig: str | None, total: Decimal
) -> str | None:
    """Why the CRM's copy may not be updated (None: it may)."""
    if full is None or not _is_full(full):
        return "not found in the CRM to update it"
    status = CrmStatus.of(full)
    if status is not CrmStatus.DRAFT:
        shown = status.title if status is not None else "unknown"
        return f"not updated: it is {shown} in the CRM, and only a Draft invoice can be updated"
    if full.get("canEdit") is False:
        return "not updated: you may not edit it in the CRM (only an administrator or its creator may)"
    if entry.state is JournalState.UPDATING:
        return None  # an update of ours was interrupted half-way (the CRM's update is not atomic): finish it
    signature = lines_signature(full.get("invoiceLines"))
    total_now = _total_text(crm_cost(full))
    if entry.lines_sig is not None and signature != entry.lines_sig:
        return "not updated: its lines were changed in the CRM since the import"
    if entry.crm_total is not None and total_now != entry.crm_total:
        return "not updated: its total was changed in the CRM since the import"
    return None


def _updated(outcome: Outcome, answer: Mapping[str, Any], how: str) -> Outcome:
    note = f"updated in place (CRM invoice {outcome.crm_id})" + (f": {how}" if how else "")
    return Outcome(
        Status.UPDATED,
        crm_id=outcome.crm_id,
        crm_total=crm_cost(answer),
        crm_status=CrmStatus.of(answer),
        message=note,
    )
