"""Shared fixtures: a sandbox CRM on a loopback port, for tests that speak real HTTP.

- ``sandbox`` (session): one seeded :class:`SandboxServer` on a free port, started once for the whole run.
  Its data is shared: use ``fresh_sandbox`` unless the test only reads the seed.
- ``fresh_sandbox`` (function): the session sandbox after ``reset()``: the seed data only (IDs from 1 again,
  see ``importer/sandbox/seed.py``), zeroed stats, no login failures. Cheap (a few milliseconds).
- ``sandbox_factory`` (function): ``sandbox_factory(**SandboxConfig fields)`` starts a separate sandbox (port
  0 unless given) for tests needing fault knobs, racy numbers or other credentials; all stopped at teardown.
Each server's base URL is ``server.url``; the default token is ``"sandbox"`` (the administrator). Every
sandbox also accepts an ordinary user, the viewer: token ``"sandbox-viewer"``, login ``viewer@example.com`` /
``sandbox``; it gets 403 Access Denied on admin-only calls, and 404 on the private seed contact 9 (which its
lists leave out), as a real portal answers a contact private to another user.
``sandbox_factory(ssl_certfile=..., ssl_keyfile=...)`` serves https:// (see tests/e2e/test_tls.py).
Fault injection restarts from a seed with ``server.reseed(n)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from importer.sandbox import SandboxConfig, SandboxServer


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(port=0)) as server:
        yield server


@pytest.fixture
def fresh_sandbox(sandbox: SandboxServer) -> SandboxServer:
    sandbox.reset()
    return sandbox


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., SandboxServer]]:
    started: list[SandboxServer] = []

    def start(**fields: Any) -> SandboxServer:
        fields.setdefault("port", 0)
        server = SandboxServer(SandboxConfig(**fields)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def crm(fresh_sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """An HTTP client for the fresh sandbox's ``/api/2.0/crm/`` routes, with its token."""
    from tests.sandbox_helpers import crm_client

    with crm_client(fresh_sandbox) as client:
        yield client
