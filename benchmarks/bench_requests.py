"""Requests per invoice: a clean import of 1,000 invoices into a CRM holding 10,000 others.

Target: at most 1.05 HTTP requests per invoice, look-ups, number checks and retries included, counted at
the sandbox (``GET /_sandbox/stats``). The client's own pacing is lifted (``--rate 1000000/1``): it changes
the time, not the count.

``--user admin`` imports as the administrator, ``--user viewer`` as the ordinary user ``sandbox-viewer``
(a quarter of the other invoices are on a private contact: that user's listing leaves them out);
``--user both`` (the default) reports both figures.

``--status Paid`` (or Sent, Rejected, Draft) gives every invoice that status (a ``Status`` column added to the
generated file): each is created as Draft, then moved along the CRM's allowed path in batches (one
``PUT invoice/status/{status}`` per move for up to 500 invoices): the same target of 1.05 holds.
"""

from __future__ import annotations

import argparse
import csv
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


def with_status(source: Path, status: str, folder: Path) -> Path:
    """A copy of the generated CSV with a ``Status`` column, ``status`` on every row."""
    target = folder / f"{source.stem}.{status.lower()}.csv"
    with (
        source.open(newline="", encoding="utf-8") as read,
        target.open("w", newline="", encoding="utf-8") as out,
    ):
        writer = csv.writer(out)
        for number, row in enumerate(csv.reader(read)):
            writer.writerow([*row, "Status" if number == 0 else status])
    return target


def measure(invoices: int, lines: int, others: int, user: str = "admin", status: str | None = None) -> bool:
    data = write_csv(invoices, lines, "REQ")
    with Sandbox(others=others) as crm, tempfile.TemporaryDirectory() as folder:
        if status is not None:
            data = with_status(data, status, Path(folder))
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
    label = f"requests per invoice as {user}" + (f", every invoice {status}" if status else "")
    return verdict(label, per_invoice <= TARGET, f"{per_invoice:.3f} (target <= {TARGET})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument("--others", type=int, default=10_000)
    parser.add_argument("--user", choices=("admin", "viewer", "both"), default="both")
    parser.add_argument(
        "--status",
        choices=("Draft", "Sent", "Paid", "Rejected"),
        help="the status every invoice is to end at (a Status column; default: none, i.e. Draft)",
    )
    args = parser.parse_args()
    users = ("admin", "viewer") if args.user == "both" else (args.user,)
    results = [measure(args.invoices, args.lines, args.others, user, args.status) for user in users]
    raise SystemExit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
