"""Running the sandbox: its configuration, an in-process server on a thread, and the foreground command."""

from __future__ import annotations

import random
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType

import uvicorn

from importer.sandbox.app import SandboxState, build_app
from importer.sandbox.faults import SandboxStats, SlidingWindow
from importer.sandbox.seed import load_demo_data, write_settings
from importer.sandbox.store import Store

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 8080  # 0 = a free port
    db: Path | None = None  # None = a temporary SQLite file, removed on stop
    token: str = "sandbox"
    user: str = "admin@example.com"
    password: str = "sandbox"
    viewer_token: str = "sandbox-viewer"  # an ordinary user: no admin-only calls, no private contacts
    viewer_user: str = "viewer@example.com"
    viewer_password: str = "sandbox"
    seed: bool = True
    latency_ms: int = 0
    jitter_ms: int = 0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    rate_limit: tuple[int, float] | None = None  # (N requests, S seconds)
    racy_numbers: bool = False  # reproduce the real server's non-atomic number check
    random_seed: int | None = None  # for reproducible fault injection
    ssl_certfile: Path | None = None  # serve https:// with this certificate (chain), PEM
    ssl_keyfile: Path | None = None  # its private key, PEM (None: inside ssl_certfile)


def _check_config(config: SandboxConfig) -> None:
    for name in ("error_rate", "drop_rate"):
        value = getattr(config, name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, not {value}")
    if config.latency_ms < 0 or config.jitter_ms < 0:
        raise ValueError("latency and jitter must not be negative")
    if config.ssl_keyfile is not None and config.ssl_certfile is None:
        raise ValueError("ssl_keyfile needs ssl_certfile")
    if config.token == config.viewer_token:
        raise ValueError("the administrator's and the viewer's tokens must differ")


class SandboxServer:
    """The sandbox CRM served by uvicorn on a background thread of this process."""

    def __init__(self, config: SandboxConfig) -> None:
        _check_config(config)
        self.config = config
        self.stats = SandboxStats()
        self.url = ""
        self._tempdir: Path | None = None
        self._store: Store | None = None
        self._state: SandboxState | None = None
        self._window = SlidingWindow(*config.rate_limit) if config.rate_limit else None
        self._rng = random.Random(config.random_seed)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        """Open the database, bind the port, and return once connections are accepted."""
        if self._thread is not None:
            return self
        store = self._open_store()
        state = SandboxState(
            store=store,
            stats=self.stats,
            token=self.config.token,
            user=self.config.user,
            password=self.config.password,
            viewer_token=self.config.viewer_token,
            viewer_user=self.config.viewer_user,
            viewer_password=self.config.viewer_password,
            racy_numbers=self.config.racy_numbers,
            drop_rate=self.config.drop_rate,
            rng=self._rng,
        )
        app = build_app(
            state,
            latency_ms=self.config.latency_ms,
            jitter_ms=self.config.jitter_ms,
            error_rate=self.config.error_rate,
            window=self._window,
        )
        uv_config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=2,
            loop="asyncio",
            http="h11",
            proxy_headers=False,  # nothing stands in front of the sandbox: one middleware less per request
            ssl_certfile=self.config.ssl_certfile,
            ssl_keyfile=self.config.ssl_keyfile,
        )
        try:
            uv_config.load()  # here, not on the server thread: a bad certificate or key raises to the caller
        except (OSError, ssl.SSLError):
            self._close_store()
            raise
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP (else +40 ms).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.config.host, self.config.port))
        except OSError:
            sock.close()
            self._close_store()
            raise
        host, port = sock.getsockname()[:2]
        self._server = uvicorn.Server(uv_config)  # on a worker thread it leaves signals alone
        self._state = state
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="sandbox-crm", daemon=True
        )
        self._thread.start()
        self._wait_started(sock)
        shown_host = f"[{host}]" if ":" in host else host
        scheme = "https" if self.config.ssl_certfile is not None else "http"
        self.url = f"{scheme}://{shown_host}:{port}"
        return self

    def _wait_started(self, sock: socket.socket) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                self.stop()
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.005)

    def _open_store(self) -> Store:
        path = self.config.db
        if path is None:
            self._tempdir = Path(tempfile.mkdtemp(prefix="sandbox-crm-"))
            path = self._tempdir / "crm.sqlite"
        store = Store(path)
        if store.is_new():
            self._fill(store, self.config.seed)
        self._store = store
        return store

    @staticmethod
    def _fill(store: Store, seed: bool) -> None:
        write_settings(store)
        if seed:
            load_demo_data(store)

    def reset(self, seed: bool = True) -> None:
        """Wipe the data (re-seeding if asked), the counters, the rate window, the login failures and the
        cached totals."""
        if self._store is None or self._state is None:
            raise RuntimeError("the sandbox is not started")
        with self._store.lock:
            self._store.wipe()
            self._fill(self._store, seed)
        self.stats.reset()
        self._state.clear_logins()
        self._state.clear_totals()
        if self._window is not None:
            self._window.clear()

    def reseed(self, random_seed: int) -> None:
        """Restart the fault injection's random sequence (error rate, drop rate, jitter) from this seed."""
        self._rng.seed(random_seed)

    def stop(self) -> None:
        """Shut down and wait for the server thread; remove a temporary database. Safe to call twice."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(STOP_TIMEOUT_S)
        self._server = self._thread = None
        self._close_store()

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def run_sandbox(config: SandboxConfig) -> None:
    """Serve in the foreground: print one line with the URL, serve until SIGINT or SIGTERM, then stop."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with SandboxServer(config) as server:
            print(f"Sandbox CRM listening on {server.url} (token: {config.token})", flush=True)
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.stdout.flush()
