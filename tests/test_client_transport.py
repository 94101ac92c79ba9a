"""importer.client.Http11Transport against small scripted servers on a loopback port (asyncio streams).

The importer's own end-to-end, fault and TLS tests run it against the sandbox; these pin down what a plain
server can do to a keep-alive connection, and which httpx error each failure becomes.
"""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from importer import client as client_module
from importer.client import CrmClient, Http11Transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request: its head and its body (by Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length) if length else b""


class Server:
    """A loopback server running ``handler`` per connection; counts connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


def run(coroutine: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 20))  # type: ignore[arg-type]


def http(**options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=Http11Transport(), **options)


async def answer_every_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        await read_request(reader)
        writer.write(OK)


def test_a_keep_alive_connection_carries_the_next_requests() -> None:
    server = Server(answer_every_request)

    async def go() -> list[int]:
        async with server as url, http() as client:
            return [(await client.get(f"{url}/x")).status_code for _ in range(5)]

    assert run(go()) == [200] * 5
    assert server.connections == 1


def test_one_connection_per_request_in_flight() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            await asyncio.sleep(0.05)
            writer.write(OK)

    server = Server(slow)

    async def go() -> list[int]:
        async with server as url, http() as client:
            answers = await asyncio.gather(*(client.get(f"{url}/{n}") for n in range(4)))
            again = await asyncio.gather(*(client.get(f"{url}/{n}") for n in range(4)))
            return [a.status_code for a in [*answers, *again]]

    assert run(go()) == [200] * 8
    assert server.connections == 4  # the second round reused them


def test_the_request_goes_out_in_one_write_with_its_body() -> None:
    seen: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, body = await read_request(reader)
        seen.extend([head, body])
        writer.write(OK)

    async def go() -> None:
        async with Server(record) as url, http() as client:
            response = await client.post(f"{url}/api/2.0/crm/invoice?x=1", json={"number": "A-1"})
            assert response.json() == {}

    run(go())
    head, body = seen
    assert head.startswith(b"POST /api/2.0/crm/invoice?x=1 HTTP/1.1\r\n")
    assert b"\r\nhost: 127.0.0.1:" in head.lower() and b"content-type: application/json" in head.lower()
    assert body == b'{"number":"A-1"}'


def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    async def one_answer_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)  # keep-alive by HTTP/1.1 default, but the server closes it anyway
        await writer.drain()

    server = Server(one_answer_then_close)

    async def go() -> list[int]:
        async with server as url, http() as client:
            first = await client.get(f"{url}/a")
            await asyncio.sleep(0.1)  # the close arrives while the connection is idle
            second = await client.get(f"{url}/b")
            return [first.status_code, second.status_code]

    assert run(go()) == [200, 200]
    assert server.connections == 2


def test_something_unasked_on_an_idle_connection_is_not_taken_as_the_next_answer() -> None:
    async def stray_408(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await asyncio.sleep(0.05)
        writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")  # as some servers do
        await asyncio.sleep(1)

    server = Server(stray_408)

    async def go() -> list[int]:
        async with server as url, http() as client:
            first = await client.get(f"{url}/a")
            await asyncio.sleep(0.2)
            second = await client.get(f"{url}/b")
            return [first.status_code, second.status_code]

    assert run(go()) == [200, 200]
    assert server.connections == 2


def test_connection_close_and_an_expired_idle_connection_are_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def close_header(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}")
        await asyncio.sleep(1)  # the client must not wait for the server to close

    closing = Server(close_header)
    keeping = Server(answer_every_request)

    async def go() -> None:
        async with closing as url, http() as client:
            for _ in range(3):
                assert (await client.get(url)).status_code == 200
        monkeypatch.setattr(client_module, "KEEPALIVE_EXPIRY_S", 0.05)
        async with keeping as url, http() as client:
            await client.get(url)
            await asyncio.sleep(0.1)
            await client.get(url)

    run(go())
    assert closing.connections == 3
    assert keeping.connections == 2


def test_bodies_chunked_compressed_and_large_arrive_whole() -> None:
    payload = b'{"data": "' + b"x" * 300_000 + b'"}'
    packed = gzip.compress(payload)

    async def varied(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, body = await read_request(reader)
            if head.startswith(b"POST"):  # echo the size of a large body
                answer = str(len(body)).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
            elif b"/gzip" in head:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n")
                writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(packed), packed))
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                for start in range(0, len(payload), 70_000):
                    part = payload[start : start + 70_000]
                    writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                    await writer.drain()
                writer.write(b"0\r\n\r\n")

    async def go() -> None:
        async with Server(varied) as url, http() as client:
            assert (await client.get(f"{url}/chunked")).content == payload
            assert (await client.get(f"{url}/gzip")).content == payload
            big = b"y" * 1_000_000
            assert (await client.post(url, content=big)).text == str(len(big))

    run(go())


def test_failures_are_httpx_errors_that_say_whether_anything_was_sent() -> None:
    async def say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)  # then close without an answer

    async def half_an_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")

    async def too_slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"NONSENSE\r\n\r\n")

    async def failure(handler: Handler, **options: Any) -> BaseException:
        async with Server(handler) as url, http(**options) as client:
            try:
                await client.get(url)
            except httpx.HTTPError as exc:
                return exc
        raise AssertionError("no error")

    async def refused() -> BaseException:
        async with Server(answer_every_request) as url:
            pass  # closed: nothing listens there any more
        async with http() as client:
            try:
                await client.get(url)
            except httpx.HTTPError as exc:
                return exc
        raise AssertionError("no error")

    assert isinstance(run(refused()), httpx.ConnectError)
    assert isinstance(run(failure(say_nothing)), httpx.RemoteProtocolError)
    assert isinstance(run(failure(half_an_answer)), httpx.RemoteProtocolError)
    assert isinstance(run(failure(too_slow, timeout=0.2)), httpx.ReadTimeout)
    assert isinstance(run(failure(garbage)), httpx.RemoteProtocolError)


def test_a_tls_failure_is_a_connect_error_naming_the_certificate(tmp_path: Any) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)

    async def go() -> tuple[int, BaseException]:
        server = await asyncio.start_server(answer_every_request, "127.0.0.1", 0, ssl=server_context)
        url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        try:
            async with httpx.AsyncClient(transport=Http11Transport(trusting)) as client:
                status = (await client.get(url)).status_code
            async with http() as client:  # the default CAs do not know the throw-away CA
                try:
                    await client.get(url)
                except httpx.HTTPError as exc:
                    return status, exc
            raise AssertionError("no error")
        finally:
            server.close()

    status, error = run(go())
    assert status == 200
    assert isinstance(error, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(error)
    assert isinstance(error.__cause__, ssl.SSLError)


def test_the_crm_client_uses_it_unless_given_a_transport_or_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

    async def transport() -> httpx.AsyncBaseTransport:
        async with CrmClient("https://crm.example.com", token="t") as crm:
            assert crm._http is not None
            return crm._http._transport_for_url(httpx.URL("https://crm.example.com/api/2.0/crm/x"))

    assert isinstance(run(transport()), Http11Transport)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    proxied = run(transport())
    assert not isinstance(proxied, Http11Transport) and isinstance(proxied, httpx.AsyncHTTPTransport)
