"""The check and the import of an upload, each on a background thread of the server.

A job outlives the page that started it: leaving the Posting page does not stop the import, and coming back
shows where it is (:meth:`Job.snapshot`, pushed to the page as server-sent events).

One CRM, one journal, one job at a time: every job (a check opens the journal too, to tell "created by this
import" from "exists") takes the runner's lock for the CRM, so two people importing files that share invoice
numbers are served one after the other, and the second one's run finds the first one's invoices (skipped, or
changed) instead of creating them again. A job that must wait says for whom. An ``invoice-import run`` on the
command line holding the same journal (JournalLockedError) is waited for too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from importer.errors import ImporterError, JournalLockedError
from importer.models import Outcome
from importer.pipeline import RunResult

log = logging.getLogger("invoice_import.web")

JOURNAL_WAIT_S = 30 * 60  # how long a job waits for a journal locked by another process
JOURNAL_RETRY_S = 1.0


@dataclass
class Job:
    """One check or import of an upload. Written by its worker thread, read by the pages."""

    upload_id: str
    kind: str  # "check" or "post"
    who: str
    filename: str
    state: str = "queued"  # queued, waiting, running, done, failed
    message: str = ""
    done: int = 0
    total: int = 0
    created: int = 0
    failed: int = 0
    queued_at: float = field(default_factory=time.monotonic)
    posting_started: float | None = None
    finished_at: float | None = None
    result: RunResult | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def set(self, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, value)

    def progress(self, total: int) -> Callable[[str, Outcome], None]:
        """The pipeline's progress factory: told the number to post, then each invoice posted."""
        self.set(total=total, done=0, posting_started=time.monotonic())

        def posted(_number: str, outcome: Outcome) -> None:
            with self._lock:
                self.done += 1
                if outcome.status.value == "created":
                    self.created += 1
                elif outcome.status.value == "failed":
                    self.failed += 1

        return posted

    def snapshot(self) -> dict[str, Any]:
        """What the Posting page shows: done / total, rate, time left, state, message."""
        with self._lock:
            now = self.finished_at or time.monotonic()
            elapsed = now - self.posting_started if self.posting_started else 0.0
            rate = self.done / elapsed if elapsed > 0 and self.done else 0.0
            left = (self.total - self.done) / rate if rate else None
            return {
                "kind": self.kind,
                "state": self.state,
                "message": self.message,
                "done": self.done,
                "total": self.total,
                "created": self.created,
                "failed": self.failed,
                "rate": round(rate, 1),
                "seconds_left": None if left is None else round(left),
                "elapsed": round(elapsed, 1),
            }


class Runner:
    """Runs jobs on their own threads, one at a time per CRM (this server serves one CRM)."""

    def __init__(self, on_finish: Callable[[Job], None] | None = None) -> None:
        self._crm_lock = threading.Lock()
        self._holder: Job | None = None
        self._jobs: dict[str, Job] = {}
        self._guard = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.on_finish = on_finish

    def job(self, upload_id: str) -> Job | None:
        with self._guard:
            return self._jobs.get(upload_id)

    def active_ids(self) -> set[str]:
        with self._guard:
            return {key for key, job in self._jobs.items() if not job.finished}

    def start(self, job: Job, work: Callable[[Job], RunResult]) -> Job:
        """Start ``work(job)`` on a new thread; refuse (ImporterError) while the upload has a job running."""
        with self._guard:
            current = self._jobs.get(job.upload_id)
            if current is not None and not current.finished:
                raise ImporterError(
                    f"{job.filename}: its {'import' if current.kind == 'post' else 'check'} is still running."
                )
            self._jobs[job.upload_id] = job
            # Not a daemon: stopping the server lets an import in progress finish (and write its workbook).
            thread = threading.Thread(
                target=self._run, args=(job, work), name=f"{job.kind}-{job.upload_id[:8]}"
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return job

    def wait(self, timeout: float | None = None) -> None:
        """Wait for every job's thread (tests, shutdown)."""
        for thread in list(self._threads):
            thread.join(timeout)

    def _run(self, job: Job, work: Callable[[Job], RunResult]) -> None:
        try:
            self._take_crm(job)
            try:
                job.set(state="running", message="")
                job.set(result=self._with_journal_waits(job, work), state="done")
            finally:
                with self._guard:
                    self._holder = None
                self._crm_lock.release()
        except ImporterError as exc:
            job.set(state="failed", message=str(exc))
        except Exception as exc:  # a bug: the page says so, the log has the traceback
            log.exception("%s of upload %s failed", job.kind, job.upload_id)
            job.set(state="failed", message=f"unexpected error: {exc!r}")
        finally:
            job.set(finished_at=time.monotonic())
            if self.on_finish is not None:
                try:
                    self.on_finish(job)
                except Exception:
                    log.exception("recording the end of upload %s failed", job.upload_id)

    def _take_crm(self, job: Job) -> None:
        while not self._crm_lock.acquire(timeout=0.25):
            with self._guard:
                holder = self._holder
            if holder is not None:
                what = "import" if holder.kind == "post" else "check"
                job.set(
                    state="waiting",
                    message=f"Waiting: {holder.who}'s {what} of {holder.filename} into this CRM is running; "
                    "yours starts when it ends (one import per CRM at a time: no invoice is created twice).",
                )
        with self._guard:
            self._holder = job

    def _with_journal_waits(self, job: Job, work: Callable[[Job], RunResult]) -> RunResult:
        deadline = time.monotonic() + JOURNAL_WAIT_S
        while True:
            try:
                return work(job)
            except JournalLockedError as exc:  # a command-line run into the same CRM: nothing was sent yet
                if time.monotonic() > deadline:
                    raise
                job.set(state="waiting", message=f"Waiting: {exc}")
                time.sleep(JOURNAL_RETRY_S)
                job.set(state="running", message="")
