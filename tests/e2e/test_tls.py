"""TLS: the sandbox serving https:// with a certificate from a throw-away CA (trustme), and the real CLI
verifying it with --ca-bundle, or refusing it without.

(Plain http:// to a host other than loopback is refused before sending: tests/e2e/test_cli_e2e.py.)
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from importer.sandbox import SandboxServer
from tests.e2e_helpers import SAMPLES, TOKEN, invoke

CSV = SAMPLES / "invoices.csv"
CSV_NUMBERS = [f"INV-2026-000{i}" for i in range(1, 7)]


@dataclass(frozen=True)
class Pki:
    ca_pem: Path
    cert_pem: Path
    key_pem: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    pki = Pki(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    ca.cert_pem.write_to_path(str(pki.ca_pem))
    cert.private_key_pem.write_to_path(str(pki.key_pem))
    for index, blob in enumerate(cert.cert_chain_pems):
        blob.write_to_path(str(pki.cert_pem), append=index > 0)
    return pki


@pytest.fixture
def https_sandbox(pki: Pki, sandbox_factory: Callable[..., SandboxServer]) -> SandboxServer:
    return sandbox_factory(ssl_certfile=pki.cert_pem, ssl_keyfile=pki.key_pem)


@pytest.fixture
def api(https_sandbox: SandboxServer, pki: Pki) -> Iterator[httpx.Client]:
    """The sandbox's API, trusting the throw-away CA: to check outcomes."""
    with httpx.Client(
        base_url=f"{https_sandbox.url}/api/2.0/crm/",
        headers={"Authorization": TOKEN},
        verify=ssl.create_default_context(cafile=str(pki.ca_pem)),
        timeout=10,
    ) as c:
        yield c


def numbers(api: httpx.Client) -> list[str]:
    response = api.get("invoice/filter", params={"count": 1000})
    response.raise_for_status()
    return sorted(invoice["number"] for invoice in response.json()["response"])


def run(url: str, tmp_path: Path, *extra: Any) -> Any:
    return invoke("run", CSV, "--url", url, "--token", TOKEN, "--journal", tmp_path / "journal.sqlite",
                  "--results", tmp_path / "results.xlsx", "--yes", "--json", *extra)  # fmt: skip


def test_the_sandbox_serves_https_with_the_certificate(
    https_sandbox: SandboxServer, api: httpx.Client
) -> None:
    assert https_sandbox.url.startswith("https://127.0.0.1:")
    response = api.get("invoice/settings")
    assert response.status_code == 200
    assert response.json()["response"]["prefix"] == "INV-"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{https_sandbox.url}/api/2.0/crm/invoice/settings", headers={"Authorization": TOKEN})
    with pytest.raises(httpx.HTTPError):  # no plain HTTP on the TLS port
        httpx.get(https_sandbox.url.replace("https://", "http://") + "/api/2.0/crm/invoice/settings")


def test_cli_with_the_ca_bundle_creates_the_invoices(
    https_sandbox: SandboxServer, api: httpx.Client, pki: Pki, tmp_path: Path
) -> None:
    result = run(https_sandbox.url, tmp_path, "--ca-bundle", pki.ca_pem)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.summary["created"] == 6
    assert numbers(api) == CSV_NUMBERS


def test_cli_without_the_ca_bundle_exits_3_naming_the_certificate_and_creates_nothing(
    https_sandbox: SandboxServer, api: httpx.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ONLYOFFICE_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)

    result = run(https_sandbox.url, tmp_path)

    assert result.exit_code == 3, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "certificate verify failed" in errors[0].lower() and "--ca-bundle" in errors[0]
    assert result.summary["pending"] == 6 and result.summary["created"] == 0
    assert numbers(api) == []
    assert https_sandbox.stats.invoice_creates == 0


def test_a_bad_certificate_file_fails_at_start(pki: Pki, tmp_path: Path) -> None:
    from importer.sandbox import SandboxConfig

    broken = tmp_path / "broken.pem"
    broken.write_text("not a certificate\n", encoding="utf-8")
    with pytest.raises((OSError, ValueError)):
        SandboxServer(SandboxConfig(port=0, ssl_certfile=broken, ssl_keyfile=pki.key_pem)).start()
    with pytest.raises(ValueError, match="ssl_certfile"):
        SandboxServer(SandboxConfig(port=0, ssl_keyfile=pki.key_pem))


def test_the_sandbox_command_takes_the_certificate(pki: Pki, tmp_path: Path) -> None:
    result = invoke("sandbox", "--keyfile", pki.key_pem)
    assert result.exit_code == 2
    assert "--certfile" in result.stderr
    assert "--certfile" in invoke("sandbox", "--help").stdout
