"""Posting: create each valid invoice in the CRM exactly once, whatever fails or is interrupted.

The CRM has no idempotency key, so exactly-once rests on three rules:

* The journal is written *before* every create (``posting``, with the content hash of the body) and after
  it (``created`` with the CRM ID, or ``failed``). A ``posting`` entry found later means "the outcome is
  unknown": the number is looked up in the CRM before anything else is sent.
* An ambiguous answer (timeout, lost connection, 5xx) is never taken as a failure: after a backoff the number
  is looked up; if it is there, it is adopted (created, with its ID); only if it is not is the create retried.
* One number is never in flight twice (a lock per case-folded number).

A SIGKILL between any two statements therefore leaves either no entry (nothing sent), a ``posting`` entry
(looked up on the next run), or a final entry that matches the CRM.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar

from importer.client import NO_ANSWER, RETRYABLE_STATUSES, CrmClient
from importer.errors import (
    CrmAuthError,
    CrmError,
    CrmRequestError,
    CrmUnreachableError,
    ImporterError,
    TransientError,
)
from importer.journal import Journal, JournalEntry, JournalState, number_key
from importer.models import Invoice, Line, Outcome, Status

CENT = Decimal("0.01")
PAGE_SIZE = 1000
SENT_SUMMARY_LIMIT = 1500
T = TypeVar("T")
CrmInvoice = dict[str, Any]


# ----------------------------------------------------------------------------- the request body


def decimal_text(value: Decimal) -> str:
    """An amount as the decimal string the CRM stores: 2 decimals, no exponent (``7.7`` -> ``"7.70"``)."""
    return format(value.quantize(CENT, rounding=ROUND_HALF_EVEN), "f")


def _date_text(value: date | None, what: str, number: str) -> str:
    if value is None:
        raise ValueError(f"invoice {number}: the {what} is missing")
    return value.strftime("%Y-%m-%d")


def _line_payload(line: Line, number: str) -> dict[str, Any]:
    if line.item_id is None or line.price is None:
        raise ValueError(f"invoice {number}, row {line.row}: the item or its price is not resolved")
    payload: dict[str, Any] = {
        "invoiceItemID": line.item_id,
        "invoiceTax1ID": line.tax1_id or 0,
        "invoiceTax2ID": line.tax2_id or 0,
        "quantity": decimal_text(line.quantity),
        "price": decimal_text(line.price),
        "discount": decimal_text(line.discount),
    }
    if line.description:
        payload["description"] = line.description
    return payload


def build_payload(invoice: Invoice) -> dict[str, Any]:
    """The exact JSON body of ``POST invoice`` for a resolved invoice; ValueError if it is not resolved."""
    number = invoice.number
    if invoice.contact_id is None or not invoice.currency or not invoice.terms or not invoice.lines:
        raise ValueError(f"invoice {number} is not resolved (contact, currency, terms and lines required)")
    payload: dict[str, Any] = {
        "number": number,
        "issueDate": _date_text(invoice.issue_date, "issue date", number),
        "dueDate": _date_text(invoice.due_date, "due date", number),
        "contactId": invoice.contact_id,
        "consigneeId": invoice.consignee_id or 0,
        "entityId": invoice.deal_id or 0,
        "billingAddressID": invoice.billing_address_id or 0,
        "deliveryAddressID": invoice.delivery_address_id or 0,
        "language": invoice.language,
        "currency": invoice.currency.upper(),
        "exchangeRate": decimal_text(invoice.exchange_rate),
        "terms": invoice.terms,
        "templateType": invoice.template_type,
        "invoiceLines": [_line_payload(line, number) for line in invoice.lines],
    }
    if invoice.purchase_order_number:
        payload["purchaseOrderNumber"] = invoice.purchase_order_number
    if invoice.description:
        payload["description"] = invoice.description
    return payload


def content_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a body (sorted keys, no spaces)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def describe_sent(payload: Mapping[str, Any]) -> str:
    """What was sent, for a failure message (shortened if very long)."""
    text = json.dumps(payload, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= SENT_SUMMARY_LIMIT else text[:SENT_SUMMARY_LIMIT] + " …"


# ----------------------------------------------------------------------------- before posting: classify


ExistingInvoices = dict[str, CrmInvoice]  # every CRM invoice by case-folded number


async def list_existing(invoices: list[Invoice], client: CrmClient) -> ExistingInvoices | None:
    """Every CRM invoice by case-folded number, when one paged listing costs fewer requests than a
    look-up per invoice to check; else None. Needs only the numbers, so it can run beside the look-ups
    of the pre-flight; pass its answer to :func:`classify_existing`."""
    return await _list_if_cheaper(sum(1 for i in invoices if i.is_valid and i.outcome is None), client)


async def classify_existing(
    invoices: list[Invoice],
    client: CrmClient,
    journal: Journal,
    *,
    existing: ExistingInvoices | None = None,
    listed: bool = False,
) -> None:
    """Give ``skipped`` / ``exists`` to valid invoices whose number the CRM already has; leave the rest.

    Uses one paged listing of all invoices when that costs fewer requests than one look-up per invoice;
    with ``listed``, ``existing`` is that listing, already fetched (None: look each one up).
    """
    todo = [invoice for invoice in invoices if invoice.is_valid and invoice.outcome is None]
    if not todo:
        return
    listing = existing if listed else await _list_if_cheaper(len(todo), client)
    if listing is not None:
        found = [listing.get(number_key(invoice.number)) for invoice in todo]
    else:
        found = await _bounded(todo, lambda invoice: _find_own_or_number(invoice, client, journal), client)
    for invoice, crm in zip(todo, found, strict=True):
        await _settle_existing(invoice, crm, client, journal, cost_known=listing is not None)


async def _list_if_cheaper(count: int, client: CrmClient) -> dict[str, CrmInvoice] | None:
    """Every CRM invoice by case-folded number, if listing costs fewer requests than ``count`` look-ups."""
    if count <= 1:
        return None
    params = {"sortBy": "Id"}
    listed, total = await client.get_page("invoice/filter", params, count=PAGE_SIZE)
    if total is None:
        if len(listed) == PAGE_SIZE:  # more than a page, and no total to plan with: look each one up
            return None
    elif total > len(listed):
        if math.ceil(total / PAGE_SIZE) - 1 >= count:  # the other pages cost more than the look-ups
            return None
        listed += await client.get_rest(
            "invoice/filter", params, total=total, page_size=PAGE_SIZE, start=len(listed)
        )
    by_number: dict[str, CrmInvoice] = {}
    for crm in listed:
        if isinstance(crm, dict) and isinstance(crm.get("number"), str):
            by_number.setdefault(number_key(crm["number"]), crm)
    return by_number


async def _find_own_or_number(invoice: Invoice, client: CrmClient, journal: Journal) -> CrmInvoice | None:
    """The CRM invoice with this number; when the journal knows our ID, fetched by ID (full, with cost)."""
    entry = journal.entry(invoice.number)
    if entry is not None and entry.state is JournalState.CREATED and entry.crm_id is not None:
        own = await _get_invoice(client, entry.crm_id)
        if own is not None and number_key(str(own.get("number", ""))) == number_key(invoice.number):
            return own
    return await client.find_invoice(invoice.number)


async def _settle_existing(
    invoice: Invoice, crm: CrmInvoice | None, client: CrmClient, journal: Journal, cost_known: bool
) -> None:
    """Decide skipped / exists / to post for one invoice, given what the CRM has under its number."""
    entry = journal.entry(invoice.number)
    if crm is None:
        if entry is not None and entry.state is JournalState.CREATED:
            journal.forget(invoice.number)  # deleted in the CRM since: post it again
        elif entry is not None and entry.state is JournalState.POSTING:
            journal.mark_failed(invoice.number, "an interrupted earlier attempt did not reach the CRM")
        return
    crm_id = int(crm["id"])
    if entry is not None and entry.state is JournalState.CREATED and entry.crm_id == crm_id:
        cost = await _known_cost(client, crm, cost_known)
        invoice.outcome = _skipped(invoice, entry, crm_id, cost)
    elif entry is not None and entry.state is JournalState.POSTING:
        journal.mark_created(invoice.number, crm_id, entry.content_hash or "")
        cost = await _known_cost(client, crm, cost_known)
        invoice.outcome = _skipped(invoice, entry, crm_id, cost, "created by an interrupted earlier run")
    else:
        if entry is not None and entry.state is JournalState.CREATED:
            journal.forget(invoice.number)  # ours was deleted; the number now belongs to someone else
        invoice.outcome = _exists(crm_id)


def _skipped(
    invoice: Invoice, entry: JournalEntry, crm_id: int, crm_total: Decimal | None, how: str = ""
) -> Outcome:
    notes = [f"already imported as CRM invoice {crm_id}" + (f" ({how})" if how else "")]
    if entry.content_hash and entry.content_hash != content_hash(build_payload(invoice)):
        notes.append("the file differs from what was imported; not posted again (change it in the CRM)")
    return Outcome(Status.SKIPPED, crm_id=crm_id, crm_total=crm_total, message="; ".join(notes))


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
    client: CrmClient
    journal: Journal
    stop: asyncio.Event
    fatal: ImporterError | None = None
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    @property
    def halted(self) -> bool:
        return self.stop.is_set() or self.fatal is not None

    def lock(self, number: str) -> asyncio.Lock:
        return self.locks.setdefault(number_key(number), asyncio.Lock())


async def post_invoices(
    invoices: list[Invoice],
    client: CrmClient,
    journal: Journal,
    *,
    stop: asyncio.Event | None = None,
    progress: Callable[[Invoice], None] | None = None,
) -> None:
    """Create every valid invoice without an outcome, ``client.concurrency`` at a time; set each outcome.

    When ``stop`` is set, nothing new starts; invoices in flight finish (or are reconciled) and the rest
    are left ``pending``. If the CRM becomes unusable (token rejected, unreachable), the same happens, and
    then that CrmError is raised, with every outcome already set, so that the run ends with exit 3.
    """
    todo = deque(invoice for invoice in invoices if invoice.is_valid and invoice.outcome is None)
    run = _PostRun(client, journal, stop or asyncio.Event())

    async def worker() -> None:
        while todo and not run.halted:
            invoice = todo.popleft()
            async with run.lock(invoice.number):
                await _post_guarded(invoice, run)
            if progress is not None:
                progress(invoice)

    await asyncio.gather(*(worker() for _ in range(min(client.concurrency, len(todo)))))
    reason = "not attempted: the run was interrupted"
    if run.fatal is not None:
        reason = f"not attempted: {run.fatal}"
    for invoice in todo:
        if invoice.outcome is None:
            invoice.outcome = Outcome(Status.PENDING, message=reason)
    if isinstance(run.fatal, CrmUnreachableError | CrmAuthError):
        raise run.fatal


async def _post_guarded(invoice: Invoice, run: _PostRun) -> None:
    """Post one invoice; a failure of the CRM itself leaves it pending (the journal keeps what is known)."""
    try:
        await _post_one(invoice, run)
    except ValueError as exc:  # not resolved: nothing was sent
        invoice.outcome = Outcome(Status.FAILED, message=f"cannot be posted: {exc}")
    except (CrmError, CrmRequestError) as exc:
        if isinstance(exc, CrmUnreachableError | CrmAuthError):
            run.fatal = run.fatal or exc
        invoice.outcome = Outcome(
            Status.PENDING,
            message=f"not known whether it was created ({exc}); run the same import again to finish it",
        )


async def _post_one(invoice: Invoice, run: _PostRun) -> None:
    client, journal = run.client, run.journal
    payload = build_payload(invoice)
    digest = content_hash(payload)
    entry = journal.entry(invoice.number)
    if entry is not None and entry.state in (JournalState.POSTING, JournalState.CREATED):
        # An earlier attempt may have created it: never send again before the CRM says it does not exist.
        crm = await client.find_invoice(invoice.number)
        if crm is not None:
            await _settle_existing(invoice, crm, client, journal, cost_known=False)
            return
        if entry.state is JournalState.CREATED:
            journal.forget(invoice.number)
    await _create(invoice, payload, digest, run)


async def _create(invoice: Invoice, payload: dict[str, Any], digest: str, run: _PostRun) -> None:
    """Send the create, retrying transient failures, adopting a create whose answer was lost."""
    client, journal, number = run.client, run.journal, invoice.number
    attempts = max(1, client.retry.attempts)
    sent_before = False
    for attempt in range(attempts):
        if attempt and run.halted:
            if not sent_before:  # else the entry stays `posting`: the next run asks the CRM first
                journal.mark_failed(number, "interrupted before it was created")
            invoice.outcome = Outcome(Status.PENDING, message="interrupted before it was created")
            return
        journal.mark_posting(number, digest)
        try:
            created = await client.post("invoice", payload)
        except TransientError as exc:
            if exc.sent:
                sent_before = True
                await client.backoff(attempt, exc.retry_after)  # give a slow create time to land
                how = f"the answer was lost ({exc.message})"
                if await _adopt_if_there(invoice, digest, run, how):
                    return
            retryable = exc.status == NO_ANSWER or exc.status in RETRYABLE_STATUSES
            if not retryable or attempt == attempts - 1:
                _fail(invoice, payload, run, _transient_reason(exc, attempt + 1), sent=sent_before)
                return
            if not exc.sent:
                await client.backoff(attempt, exc.retry_after)
            continue
        except CrmRequestError as exc:
            if exc.status == 400 and await _resolve_refusal(invoice, payload, digest, run, sent_before):
                return
            _fail(invoice, payload, run, f"the CRM refused it ({exc.status} {exc.message})")
            return
        _record_created(invoice, created, digest, journal)
        return


def _record_created(invoice: Invoice, created: Any, digest: str, journal: Journal) -> None:
    if not isinstance(created, dict) or not isinstance(created.get("id"), int):
        raise CrmRequestError(
            201, "the CRM answered the create without an invoice ID", method="POST", path="invoice"
        )
    journal.mark_created(invoice.number, created["id"], digest)
    invoice.outcome = Outcome(Status.CREATED, crm_id=created["id"], crm_total=_cost(created))


async def _adopt_if_there(invoice: Invoice, digest: str, run: _PostRun, how: str) -> bool:
    """After an ambiguous answer: if the CRM has the number, record it as created by this run."""
    crm = await run.client.find_invoice(invoice.number)
    if crm is None:
        return False
    full = await _get_invoice(run.client, int(crm["id"])) or crm
    run.journal.mark_created(invoice.number, int(crm["id"]), digest)
    invoice.outcome = Outcome(
        Status.CREATED,
        crm_id=int(crm["id"]),
        crm_total=_cost(full) if "invoiceLines" in full else None,
        message=f"{how}; found in the CRM and adopted",
    )
    return True


async def _resolve_refusal(
    invoice: Invoice, payload: Mapping[str, Any], digest: str, run: _PostRun, sent_before: bool
) -> bool:
    """A 400: if the number now exists, it is ours (adopt) or someone else's (exists). False if absent."""
    crm = await run.client.find_invoice(invoice.number)
    if crm is None:
        return False
    crm_id = int(crm["id"])
    full = await _get_invoice(run.client, crm_id) or crm
    if sent_before or _matches(payload, full):
        run.journal.mark_created(invoice.number, crm_id, digest)
        invoice.outcome = Outcome(
            Status.CREATED,
            crm_id=crm_id,
            crm_total=_cost(full) if "invoiceLines" in full else None,
            message="the CRM refused a repeated create because the first one had succeeded; adopted",
        )
    else:
        run.journal.forget(invoice.number)
        invoice.outcome = _exists(crm_id, " (created by someone else since the check)")
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
    invoice: Invoice, payload: Mapping[str, Any], run: _PostRun, reason: str, *, sent: bool = False
) -> None:
    """Not created, as far as the CRM said. A create that was sent without a clear answer stays `posting`
    in the journal, so that a later run asks the CRM first: were it to land late, it is adopted as ours
    (skipped), not reported as someone else's invoice (exists)."""
    if not sent:
        run.journal.mark_failed(invoice.number, reason)
    invoice.outcome = Outcome(
        Status.FAILED, message=f"{reason}; nothing was created. Sent: {describe_sent(payload)}"
    )


def _transient_reason(exc: TransientError, attempts: int) -> str:
    answer = exc.message if exc.status == NO_ANSWER else f"{exc.status} {exc.message}"
    if exc.status == NO_ANSWER or exc.status in RETRYABLE_STATUSES:
        return f"the CRM did not accept it after {attempts} attempts (last answer: {answer})"
    return f"the CRM failed to create it ({answer})"


# ----------------------------------------------------------------------------- helpers


async def _get_invoice(client: CrmClient, crm_id: int) -> CrmInvoice | None:
    try:
        found = await client.get(f"invoice/{crm_id}")
    except CrmRequestError as exc:
        if exc.status == 404:
            return None
        raise
    return found if isinstance(found, dict) else None


async def _known_cost(client: CrmClient, crm: CrmInvoice, cost_known: bool) -> Decimal | None:
    """The CRM's total of an invoice; a thin (by-number) record says 0, so the full one is fetched."""
    if cost_known or "invoiceLines" in crm:
        return _cost(crm)
    full = await _get_invoice(client, int(crm["id"]))
    return _cost(full) if full is not None else None


def _cost(crm: Mapping[str, Any]) -> Decimal | None:
    cost = crm.get("cost")
    if isinstance(cost, int | float | str) and not isinstance(cost, bool):
        return Decimal(str(cost)).quantize(CENT, rounding=ROUND_HALF_EVEN)
    return None


async def _bounded(
    items: Iterable[T], fn: Callable[[T], Awaitable[CrmInvoice | None]], client: CrmClient
) -> list[CrmInvoice | None]:
    """``fn`` over items, at most ``client.concurrency`` at a time, results in order."""
    gate = asyncio.Semaphore(client.concurrency)

    async def one(item: T) -> CrmInvoice | None:
        async with gate:
            return await fn(item)

    return list(await asyncio.gather(*(one(item) for item in items)))
