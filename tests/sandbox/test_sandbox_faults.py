"""The sandbox's fault knobs, counters, racy-number flag and life cycle, over real HTTP."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from importer.errors import UsageError
from importer.sandbox import SandboxConfig, SandboxServer, parse_rate
from tests.sandbox_helpers import crm_client

AUTH = {"Authorization": "sandbox"}


def invoice(number: str, **changes: Any) -> dict[str, Any]:
    return {
        "number": number,
        "issueDate": "2026-06-01",
        "dueDate": "2026-07-01",
        "contactId": 1,
        "currency": "EUR",
        "exchangeRate": 1,
        "terms": "t",
        "language": "en-US",
        "invoiceLines": [{"invoiceItemID": 1, "quantity": 1, "price": "7.70"}],
    } | changes


def exists(server: SandboxServer, number: str) -> bool:
    with crm_client(server) as client:
        return bool(client.get("invoice/bynumber/exist", params={"number": number}).json()["response"])


def test_latency_and_jitter_delay_every_answer(sandbox_factory: Any) -> None:
    server = sandbox_factory(latency_ms=120, jitter_ms=60, random_seed=1)
    durations = []
    with crm_client(server) as client:
        for _ in range(6):
            started = time.monotonic()
            assert client.get("invoice/tax").status_code == 200
            durations.append(time.monotonic() - started)
    assert all(0.06 <= d < 0.5 for d in durations), durations
    assert max(durations) - min(durations) > 0.005


def test_latency_is_a_round_trip_half_on_the_way_there_and_half_on_the_way_back(sandbox_factory: Any) -> None:
    server = sandbox_factory(latency_ms=1000)
    saved_meanwhile: list[int] = []

    def look_halfway_back() -> None:  # the create is saved after 0.5 s and answered after 1 s
        time.sleep(0.75)
        saved_meanwhile.append(server.stats.invoice_creates)

    watcher = threading.Thread(target=look_halfway_back)
    with crm_client(server) as client:
        started = time.monotonic()
        watcher.start()
        response = client.post("invoice", json=invoice("INV-1"))
        took = time.monotonic() - started
    watcher.join()
    assert response.status_code == 201
    assert took >= 1.0  # the whole latency, on top of the app's own time
    assert saved_meanwhile == [1]


def test_a_503_waits_the_whole_latency_too(sandbox_factory: Any) -> None:
    server = sandbox_factory(latency_ms=300, error_rate=1.0)
    with crm_client(server) as client:
        started = time.monotonic()
        assert client.get("invoice/tax").status_code == 503
        assert time.monotonic() - started >= 0.3


def test_error_rate_one_answers_503_retry_after_1_before_anything(sandbox_factory: Any) -> None:
    server = sandbox_factory(error_rate=1.0)
    with crm_client(server) as client:
        response = client.post("invoice", json=invoice("INV-1"))
        unauthenticated = httpx.get(f"{server.url}/api/2.0/crm/invoice/tax")
    for answer in (response, unauthenticated):
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
    assert server.stats.invoice_creates == 0 and server.stats.unavailable == 2


def test_error_rate_strikes_about_that_fraction_reproducibly(sandbox_factory: Any) -> None:
    def statuses(seed: int) -> list[int]:
        server = sandbox_factory(error_rate=0.3, random_seed=seed)
        with crm_client(server) as client:
            return [client.get("invoice/tax").status_code for _ in range(200)]

    first, again = statuses(7), statuses(7)
    assert first == again
    assert set(first) == {200, 503}
    assert 30 <= first.count(503) <= 90


def test_reseed_restarts_the_fault_sequence_of_a_running_server(sandbox_factory: Any) -> None:
    server = sandbox_factory(error_rate=0.3, random_seed=1)

    def statuses() -> list[int]:
        with crm_client(server) as client:
            return [client.get("invoice/tax").status_code for _ in range(60)]

    server.reseed(7)
    first = statuses()
    server.reseed(7)
    assert statuses() == first
    server.reseed(8)
    assert statuses() != first
    assert set(first) == {200, 503}


def test_drop_saves_the_invoice_then_drops_the_connection(sandbox_factory: Any) -> None:
    server = sandbox_factory(drop_rate=1.0)
    with crm_client(server) as client:
        with pytest.raises(httpx.TransportError):
            client.post("invoice", json=invoice("INV-1"))
        refused = client.post("invoice", json=invoice("INV-1"))  # a failed create answers normally
        assert refused.status_code == 400
        assert client.get("invoice/tax").status_code == 200  # only invoice creates are dropped
    assert exists(server, "INV-1")
    assert (server.stats.drops, server.stats.invoice_creates) == (1, 1)


def test_drop_rate_drops_about_that_fraction(sandbox_factory: Any) -> None:
    server = sandbox_factory(drop_rate=0.5, random_seed=3)
    dropped = 0
    for i in range(40):
        with crm_client(server) as client:
            try:
                assert client.post("invoice", json=invoice(f"INV-{i}")).status_code == 201
            except httpx.TransportError:
                dropped += 1
    assert 8 <= dropped <= 32
    assert server.stats.drops == dropped and server.stats.invoice_creates == 40
    with crm_client(server) as client:
        assert client.get("invoice/filter").json()["total"] == 40


def test_rate_limit_answers_503_with_the_seconds_until_the_window_frees(sandbox_factory: Any) -> None:
    server = sandbox_factory(rate_limit=(3, 2.0))
    with crm_client(server) as client:
        assert [client.get("invoice/tax").status_code for _ in range(3)] == [200, 200, 200]
        refused = client.get("invoice/tax")
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "2"
        login = httpx.post(f"{server.url}/api/2.0/authentication", json={"userName": "a", "password": "b"})
        assert login.status_code == 503  # authentication counts too
    assert server.stats.unavailable == 2


def test_rate_limit_window_frees_after_s_seconds(sandbox_factory: Any) -> None:
    server = sandbox_factory(rate_limit=(2, 0.4))
    with crm_client(server) as client:
        assert [client.get("invoice/tax").status_code for _ in range(3)] == [200, 200, 503]
        assert client.get("invoice/tax").headers["retry-after"] == "1"
        time.sleep(0.45)
        assert client.get("invoice/tax").status_code == 200


async def _create_twice_at_once(server: SandboxServer, number: str) -> list[int]:
    async with httpx.AsyncClient(base_url=f"{server.url}/api/2.0/crm/", headers=AUTH) as client:
        answers = await asyncio.gather(
            *(client.post("invoice", json=invoice(n)) for n in (number, number.lower()))
        )
    return sorted(answer.status_code for answer in answers)


def test_number_check_is_atomic_by_default(fresh_sandbox: SandboxServer) -> None:
    assert asyncio.run(_create_twice_at_once(fresh_sandbox, "INV-RACE")) == [201, 400]


def test_racy_numbers_lets_two_concurrent_creates_of_one_number_succeed(sandbox_factory: Any) -> None:
    server = sandbox_factory(racy_numbers=True)
    assert asyncio.run(_create_twice_at_once(server, "INV-RACE")) == [201, 201]
    with crm_client(server) as client:
        assert (
            client.post("invoice", json=invoice("INV-RACE")).status_code == 400
        )  # sequential: still checked
        assert client.get("invoice/filter").json()["total"] == 2


def test_stats_count_requests_per_route_and_not_themselves(fresh_sandbox: SandboxServer) -> None:
    with crm_client(fresh_sandbox) as client:
        client.post("invoice.json", json=invoice("INV-1"))
        client.post("invoice", json=invoice("INV-1"))
        client.get("invoice/1")
        client.get("INVOICE/2.json")
        client.get("contact/filter")
    httpx.get(f"{fresh_sandbox.url}/api/2.0/crm/invoice/tax")
    stats = httpx.get(f"{fresh_sandbox.url}/_sandbox/stats").json()
    assert stats == {
        "requests": 6,
        "routes": {
            "GET /api/2.0/crm/contact/filter": 1,
            "GET /api/2.0/crm/invoice/tax": 1,
            "GET /api/2.0/crm/invoice/{id:int}": 2,
            "POST /api/2.0/crm/invoice": 2,
        },
        "invoiceCreates": 1,
        "unavailable": 0,
        "drops": 0,
    }
    assert fresh_sandbox.stats.count("GET", "/api/2.0/crm/invoice/{id:int}") == 2
    assert fresh_sandbox.stats.total_requests == 6
    assert httpx.get(f"{fresh_sandbox.url}/_sandbox/stats").json()["requests"] == 6
    reset = httpx.post(f"{fresh_sandbox.url}/_sandbox/reset-stats")
    assert reset.status_code == 200 and reset.json()["requests"] == 0
    assert fresh_sandbox.stats.total_requests == 0 and fresh_sandbox.stats.invoice_creates == 0
    assert exists(fresh_sandbox, "INV-1")  # resetting the stats keeps the data


def test_reset_wipes_data_and_restarts_ids(fresh_sandbox: SandboxServer) -> None:
    with crm_client(fresh_sandbox) as client:
        assert client.post("invoice", json=invoice("INV-1")).json()["response"]["id"] == 1
        client.post("contact/company", json={"companyName": "Temp"})
    fresh_sandbox.reset(seed=False)
    with crm_client(fresh_sandbox) as client:
        assert client.get("contact/filter").json()["response"] == []
        assert client.get("invoice/tax").json()["response"] == []
        assert client.get("invoice/settings").json()["response"]["prefix"] == "INV-"
    fresh_sandbox.reset()
    with crm_client(fresh_sandbox) as client:
        assert client.get("contact/filter").json()["total"] == 9
        assert client.get("invoice/filter").json()["total"] == 0
        company = client.post("contact/company", json={"companyName": "Again"}).json()["response"]
        assert company["id"] == 10


def test_no_seed_starts_empty_but_with_settings_and_currencies(sandbox_factory: Any) -> None:
    server = sandbox_factory(seed=False)
    with crm_client(server) as client:
        for path in ("contact/filter", "invoiceitem/filter", "invoice/tax"):
            assert client.get(path).json()["response"] == []
        assert len(client.get("settings/currency").json()["response"]) == 74
        assert client.get("invoice/settings").json()["response"]["companyName"] == "Sandbox Company"
        assert client.get("opportunity/1").status_code == 404


def test_a_database_file_keeps_its_data_across_restarts(tmp_path: Path) -> None:
    db = tmp_path / "crm.sqlite"
    with SandboxServer(SandboxConfig(port=0, db=db)) as server, crm_client(server) as client:
        assert client.post("invoice", json=invoice("INV-KEEP")).status_code == 201
    with SandboxServer(SandboxConfig(port=0, db=db)) as server:
        assert exists(server, "INV-KEEP")
        with crm_client(server) as client:
            assert client.get("contact/filter").json()["total"] == 9  # not seeded twice
    assert db.exists()


def test_starts_fast_stops_cleanly_and_removes_its_temporary_database() -> None:
    started = time.monotonic()
    server = SandboxServer(SandboxConfig(port=0)).start()
    assert time.monotonic() - started < 2.0
    assert server.url.startswith("http://127.0.0.1:") and not server.url.endswith("/")
    db_dir = server._tempdir
    assert db_dir is not None and db_dir.exists()
    with crm_client(server) as client:
        assert client.get("invoice/tax").status_code == 200
        server.stop()
        with pytest.raises(httpx.TransportError):
            client.get("invoice/tax")
    server.stop()
    assert not db_dir.exists()


def test_a_busy_port_fails_to_start(sandbox: SandboxServer) -> None:
    port = int(sandbox.url.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        SandboxServer(SandboxConfig(port=port)).start()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_run_sandbox_prints_its_url_and_stops_on_a_signal(sig: signal.Signals) -> None:
    code = "from importer.sandbox import *; run_sandbox(SandboxConfig(port=0, token='tk'))"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("Sandbox CRM listening on http://127.0.0.1:") and line.endswith(" (token: tk)")
        url = line.split()[4]
        assert httpx.get(f"{url}/api/2.0/crm/invoice/tax", headers={"Authorization": "tk"}).status_code == 200
        process.send_signal(sig)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_parse_rate() -> None:
    assert parse_rate("500/10") == (500, 10.0)
    assert parse_rate(" 3/0.5 ") == (3, 0.5)
    for bad in ("500", "0/10", "5/0", "x/1", "5/-1", "1.5/2", ""):
        with pytest.raises(UsageError, match="N/S"):
            parse_rate(bad)


@pytest.mark.parametrize("fields", [{"error_rate": 1.5}, {"drop_rate": -0.1}, {"latency_ms": -1}])
def test_invalid_fault_settings_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SandboxServer(SandboxConfig(port=0, **fields))
