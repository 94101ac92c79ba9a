"""Request counting and fault injection: the outermost ASGI layer of the sandbox.

In order, for every request except ``/_sandbox/...``: count it, wait half the latency (plus jitter: the
request on its way to the server), answer 503 when over the rate limit or when the error rate strikes (before
doing anything else), else let the app answer; the answer waits the other half (on its way back), and the
connection is dropped without an answer when the app marked the request for dropping (an invoice create that
was saved).

The latency is a network's round trip, half each way, on top of the time the app takes: not all of it before
the app. The sandbox serves every request on one event loop, so with all of it before the app, requests that
arrive together wake together and are handled one after the other, and each answer also waits for the app's
work on every request of its batch; half on the way back lets those answers leave as each is ready.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections import Counter, deque
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ROUNDING_S = 0.001  # asyncio waits for a timer in whole milliseconds (epoll), rounded up
SCOPE_FLAGS = "sandbox.flags"  # a dict in the ASGI scope; the app sets "drop": True to drop the answer


class SandboxStats:
    """Thread-safe counters of what the sandbox received and did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: Counter[tuple[str, str]] = Counter()
        self._invoice_creates = 0
        self._unavailable = 0
        self._drops = 0

    def reset(self) -> None:
        with self._lock:
            self._routes.clear()
            self._invoice_creates = self._unavailable = self._drops = 0

    def count_request(self, method: str, route: str) -> None:
        with self._lock:
            self._routes[(method, route)] += 1

    def count_invoice_create(self) -> None:
        with self._lock:
            self._invoice_creates += 1

    def count_unavailable(self) -> None:
        with self._lock:
            self._unavailable += 1

    def count_drop(self) -> None:
        with self._lock:
            self._drops += 1

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(self._routes.values())

    @property
    def invoice_creates(self) -> int:
        """Invoices saved by a create call (dropped answers included)."""
        with self._lock:
            return self._invoice_creates

    @property
    def unavailable(self) -> int:
        """503 answers sent (rate limit and error rate)."""
        with self._lock:
            return self._unavailable

    @property
    def drops(self) -> int:
        with self._lock:
            return self._drops

    def routes(self) -> dict[tuple[str, str], int]:
        """Requests per (method, route template), e.g. ``("POST", "/api/2.0/crm/invoice")``."""
        with self._lock:
            return dict(self._routes)

    def count(self, method: str, route: str) -> int:
        with self._lock:
            return self._routes[(method, route)]

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": sum(self._routes.values()),
                "routes": {f"{method} {route}": n for (method, route), n in sorted(self._routes.items())},
                "invoiceCreates": self._invoice_creates,
                "unavailable": self._unavailable,
                "drops": self._drops,
            }


class SlidingWindow:
    """At most ``limit`` admitted requests in any ``seconds`` window."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self, now: float) -> int | None:
        """None if admitted (and recorded); else the whole seconds until the window frees (at least 1)."""
        with self._lock:
            while self._times and self._times[0] <= now - self.seconds:
                self._times.popleft()
            if len(self._times) < self.limit:
                self._times.append(now)
                return None
            return max(1, math.ceil(self._times[0] + self.seconds - now))

    def clear(self) -> None:
        with self._lock:
            self._times.clear()


def normalize_path(path: str) -> str:
    """Routes are case-insensitive and answer with a ``.json`` suffix too."""
    if path.startswith("/api/"):
        path = path.lower()
        if path.endswith(".json"):
            path = path[: -len(".json")]
        if len(path) > 1:
            path = path.rstrip("/")
    return path


def route_template(routes: list[BaseRoute], scope: Scope) -> str:
    partial = None
    for route in routes:
        match, _child = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", scope["path"]))
        if match == Match.PARTIAL and partial is None:
            partial = str(getattr(route, "path", scope["path"]))
    return partial or "(unmatched)"


class FaultMiddleware:
    """Counts requests and injects latency, 503s and dropped connections."""

    def __init__(
        self,
        app: ASGIApp,
        routes: list[BaseRoute],
        stats: SandboxStats,
        *,
        latency_ms: int = 0,
        jitter_ms: int = 0,
        error_rate: float = 0.0,
        window: SlidingWindow | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.app = app
        self.routes = routes
        self.stats = stats
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms
        self.error_rate = error_rate
        self.window = window
        self.rng = rng or random.Random()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["path"] = normalize_path(scope["path"])
        if scope["path"].startswith("/_sandbox/"):
            await self.app(scope, receive, send)
            return
        self.stats.count_request(scope["method"], route_template(self.routes, scope))
        there, back = self._delays()
        started = time.monotonic()
        await _wait(there)
        # One timer's rounding, as before the split: asyncio wakes a timer up to a millisecond late (it
        # rounds the wait up to whole milliseconds), and that much of the first half's overrun comes off
        # the second half. Any more (the loop was busy) is not taken back.
        overrun = time.monotonic() - started - there
        back = max(0.0, back - min(max(overrun, 0.0), ROUNDING_S))
        retry_after = self._refusal()
        if retry_after is not None:
            self.stats.count_unavailable()
            await _wait(back)
            await _send_unavailable(send, retry_after)
            return
        flags: dict[str, bool] = {"drop": False}
        scope[SCOPE_FLAGS] = flags
        await self.app(scope, receive, _answering_send(send, flags, back))

    def _delays(self) -> tuple[float, float]:
        """The latency plus jitter of this request, in seconds: the way there and the way back."""
        if not (self.latency_ms or self.jitter_ms):
            return 0.0, 0.0
        jitter = self.rng.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
        total = max(0.0, self.latency_ms + jitter) / 1000
        return total / 2, total - total / 2

    def _refusal(self) -> int | None:
        """Seconds for Retry-After if the request is refused now, else None."""
        if self.window is not None:
            retry_after = self.window.admit(time.monotonic())
            if retry_after is not None:
                return retry_after
        if self.error_rate and self.rng.random() < self.error_rate:
            return 1
        return None


async def _send_unavailable(send: Send, retry_after: int) -> None:
    body = b"Service Unavailable"
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"retry-after", str(retry_after).encode()),
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _wait(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


def _answering_send(send: Send, flags: dict[str, bool], delay: float) -> Send:
    """Pass messages through, the answer ``delay`` seconds late; if the app asked to drop, abort the
    connection (when the answer would have arrived) and swallow the answer."""
    dropped = False

    async def wrapped(message: Message) -> None:
        nonlocal dropped
        if dropped:
            return
        if message["type"] == "http.response.start":
            await _wait(delay)
        if message["type"] == "http.response.start" and flags.get("drop"):
            dropped = True
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is None:
                await send(message)
                raise ConnectionAbortedError("sandbox: dropping the connection")
            transport.abort()
            await asyncio.sleep(0)  # let the server notice the lost connection before the app returns
            return
        await send(message)

    return wrapped
