"""Requests per invoice: a clean import of 1,000 invoices into a CRM holding 10,000 others.

Target: at most 1.05 HTTP requests per invoice, look-ups, number checks and retries included, counted at
the sandbox (``GET /_sandbox/stats``). The client's own pacing is lifted (``--rate 1000000/1``): it changes
the time, not the count.

``--user admin`` imports as the administrator, ``--user viewer`` as the ordinary user ``sandbox-viewer``
(a quarter of the other invoices are on a private contact: that user's listing leaves them out);
``--user both`` (the default) reports both figures.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import CLI, UNLIMITED_RATE, Timed, check_run, timed, verdict
from crm_fixture import Sandbox
from generate import write_csv

TARGET = 1.05
TOKENS = {"admin": "sandbox", "viewer": "sandbox-viewer"}


def run_as(user: str, file: Path, url: str, journal: Path) -> Timed:
    """``invoice-import run`` as one of the sandbox's users, its pacing lifted."""
    command = [str(CLI), "run", str(file), "--url", url, "--token", TOKENS[user], "--yes", "--json"]
    command += ["--journal", str(journal), "--results", str(journal.with_suffix(".results.xlsx"))]
    return timed([*command, "--rate", UNLIMITED_RATE])


def measure(invoices: int, lines: int, others: int, user: str = "admin") -> bool:
    data = write_csv(invoices, lines, "REQ")
    with Sandbox(others=others) as crm, tempfile.TemporaryDirectory() as folder:
        loaded = f"{others} other invoices pre-loaded in {crm.preload_seconds:.2f} s"
        print(f"[{user}] sandbox {crm.url}: {loaded}")
        crm.reset_stats()
        result = run_as(user, data, crm.url, Path(folder) / "journal.sqlite")
        check_run(result, invoices)
        stats = crm.stats()
    requests = int(stats["requests"])
    for route, count in sorted(stats["routes"].items(), key=lambda item: -item[1]):
        print(f"  {count:6d}  {route}")
    print(f"  503 answers: {stats['unavailable']}, invoice creates: {stats['invoiceCreates']}")
    per_invoice = requests / invoices
    print(f"requests: {requests} for {invoices} invoices ({lines} lines each) in {result.seconds:.2f} s")
    label = f"requests per invoice as {user}"
    return verdict(label, per_invoice <= TARGET, f"{per_invoice:.3f} (target <= {TARGET})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument("--others", type=int, default=10_000)
    parser.add_argument("--user", choices=("admin", "viewer", "both"), default="both")
    args = parser.parse_args()
    users = ("admin", "viewer") if args.user == "both" else (args.user,)
    results = [measure(args.invoices, args.lines, args.others, user) for user in users]
    raise SystemExit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
