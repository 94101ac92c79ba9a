"""Server-side sessions and protection against cross-site request forgery.

The browser holds only a random session id (HttpOnly, SameSite=Strict cookie). Everything else stays in
this process's memory: who signed in, the CRM token their sign-in returned (used by the pipeline for that
person's imports; the password is used once to sign in and never kept; the token is never written to disk,
a page, a cookie, a URL or a log), and the session's CSRF token, which every form carries and every POST
must echo.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

COOKIE = "invoice_import_session"
IDLE_TIMEOUT_S = 8 * 3600
LOGIN_FAILURES_ALLOWED = 5
LOGIN_FAILURE_WINDOW_S = 300


@dataclass
class Session:
    id: str
    csrf: str
    user: str | None = None  # the signed-in ONLYOFFICE user (personal sign-in)
    token: str | None = field(default=None, repr=False)  # the CRM token of a personal sign-in
    last_seen: float = field(default_factory=time.monotonic)

    def __repr__(self) -> str:  # never shows the id, the token or the password
        return f"Session(user={self.user!r})"


class Sessions:
    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > IDLE_TIMEOUT_S:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            return session

    def new(self, user: str | None = None, token: str | None = None) -> Session:
        session = Session(
            id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), user=user, token=token
        )
        with self._lock:
            self._expire()
            self._sessions[session.id] = session
        return session

    def drop(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.id, None)
        session.token = None

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, s in self._sessions.items() if now - s.last_seen > IDLE_TIMEOUT_S]:
            del self._sessions[key]

    # ----------------------------------------------------------------------------- sign-in throttle

    def login_blocked(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(key, []) if now - t < LOGIN_FAILURE_WINDOW_S]
            self._failures[key] = recent
            return len(recent) >= LOGIN_FAILURES_ALLOWED

    def login_failed(self, key: str) -> None:
        with self._lock:
            self._failures.setdefault(key, []).append(time.monotonic())


def csrf_ok(session: Session | None, sent: object) -> bool:
    return session is not None and isinstance(sent, str) and hmac.compare_digest(session.csrf, sent)
