"""The web application: one page per step, each reachable again from the next.

    /login → /upload → /u/<id>/columns → /u/<id>/check → /u/<id>/plan → /u/<id>/posting → /u/<id>/results
    /history: past uploads to this CRM, each with its workbook, and the runs the journal knows
    /runs/<run ID>/undo: the undo of a run (the plan, then the confirmed deletes), on importer.lifecycle

Every POST carries the session's CSRF token; nothing from a file is marked safe in a template (Jinja
autoescape is on), and every page is sent with a Content-Security-Policy that allows only this server's
own scripts and styles.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from importer.client import CrmClient, normalize_url
from importer.columns import CANONICAL, REQUIRED
from importer.errors import CrmAuthError, CrmError, ImporterError, MissingColumnsError, UsageError
from importer.journal import default_journal_path, read_runs
from importer.lifecycle import UndoOptions, UndoResult, undo_online
from importer.models import FormatOptions
from importer.pipeline import Connection, Plan, RunOptions, RunResult, run_command
from importer.web import reading, views
from importer.web.config import WebConfig
from importer.web.jobs import Job, Runner
from importer.web.sessions import COOKIE, Session, Sessions, csrf_ok
from importer.web.store import (
    ALLOWED_SUFFIXES,
    CHECK_RESULTS,
    MAPPING,
    RESULTS,
    Store,
    Upload,
    private_folder,
)

log = logging.getLogger("invoice_import.web")
HERE = Path(__file__).parent
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RUN_ID = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{4}")  # importer.journal.new_run_id
KEPT_RESULTS = 64  # check/import reports kept in memory (the workbooks stay on disk)
PURGE_EVERY_S = 3600
DATE_FORMATS = {
    "": "detect",
    "%Y-%m-%d": "yyyy-mm-dd",
    "%d.%m.%Y": "dd.mm.yyyy",
    "%d/%m/%Y": "dd/mm/yyyy",
    "%m/%d/%Y": "mm/dd/yyyy",
}


@dataclass
class Web:
    """The application's state: configuration, files, jobs, sessions, and the CRM it serves."""

    config: WebConfig
    crm_url: str
    token: str | None
    journal: Path
    store: Store
    runner: Runner
    sessions: Sessions = field(default_factory=Sessions)
    reports: OrderedDict[str, RunResult] = field(default_factory=OrderedDict)  # "check:<id>", "post:<id>"

    def keep(self, key: str, result: RunResult) -> None:
        self.reports[key] = result
        self.reports.move_to_end(key)
        while len(self.reports) > KEPT_RESULTS:
            self.reports.popitem(last=False)

    def who(self, session: Session) -> str:
        if session.user:
            return session.user
        if self.config.sandbox:
            return "sandbox rehearsal"
        return self.config.user or "shared token"

    def finished(self, job: Job) -> None:
        """Record the end of a check or import: its report in memory, its counts in the upload's meta."""
        upload = self.store.get(job.upload_id)
        if upload is None:
            return
        result = job.result
        if job.kind == "check":
            if result is not None:
                self.keep(f"check:{job.upload_id}", result)
                self.store.update(
                    upload,
                    state="checked",
                    counts=views.counts(result),
                    message=str(result.crm_error) if result.crm_error else "",
                )
            else:
                self.store.update(upload, message=job.message)
            return
        if result is not None:
            self.keep(f"post:{job.upload_id}", result)
            self.store.update(
                upload,
                state="posted" if result.crm_error is None else "failed",
                counts=views.counts(result),
                message=str(result.crm_error or ""),
                posted_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
        else:
            self.store.update(upload, state="failed", message=job.message)

    def connection(self, session: Session) -> Connection:
        config = self.config
        personal = not config.shared_login
        return Connection(
            url=self.crm_url,
            token=session.token if personal else self.token,
            user=None if personal else config.user,
            password=None if personal else config.password,
            allow_http=config.allow_http,
            ca_bundle=config.ca_bundle,
        )


# ------------------------------------------------------------------------------------------- middleware


class BodyLimit:
    """Refuse a request body over the upload limit (413) before it is read in full."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(self.limit, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, _too_large_text(self.limit))
            return message

        await self.app(scope, limited, send)


def _too_large_text(limit: int) -> str:
    return (
        f"The file is larger than the upload limit of {limit // (1024 * 1024)} MB: split it, "
        "or ask whoever runs the server for a higher --max-upload-mb."
    )


async def _too_large(limit: int, send: Send) -> None:
    body = _too_large_text(limit).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app: ASGIApp, tls: bool) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (
                        b"content-security-policy",
                        b"default-src 'self'; script-src 'self'; style-src 'self'; "
                        b"img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
                    ),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                if not any(k == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                if self.tls:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


# ------------------------------------------------------------------------------------------- helpers


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # everything, whatever the template's name: nothing from a file is ever HTML
        undefined=jinja2.StrictUndefined,
    )
    env.filters["when"] = lambda iso: datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    return Jinja2Templates(env=env)


def _pretty_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def build_app(config: WebConfig, crm_url: str, token: str | None, journal: Path) -> Starlette:
    """The application for one CRM (``crm_url``, with ``token`` for a shared login)."""
    store = Store(config.folder(), config.retention_days)
    runner = Runner()
    web = Web(
        config=config,
        crm_url=normalize_url(crm_url),
        token=token,
        journal=journal,
        store=store,
        runner=runner,
    )
    runner.on_finish = web.finished
    templates = _templates()

    def page(request: Request, session: Session, name: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("upload", None)
        context.setdefault("step", "")
        context.setdefault("error", "")
        context.setdefault("notice", "")
        context.update(
            csrf=session.csrf,
            who=web.who(session),
            signed_in=bool(session.user),
            crm_url=web.crm_url,
            sandbox=config.sandbox,
            steps=_steps(web, context["upload"]),
        )
        response = templates.TemplateResponse(request, name, context, status_code=status)
        _set_cookie(response, session, config.tls)
        return response

    # ---------------------------------------------------------------------------- sessions & forms

    def current(request: Request) -> Session | None:
        return web.sessions.get(request.cookies.get(COOKIE))

    def session_for(request: Request) -> Session:
        """The caller's session, created when missing (every form needs its CSRF token)."""
        return current(request) or web.sessions.new()

    def signed_in(request: Request) -> Session:
        session = current(request)
        if config.shared_login:
            return session or web.sessions.new()
        if session is None or not session.user:
            raise HTTPException(303, headers={"Location": "/login"})
        return session

    async def checked_form(request: Request, session: Session, **limits: Any) -> FormData:
        form = await request.form(**limits)
        if not csrf_ok(session, form.get("csrf")):
            raise HTTPException(
                403, "This form has expired or did not come from this site; reload the page and try again."
            )
        return form

    def owned(session: Session, upload_id: str) -> Upload:
        upload = web.store.get(upload_id)
        if upload is None or upload.crm_url != web.crm_url:
            raise HTTPException(404, "No such upload (it may have passed the retention period).")
        if not config.shared_login and upload.who != session.user:
            raise HTTPException(403, "This upload belongs to someone else.")
        return upload

    # ---------------------------------------------------------------------------- sign-in

    async def login_page(request: Request) -> Response:
        if config.shared_login:
            return RedirectResponse("/upload", 303)
        return page(request, session_for(request), "login.html", step="login", user="")

    async def login(request: Request) -> Response:
        if config.shared_login:
            return RedirectResponse("/upload", 303)
        session = session_for(request)
        form = await checked_form(request, session)
        user = str(form.get("user") or "").strip()
        password = str(form.get("password") or "")
        key = f"{request.client.host if request.client else ''}|{user.casefold()}"
        if not user or not password:
            return page(
                request,
                session,
                "login.html",
                400,
                step="login",
                user=user,
                error="Enter your ONLYOFFICE user name (e-mail) and password.",
            )
        if web.sessions.login_blocked(key):
            return page(
                request,
                session,
                "login.html",
                429,
                step="login",
                user=user,
                error="Too many failed sign-ins for this user: wait five minutes, then try again.",
            )
        try:
            async with CrmClient(
                web.crm_url,
                user=user,
                password=password,
                allow_http=config.allow_http,
                verify=str(config.ca_bundle) if config.ca_bundle else True,
                retry=_login_retry(),
            ) as crm:
                await crm.check_access()
                token = crm.token
        except CrmAuthError:
            web.sessions.login_failed(key)
            log.info("sign-in refused for a user of %s", web.crm_url)
            return page(
                request,
                session,
                "login.html",
                401,
                step="login",
                user=user,
                error="ONLYOFFICE refused this sign-in: check your user name and password, or ask your "
                "portal administrator for access to CRM invoices.",
            )
        except CrmError as exc:
            return page(
                request,
                session,
                "login.html",
                502,
                step="login",
                user=user,
                error=f"The CRM could not be reached to sign you in: {exc}",
            )
        web.sessions.drop(session)
        fresh = web.sessions.new(user=user, token=token)  # a new id after sign-in; the password is not kept
        response = RedirectResponse("/upload", 303)
        _set_cookie(response, fresh, config.tls)
        return response

    async def logout(request: Request) -> Response:
        session = session_for(request)
        await checked_form(request, session)
        web.sessions.drop(session)
        response = RedirectResponse("/login" if not config.shared_login else "/upload", 303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # ---------------------------------------------------------------------------- 1. upload

    def upload_context() -> dict[str, Any]:
        return {
            "mappings": web.store.mapping_names(),
            "accept": ",".join(ALLOWED_SUFFIXES),
            "max_mb": config.max_upload_mb,
            "step": "upload",
        }

    async def upload_page(request: Request) -> Response:
        session = signed_in(request)
        return page(request, session, "upload.html", **upload_context())

    async def upload(request: Request) -> Response:
        session = signed_in(request)
        form = await checked_form(request, session, max_files=1, max_fields=20)
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            return page(
                request, session, "upload.html", 400, error="Choose a file to upload.", **upload_context()
            )
        mapping_name = str(form.get("mapping") or "")
        saved_mapping = web.store.named_mapping(mapping_name) if mapping_name else None

        def write(path: Path) -> None:
            with open(path, "wb") as out:
                shutil.copyfileobj(file.file, out, 1024 * 1024)

        try:
            new = await run_in_threadpool(
                web.store.new, who=web.who(session), crm_url=web.crm_url, filename=file.filename, write=write
            )
        except UsageError as exc:
            return page(request, session, "upload.html", 400, error=str(exc), **upload_context())
        if saved_mapping is not None:
            shutil.copyfile(saved_mapping, web.store.folder(new) / MAPPING)
            new = web.store.update(new, mapping_name=mapping_name)
        try:  # the loader's checks (size, zip bombs, disguised files ...) before anything else
            await run_in_threadpool(reading.read_raw, _source(web, new))
        except MissingColumnsError:
            pass  # the Columns page asks for them
        except ImporterError as exc:
            web.store.delete(new)
            return page(request, session, "upload.html", 400, error=str(exc), **upload_context())
        return RedirectResponse(f"/u/{new.id}/columns", 303)

    # ---------------------------------------------------------------------------- 2. columns

    async def columns_page(request: Request) -> Response:
        session = signed_in(request)
        upload = owned(session, request.path_params["id"])
        return await render_columns(request, session, upload)

    async def render_columns(
        request: Request,
        session: Session,
        upload: Upload,
        status: int = 200,
        error: str = "",
        notice: str = "",
    ) -> Response:
        source = _source(web, upload)
        matching: reading.Matching | None = None
        sheets: list[str] = []
        fmt = FormatOptions()
        defaults: dict[str, str] = {}
        try:
            config_ = await run_in_threadpool(_read_mapping, source.mapping)
            fmt, defaults = config_.format, dict(config_.defaults)
            raw = await run_in_threadpool(reading.read_raw, source)
            matching = await run_in_threadpool(reading.match_columns, raw, config_)
            sheets = await run_in_threadpool(reading.sheet_names, source.file)
        except ImporterError as exc:
            error = error or str(exc)
            status = 400 if status == 200 else status
        return page(
            request,
            session,
            "columns.html",
            status,
            upload=upload,
            step="columns",
            matching=matching,
            sheets=sheets,
            columns=reading.column_docs(),
            defaults=defaults,
            fmt=fmt,
            date_formats=DATE_FORMATS,
            error=error,
            notice=notice,
        )

    async def columns(request: Request) -> Response:
        session = signed_in(request)
        upload = owned(session, request.path_params["id"])
        form = await checked_form(request, session)
        action = str(form.get("action") or "check")
        if action == "reread":
            sheet = str(form.get("sheet") or "") or None
            header_row = str(form.get("header_row") or "").strip()
            upload = web.store.update(
                upload,
                sheet=sheet,
                header_row=int(header_row) if header_row.isdigit() and int(header_row) > 0 else None,
            )
            with contextlib.suppress(FileNotFoundError):  # headers of another sheet: match afresh
                (web.store.folder(upload) / MAPPING).unlink()
            return RedirectResponse(f"/u/{upload.id}/columns", 303)
        chosen: dict[str, str] = {}
        for name in CANONICAL:
            header = str(form.get(f"col:{name}") or "")
            if header:
                if header in chosen:
                    return await render_columns(
                        request,
                        session,
                        upload,
                        400,
                        error=f"The header '{header}' is chosen for both {chosen[header]} and {name}: "
                        "choose it once.",
                    )
                chosen[header] = name
        defaults = {name: str(form.get(f"default:{name}") or "").strip() for name in CANONICAL}
        defaults = {name: value for name, value in defaults.items() if value}
        date_format = str(form.get("date") or "")
        fmt = FormatOptions(
            encoding=str(form.get("encoding") or "") or None,
            delimiter=str(form.get("delimiter") or "") or None,
            decimal=str(form.get("decimal") or "") or None,
            date=date_format if date_format in DATE_FORMATS and date_format else None,
        )
        text = reading.mapping_toml(chosen, defaults, fmt)
        try:
            await run_in_threadpool(reading.write_mapping, web.store.folder(upload) / MAPPING, text)
        except ImporterError as exc:
            return await render_columns(request, session, upload, 400, error=str(exc))
        if action == "save-mapping":
            name = str(form.get("mapping_name") or "").strip()
            try:
                web.store.save_named_mapping(name, text)
            except UsageError as exc:
                return await render_columns(request, session, upload, 400, error=str(exc))
            upload = web.store.update(upload, mapping_name=name)
            return await render_columns(
                request,
                session,
                upload,
                notice=f"Saved as the mapping '{name}': choose it on the Upload page next time.",
            )
        missing = [name for name in REQUIRED if name not in chosen.values() and not defaults.get(name)]
        if missing:
            return await render_columns(
                request,
                session,
                upload,
                400,
                error=f"Choose a column (or give a default) for: {', '.join(missing)}.",
            )
        start_check(session, upload)
        return RedirectResponse(f"/u/{upload.id}/check", 303)

    async def mapping_download(request: Request) -> Response:
        session = signed_in(request)
        upload = owned(session, request.path_params["id"])
        path = web.store.mapping(upload)
        if path is None:
            raise HTTPException(404, "No mapping saved for this upload yet.")
        name = f"{upload.mapping_name or Path(upload.filename).stem}.mapping.toml"
        return FileResponse(path, media_type="application/toml", filename=name)

    # ---------------------------------------------------------------------------- 3. check

    def start_check(session: Session, upload: Upload) -> Job:
        options = RunOptions(
            source=_source(web, upload),
            connection=web.connection(session),
            results=web.store.folder(upload) / CHECK_RESULTS,
            journal=web.journal,
            dry_run=True,
        )
        web.reports.pop(f"check:{upload.id}", None)
        job = Job(upload_id=upload.id, kind="check", who=web.who(session), filename=upload.filename)
        return web.runner.start(job, lambda _job: run_command(options, confirm=lambda _plan: False))

    async def check_page(request: Request) -> Response:
        session = signed_in(request)
        upload = owned(session, request.path_params["id"])
        job = web.runner.job(upload.id)
        if job is not None and job.kind == "check" and not job.finished:
            return page(
                request,
                session,
                "waiting.html",
                upload=upload,
                step="check",
                job=job.snapshot(),
                title="Checking",
                what="Checking the rows and looking them up in the CRM",
            )
        result = web.reports.get(f"check:{upload.id}")
        failure = job.message if job is not None and job.kind == "check" and job.state == "failed" else ""
        if result is None:
            return page(
                request,
                session,
                "check.html",
                upload=upload,
                step="check",
                result=None,
                grid=None,
                counts={},
                error=failure,
            )
        errors_only = request.query_params.get("errors") == "1"
        page_number = (
            int(request.query_params.get("page", "1"))
            if request.query_params.get("page", "1").isdigit()
            else 1
        )
        grid = await run_in_threadpool(views.grid, result.report, page=page_number, errors_only=errors_only)
        return page(
            request,
            session,
            "check.html",
            upload=upload,
            step="check",
            result=result,
            grid=grid,
            counts=views.counts(result),
            errors_only=errors_only,
            crm_error=str(result.crm_error) if result.crm_error else "",
        )

    async def check(request: Request) -> Response:
        session = signed_in(request)
        upload = owned(session, request.path_params["id"])
        await checked_form(request, session)
        try:
            start_check(session, upload)
        except ImporterError as exc:
            return await render_columns(request, session, upload, 409, error=str(exc))
        return RedirectResponse(f"/u/{upload.id}/check", 303)

    async def check_download(request: Request) -> Response:
        return _download(web, signed_in(request), request.path_params["id"], CHECK_RESULTS, "check")

    # ---------------------------------------------------------------------------- 4. plan

    async def plan_page(request: Request) -> Response:
        session = signed_in(request)
        upload = owned(session, request.path_params["id"])
        result = web.reports.get(f"check:{upload.id}")
        if result is None or result.plan is None:
            return RedirectResponse(f"/u/{upload.id}/check", 303)
        plan: Plan = result.plan
        return page(
            request,
            session,
            "plan.html",
            upload=upload,
            step="plan",
            plan=plan,
            groups=views.plan_groups(plan),
            result=result,
            counts=views.counts(result),
        )

    async def post(request: Request) -> Response:
        session = signed_in(request)
        upload = owned(session, request.path_params["id"])
        await checked_form(request, session)
        result = web.reports.get(f"check:{upload.id}")
        if result is None or result.plan is None or not result.plan.to_create:
            return RedirectResponse(f"/u/{upload.id}/plan", 303)
        confirmed = {resolved.number for resolved in result.plan.to_create}

        def confirm(plan: Plan) -> bool:
            # Re-planned at posting time: fewer is fine (someone else's import created some meanwhile:
            # they are skipped now); anything the user did not see is not posted.
            return {resolved.number for resolved in plan.to_create} <= confirmed

        options = RunOptions(
            source=_source(web, upload),
            connection=web.connection(session),
            results=web.store.folder(upload) / RESULTS,
            journal=web.journal,
        )
        job = Job(
            upload_id=upload.id,
            kind="post",
            who=web.who(session),
            filename=upload.filename,
            total=len(confirmed),
        )
        try:
            web.runner.start(job, lambda job: run_command(options, confirm=confirm, progress=job.progress))
        except ImporterError as exc:
            return page(
                request,
                session,
                "plan.html",
                409,
                upload=upload,
                step="plan",
                plan=result.plan,
                groups=views.plan_groups(result.plan),
                result=result,
                counts=views.counts(result),
                error=str(exc),
            )
        web.store.update(upload, state="posting")
        return RedirectResponse(f"/u/{upload.id}/posting", 303)

    # ---------------------------------------------------------------------------- 5. posting

    async def posting_page(request: Request) -> Response:
        session = signed_in(request)
        upload = owned(session, request.path_params["id"])
        job = web.runner.job(upload.id)
        if job is None or job.kind != "post":
            if web.store.folder(upload).joinpath(RESULTS).is_file():
                return RedirectResponse(f"/u/{upload.id}/results", 303)
            return RedirectResponse(f"/u/{upload.id}/plan", 303)
        snapshot = job.snapshot()
        return page(
            request,
            session,
            "posting.html",
            upload=upload,
            step="posting",
            job=snapshot,
            left=_pretty_seconds(snapshot["seconds_left"]),
        )

    async def events(request: Request) -> Response:
        session = signed_in(request)
        upload = owned(session, request.path_params["id"])

        async def stream() -> AsyncIterator[bytes]:
            yield b"retry: 1000\n\n"
            while True:
                job = web.runner.job(upload.id)
                snapshot = job.snapshot() if job is not None else {"state": "none"}
                seconds = snapshot.get("seconds_left")
                snapshot["left"] = _pretty_seconds(seconds if isinstance(seconds, int | float) else None)
                yield f"data: {json.dumps(snapshot)}\n\n".encode()
                if job is None or job.finished or await request.is_disconnected():
                    return
                await asyncio.sleep(0.4)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # ---------------------------------------------------------------------------- 6. results

    async def results_page(request: Request) -> Response:
        session = signed_in(request)
        upload = owned(session, request.path_params["id"])
        job = web.runner.job(upload.id)
        if job is not None and job.kind == "post" and not job.finished:
            return RedirectResponse(f"/u/{upload.id}/posting", 303)
        result = web.reports.get(f"post:{upload.id}")
        rows = views.invoice_rows(result, web.crm_url) if result is not None else []
        counts = views.counts(result) if result is not None else dict(upload.counts)
        return page(
            request,
            session,
            "results.html",
            upload=upload,
            step="results",
            result=result,
            rows=rows,
            counts=counts,
            all_statuses=[
                "created",
                "skipped",
                "exists",
                "invalid",
                "failed",
                "pending",
                "changed",
                "planned",
                "updated",
                "incomplete",
            ],
            crm_error=str(result.crm_error) if result is not None and result.crm_error else upload.message,
            has_workbook=web.store.folder(upload).joinpath(RESULTS).is_file(),
        )

    async def results_download(request: Request) -> Response:
        return _download(web, signed_in(request), request.path_params["id"], RESULTS, "results")

    # ---------------------------------------------------------------------------- 7. history

    async def history_page(request: Request) -> Response:
        session = signed_in(request)
        uploads = await run_in_threadpool(web.store.history, web.crm_url)
        entries = [
            {
                "upload": u,
                "results": web.store.folder(u).joinpath(RESULTS).is_file(),
                "check": web.store.folder(u).joinpath(CHECK_RESULTS).is_file(),
                "mine": config.shared_login or u.who == session.user,
            }
            for u in uploads
        ]
        try:
            runs = await run_in_threadpool(read_runs, web.journal, web.crm_url)
        except ImporterError as exc:
            runs, error = [], str(exc)
        else:
            error = ""
        return page(
            request,
            session,
            "history.html",
            step="history",
            entries=entries,
            runs=runs,
            retention=config.retention_days,
            error=error,
        )

    # ---------------------------------------------------------------------------- 8. undo a run

    def run_id_of(request: Request) -> str:
        run_id = str(request.path_params["run_id"])
        if not RUN_ID.fullmatch(run_id):
            raise HTTPException(404, "No such run.")
        return run_id

    def undo_folder() -> Path:
        return private_folder(web.store.root / "undo")

    async def run_undo(session: Session, run_id: str, *, confirmed: set[str] | None) -> UndoResult:
        """The library's undo: a dry run (the plan) when ``confirmed`` is None, else the deletes of at most
        the invoices the user saw in the plan."""
        conn = web.connection(session)
        options = UndoOptions(connection=conn, run_id=run_id, journal=web.journal, dry_run=confirmed is None)

        def confirm(plan: Any) -> bool:
            return {item.number for item in plan.to_delete} <= (confirmed or set())

        def go() -> UndoResult:
            return asyncio.run(
                undo_online(
                    options, web.crm_url, conn.token, web.journal, confirm=confirm, user=web.who(session)
                )
            )

        return await run_in_threadpool(go)

    def undo_page_of(
        request: Request, session: Session, result: UndoResult | None, **context: Any
    ) -> Response:
        items = result.report.items if result is not None else ()
        return page(
            request,
            session,
            "undo.html",
            step="history",
            result=result,
            items=items,
            counts=result.report.counts() if result is not None else {},
            **context,
        )

    async def undo_page(request: Request) -> Response:
        session = signed_in(request)
        run_id = run_id_of(request)
        try:
            result = await run_undo(session, run_id, confirmed=None)
        except (ImporterError, CrmError) as exc:
            return undo_page_of(request, session, None, run_id=run_id, done=False, error=str(exc), status=409)
        return undo_page_of(request, session, result, run_id=run_id, done=False)

    async def undo(request: Request) -> Response:
        session = signed_in(request)
        run_id = run_id_of(request)
        form = await checked_form(request, session)
        confirmed = {str(number) for number in form.getlist("number")}
        try:
            result = await run_undo(session, run_id, confirmed=confirmed)
        except (ImporterError, CrmError) as exc:
            return undo_page_of(request, session, None, run_id=run_id, done=False, error=str(exc), status=409)
        if result.report.run_ids:
            from importer.results import write_undo_results

            await run_in_threadpool(write_undo_results, undo_folder() / f"{run_id}.xlsx", result.report)
        notice = "; ".join(result.notes)
        error = str(result.crm_error) if result.crm_error else ""
        return undo_page_of(request, session, result, run_id=run_id, done=True, notice=notice, error=error)

    async def undo_download(request: Request) -> Response:
        signed_in(request)
        path = undo_folder() / f"{run_id_of(request)}.xlsx"
        if not path.is_file():
            raise HTTPException(404, "This undo has not been done (yet).")
        return FileResponse(path, media_type=XLSX, filename=f"undo-{path.stem}.results.xlsx")

    async def home(request: Request) -> Response:
        return RedirectResponse("/upload", 303)

    async def purge_loop() -> None:
        while True:
            removed = await run_in_threadpool(web.store.purge, web.runner.active_ids())
            if removed:
                log.info("removed %d uploads older than %d days", removed, config.retention_days)
            await asyncio.sleep(PURGE_EVERY_S)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(purge_loop())
        try:
            yield
        finally:
            task.cancel()

    routes = [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/upload", upload_page, methods=["GET"]),
        Route("/upload", upload, methods=["POST"]),
        Route("/u/{id}/columns", columns_page, methods=["GET"]),
        Route("/u/{id}/columns", columns, methods=["POST"]),
        Route("/u/{id}/mapping.toml", mapping_download),
        Route("/u/{id}/check", check_page, methods=["GET"]),
        Route("/u/{id}/check", check, methods=["POST"]),
        Route("/u/{id}/check.xlsx", check_download),
        Route("/u/{id}/plan", plan_page, methods=["GET"]),
        Route("/u/{id}/post", post, methods=["POST"]),
        Route("/u/{id}/posting", posting_page),
        Route("/u/{id}/events", events),
        Route("/u/{id}/results", results_page),
        Route("/u/{id}/results.xlsx", results_download),
        Route("/history", history_page),
        Route("/runs/{run_id}/undo", undo_page, methods=["GET"]),
        Route("/runs/{run_id}/undo", undo, methods=["POST"]),
        Route("/runs/{run_id}/undo.xlsx", undo_download),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code in (301, 302, 303, 307) and exc.headers:
            return Response(status_code=exc.status_code, headers=exc.headers)
        session = session_for(request)
        return page(request, session, "error.html", exc.status_code, message=exc.detail)

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.web = web
    return app


def wrap(app: Starlette, config: WebConfig) -> ASGIApp:
    """The application behind its middleware: body limit, security headers."""
    return SecurityHeaders(BodyLimit(app, config.max_upload_bytes + 64 * 1024), config.tls)


def _login_retry() -> Any:
    from importer.client import RetryPolicy

    return RetryPolicy(attempts=2)


def _read_mapping(path: Path | None) -> Any:
    from importer.pipeline import read_mapping

    return read_mapping(path)


def _source(web: Web, upload: Upload) -> Any:
    return reading.make_source(
        web.store.file(upload), upload.sheet, web.store.mapping(upload), upload.header_row
    )


def _download(web: Web, session: Session, upload_id: str, name: str, label: str) -> Response:
    upload = web.store.get(upload_id)
    if upload is None or upload.crm_url != web.crm_url:
        raise HTTPException(404, "No such upload (it may have passed the retention period).")
    path = web.store.folder(upload) / name
    if not path.is_file():
        raise HTTPException(404, "This workbook has not been written (yet).")
    return FileResponse(path, media_type=XLSX, filename=f"{Path(upload.filename).stem}.{label}.xlsx")


def _set_cookie(response: Response, session: Session, tls: bool) -> None:
    response.set_cookie(COOKIE, session.id, httponly=True, samesite="strict", secure=tls, path="/")


def _steps(web: Web, upload: Upload | None) -> list[dict[str, Any]]:
    """The way through, each step linked once reached."""
    if upload is None:
        return [{"key": "upload", "label": "1 Upload", "href": "/upload"}]
    base = f"/u/{upload.id}"
    folder = web.store.folder(upload)
    checked = f"check:{upload.id}" in web.reports
    job = web.runner.job(upload.id)
    posted = folder.joinpath(RESULTS).is_file() or (job is not None and job.kind == "post")
    return [
        {"key": "upload", "label": "1 Upload", "href": "/upload"},
        {"key": "columns", "label": "2 Columns", "href": f"{base}/columns"},
        {"key": "check", "label": "3 Check", "href": f"{base}/check"},
        {"key": "plan", "label": "4 Plan", "href": f"{base}/plan" if checked else None},
        {"key": "posting", "label": "5 Posting", "href": f"{base}/posting" if posted else None},
        {"key": "results", "label": "6 Results", "href": f"{base}/results" if posted else None},
    ]


# --------------------------------------------------------------------------- running the server


@contextlib.contextmanager
def crm_for(config: WebConfig) -> Iterator[tuple[str, str | None, Path]]:
    """The CRM URL, the shared token (if any) and the journal: a seeded sandbox started in-process for a
    rehearsal (with a throw-away journal unless --journal), else the given portal."""
    if not config.sandbox:
        assert config.url is not None
        yield config.url, config.token, config.journal or default_journal_path(config.url)
        return
    from importer.pipeline import SANDBOX_TOKEN
    from importer.sandbox import SandboxConfig, SandboxServer

    with (
        SandboxServer(SandboxConfig(port=0, token=SANDBOX_TOKEN, seed=True)) as server,
        tempfile.TemporaryDirectory(prefix="invoice-import-serve-") as folder,
    ):
        yield server.url, SANDBOX_TOKEN, config.journal or Path(folder) / "journal.sqlite"


def prepare(config: WebConfig) -> WebConfig:
    """Check the configuration and create the private data folder."""
    config.check()
    private_folder(config.folder())
    return replace(config)
