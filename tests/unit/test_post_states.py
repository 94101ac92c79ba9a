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
from importer.models import CrmStatus, Outcome, ResolvedInvoice, Status
from importer.payload import build_payload, content_hash
from importer.post import (
    FINAL,
    STATUS_OF_FINAL,
    TRANSITIONS,
    Posted,
    PostState,
    TransitionError,
    advance,
    classify_existing,
    move_to_targets,
    needs_moves,
    post_invoices,
    update_changed,
)
from importer.sandbox import SandboxServer
from tests.unit.test_post import make_client, make_invoice

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
        path[0] is S.NEW and path[-1] in FINAL and posted.outcomes[NUMBER].status in STATUS_OF_FINAL[path[-1]]
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


def test_final_states_have_a_status_and_those_without_a_way_out_are_final() -> None:
    assert set(STATUS_OF_FINAL) == FINAL >= {s for s in S if not TRANSITIONS[s]}
    # created, adopted, skipped, changed and updated are final unless moves (or --update) follow
    assert FINAL - {s for s in S if not TRANSITIONS[s]} == {
        S.CREATED,
        S.ADOPTED,
        S.SKIPPED,
        S.CHANGED,
        S.UPDATED,
    }
    assert S.NEW not in FINAL and S.MOVING not in FINAL and S.UPDATING not in FINAL


# ----------------------------------------------------------------------------- after the create (issue 14)
# Against the sandbox over real HTTP: the status moves and updates follow its lifecycle routes.


def _lifecycle(
    server: SandboxServer,
    tmp_path: Path,
    invoices: list[ResolvedInvoice],
    *,
    update: bool = False,
    before: Callable[[Journal], None] | None = None,
    stop_moves: bool = False,
    retry: int = 3,
) -> tuple[dict[str, Outcome], dict[str, tuple[PostState, ...]]]:
    """As the pipeline: classify, post, update (``update``), move; every outcome and every path."""
    client = make_client(server, retry=RetryPolicy(attempts=retry, base_delay=0.001, max_delay=0.001))

    async def go() -> tuple[dict[str, Outcome], dict[str, tuple[PostState, ...]]]:
        with Journal.open(tmp_path / "journal.sqlite", server.url) as journal:
            if before is not None:
                before(journal)
            async with client:
                outcomes = await classify_existing(invoices, client, journal)
                paths: dict[str, tuple[PostState, ...]] = {}
                posted = await post_invoices(
                    [i for i in invoices if i.number not in outcomes], client, journal
                )
                outcomes.update(posted.outcomes)
                paths.update(posted.paths)
                if update:
                    changed = [
                        (i, outcomes[i.number])
                        for i in invoices
                        if outcomes[i.number].status is Status.CHANGED
                    ]
                    done = await update_changed(changed, client, journal)
                    outcomes.update(done.outcomes)
                    paths.update({n: (*paths.get(n, ()), *p) for n, p in done.paths.items()})
                movable = [
                    (i, outcomes[i.number]) for i in invoices if needs_moves(i, outcomes[i.number], journal)
                ]
                stop = asyncio.Event()
                if stop_moves:
                    stop.set()
                states = {n: p[-1] for n, p in paths.items()}
                moved = await move_to_targets(movable, client, journal, stop=stop, states=states)
                outcomes.update(moved.outcomes)
                paths.update({n: (*paths.get(n, ()), *p) for n, p in moved.paths.items()})
        return outcomes, paths

    return asyncio.run(go())


def _with_status(number: str, status: CrmStatus, **kwargs: Any) -> ResolvedInvoice:
    return make_invoice(number, status=status, **kwargs)


def _crm_invoice(server: SandboxServer, crm_id: int) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}/api/2.0/crm/invoice/{crm_id}", headers={"Authorization": "sandbox"})
    answer.raise_for_status()
    record: dict[str, Any] = answer.json()["response"]
    return record


def _move(server: SandboxServer, crm_id: int, status: str) -> None:
    answer = httpx.put(
        f"{server.url}/api/2.0/crm/invoice/status/{status}",
        json={"invoiceids": [crm_id]},
        headers={"Authorization": "sandbox"},
    )
    answer.raise_for_status()


def _pairs(path: tuple[PostState, ...]) -> list[tuple[PostState, PostState]]:
    return [(a, b) for a, b in itertools.pairwise(path) if a is not b]


def test_created_to_moving_then_moving_to_moved_at_the_files_status(
    fresh_sandbox: SandboxServer, tmp_path: Path
) -> None:
    paid = _with_status("MV-1", CrmStatus.PAID)
    outcomes, paths = _lifecycle(fresh_sandbox, tmp_path, [paid])
    assert (S.CREATED, S.MOVING) in _pairs(paths["MV-1"]) and paths["MV-1"][-1] is S.MOVED
    outcome = outcomes["MV-1"]
    assert outcome.status is Status.CREATED and outcome.crm_status is CrmStatus.PAID
    assert _crm_invoice(fresh_sandbox, outcome.crm_id or 0)["status"]["id"] == CrmStatus.PAID


def test_moving_to_moved_rejected_goes_through_sent(fresh_sandbox: SandboxServer, tmp_path: Path) -> None:
    outcomes, paths = _lifecycle(fresh_sandbox, tmp_path, [_with_status("MV-R", CrmStatus.REJECTED)])
    assert (
        _pairs(paths["MV-R"])[-1] == (S.MOVING, S.MOVED) and outcomes["MV-R"].crm_status is CrmStatus.REJECTED
    )


def test_adopted_to_moving_when_the_lost_create_landed(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    server = sandbox_factory(drop_rate=1.0)  # every create saved, its answer dropped
    outcomes, paths = _lifecycle(server, tmp_path, [_with_status("MV-A", CrmStatus.SENT)])
    assert (S.ADOPTED, S.MOVING) in _pairs(paths["MV-A"]) and outcomes["MV-A"].crm_status is CrmStatus.SENT


def test_skipped_to_moving_a_rerun_finishes_the_moves(fresh_sandbox: SandboxServer, tmp_path: Path) -> None:
    paid = _with_status("MV-S", CrmStatus.PAID)
    first, paths = _lifecycle(fresh_sandbox, tmp_path, [paid], stop_moves=True)  # interrupted before moving
    assert first["MV-S"].status is Status.INCOMPLETE and first["MV-S"].crm_status is CrmStatus.DRAFT
    again, paths = _lifecycle(fresh_sandbox, tmp_path, [paid])
    assert _pairs(paths["MV-S"]) == [(S.SKIPPED, S.MOVING), (S.MOVING, S.MOVED)]
    assert again["MV-S"].status is Status.SKIPPED and again["MV-S"].crm_status is CrmStatus.PAID


def test_moving_to_incomplete_when_interrupted_and_a_rerun_completes_it(
    fresh_sandbox: SandboxServer, tmp_path: Path
) -> None:
    sent = _with_status("MV-I", CrmStatus.SENT)
    outcomes, paths = _lifecycle(fresh_sandbox, tmp_path, [sent], stop_moves=True)
    assert _pairs(paths["MV-I"])[-1] == (S.MOVING, S.INCOMPLETE)
    assert "run the same import again" in outcomes["MV-I"].message


def test_a_skipped_invoice_someone_moved_off_the_path_is_left_alone(
    fresh_sandbox: SandboxServer, tmp_path: Path
) -> None:
    paid = _with_status("MV-O", CrmStatus.PAID)
    first, _ = _lifecycle(fresh_sandbox, tmp_path, [paid], stop_moves=True)
    crm_id = first["MV-O"].crm_id or 0
    _move(fresh_sandbox, crm_id, "sent")  # someone sends it and rejects it before the re-run
    _move(fresh_sandbox, crm_id, "rejected")
    again, paths = _lifecycle(fresh_sandbox, tmp_path, [paid])
    # Rejected is off the way Draft → Sent → Paid: the import does not chase it (skipped, its status shown)
    assert again["MV-O"].status is Status.SKIPPED and again["MV-O"].crm_status is CrmStatus.REJECTED
    assert "MV-O" not in paths


def test_moving_to_incomplete_when_the_crm_does_not_make_the_move(
    fresh_sandbox: SandboxServer, tmp_path: Path
) -> None:
    paid = _with_status("MV-N", CrmStatus.PAID)
    first, _ = _lifecycle(fresh_sandbox, tmp_path, [paid], stop_moves=True)
    crm_id = first["MV-N"].crm_id or 0

    async def go() -> tuple[Outcome, tuple[PostState, ...]]:
        client = make_client(fresh_sandbox)
        with Journal.open(tmp_path / "journal.sqlite", fresh_sandbox.url) as journal:
            async with client:
                # the outcome says Draft, but someone moved it to Sent and Paid meanwhile: Draft→Sent is not
                # made (Paid→Sent would be: the import never sends a move without the status it starts from)
                _move(fresh_sandbox, crm_id, "sent")
                _move(fresh_sandbox, crm_id, "paid")
                _move(fresh_sandbox, crm_id, "sent")
                _move(fresh_sandbox, crm_id, "rejected")
                created = Outcome(Status.CREATED, crm_id=crm_id, crm_status=CrmStatus.DRAFT)
                moved = await move_to_targets([(paid, created)], client, journal)
        return moved.outcomes["MV-N"], moved.paths["MV-N"]

    outcome, path = asyncio.run(go())
    assert _pairs(path)[-1] == (S.MOVING, S.INCOMPLETE)
    assert outcome.status is Status.INCOMPLETE and "did not move it to Sent" in outcome.message


def test_changed_to_updating_then_updating_to_updated_in_place(
    fresh_sandbox: SandboxServer, tmp_path: Path
) -> None:
    first, _ = _lifecycle(fresh_sandbox, tmp_path, [make_invoice("UP-1")])
    fixed = make_invoice("UP-1", quantity="90")
    outcomes, paths = _lifecycle(fresh_sandbox, tmp_path, [fixed], update=True)
    assert _pairs(paths["UP-1"]) == [(S.CHANGED, S.UPDATING), (S.UPDATING, S.UPDATED)]
    outcome = outcomes["UP-1"]
    assert outcome.status is Status.UPDATED and outcome.crm_id == first["UP-1"].crm_id
    assert outcome.crm_total == fixed.total
    assert Decimal(str(_crm_invoice(fresh_sandbox, outcome.crm_id or 0)["cost"])) == fixed.total


def test_updating_to_updated_when_an_interrupted_update_had_reached_the_crm(
    fresh_sandbox: SandboxServer, tmp_path: Path
) -> None:
    first, _ = _lifecycle(fresh_sandbox, tmp_path, [make_invoice("UP-I")])
    fixed = make_invoice("UP-I", quantity="90")
    body = build_payload(fixed)
    crm_id = first["UP-I"].crm_id or 0

    def killed_after_the_put(journal: Journal) -> None:  # the journal said `updating`, the PUT landed
        journal.mark_updating("UP-I", content_hash(body))
        sent = {key: value for key, value in body.items() if key != "number"}
        url = f"{fresh_sandbox.url}/api/2.0/crm/invoice/{crm_id}"
        httpx.put(url, json=sent, headers={"Authorization": "sandbox"}).raise_for_status()

    outcomes, paths = _lifecycle(fresh_sandbox, tmp_path, [fixed], update=True, before=killed_after_the_put)
    assert _pairs(paths["UP-I"]) == [(S.CHANGED, S.UPDATING), (S.UPDATING, S.UPDATED)]
    assert outcomes["UP-I"].status is Status.UPDATED and "had reached the CRM" in outcomes["UP-I"].message
    with Journal.open(tmp_path / "journal.sqlite", fresh_sandbox.url) as journal:
        entry = journal.entry("UP-I")
        assert (
            entry is not None
            and entry.state is JournalState.CREATED
            and entry.content_hash == content_hash(body)
        )


def test_updated_to_moving_when_the_file_also_asks_for_a_status(
    fresh_sandbox: SandboxServer, tmp_path: Path
) -> None:
    _lifecycle(fresh_sandbox, tmp_path, [make_invoice("UP-M")])
    fixed = make_invoice("UP-M", quantity="90", status=CrmStatus.SENT)
    outcomes, paths = _lifecycle(fresh_sandbox, tmp_path, [fixed], update=True)
    assert (S.UPDATED, S.MOVING) in _pairs(paths["UP-M"])
    assert outcomes["UP-M"].status is Status.UPDATED and outcomes["UP-M"].crm_status is CrmStatus.SENT


def test_updating_to_changed_when_the_crm_refuses_the_update(
    fresh_sandbox: SandboxServer, tmp_path: Path
) -> None:
    _lifecycle(fresh_sandbox, tmp_path, [make_invoice("UP-X")])
    fixed = make_invoice("UP-X", quantity="90", item_id=999)  # an item the CRM does not have: 400
    outcomes, paths = _lifecycle(fresh_sandbox, tmp_path, [fixed], update=True)
    assert _pairs(paths["UP-X"])[-1] == (S.UPDATING, S.CHANGED)
    assert "refused the update" in outcomes["UP-X"].message
    with Journal.open(tmp_path / "journal.sqlite", fresh_sandbox.url) as journal:
        assert (entry := journal.entry("UP-X")) is not None and entry.state is JournalState.CREATED


def test_updating_to_pending_when_the_crm_cannot_be_reached(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    server = sandbox_factory()
    _lifecycle(server, tmp_path, [make_invoice("UP-P")])
    fixed = make_invoice("UP-P", quantity="90")

    class NoPut(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "PUT":
                raise httpx.ReadTimeout("no answer", request=request)
            return await self.inner.handle_async_request(request)

    client = make_client(
        server, transport=NoPut(), retry=RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.001)
    )

    async def go() -> tuple[Outcome, tuple[PostState, ...], JournalState | None]:
        with Journal.open(tmp_path / "journal.sqlite", server.url) as journal:
            async with client:
                outcomes = await classify_existing([fixed], client, journal)
                done = await update_changed([(fixed, outcomes["UP-P"])], client, journal)
            entry = journal.entry("UP-P")
        return done.outcomes["UP-P"], done.paths["UP-P"], entry.state if entry else None

    outcome, path, state = asyncio.run(go())
    assert _pairs(path)[-1] == (S.UPDATING, S.PENDING) and state is JournalState.UPDATING
    assert outcome.status is Status.PENDING and "--update" in outcome.message
    # the re-run sends the update again and converges
    outcomes, _ = _lifecycle(server, tmp_path, [fixed], update=True)
    assert outcomes["UP-P"].status is Status.UPDATED and outcomes["UP-P"].crm_total == fixed.total


def test_changed_stays_changed_when_the_crm_copy_is_not_a_draft_or_was_changed_there(
    fresh_sandbox: SandboxServer, tmp_path: Path
) -> None:
    first, _ = _lifecycle(fresh_sandbox, tmp_path, [make_invoice("UP-N"), make_invoice("UP-L")])
    _move(fresh_sandbox, first["UP-N"].crm_id or 0, "sent")
    crm_id = first["UP-L"].crm_id or 0
    body = {**build_payload(make_invoice("UP-L", quantity="50"))}
    body.pop("number")
    httpx.put(
        f"{fresh_sandbox.url}/api/2.0/crm/invoice/{crm_id}", json=body, headers={"Authorization": "sandbox"}
    ).raise_for_status()
    fixed = [make_invoice("UP-N", quantity="90"), make_invoice("UP-L", quantity="90")]
    outcomes, paths = _lifecycle(fresh_sandbox, tmp_path, fixed, update=True)
    assert outcomes["UP-N"].status is Status.CHANGED and "only a Draft invoice" in outcomes["UP-N"].message
    assert (
        outcomes["UP-L"].status is Status.CHANGED and "changed in the CRM since" in outcomes["UP-L"].message
    )
    assert S.UPDATING not in paths.get("UP-N", ()) and S.UPDATING not in paths.get("UP-L", ())


def test_a_move_that_landed_before_it_was_recorded_is_recorded_by_the_rerun(
    fresh_sandbox: SandboxServer, tmp_path: Path
) -> None:
    sent = _with_status("MV-L", CrmStatus.SENT)
    first, _ = _lifecycle(fresh_sandbox, tmp_path, [sent], stop_moves=True)

    def killed_after_the_move(journal: Journal) -> None:  # journal `moving_to` Sent, the move landed
        journal.mark_moving("MV-L", int(CrmStatus.SENT))
        _move(fresh_sandbox, first["MV-L"].crm_id or 0, "sent")

    again, paths = _lifecycle(fresh_sandbox, tmp_path, [sent], before=killed_after_the_move)
    assert again["MV-L"].status is Status.SKIPPED and again["MV-L"].crm_status is CrmStatus.SENT
    assert "MV-L" not in paths  # nothing sent again
    with Journal.open(tmp_path / "journal.sqlite", fresh_sandbox.url) as journal:
        entry = journal.entry("MV-L")
        assert entry is not None and (entry.crm_status, entry.moving_to) == (int(CrmStatus.SENT), None)
