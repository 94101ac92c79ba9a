"""The plan is confirmed at an interactive terminal: a pty stands in for the user's keyboard."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e_helpers import ROOT, SAMPLES, TOKEN, Crm


def run_at_a_terminal(args: list[str], answer: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with a terminal as stdin, typing ``answer`` at the prompt."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer.encode() + b"\n")  # typed ahead: the terminal keeps it for the prompt
        return subprocess.run(
            [sys.executable, "-m", "importer.cli", *args],
            stdin=terminal,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
    finally:
        os.close(terminal)
        os.close(controller)


@pytest.mark.parametrize(("answer", "created", "exit_code"), [("y", 6, 0), ("n", 0, 1)])
def test_the_plan_is_shown_and_only_a_yes_posts(
    fresh_sandbox, tmp_path: Path, answer: str, created: int, exit_code: int
) -> None:
    shutil.copy(SAMPLES / "invoices.xlsx", tmp_path / "invoices.xlsx")
    args = [
        "run",
        str(tmp_path / "invoices.xlsx"),
        "--url",
        fresh_sandbox.url,
        "--token",
        TOKEN,
        "--journal",
        str(tmp_path / "j.sqlite"),
        "--json",
    ]

    result = run_at_a_terminal(args, answer)

    assert result.returncode == exit_code, result.stderr
    assert "create   6 invoices with 9 lines" in result.stderr
    assert "Create these invoices?" in result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["created"] == created and summary["pending"] == 6 - created
    assert len(Crm(fresh_sandbox.url).numbers()) == created
