"""The exactly-once state machine of importer.post: one test per transition of ``TRANSITIONS``, each
driving post_invoices against a scripted CRM (httpx.MockTransport behind the real client) into that move
and reading the states the invoice went through (``Posted.paths``); and the table refusing every other
move. The kill tests (tests/unit/test_post.py, tests/e2e/test_crash_safety.py) check the same rules end
to end."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from importer.client import CrmClient, RetryPolicy
from importer.journal import Journal, JournalState
from importer.models import ResolvedInvoice, Status
from importer.payload import build_payload, content_hash
from importer.post import (
    FINAL,
    STATUS_OF_FINAL,
    TRANSITIONS,
    Posted,
    PostState,
    TransitionError,
    advance,
    post_invoices,
)
from tests.unit.test_post import make_invoice

S = PostState
URL = "http://127.0.0.1:9"
NUMBER = "ST-1"


def _envelope(status: int, response: Any = None) -> httpx.Response:
    if status >= 400:
        body = {"status": 1, "statusCode": status, "error": {"message": f"answer {status}"}}
        return httpx.Response(status, json=body)
    return httpx.Response(status, json={"status": 0, "statusCode": status, "response": response})


class ScriptedCrm:
    """Invoices by number; each create answers per ``script`` (then "ok"):

    "ok" (201 with the ID), "landed-lost" (saved, the answer lost), "lost" (not saved, the answer lost),
    "not-sent" (the connection refused), "taken-same"/"taken-other" (this very invoice / another one
    with the number saved by someone else just before, then 400), "taken-hidden" (like "taken-other", on
    an invoice this user may not see: by-number answers 403), "lost-hidden" (the answer lost, and the
    number taken meanwhile by an invoice this user may not see), or an HTTP status to answer. By-number
    answers the thin invoice of the contract (``"invoiceLines": null, "cost": 0``); ``invoice/{id}`` the full.
    ``on_create``: called at each create (e.g. to press Ctrl-C); ``lookups``: the status every look-up
    answers instead of the truth (e.g. 401)."""

    def __init__(self, *script: str | int, on_create: Callable[[], None] | None = None) -> None:
        self.script = list(script)
        self.on_create = on_create
        self.lookups: int | None = None
        self.records: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(100)
        self.creates = 0

    def save(self, body: dict[str, Any], *, item: int | None = None, hidden: bool = False) -> dict[str, Any]:
        lines = [{"invoiceItemID": item or line["invoiceItemID"]} for line in body["invoiceLines"]]
        record = {
            "id": next(self.ids),
            "number": body["number"],
            "cost": 721.88,
            "contact": {"id": body["contactId"]},
            "currency": {"abbreviation": body["currency"]},
            "invoiceLines": lines,
            "hidden": hidden,
        }
        self.records[body["number"].casefold()] = record
        return record

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/2.0/crm/")
        if request.method == "POST":
            self.creates += 1
            if self.on_create is not None:
                self.on_create()
            body = json.loads(request.content)
            action = self.script.pop(0) if self.script else "ok"
            if action == "ok":
                return _envelope(201, self.save(body))
            if action == "landed-lost":
                self.save(body)
                raise httpx.ReadTimeout("no answer", request=request)
            if action == "lost":
                raise httpx.ReadTimeout("no answer", request=request)
            if action == "not-sent":
                raise httpx.ConnectError("refused", request=request)
            if action == "taken-hidden":
                self.save(body, item=2, hidden=True)
                return _envelope(400)
            if action == "lost-hidden":
                self.save(body, item=2, hidden=True)
                raise httpx.ReadTimeout("no answer", request=request)
            if action in ("taken-same", "taken-other"):
                self.save(body, item=None if action == "taken-same" else 2)
                return _envelope(400)
            return _envelope(int(action))
        if self.lookups is not None:
            return _envelope(self.lookups)
        if path == "invoice/bynumber":
            record = self.records.get(str(request.url.params["number"]).casefold())
            if record and record["hidden"]:
                return _envelope(403)
            thin = {**record, "contact": None, "invoiceLines": None, "cost": 0} if record else None
            return _envelope(200, thin) if thin else _envelope(404)
        crm_id = int(path.rpartition("/")[2])
        found = [r for r in self.records.values() if r["id"] == crm_id]
        if found and found[0]["hidden"]:
            return _envelope(403)
        return _envelope(200, found[0]) if found else _envelope(404)


async def _no_sleep(delay: float) -> None:
    await asyncio.sleep(0)


def post(
    crm: ScriptedCrm,
    tmp_path: Path,
    invoice: ResolvedInvoice | None = None,
    *,
    stop: asyncio.Event | None = None,
    journal_entry: Callable[[Journal, ResolvedInvoice], None] | None = None,
) -> Posted:
    invoice = invoice or make_invoice(NUMBER)
    client = CrmClient(
        URL,
        token="t",
        transport=httpx.MockTransport(crm),
        rate=None,
        sleep=_no_sleep,
        retry=RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.001),
    )

    async def go() -> Posted:
        with Journal.open(tmp_path / "journal.sqlite", URL) as journal:
            if journal_entry is not None:
                journal_entry(journal, invoice)
            async with client:
                return await post_invoices([invoice], client, journal, stop=stop)

    return asyncio.run(go())


def moves(posted: Posted) -> list[tuple[PostState, PostState]]:
    path = posted.paths[NUMBER]
    assert (
        path[0] is S.NEW and path[-1] in FINAL and posted.outcomes[NUMBER].status is STATUS_OF_FINAL[path[-1]]
    )
    return list(itertools.pairwise(path))


def journal_state(tmp_path: Path) -> JournalState | None:
    with Journal.open(tmp_path / "journal.sqlite", URL) as journal:
        entry = journal.entry(NUMBER)
    return None if entry is None else entry.state


def created_earlier(
    crm: ScriptedCrm, *, ours: bool, changed: bool = False
) -> Callable[[Journal, ResolvedInvoice], None]:
    """The journal says an earlier run created the invoice; the CRM has it (``ours``) or another one;
    ``changed``: what was sent then differs from the file now."""

    def write(journal: Journal, invoice: ResolvedInvoice) -> None:
        record = crm.save(build_payload(invoice))
        digest = "hash" if changed else content_hash(build_payload(invoice))
        journal.mark_created(invoice.number, record["id"] if ours else record["id"] + 1, digest)

    return write


# ----------------------------------------------------------------------------- from NEW


def test_new_to_posting_journal_first_then_the_create(tmp_path: Path) -> None:
    posted = post(ScriptedCrm("ok"), tmp_path)
    assert moves(posted)[0] == (S.NEW, S.POSTING)


def test_new_to_skipped_when_the_journal_and_the_crm_agree_it_was_created(tmp_path: Path) -> None:
    crm = ScriptedCrm()
    posted = post(crm, tmp_path, journal_entry=created_earlier(crm, ours=True))
    assert moves(posted) == [(S.NEW, S.SKIPPED)] and crm.creates == 0


def test_new_to_changed_when_the_file_now_differs_from_what_was_created(tmp_path: Path) -> None:
    # issue 12, point 6: "created earlier, the file now differs, nothing posted"
    crm = ScriptedCrm()
    posted = post(crm, tmp_path, journal_entry=created_earlier(crm, ours=True, changed=True))
    assert moves(posted) == [(S.NEW, S.CHANGED)] and crm.creates == 0
    outcome = posted.outcomes[NUMBER]
    assert outcome.status is Status.CHANGED and outcome.crm_total == Decimal("721.88")


def test_new_to_exists_when_the_number_is_someone_elses(tmp_path: Path) -> None:
    crm = ScriptedCrm()
    posted = post(crm, tmp_path, journal_entry=created_earlier(crm, ours=False))
    assert moves(posted) == [(S.NEW, S.EXISTS)] and crm.creates == 0
    assert journal_state(tmp_path) is None  # ours was deleted: the entry is forgotten


def test_new_to_pending_when_stopped_before_it_started(tmp_path: Path) -> None:
    stop = asyncio.Event()
    stop.set()
    crm = ScriptedCrm()
    posted = post(crm, tmp_path, stop=stop)
    assert moves(posted) == [(S.NEW, S.PENDING)] and crm.creates == 0


# ----------------------------------------------------------------------------- from POSTING


def test_posting_to_created_with_the_crm_id(tmp_path: Path) -> None:
    posted = post(ScriptedCrm("ok"), tmp_path)
    assert moves(posted) == [(S.NEW, S.POSTING), (S.POSTING, S.CREATED)]
    assert posted.outcomes[NUMBER].crm_id == 100 and journal_state(tmp_path) is JournalState.CREATED


def test_posting_to_unclear_when_the_answer_is_lost(tmp_path: Path) -> None:
    posted = post(ScriptedCrm("landed-lost"), tmp_path)
    assert (S.POSTING, S.UNCLEAR) in moves(posted)


def test_posting_to_refused_on_a_400(tmp_path: Path) -> None:
    posted = post(ScriptedCrm(400), tmp_path)
    assert (S.POSTING, S.REFUSED) in moves(posted)


def test_posting_to_new_when_certainly_not_sent(tmp_path: Path) -> None:
    crm = ScriptedCrm("not-sent", "ok")
    posted = post(crm, tmp_path)
    assert moves(posted) == [
        (S.NEW, S.POSTING),
        (S.POSTING, S.NEW),
        (S.NEW, S.POSTING),
        (S.POSTING, S.CREATED),
    ]
    assert len(crm.records) == 1


def test_posting_to_failed_on_another_refusal(tmp_path: Path) -> None:
    posted = post(ScriptedCrm(422), tmp_path)
    assert moves(posted) == [(S.NEW, S.POSTING), (S.POSTING, S.FAILED)]
    assert "422" in posted.outcomes[NUMBER].message and journal_state(tmp_path) is JournalState.FAILED


def test_posting_to_pending_when_the_token_is_rejected(tmp_path: Path) -> None:
    posted = post(ScriptedCrm(401), tmp_path)
    assert moves(posted) == [(S.NEW, S.POSTING), (S.POSTING, S.PENDING)]
    assert posted.fatal is not None and journal_state(tmp_path) is JournalState.POSTING


# ----------------------------------------------------------------------------- from UNCLEAR


def test_unclear_to_adopted_when_the_lost_create_landed(tmp_path: Path) -> None:
    crm = ScriptedCrm("landed-lost")
    posted = post(crm, tmp_path)
    assert moves(posted)[-1] == (S.UNCLEAR, S.ADOPTED) and crm.creates == 1
    assert (
        posted.outcomes[NUMBER].status is Status.CREATED and journal_state(tmp_path) is JournalState.CREATED
    )


def test_unclear_to_exists_when_an_invoice_this_user_cannot_see_took_the_number(tmp_path: Path) -> None:
    posted = post(ScriptedCrm("lost-hidden"), tmp_path)
    assert moves(posted)[-1] == (S.UNCLEAR, S.EXISTS)
    assert "you cannot see in the CRM" in posted.outcomes[NUMBER].message
    assert journal_state(tmp_path) is None


def test_unclear_to_posting_when_the_lost_create_did_not_land(tmp_path: Path) -> None:
    crm = ScriptedCrm("lost", "ok")
    posted = post(crm, tmp_path)
    assert (S.UNCLEAR, S.POSTING) in moves(posted) and moves(posted)[-1] == (S.POSTING, S.CREATED)
    assert crm.creates == 2 and len(crm.records) == 1


def test_unclear_to_failed_when_no_retry_is_left(tmp_path: Path) -> None:
    posted = post(ScriptedCrm(500), tmp_path)  # a 500 is not retried; the number is not found
    assert moves(posted)[-1] == (S.UNCLEAR, S.FAILED)
    assert journal_state(tmp_path) is JournalState.POSTING  # sent: the next run asks the CRM first


def test_unclear_to_pending_when_stopped_before_sending_again(tmp_path: Path) -> None:
    stop = asyncio.Event()
    posted = post(ScriptedCrm("lost", on_create=stop.set), tmp_path, stop=stop)
    assert moves(posted)[-1] == (S.UNCLEAR, S.PENDING)
    assert journal_state(tmp_path) is JournalState.POSTING


# ----------------------------------------------------------------------------- from REFUSED


def test_refused_to_exists_when_the_number_holds_an_invoice_this_user_cannot_see(tmp_path: Path) -> None:
    # contract: `invoice/bynumber` "403 if the caller may not read it": an answer, not an error
    crm = ScriptedCrm("taken-hidden")
    posted = post(crm, tmp_path)
    assert moves(posted)[-1] == (S.REFUSED, S.EXISTS) and posted.fatal is None
    outcome = posted.outcomes[NUMBER]
    assert outcome.message.startswith("the number is already used by an invoice you cannot see in the CRM")
    assert outcome.crm_id is None and crm.creates == 1


def test_refused_to_adopted_when_the_number_holds_this_very_invoice(tmp_path: Path) -> None:
    posted = post(ScriptedCrm("taken-same"), tmp_path)
    assert moves(posted)[-1] == (S.REFUSED, S.ADOPTED)
    assert "adopted" in posted.outcomes[NUMBER].message


def test_refused_to_exists_when_the_number_holds_another_invoice(tmp_path: Path) -> None:
    posted = post(ScriptedCrm("taken-other"), tmp_path)
    assert moves(posted)[-1] == (S.REFUSED, S.EXISTS)
    assert journal_state(tmp_path) is None


def test_refused_to_failed_when_the_number_is_free(tmp_path: Path) -> None:
    posted = post(ScriptedCrm(400), tmp_path)
    assert moves(posted)[-1] == (S.REFUSED, S.FAILED)
    assert "nothing was created" in posted.outcomes[NUMBER].message


def test_refused_to_pending_when_the_look_up_fails(tmp_path: Path) -> None:
    crm = ScriptedCrm(400)

    def reject_lookups() -> None:
        crm.lookups = 401  # the token is rejected from the create on

    crm.on_create = reject_lookups
    posted = post(crm, tmp_path)
    assert moves(posted)[-1] == (S.REFUSED, S.PENDING) and posted.fatal is not None


# ----------------------------------------------------------------------------- the table itself


def test_every_transition_has_its_test_above() -> None:
    tested = {
        (a, b)
        for name in globals()
        if name.startswith("test_") and "_to_" in name
        for a in S
        for b in S
        if name.startswith(f"test_{a.value}_to_{b.value}_")
    }
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert tested == table


@pytest.mark.parametrize("current", list(S))
def test_advance_refuses_every_move_not_in_the_table(current: PostState) -> None:
    for target in S:
        if target in TRANSITIONS[current]:
            assert advance(current, target) is target
        else:
            with pytest.raises(TransitionError):
                advance(current, target)


def test_final_states_have_a_status_and_no_way_out() -> None:
    assert set(STATUS_OF_FINAL) == FINAL == {s for s in S if not TRANSITIONS[s]}
    assert S.NEW not in FINAL
