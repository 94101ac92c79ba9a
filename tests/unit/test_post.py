"""The posting stage: the request body, and exactly-once creation against the sandbox over real HTTP."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from importer.client import CrmClient, RetryPolicy
from importer.errors import CrmAuthError, CrmUnreachableError, JournalLockedError
from importer.journal import Journal, JournalState
from importer.models import Outcome, ResolvedInvoice, Status
from importer.payload import build_payload, content_hash
from importer.post import Posted, classify_existing, post_invoices
from importer.sandbox import SandboxServer
from tests import builders

TOKEN = "sandbox"
CREATE_ROUTE = ("POST", "/api/2.0/crm/invoice")
Outcomes = dict[str, Outcome]


# ----------------------------------------------------------------------------- helpers


def make_invoice(
    number: str,
    *,
    quantity: str = "100",
    item_id: int = 1,
    price: str = "7.70",
    description: str | None = None,
    **values: Any,
) -> ResolvedInvoice:
    """A resolved invoice of one line: ``quantity`` of item ``item_id`` at ``price``, 25% off, tax 1 (20%)."""
    line = builders.line(2, str(item_id), quantity, price, discount="25", tax1="1", description=description)
    source = builders.invoice(number, [line], contact="Acme Ltd", **values)
    return builders.resolved(source, item_ids=[item_id], tax_ids=[(1, Decimal("20"))])


async def quick_sleep(delay: float) -> None:
    await asyncio.sleep(min(delay, 0.002))


def make_client(server: SandboxServer, **kwargs: Any) -> CrmClient:
    options: dict[str, Any] = {
        "token": TOKEN,
        "retry": RetryPolicy(attempts=12, base_delay=0.01, max_delay=0.05),
        "sleep": quick_sleep,
        "rate": None,
    }
    options.update(kwargs)
    return CrmClient(server.url, **options)


async def classify_then_post(
    invoices: list[ResolvedInvoice],
    client: CrmClient,
    journal: Journal,
    *,
    post: bool = True,
    stop: asyncio.Event | None = None,
) -> tuple[Outcomes, Posted | None]:
    """classify_existing, then post_invoices of those it did not settle, as the pipeline does: every
    outcome by number, and what posting returned (None when not posting)."""
    outcomes = await classify_existing(invoices, client, journal)
    if not post:
        return outcomes, None
    posted = await post_invoices(
        [i for i in invoices if i.number not in outcomes], client, journal, stop=stop
    )
    return {**outcomes, **posted.outcomes}, posted


def run_import(
    server: SandboxServer,
    journal_path: Path,
    invoices: list[ResolvedInvoice],
    *,
    post: bool = True,
    **kwargs: Any,
) -> Outcomes:
    """classify_existing then post_invoices, as the pipeline does; every outcome by number."""
    client = make_client(server, **kwargs)

    async def go() -> Outcomes:
        with Journal.open(journal_path, server.url) as journal:
            async with client:
                outcomes, posted = await classify_then_post(invoices, client, journal, post=post)
        assert posted is None or posted.fatal is None, posted.fatal
        return outcomes

    return asyncio.run(go())


def post_only(
    client: CrmClient, journal_path: Path, url: str, invoices: list[ResolvedInvoice], **kwargs: Any
) -> Posted:
    """post_invoices alone (no classification first)."""

    async def go() -> Posted:
        with Journal.open(journal_path, url) as journal:
            async with client:
                return await post_invoices(invoices, client, journal, **kwargs)

    return asyncio.run(go())


def crm_numbers(server: SandboxServer) -> Counter[str]:
    """How many invoices the CRM holds per (case-folded) number, read over plain HTTP (past injected 503s)."""
    for _ in range(50):
        response = httpx.get(
            f"{server.url}/api/2.0/crm/invoice/filter",
            params={"count": 1000},
            headers={"Authorization": TOKEN},
        )
        if response.status_code != 503:
            break
    response.raise_for_status()
    return Counter(str(invoice["number"]).casefold() for invoice in response.json()["response"])


def create_directly(server: SandboxServer, invoice: ResolvedInvoice) -> int:
    response = httpx.post(
        f"{server.url}/api/2.0/crm/invoice", json=build_payload(invoice), headers={"Authorization": TOKEN}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["response"]["id"])


def statuses(outcomes: Mapping[str, Outcome], invoices: Iterable[ResolvedInvoice]) -> Counter[Status]:
    """The status of each invoice (every one has an outcome)."""
    return Counter(outcomes[invoice.number].status for invoice in invoices)


@pytest.fixture
def server(fresh_sandbox: SandboxServer) -> SandboxServer:
    """The shared sandbox (tests/conftest.py), reset to its seed."""
    return fresh_sandbox


FaultServer = Callable[..., SandboxServer]


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


# ----------------------------------------------------------------------------- the body


def test_payload_is_the_exact_body_the_crm_reads() -> None:
    invoice = make_invoice("INV-001", purchase_order_number="PO-7", description="Blue widgets")
    assert build_payload(invoice) == {
        "number": "INV-001",
        "issueDate": "2026-06-01",
        "dueDate": "2026-07-01",
        "contactId": 1,
        "consigneeId": 0,
        "entityId": 0,
        "billingAddressID": 0,
        "deliveryAddressID": 0,
        "language": "en-US",
        "currency": "EUR",
        "exchangeRate": "1.00",
        "terms": "Net 30",
        "templateType": 0,
        "purchaseOrderNumber": "PO-7",
        "invoiceLines": [
            {
                "invoiceItemID": 1,
                "invoiceTax1ID": 1,
                "invoiceTax2ID": 0,
                "quantity": "100.00",
                "price": "7.70",
                "discount": "25.00",
                "description": "Blue widgets",
            }
        ],
    }


def test_content_hash_is_canonical() -> None:
    payload = build_payload(make_invoice("A"))
    reordered = dict(reversed(list(payload.items())))
    assert content_hash(payload) == content_hash(reordered)
    assert content_hash(payload) != content_hash(build_payload(make_invoice("A", quantity="101")))


# ----------------------------------------------------------------------------- posting


def test_posting_creates_each_invoice_with_the_crm_total(server: SandboxServer, journal_path: Path) -> None:
    invoices = [make_invoice(f"INV-{n:03}", quantity=str(n)) for n in range(1, 6)]
    seen: list[tuple[str, Status]] = []

    posted = post_only(
        make_client(server),
        journal_path,
        server.url,
        invoices,
        progress=lambda number, outcome: seen.append((number, outcome.status)),
    )
    assert posted.fatal is None
    assert statuses(posted.outcomes, invoices) == {Status.CREATED: 5}
    assert sorted(posted.outcomes) == [i.number for i in invoices]  # one outcome per invoice given
    assert sorted(seen) == [(i.number, Status.CREATED) for i in invoices]
    for invoice in invoices:
        outcome = posted.outcomes[invoice.number]
        assert outcome.crm_id is not None and outcome.crm_total == invoice.total
    assert crm_numbers(server) == Counter({i.number.casefold(): 1 for i in invoices})
    with Journal.open(journal_path, server.url) as journal:
        entry = journal.entry("inv-003")
    assert entry is not None and entry.state is JournalState.CREATED
    assert entry.crm_id == posted.outcomes["INV-003"].crm_id


def test_a_rerun_skips_what_was_created_with_the_same_ids(server: SandboxServer, journal_path: Path) -> None:
    first = [make_invoice(f"INV-{n}") for n in range(4)]
    outcomes = run_import(server, journal_path, first)
    ids = {number: outcome.crm_id for number, outcome in outcomes.items()}
    creates = server.stats.invoice_creates

    again = [make_invoice(f"INV-{n}") for n in range(4)]
    outcomes = run_import(server, journal_path, again)
    assert statuses(outcomes, again) == {Status.SKIPPED: 4}
    assert {number: outcome.crm_id for number, outcome in outcomes.items()} == ids
    assert all(outcomes[i.number].crm_total == i.total for i in again)
    assert all("differs" not in outcomes[i.number].message for i in again)
    assert server.stats.invoice_creates == creates


def test_changed_rows_are_changed_never_posted_again(server: SandboxServer, journal_path: Path) -> None:
    # issue 12, point 6: "reported as `changed` (a new status: created earlier, the file now differs,
    # nothing posted)"
    run_import(server, journal_path, [make_invoice("INV-9")])
    changed = make_invoice("INV-9", quantity="3")
    outcome = run_import(server, journal_path, [changed])["INV-9"]
    assert outcome.status is Status.CHANGED and outcome.crm_id is not None
    assert "differs from what was imported" in outcome.message
    assert server.stats.invoice_creates == 1
    assert crm_numbers(server) == Counter({"inv-9": 1})


def test_someone_elses_invoice_with_the_number_is_reported_as_exists(
    server: SandboxServer, journal_path: Path
) -> None:
    theirs = create_directly(server, make_invoice("INV-77"))
    invoices = [make_invoice("inv-77"), make_invoice("INV-78")]
    outcomes = run_import(server, journal_path, invoices)
    assert outcomes["inv-77"].status is Status.EXISTS
    assert outcomes["inv-77"].crm_id == theirs
    assert outcomes["INV-78"].status is Status.CREATED
    assert crm_numbers(server) == Counter({"inv-77": 1, "inv-78": 1})


def test_a_number_taken_after_the_check_is_exists_not_adopted(
    server: SandboxServer, journal_path: Path
) -> None:
    invoice = make_invoice("INV-5")
    assert run_import(server, journal_path, [invoice], post=False) == {}  # free at the check
    theirs = create_directly(server, make_invoice("INV-5", quantity="1", item_id=2))
    outcome = run_import(server, journal_path, [invoice])["INV-5"]  # classify again: now taken
    assert outcome.status is Status.EXISTS
    assert outcome.crm_id == theirs

    late = make_invoice("INV-6")  # taken between the check and the create: the CRM answers 400

    async def go() -> Outcomes:
        with Journal.open(journal_path, server.url) as journal:
            async with make_client(server) as client:
                assert await classify_existing([late], client, journal) == {}
                create_directly(server, make_invoice("INV-6", item_id=2))
                return (await post_invoices([late], client, journal)).outcomes

    assert asyncio.run(go())["INV-6"].status is Status.EXISTS
    assert crm_numbers(server)["inv-6"] == 1


def test_a_refused_invoice_fails_saying_what_was_sent_and_what_the_crm_answered(
    server: SandboxServer, journal_path: Path
) -> None:
    invoice = make_invoice("INV-404", item_id=999)
    outcome = run_import(server, journal_path, [invoice])["INV-404"]
    assert outcome.status is Status.FAILED
    message = outcome.message
    assert "400" in message and "Value does not fall within the expected range." in message
    assert '"invoiceItemID": 999' in message and "nothing was created" in message
    with Journal.open(journal_path, server.url) as journal:
        entry = journal.entry("INV-404")
    assert entry is not None and entry.state is JournalState.FAILED
    # fixed in the file and run again: posted
    fixed = make_invoice("INV-404")
    assert run_import(server, journal_path, [fixed])["INV-404"].status is Status.CREATED
    stored = b"".join(p.read_bytes() for p in journal_path.parent.glob(journal_path.name + "*"))
    assert b"INV-404" in stored and TOKEN.encode() not in stored  # the secret never reaches the journal


def test_numbers_differing_only_in_case_are_never_created_twice(
    server: SandboxServer, journal_path: Path
) -> None:
    invoices = [make_invoice("DUP-1"), make_invoice("dup-1"), make_invoice("Dup-1")]
    outcomes = run_import(server, journal_path, invoices, concurrency=3)
    assert crm_numbers(server) == Counter({"dup-1": 1})
    assert server.stats.invoice_creates == 1
    assert statuses(outcomes, invoices)[Status.CREATED] == 1


# ----------------------------------------------------------------------------- interruption and crashes


def test_a_posting_entry_whose_invoice_landed_is_adopted_without_posting(
    server: SandboxServer, journal_path: Path
) -> None:
    invoice = make_invoice("INV-K")
    crm_id = create_directly(server, invoice)  # the create landed, then the process was killed
    with Journal.open(journal_path, server.url) as journal:
        journal.mark_posting("INV-K", content_hash(build_payload(invoice)))
    again = make_invoice("INV-K")
    outcome = run_import(server, journal_path, [again])["INV-K"]
    assert outcome.status is Status.SKIPPED
    assert outcome.crm_id == crm_id and outcome.crm_total == again.total
    assert server.stats.invoice_creates == 1
    with Journal.open(journal_path, server.url) as journal:
        entry = journal.entry("INV-K")
    assert entry is not None and entry.state is JournalState.CREATED and entry.crm_id == crm_id


def test_a_posting_entry_whose_invoice_did_not_land_is_posted_once(
    server: SandboxServer, journal_path: Path
) -> None:
    invoice = make_invoice("INV-L")
    with Journal.open(journal_path, server.url) as journal:
        journal.mark_posting("INV-L", content_hash(build_payload(invoice)))
    # post without classifying first: post_invoices looks the number up itself
    posted = post_only(make_client(server), journal_path, server.url, [invoice])
    assert posted.outcomes["INV-L"].status is Status.CREATED
    assert server.stats.routes().get(("GET", "/api/2.0/crm/invoice/bynumber"), 0) == 1
    assert crm_numbers(server) == Counter({"inv-l": 1})


def test_stop_starts_nothing_new_and_leaves_the_rest_pending(
    server: SandboxServer, journal_path: Path
) -> None:
    invoices = [make_invoice(f"S-{n}") for n in range(10)]
    stop = asyncio.Event()

    posted = post_only(
        make_client(server, concurrency=2),
        journal_path,
        server.url,
        invoices,
        stop=stop,
        progress=lambda number, outcome: stop.set(),
    )
    counts = statuses(posted.outcomes, invoices)
    assert 1 <= counts[Status.CREATED] <= 2  # the in-flight ones finished
    assert counts[Status.CREATED] + counts[Status.PENDING] == 10
    pending = [o for o in posted.outcomes.values() if o.status is Status.PENDING]
    assert all("interrupted" in outcome.message for outcome in pending)
    assert sum(crm_numbers(server).values()) == counts[Status.CREATED]
    assert posted.fatal is None


def test_a_second_run_against_the_same_crm_is_refused(server: SandboxServer, journal_path: Path) -> None:
    with Journal.open(journal_path, server.url), pytest.raises(JournalLockedError, match="another"):
        run_import(server, journal_path, [make_invoice("X-1")])
    assert server.stats.total_requests == 0


# ----------------------------------------------------------------------------- faults


def test_error_rate_every_number_exactly_once_then_skipped(
    sandbox_factory: FaultServer, journal_path: Path
) -> None:
    invoices = [make_invoice(f"E-{n:02}", quantity=str(n + 1)) for n in range(25)]
    server = sandbox_factory(random_seed=7, error_rate=0.3)
    outcomes = run_import(server, journal_path, invoices)
    assert server.stats.unavailable > 0
    assert statuses(outcomes, invoices) == {Status.CREATED: 25}
    assert all(outcomes[i.number].crm_total == i.total for i in invoices)
    assert crm_numbers(server) == Counter({i.number.casefold(): 1 for i in invoices})
    again = [make_invoice(f"E-{n:02}", quantity=str(n + 1)) for n in range(25)]
    outcomes_again = run_import(server, journal_path, again)
    assert statuses(outcomes_again, again) == {Status.SKIPPED: 25}
    assert [outcomes_again[i.number].crm_id for i in again] == [outcomes[i.number].crm_id for i in invoices]
    assert server.stats.invoice_creates == 25


def test_dropped_answers_are_adopted_never_posted_twice(
    sandbox_factory: FaultServer, journal_path: Path
) -> None:
    invoices = [make_invoice(f"D-{n:02}") for n in range(25)]
    server = sandbox_factory(random_seed=7, drop_rate=0.5, racy_numbers=True, latency_ms=2, jitter_ms=5)
    outcomes = run_import(server, journal_path, invoices, concurrency=6)
    assert server.stats.drops > 0
    assert statuses(outcomes, invoices) == {Status.CREATED: 25}
    assert server.stats.invoice_creates == 25  # not one create more than invoices
    assert server.stats.routes()[CREATE_ROUTE] == 25  # a lost answer is looked up, never re-sent
    adopted = [i for i in invoices if "adopted" in outcomes[i.number].message]
    assert len(adopted) == server.stats.drops
    assert all(outcomes[i.number].crm_total == i.total for i in adopted)
    assert crm_numbers(server) == Counter({i.number.casefold(): 1 for i in invoices})


def test_both_faults_at_once(sandbox_factory: FaultServer, journal_path: Path) -> None:
    invoices = [make_invoice(f"F-{n:02}") for n in range(30)]
    server = sandbox_factory(random_seed=7, drop_rate=0.3, error_rate=0.2)
    outcomes = run_import(server, journal_path, invoices)
    assert statuses(outcomes, invoices) == {Status.CREATED: 30}
    assert crm_numbers(server) == Counter({i.number.casefold(): 1 for i in invoices})
    assert server.stats.invoice_creates == 30


def test_give_up_after_the_retry_bound_with_the_reason(
    sandbox_factory: FaultServer, journal_path: Path
) -> None:
    invoice = make_invoice("G-1")
    server = sandbox_factory(random_seed=7, error_rate=1.0)
    client = make_client(server, retry=RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.001))

    posted = post_only(client, journal_path, server.url, [invoice])
    # the CRM cannot be used: returned with every outcome, for the run to end with exit 3
    assert isinstance(posted.fatal, CrmUnreachableError)
    assert server.stats.invoice_creates == 0
    with Journal.open(journal_path, server.url) as journal:
        entry = journal.entry("G-1")
    assert entry is not None and entry.state is JournalState.POSTING  # the next run looks it up first
    # the first POST got 503, then its look-up exhausted the retries: unknown, so pending, not failed
    outcome = posted.outcomes["G-1"]
    assert outcome.status is Status.PENDING
    assert "run the same import again" in outcome.message
    with Journal.open(journal_path, "http://127.0.0.1:1") as journal:
        assert journal.entry("G-1") is None  # keyed per CRM


def test_the_rate_limit_is_respected_across_all_requests(
    sandbox_factory: FaultServer, journal_path: Path
) -> None:
    invoices = [make_invoice(f"R-{n:02}") for n in range(24)]
    server = sandbox_factory(random_seed=7, rate_limit=(12, 0.5))
    outcomes = run_import(server, journal_path, invoices, rate=(12, 0.5), concurrency=8)
    assert server.stats.unavailable == 0
    assert statuses(outcomes, invoices) == {Status.CREATED: 24}


# ----------------------------------------------------------------------------- classification cost


def test_classify_lists_the_crm_when_that_is_cheaper(server: SandboxServer, journal_path: Path) -> None:
    existing = create_directly(server, make_invoice("C-3"))
    invoices = [make_invoice(f"c-{n}") for n in range(30)]
    outcomes = run_import(server, journal_path, invoices, post=False)
    routes = server.stats.routes()
    assert routes.get(("GET", "/api/2.0/crm/invoice/filter")) == 1  # one page holds them all, with the total
    assert routes.get(("GET", "/api/2.0/crm/invoice/bynumber"), 0) == 0
    assert outcomes["c-3"] == Outcome(Status.EXISTS, crm_id=existing, message=outcomes["c-3"].message)
    assert len(outcomes) == 1  # the 29 others are to be posted


def test_classify_looks_up_one_invoice_directly(server: SandboxServer, journal_path: Path) -> None:
    invoice = make_invoice("ONE-1")
    outcomes = run_import(server, journal_path, [invoice], post=False)
    assert server.stats.total_requests == 1
    assert outcomes == {}


# ----------------------------------------------------------------------------- kill -9 at any moment

KILL_SCRIPT = """
import asyncio, sys
from pathlib import Path
from importer.client import CrmClient
from importer.journal import Journal
from tests.unit.test_post import classify_then_post, make_invoice

url, journal_path, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
invoices = [make_invoice(f"K-{n:03}") for n in range(count)]

async def main() -> None:
    with Journal.open(journal_path, url) as journal:
        async with CrmClient(url, token="sandbox", rate=None, concurrency=4) as client:
            print("posting", flush=True)
            outcomes, posted = await classify_then_post(invoices, client, journal)
    print(" ".join(sorted(str(outcomes[invoice.number].status) for invoice in invoices)), flush=True)

asyncio.run(main())
"""


def _spawn_import(url: str, journal_path: Path, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, url, str(journal_path), str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )


@pytest.mark.slow
def test_kill_9_at_any_moment_then_rerun_creates_every_invoice_exactly_once(
    sandbox_factory: FaultServer, journal_path: Path
) -> None:
    count = 40
    server = sandbox_factory(random_seed=3, latency_ms=15, jitter_ms=15, drop_rate=0.2)
    rng = random.Random(11)
    for _ in range(4):
        process = _spawn_import(server.url, journal_path, count)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "posting", process.stderr.read() if process.stderr else ""
        time.sleep(rng.uniform(0.0, 0.25))
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    time.sleep(0.1)  # let requests of the killed processes land
    final = _spawn_import(server.url, journal_path, count)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    outcomes = out.strip().splitlines()[-1].split()
    assert set(outcomes) <= {"created", "skipped"} and len(outcomes) == count, out
    assert crm_numbers(server) == Counter({f"k-{n:03}": 1 for n in range(count)})
    assert server.stats.invoice_creates == count


def test_a_token_rejected_mid_run_leaves_the_rest_pending_and_returns_it(tmp_path: Path) -> None:
    """The CRM stops accepting the token while posting: nothing more is sent, the error reaches the caller
    (exit 3), and every invoice has an outcome for the workbook."""
    creates: list[int] = []

    def crm(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            creates.append(1)
            return httpx.Response(401, text="Unauthorized")
        return httpx.Response(404, json={"status": 1, "statusCode": 404, "error": {"message": "Not found"}})

    invoices = [make_invoice(f"R-{n}") for n in range(5)]
    client = CrmClient(
        "http://127.0.0.1:9",
        token=TOKEN,
        transport=httpx.MockTransport(crm),
        rate=None,
        concurrency=1,
        sleep=quick_sleep,
    )

    posted = post_only(client, tmp_path / "j.sqlite", client.url, invoices)
    assert isinstance(posted.fatal, CrmAuthError) and "token" in str(posted.fatal)
    assert len(creates) == 1
    assert statuses(posted.outcomes, invoices) == Counter({Status.PENDING: 5})
    assert "run the same import again" in posted.outcomes["R-0"].message


def test_a_lost_create_interrupted_before_it_shows_up_is_adopted_later_not_exists(tmp_path: Path) -> None:
    """The create times out, the look-up does not find it yet, Ctrl-C: the journal keeps `posting`, so when
    the invoice does land in the CRM the next run adopts it as this import's (skipped), not `exists`."""
    stop = asyncio.Event()
    landed = False

    def envelope(status: int, response: Any) -> httpx.Response:
        if status >= 400:
            return httpx.Response(
                status, json={"status": 1, "statusCode": status, "error": {"message": "Not found"}}
            )
        return httpx.Response(status, json={"status": 0, "statusCode": status, "response": response})

    def crm(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            stop.set()  # the user presses Ctrl-C while the create is in flight
            raise httpx.ReadTimeout("no answer", request=request)
        if request.url.path.endswith("/invoice/bynumber"):
            return envelope(200, {"id": 77, "number": "L-1"}) if landed else envelope(404, None)
        if request.url.path.endswith("/invoice/77"):
            return envelope(200, {"id": 77, "number": "L-1", "cost": 92.4, "invoiceLines": []})
        return envelope(404, None)

    def client() -> CrmClient:
        return CrmClient(
            "http://127.0.0.1:9",
            token=TOKEN,
            transport=httpx.MockTransport(crm),
            rate=None,
            sleep=quick_sleep,
            retry=RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.001),
        )

    first = [make_invoice("L-1")]
    posted = post_only(client(), tmp_path / "j.sqlite", "http://127.0.0.1:9", first, stop=stop)
    assert posted.outcomes["L-1"].status is Status.PENDING
    with Journal.open(tmp_path / "j.sqlite", "http://127.0.0.1:9") as journal:
        entry = journal.entry("L-1")
        assert entry is not None and entry.state is JournalState.POSTING

    landed = True  # the slow create did reach the CRM after all
    second = [make_invoice("L-1")]

    async def run_classify() -> Outcomes:
        with Journal.open(tmp_path / "j.sqlite", "http://127.0.0.1:9") as journal:
            async with client() as c:
                return await classify_existing(second, c, journal)

    outcome = asyncio.run(run_classify())["L-1"]
    assert (outcome.status, outcome.crm_id) == (Status.SKIPPED, 77)
