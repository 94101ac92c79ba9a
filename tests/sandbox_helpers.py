"""What the sandbox's contract tests share: a client for its CRM routes and the envelope checks."""

from __future__ import annotations

from typing import Any

import httpx

from importer.sandbox import SandboxServer

# The real server's answer to nearly every refused create: it never says which field.
GENERIC = "Value does not fall within the expected range."


def crm_client(server: SandboxServer, token: str = "sandbox") -> httpx.Client:
    """An HTTP client for ``/api/2.0/crm/`` of a running sandbox, sending ``token`` as Authorization."""
    return httpx.Client(base_url=f"{server.url}/api/2.0/crm/", headers={"Authorization": token}, timeout=10)


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The ``response`` of a success envelope, after checking the status code and the envelope."""
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["status"], body["statusCode"]) == (0, status)
    return body["response"]


def error(response: httpx.Response, status: int) -> str:
    """The ``error.message`` of an error envelope, after checking the status code and the envelope."""
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["status"], body["statusCode"]) == (1, status)
    assert set(body["error"]) == {"message", "hresult", "data"}
    return str(body["error"]["message"])
