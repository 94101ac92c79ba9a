"""invoice-import serve in a real browser: headless Chromium (Debian's package) driven by Playwright.

Each test walks the pages as a finance user would, against the sandbox CRM over real HTTP, and checks the
outcome through the page's stable ids, the CRM's API and the results workbook. Every step leaves a
screenshot in tests/output/web/ (git-ignored) at a laptop's 1280x720.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from importer.sandbox import SandboxServer
from importer.web.config import WebConfig
from importer.web.server import WebServer
from tests.e2e_helpers import SAMPLES, Crm, invoices_sheet
from tests.make_hostile_corpus import make_corpus

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parent.parent / "output" / "web"
TIMEOUT_MS = 20_000
CLEAN_CSV = SAMPLES / "invoices.csv"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium: run tests/setup_browser.sh as root"
)


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[[], Any]]:
    """A fresh browser context (its own cookies: one person) with a laptop-sized window."""
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 720}, accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def start_web(tmp_path: Path) -> Iterator[Callable[..., WebServer]]:
    servers: list[WebServer] = []

    def start(crm: SandboxServer, *, token: str | None = "sandbox", **fields: Any) -> WebServer:
        config = WebConfig(port=0, url=crm.url, token=token, data_dir=tmp_path / "data", **fields)
        server = WebServer(config, crm_url=crm.url, token=token, journal=tmp_path / "journal.sqlite").start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# ------------------------------------------------------------------------------------------ steps


def upload(page: Any, web: WebServer, file: Path, name: str | None = None) -> None:
    page.goto(f"{web.url}/upload")
    page.set_input_files("#upload-file", str(file))
    if name:
        shot(page, f"{name}-1-upload")
    page.click("#upload-submit")
    page.wait_for_url(re.compile(r"/u/[0-9a-f]+/columns$"))


def check(page: Any, name: str | None = None) -> None:
    if name:
        shot(page, f"{name}-2-columns")
    page.click("#check-submit")
    page.wait_for_selector("#review")
    if name:
        shot(page, f"{name}-3-check")


def to_plan(page: Any, name: str | None = None) -> dict[str, int]:
    page.click("#to-plan")
    plan = page.wait_for_selector("#plan")
    if name:
        shot(page, f"{name}-4-plan")
    return {key: int(plan.get_attribute(f"data-{key}")) for key in ("create", "skipped", "exists", "invalid")}


def results(page: Any) -> dict[str, int]:
    section = page.wait_for_selector("#results", timeout=60_000)
    return {
        key: int(section.get_attribute(f"data-{key}"))
        for key in ("created", "skipped", "exists", "invalid", "failed", "pending", "changed")
    }


def numbers_in_crm(crm: SandboxServer) -> list[str]:
    return [invoice["number"] for invoice in Crm(crm.url).invoices()]


def saved(download: Any, folder: Path, name: str) -> Path:
    """A downloaded workbook saved under its own name (the browser's temporary file has no extension)."""
    path = folder / name
    download.value.save_as(str(path))
    return path


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ tests


def test_clean_file_the_whole_way_through(
    fresh_sandbox: SandboxServer,
    start_web: Callable[..., WebServer],
    new_page: Callable[[], Any],
    tmp_path: Path,
) -> None:
    web = start_web(fresh_sandbox)
    page = new_page()
    page.goto(f"{web.url}/upload")
    page.set_input_files("#upload-file", str(CLEAN_CSV))
    shot(page, "clean-1-upload")
    page.focus("#upload-submit")  # the keyboard alone gets through the upload
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/u/[0-9a-f]+/columns$"))
    assert page.input_value("#col-invoice_number") == "Invoice Number"
    assert page.input_value("#col-contact") == "Customer"
    check(page, "clean")
    assert page.locator("#review .cell-error").count() == 0
    assert page.locator("#review tbody tr").count() == 9

    assert to_plan(page, "clean") == {"create": 6, "skipped": 0, "exists": 0, "invalid": 0}
    page.click("#confirm")
    page.wait_for_url(re.compile(r"/(posting|results)$"))
    shot(page, "clean-5-posting")
    counts = results(page)
    shot(page, "clean-6-results")
    assert counts["created"] == 6 and counts["failed"] == 0
    links = page.locator("#results-table a[href*='Invoices.aspx?id=']")
    assert links.count() == 6

    with page.expect_download() as download:
        page.click("#results-download")
    workbook = saved(download, tmp_path, "results.xlsx")
    statuses = {number: row["status"] for number, row in invoices_sheet(workbook).items()}
    assert set(statuses.values()) == {"created"} and len(statuses) == 6
    assert sorted(numbers_in_crm(fresh_sandbox)) == sorted(statuses)

    page.click("text=Columns")  # each step is reachable again from the next
    page.wait_for_url(re.compile(r"/columns$"))
    page.goto(f"{web.url}/history")
    row = page.wait_for_selector("#history tbody tr")
    assert row.get_attribute("data-state") == "posted"
    assert "6 created" in row.inner_text() and "invoices.csv" in row.inner_text()
    shot(page, "clean-7-history")


def test_mistakes_are_marked_fixed_and_uploaded_again(
    fresh_sandbox: SandboxServer,
    start_web: Callable[..., WebServer],
    new_page: Callable[[], Any],
    tmp_path: Path,
) -> None:
    web = start_web(fresh_sandbox)
    page = new_page()
    text = CLEAN_CSV.read_text()
    wrong = text.replace("SRV-HOUR,Installation,4,", "SRV-HOUR,Installation,four,").replace(
        "Globex Corporation", "Nobody Ltd"
    )
    upload(page, web, write_csv(tmp_path / "march.csv", wrong))
    check(page, "mistakes")
    bad = page.locator("#review td.cell-error")
    assert bad.count() == 2
    titles = [bad.nth(i).get_attribute("title") or "" for i in range(bad.count())]
    assert any("number" in title.lower() for title in titles), titles
    assert any("Nobody Ltd" in title or "contact" in title.lower() for title in titles), titles

    page.focus("#errors-only")  # the keyboard toggles the filter
    page.keyboard.press("Space")
    assert page.locator("#review tbody tr:visible").count() == 2
    shot(page, "mistakes-3b-errors-only")
    counts = to_plan(page)
    assert counts["invalid"] == 2 and counts["create"] == 4

    with page.expect_download() as download:
        page.goto(page.url.replace("/plan", "/check"))
        page.click("#check-download")
    rows = invoices_sheet(saved(download, tmp_path, "check.xlsx"))
    assert rows["INV-2026-0001"]["status"] == "invalid"

    upload(page, web, write_csv(tmp_path / "march.csv", text))  # fixed in Excel, uploaded again
    check(page)
    assert page.locator("#review .cell-error").count() == 0
    assert to_plan(page)["create"] == 6
    page.click("#confirm")
    assert results(page)["created"] == 6
    assert len(numbers_in_crm(fresh_sandbox)) == 6


@pytest.mark.slow
def test_two_uploads_sharing_numbers_at_once_create_each_invoice_once(
    sandbox_factory: Callable[..., SandboxServer],
    start_web: Callable[..., WebServer],
    new_page: Callable[[], Any],
    tmp_path: Path,
) -> None:
    crm = sandbox_factory(latency_ms=40)  # slow enough for the two imports to overlap
    web = start_web(crm)
    lines = CLEAN_CSV.read_text().splitlines(keepends=True)
    first = write_csv(tmp_path / "anna.csv", "".join(lines))
    second = write_csv(tmp_path / "ben.csv", "".join(lines[:5]))  # INV-2026-0001 and 0002 again
    anna, ben = new_page(), new_page()
    for page, file in ((anna, first), (ben, second)):
        upload(page, web, file)
        check(page)
    assert to_plan(anna)["create"] == 6
    assert to_plan(ben)["create"] == 2

    anna.click("#confirm")
    ben.click("#confirm")
    shot(ben, "together-5-posting")
    done_anna, done_ben = results(anna), results(ben)
    shot(ben, "together-6-results")
    numbers = numbers_in_crm(crm)
    assert sorted(numbers) == sorted(set(numbers)) and len(numbers) == 6
    assert done_anna["created"] + done_ben["created"] == 6
    assert done_ben["created"] + done_ben["skipped"] == 2 and done_ben["failed"] == 0


def test_sign_in_refused_then_accepted(
    fresh_sandbox: SandboxServer, start_web: Callable[..., WebServer], new_page: Callable[[], Any]
) -> None:
    web = start_web(fresh_sandbox, token=None)  # no shared login: each person signs in
    page = new_page()
    page.goto(f"{web.url}/upload")
    page.wait_for_url(re.compile(r"/login$"))
    page.fill("#login-user", "admin@example.com")
    page.fill("#login-password", "not-the-password")
    page.click("#login-submit")
    alert = page.wait_for_selector("#error")
    assert "refused" in alert.inner_text()
    assert "not-the-password" not in page.content()
    shot(page, "signin-refused")

    page.fill("#login-password", "sandbox")
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/upload$"))
    assert "admin@example.com" in page.inner_text("header")
    cookies = page.context.cookies()
    assert all("sandbox" not in cookie["value"] for cookie in cookies)
    upload(page, web, CLEAN_CSV)
    check(page)
    assert to_plan(page)["create"] == 6
    page.goto(f"{web.url}/history")
    assert "admin@example.com" in page.inner_text("#history")


def test_hostile_files_are_refused_and_file_text_never_becomes_html(
    fresh_sandbox: SandboxServer,
    start_web: Callable[..., WebServer],
    new_page: Callable[[], Any],
    tmp_path: Path,
) -> None:
    web = start_web(fresh_sandbox, max_upload_mb=1)
    page = new_page()
    corpus = {case.name: case for case in make_corpus(tmp_path / "corpus")}
    for name in ("pdf_named.xlsx", "xlsx_named.csv", "html_named.csv"):
        page.goto(f"{web.url}/upload")
        page.set_input_files("#upload-file", str(tmp_path / "corpus" / name))
        page.click("#upload-submit")
        alert = page.wait_for_selector("#error")
        assert corpus[name].fragment.lower() in alert.inner_text().lower(), name
    shot(page, "hostile-refused")

    script = "<script>window.pwned = 1</script>"
    text = (
        CLEAN_CSV.read_text()
        .replace("Blue widgets", script)
        .replace("billing@acme.example", '<img src=x onerror="window.pwned=2">')
    )
    upload(page, web, write_csv(tmp_path / "odd.csv", text))
    check(page, "hostile")
    assert page.evaluate("window.pwned") is None
    assert page.locator("#review td", has_text=script).count() == 1
    assert page.locator("#review img").count() == 0

    big = tmp_path / "big.csv"  # over --max-upload-mb
    with open(big, "wb") as out:
        out.write(CLEAN_CSV.read_bytes())
        out.write(b"," * (2 * 1024 * 1024))
    cookie = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=web.url, cookies=cookie) as http:
        csrf = re.search(r'name="csrf" value="([^"]+)"', http.get("/upload").text)
        assert csrf is not None
        refused = http.post(
            "/upload", data={"csrf": csrf.group(1)}, files={"file": ("big.csv", big.read_bytes())}
        )
        assert refused.status_code == 413 and "upload limit" in refused.text
        forged = http.post("/upload", files={"file": ("a.csv", CLEAN_CSV.read_bytes())})  # no CSRF token
        assert forged.status_code == 403
        exe = http.post("/upload", data={"csrf": csrf.group(1)}, files={"file": ("run.exe", b"MZ")})
        assert exe.status_code == 400 and "not a spreadsheet" in exe.text
    folder = web.config.folder()
    assert folder.stat().st_mode & 0o077 == 0


def test_serve_refuses_plain_http_on_a_public_address(tmp_path: Path) -> None:
    from tests.e2e_helpers import invoke

    result = invoke("serve", "--host", "0.0.0.0", "--sandbox", "--data-dir", tmp_path)
    assert result.exit_code == 2 and "--allow-http" in result.stderr
    shutil.rmtree(tmp_path, ignore_errors=True)
