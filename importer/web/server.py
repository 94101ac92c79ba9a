"""Running the web application: in the foreground for ``invoice-import serve``, or on a background thread
(:class:`WebServer`) for tests."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn

from importer.web.app import build_app, crm_for, prepare, wrap
from importer.web.config import WebConfig
from importer.web.jobs import Runner

START_TIMEOUT_S = 15


def _uvicorn_config(app: object, config: WebConfig, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=config.host,
        port=config.port,
        log_level=log_level,
        lifespan="on",
        loop="asyncio",
        http="h11",
        proxy_headers=False,
        timeout_graceful_shutdown=3,
        ssl_certfile=config.certfile,
        ssl_keyfile=config.keyfile,
        server_header=False,
    )


def serve(config: WebConfig, announce: Callable[[str], None]) -> None:
    """Serve until Ctrl-C. An import in progress finishes (and writes its workbook) before the end."""
    config = prepare(config)
    with crm_for(config) as (crm_url, token, journal):
        app = build_app(config, crm_url, token, journal)
        server = uvicorn.Server(_uvicorn_config(wrap(app, config), config, "info"))
        sock = _bind(config.host, config.port)
        scheme = "https" if config.tls else "http"
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        if config.sandbox:
            announce(f"Rehearsal: importing into a seeded sandbox CRM at {crm_url} (discarded on exit).")
        else:
            login = "one shared login" if config.shared_login else "each person signs in with their own login"
            announce(f"Importing into {crm_url} ({login}).")
        announce(
            f"Uploads and results: {config.folder()} (kept {config.retention_days} days); journal: {journal}"
        )
        announce(f"Open {scheme}://{shown}:{port}/ in a browser. Ctrl-C stops the server.")
        server.run(sockets=[sock])
        runner: Runner = app.state.web.runner
        if runner.active_ids():
            announce("Waiting for the imports in progress to finish ...")
        runner.wait()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class WebServer:
    """The web application on a background thread of this process (tests): ``with WebServer(cfg) as web``."""

    def __init__(
        self,
        config: WebConfig,
        *,
        crm_url: str | None = None,
        token: str | None = None,
        journal: Path | None = None,
    ) -> None:
        self.config = prepare(config)
        self.url = ""
        self._crm = (crm_url, token, journal)
        self._stack = contextlib.ExitStack()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.runner: Runner | None = None

    def start(self) -> WebServer:
        if self._crm[0] is not None:
            crm_url, token, journal = self._crm
            assert crm_url is not None and journal is not None
        else:
            crm_url, token, journal = self._stack.enter_context(crm_for(self.config))
        app = build_app(self.config, crm_url, token, journal)
        self.runner = app.state.web.runner
        self._server = uvicorn.Server(_uvicorn_config(wrap(app, self.config), self.config, "warning"))
        sock = _bind(self.config.host, self.config.port)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="invoice-import-web"
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web server did not start")
            time.sleep(0.01)
        host, port = sock.getsockname()[:2]
        self.url = f"{'https' if self.config.tls else 'http'}://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        if self.runner is not None:
            self.runner.wait(60)
        self._stack.close()
        self._server = self._thread = None

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
