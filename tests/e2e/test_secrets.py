"""Secrets never leave the process: not in output, not in --debug logs, not in the workbook or journal."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from tests.e2e_helpers import SAMPLES, invoke

TOKEN = "tok-9f3c1e77-SECRET"
PASSWORD = "pw-5b2a-SECRET"


def everything_written(workdir: Path) -> bytes:
    """The bytes of every file the run left, workbooks unzipped."""
    blobs = []
    for path in workdir.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as archive:
                blobs += [archive.read(name) for name in archive.namelist()]
        else:
            blobs.append(path.read_bytes())
    return b"\n".join(blobs)


def test_token_is_in_no_output_log_workbook_or_journal(sandbox_factory, tmp_path: Path) -> None:
    server = sandbox_factory(token=TOKEN)
    shutil.copy(SAMPLES / "invoices.xlsx", tmp_path / "invoices.xlsx")
    result = invoke(
        "run",
        tmp_path / "invoices.xlsx",
        "--url",
        server.url,
        "--token",
        TOKEN,
        "--journal",
        tmp_path / "journal.sqlite",
        "--yes",
        "--json",
        "--debug",
    )

    assert result.exit_code == 0, result.stderr
    assert "GET /api/2.0/crm/" in result.stderr  # the debug log is there ...
    assert TOKEN not in result.stdout + result.stderr  # ... without the token
    assert TOKEN.encode() not in everything_written(tmp_path)


def test_password_is_in_no_output_log_workbook_or_journal(sandbox_factory, tmp_path: Path) -> None:
    server = sandbox_factory(user="finance@example.com", password=PASSWORD)
    shutil.copy(SAMPLES / "invoices.xlsx", tmp_path / "invoices.xlsx")
    result = invoke(
        "run",
        tmp_path / "invoices.xlsx",
        "--url",
        server.url,
        "--user",
        "finance@example.com",
        "--password",
        PASSWORD,
        "--journal",
        tmp_path / "journal.sqlite",
        "--yes",
        "--json",
        "--debug",
    )

    assert result.exit_code == 0, result.stderr
    assert "POST /api/2.0/authentication" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert PASSWORD.encode() not in everything_written(tmp_path)


def test_a_wrong_password_exits_3_saying_the_login_failed(sandbox_factory, tmp_path: Path) -> None:
    server = sandbox_factory()
    shutil.copy(SAMPLES / "invoices.xlsx", tmp_path / "invoices.xlsx")
    result = invoke(
        "run",
        tmp_path / "invoices.xlsx",
        "--url",
        server.url,
        "--user",
        "admin@example.com",
        "--password",
        PASSWORD,
        "--journal",
        tmp_path / "journal.sqlite",
        "--yes",
        "--debug",
    )

    assert result.exit_code == 3
    assert "login" in result.stderr.lower()
    assert PASSWORD not in result.stdout + result.stderr
