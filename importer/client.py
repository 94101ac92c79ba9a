"""The HTTP client of the ONLYOFFICE CRM API: the only module that speaks HTTP.

Every httpx exception is translated here into :mod:`importer.errors`. The client paces itself (at most
``concurrency`` requests in flight, at most N requests per S seconds across all requests), retries reads on
transient answers with exponential backoff and full jitter (honouring ``Retry-After``), and never retries a
write: :meth:`CrmClient.post` makes exactly one attempt and says whether the request may have reached the
server.

HTTP status codes are read only here: the stages ask for "this record or None" (:meth:`CrmClient.get_or_none`,
:meth:`CrmClient.find_invoice`), list a paged resource with :meth:`CrmClient.list_all` (which also decides
whether listing is cheaper than single look-ups), and catch the typed errors of :mod:`importer.errors`.
:class:`CrmApi` is the protocol both stages take.

Secrets (the token, the password, a session token from login) never appear in a log line or an error message.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import random
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, overload
from urllib.parse import urlsplit, urlunsplit

import httpx

from importer.errors import (
    CrmAuthError,
    CrmRequestError,
    CrmUnreachableError,
    ForbiddenError,
    InsecureUrlError,
    NotFoundError,
    RefusedError,
    TransientError,
    UsageError,
)

API_PREFIX = "/api/2.0/crm/"
LOGIN_PATH = "/api/2.0/authentication"
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
NO_ANSWER = 0  # the status of a TransientError when no HTTP answer came
PAGE_SIZE = 1000  # items asked per page of a list (the most the CRM gives)

Sleep = Callable[[float], Awaitable[None]]
Log = Callable[[str], None]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently transient failures are retried.

    ``attempts`` counts every try, the first included. The delay before retry ``n`` (0-based) is drawn
    uniformly from ``[0, min(max_delay, base_delay * 2**n)]`` (full jitter), but is at least the server's
    ``Retry-After`` when it gave one.
    """

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        cap = min(self.max_delay, self.base_delay * 2**retry)
        jittered = rng.uniform(0, cap)
        return max(jittered, retry_after) if retry_after is not None else jittered


# where a portal's pages live: a URL pasted from the browser is cut to the portal root before these
_PORTAL_PAGES = ("/products/", "/addons/", "/api/", "/skins/", "/default.aspx", "/auth.aspx")


def normalize_url(url: str) -> str:
    """The portal's base URL: scheme and host lower-cased, no trailing slash, no API suffix, no page path
    (``https://portal/Products/CRM/Default.aspx`` is ``https://portal``; :func:`url_note` says so).

    A URL without a scheme is refused ("did you mean https://...?"). Credentials inside the URL are refused.
    """
    text = url.strip()
    if "://" not in text:
        shown = _strip_userinfo("https://" + text.lstrip("/"))
        raise InsecureUrlError(
            f"the CRM URL {_strip_userinfo(text)!r} has no scheme: did you mean {shown}? "
            "Write the portal's address with https://"
        )
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise InsecureUrlError(f"not a usable CRM URL: {_strip_userinfo(url)!r} (expected https://host)")
    if parts.username or parts.password:
        raise InsecureUrlError("the CRM URL must not contain a user name or password: use --user/--password")
    path = _portal_root(parts.path)
    return urlunsplit((scheme, parts.netloc.lower(), path, "", ""))


def _portal_root(path: str) -> str:
    """The path of the portal's root: the URL's path up to the first page of the portal, or the API."""
    lowered = path.lower() + "/"
    cut = min((i for i in (lowered.find(page) for page in _PORTAL_PAGES) if i >= 0), default=len(path))
    path = path[:cut].rstrip("/")
    for suffix in ("/api/2.0/crm", "/api/2.0"):
        if path.lower().endswith(suffix):
            path = path[: -len(suffix)]
    return path


def url_note(url: str) -> str | None:
    """A note for the console when the URL given was a page of the portal (pasted from the browser) and was
    cut to the portal's root; None when it was the root (or the API) already."""
    text = url.strip()
    if "://" not in text:
        return None
    path = urlsplit(text).path
    root = _portal_root(path)
    trimmed = path.rstrip("/")
    for suffix in ("/api/2.0/crm", "/api/2.0"):
        if trimmed.lower().endswith(suffix):
            trimmed = trimmed[: -len(suffix)]
    if root == trimmed:
        return None
    root_url = normalize_url(text)
    return f"Note: {_strip_userinfo(text)} is a page of the portal; using the portal's root {root_url}"


def is_loopback(host: str) -> bool:
    """True for localhost, *.localhost and loopback IP addresses (127.0.0.0/8, ::1)."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _strip_userinfo(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RateLimiter:
    """At most ``count`` requests per ``seconds``, shared by every request of a client; fair (FIFO).

    A token bucket of ``count`` tokens in which a spent token comes back ``seconds`` after its request
    *finished*: the server therefore never sees more than ``count`` requests in any window of ``seconds``,
    whatever the latency. Waiters queue on a FIFO lock, so nobody starves.
    """

    def __init__(self, count: int, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._free = count
        self._seconds = seconds
        self._clock = clock
        self._returns: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._released = asyncio.Event()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                while self._returns and self._returns[0] <= now:
                    self._returns.popleft()
                    self._free += 1
                if self._free > 0:
                    self._free -= 1
                    return
                if self._returns:
                    await asyncio.sleep(self._returns[0] - now)
                else:
                    self._released.clear()
                    await self._released.wait()

    def release(self) -> None:
        self._returns.append(self._clock() + self._seconds)
        self._released.set()


class CrmApi(Protocol):
    """What the pre-flight (importer.resolve) and the posting stage (importer.post) need of a CRM client:
    :class:`CrmClient` is one. Every method raises the errors of :mod:`importer.errors`; none returns an
    HTTP status."""

    concurrency: int  # requests in flight at most
    retry: RetryPolicy
    requests_sent: int  # every HTTP request sent so far

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...

    async def get_or_none(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...

    @overload
    async def list_all(
        self, path: str, params: Mapping[str, Any] | None = None, *, cheaper_than: None = None
    ) -> list[Any]: ...

    @overload
    async def list_all(
        self, path: str, params: Mapping[str, Any] | None = None, *, cheaper_than: int
    ) -> list[Any] | None: ...

    async def find_invoice(self, number: str) -> dict[str, Any] | None: ...

    async def delete(self, path: str) -> Any: ...

    async def post(self, path: str, body: Mapping[str, Any]) -> Any: ...

    async def put(self, path: str, body: Mapping[str, Any]) -> Any: ...

    async def delete_many(self, path: str, body: Mapping[str, Any]) -> Any: ...

    async def backoff(self, retry: int, retry_after: float | None = None) -> None: ...


class _Redactor:
    """Replaces every known secret in a text by ``***``."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        if secret:
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


class CrmClient:
    """An async client of one ONLYOFFICE portal's CRM API. Use as ``async with CrmClient(...) as crm``."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        user: str | None = None,
        password: str | None = None,
        concurrency: int = 8,
        rate: tuple[int, float] | None = (500, 10.0),
        retry: RetryPolicy = RetryPolicy(),
        timeout: float = 30.0,
        verify: bool | str = True,
        allow_http: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        log: Log | None = None,
        sleep: Sleep | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.url = normalize_url(url)
        parts = urlsplit(self.url)
        if parts.scheme == "http" and not allow_http and not is_loopback(parts.hostname or ""):
            raise InsecureUrlError(
                f"refusing plain http:// to {parts.hostname}: the token or password would travel "
                "unencrypted. Use https://, or add --allow-http if you really mean it"
            )
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.retry = retry
        self.requests_sent = 0
        self._token = token
        self._user = user
        self._password = password
        self._rate = rate
        self._timeout = timeout
        self._verify = verify
        self._transport = transport
        self._log = log
        self._sleep: Sleep = sleep or asyncio.sleep
        self._rng = rng or random.Random()
        self._redact = _Redactor()
        self._redact.add(token)
        self._redact.add(password)
        self._authorization: str | None = token
        self._http: httpx.AsyncClient | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._limiter: RateLimiter | None = None

    def __repr__(self) -> str:
        auth = "token" if self._token else "login" if self._user else "none"
        return f"CrmClient({self.url!r}, auth={auth})"

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> CrmClient:
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._limiter = RateLimiter(*self._rate) if self._rate else None
        self._http = httpx.AsyncClient(
            transport=self._transport,
            verify=self._ssl_verify(),
            timeout=httpx.Timeout(self._timeout),
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "invoice-import"},
        )
        try:
            if self._user is not None and not self._token:
                await self._login()
        except BaseException:
            await self._http.aclose()
            self._http = None
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _ssl_verify(self) -> bool | ssl.SSLContext:
        if not isinstance(self._verify, str):
            return self._verify
        try:
            return ssl.create_default_context(cafile=self._verify)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot read the CA bundle {self._verify}: {exc}") from exc

    async def _login(self) -> None:
        body = {"userName": self._user or "", "password": self._password or ""}
        try:
            envelope = await self._with_retries("POST", LOGIN_PATH, None, body, login=True)
        except CrmRequestError as exc:
            raise CrmAuthError(
                f"the CRM rejected the login of user {self._user!r} ({exc.message}): "
                "check --user/--password (ONLYOFFICE_USER/ONLYOFFICE_PASSWORD)"
            ) from None
        response = envelope.get("response")
        token = response.get("token") if isinstance(response, dict) else None
        if not isinstance(token, str) or not token:
            raise CrmAuthError("the CRM accepted the login but returned no token")
        self._redact.add(token)
        self._authorization = token

    @property
    def token(self) -> str | None:
        """The token this client sends: the one it was given, or the one its login returned (None before
        the login). For a caller that signs a person in once and keeps only the token for later runs."""
        return self._authorization

    async def check_access(self) -> Any:
        """One cheap authenticated call; raises CrmAuthError / CrmUnreachableError early.

        The call is ``GET invoice/settings``, and its answer (the invoice settings) is returned, so that the
        pre-flight need not ask for them again (the default terms).
        """
        try:
            return await self.get("invoice/settings")
        except ForbiddenError as exc:
            raise CrmAuthError(
                f"the {self._auth_kind()} is valid but has no access to CRM invoices (403 {exc.message})"
            ) from None
        except NotFoundError as exc:
            raise CrmUnreachableError(
                f"no ONLYOFFICE CRM API answers at {self.url} (404 on {exc.path}): is the URL right?"
            ) from None
        except CrmRequestError as exc:
            raise CrmUnreachableError(f"the CRM at {self.url} cannot be used: {exc}") from None

    # ----------------------------------------------------------------- reads

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``/api/2.0/crm/<path>``; the envelope's ``response``. Transient failures are retried."""
        envelope = await self._with_retries("GET", API_PREFIX + path.lstrip("/"), params, None)
        return envelope.get("response")

    async def get_or_none(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET like :meth:`get`, but None when the record does not exist (the CRM answered 404)."""
        try:
            return await self.get(path, params)
        except NotFoundError:
            return None

    @overload
    async def list_all(
        self, path: str, params: Mapping[str, Any] | None = None, *, cheaper_than: None = None
    ) -> list[Any]: ...

    @overload
    async def list_all(
        self, path: str, params: Mapping[str, Any] | None = None, *, cheaper_than: int
    ) -> list[Any] | None: ...

    async def list_all(
        self, path: str, params: Mapping[str, Any] | None = None, *, cheaper_than: int | None = None
    ) -> list[Any] | None:
        """Every item of a paged list, in pages of ``PAGE_SIZE``, page after page until one comes back short.

        Lists are not stable by default and their ``total`` is not reliable (cached, blind to most filters):
        ``total`` only estimates the cost, it never decides when to stop. Pass a unique order in ``params``
        (``sortBy=id``). A record seen twice (by its ``id``) means the pages shifted under the listing
        (records added meanwhile, or an order that is not unique): the list is fetched once more; shifting
        again, ``cheaper_than`` callers get None (look each one up instead), the others the records seen,
        each once (a reference the listing lacks must then be looked up on its own).

        ``cheaper_than``: the number of single look-ups the listing would replace. Then the items are
        listed only when that costs fewer requests: nothing is sent when ``cheaper_than < 2`` (one
        look-up cannot cost more than the first page), and after the first page (the probe, kept) the
        other pages (as the total estimates them) must number fewer than ``cheaper_than``; else None.
        Without a total, a full first page means the cost is unknown: None.
        """
        if cheaper_than is not None and cheaper_than < 2:
            return None
        first, total = await self._page(path, params, 0)
        if cheaper_than is not None and len(first) >= PAGE_SIZE:
            more_pages = cheaper_than if total is None else -(-(total - len(first)) // PAGE_SIZE)
            if more_pages >= cheaper_than:
                return None
        items, repeated = await self._pages_until_short(path, params, first)
        if not repeated:
            return items
        self._debug(f"GET {path}: a record came twice while paging; listing again")
        first, _ = await self._page(path, params, 0)
        items, repeated = await self._pages_until_short(path, params, first)
        if repeated and cheaper_than is not None:
            return None
        return items

    async def find_invoice(self, number: str) -> dict[str, Any] | None:
        """The (thin) invoice with this number, or None. The CRM compares numbers ignoring case, trailing
        spaces and accents. An invoice the caller may not read (403) is an answer, not an error: a record
        ``{"id": None, "number": number, "hidden": True}`` (see :func:`is_hidden`)."""
        try:
            found = await self.get_or_none("invoice/bynumber", {"number": number})
        except ForbiddenError:
            return {"id": None, "number": number, "hidden": True}
        return found if isinstance(found, dict) else None

    async def delete(self, path: str) -> Any:
        """DELETE ``/api/2.0/crm/<path>`` once; the envelope's ``response`` (tests and tools clean up)."""
        envelope = await self._send_once("DELETE", API_PREFIX + path.lstrip("/"), None, None)
        return envelope.get("response")

    async def _page(
        self, path: str, params: Mapping[str, Any] | None, start: int
    ) -> tuple[list[Any], int | None]:
        """One page of a list: its items and the envelope's ``total`` (None if the server gave none)."""
        query = {**(params or {}), "count": PAGE_SIZE, "startIndex": start}
        envelope = await self._with_retries("GET", API_PREFIX + path.lstrip("/"), query, None)
        items = envelope.get("response")
        if not isinstance(items, list):
            raise RefusedError(200, "expected a list in the answer", method="GET", path=path)
        total = envelope.get("total")
        return items, int(total) if isinstance(total, int | float) else None

    async def _pages_until_short(
        self, path: str, params: Mapping[str, Any] | None, first: list[Any]
    ) -> tuple[list[Any], bool]:
        """The items from ``first`` on, page after page until a short one, each record once; and whether a
        record came twice (the pages shifted)."""
        items: list[Any] = []
        seen: set[Any] = set()
        repeated = False
        page, start = first, 0
        while True:
            for item in page:
                key = item.get("id") if isinstance(item, dict) else None
                if key is not None and key in seen:
                    repeated = True
                    continue
                if key is not None:
                    seen.add(key)
                items.append(item)
            start += len(page)
            if len(page) < PAGE_SIZE:
                return items, repeated
            page, _ = await self._page(path, params, start)

    # ----------------------------------------------------------------- writes

    async def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST ``/api/2.0/crm/<path>`` once; the envelope's ``response``.

        No retry: a 5xx, 429, timeout or lost connection raises TransientError, whose ``sent`` says
        whether the request may have reached the server (then the outcome is unknown). Any other error
        status raises CrmRequestError.
        """
        envelope = await self._send_once("POST", API_PREFIX + path.lstrip("/"), None, body, all_5xx=True)
        return envelope.get("response")

    async def put(self, path: str, body: Mapping[str, Any]) -> Any:
        """PUT ``/api/2.0/crm/<path>``, retried like a read: the caller sends only PUTs whose repetition
        changes nothing more (an update sends every field again; a status move not allowed any more is not
        made). CrmUnreachableError when no attempt was answered."""
        envelope = await self._with_retries("PUT", API_PREFIX + path.lstrip("/"), None, body)
        return envelope.get("response")

    async def delete_many(self, path: str, body: Mapping[str, Any]) -> Any:
        """DELETE ``/api/2.0/crm/<path>`` with a JSON body (the batch delete), retried like a read: deleting
        what is already gone deletes nothing more."""
        envelope = await self._with_retries("DELETE", API_PREFIX + path.lstrip("/"), None, body)
        return envelope.get("response")

    async def backoff(self, retry: int, retry_after: float | None = None) -> None:
        """Sleep before retry number ``retry`` (0-based) per the retry policy."""
        delay = self.retry.delay(retry, retry_after, self._rng)
        self._debug(f"waiting {delay:.2f} s before retrying")
        await self._sleep(delay)

    # ----------------------------------------------------------------- machinery

    async def _with_retries(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any] | None,
        *,
        login: bool = False,
    ) -> dict[str, Any]:
        last: TransientError | None = None
        attempts = max(1, self.retry.attempts)
        for attempt in range(attempts):
            if attempt:
                await self.backoff(attempt - 1, last.retry_after if last else None)
            try:
                return await self._send_once(method, path, params, body, login=login)
            except TransientError as exc:
                last = exc
        assert last is not None
        reason = answer_text(last)
        raise CrmUnreachableError(
            f"the CRM at {self.url} did not answer {method} {path} "
            f"after {attempts} attempt{'s' if attempts > 1 else ''}: {reason}"
        )

    async def _send_once(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any] | None,
        *,
        login: bool = False,
        all_5xx: bool = False,
    ) -> dict[str, Any]:
        if self._http is None or self._semaphore is None:
            raise RuntimeError("CrmClient must be used inside 'async with'")
        headers = {} if login or not self._authorization else {"Authorization": self._authorization}
        request = self._http.build_request(method, self.url + path, params=params, json=body, headers=headers)
        shown = self._redact(request.url.raw_path.decode("ascii", "replace"))
        async with self._semaphore:
            if self._limiter is not None:
                await self._limiter.acquire()
            started = time.monotonic()
            try:
                self.requests_sent += 1
                response = await self._http.send(request)
            except httpx.HTTPError as exc:
                self._debug(f"{method} {shown} -> {type(exc).__name__} in {_ms(started)} ms")
                raise self._translate_exception(exc, method, path) from None
            finally:
                if self._limiter is not None:
                    self._limiter.release()
        self._debug(f"{method} {shown} -> {response.status_code} in {_ms(started)} ms")
        return self._read_answer(response, method, path, login=login, all_5xx=all_5xx)

    def _translate_exception(self, exc: httpx.HTTPError, method: str, path: str) -> Exception:
        text = self._redact(str(exc) or type(exc).__name__)
        if isinstance(exc, httpx.ConnectError) and _is_tls_failure(exc):
            return CrmUnreachableError(
                f"TLS failed for {self.url}: {text} (for a private certificate authority use --ca-bundle)"
            )
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
            return CrmUnreachableError(f"cannot reach {self.url}: {text}")
        sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
        if sent and not isinstance(exc, httpx.TimeoutException):
            kind = "connection lost"
        return TransientError(NO_ANSWER, f"{kind} ({text})", method=method, path=path, sent=sent)

    def _read_answer(
        self, response: httpx.Response, method: str, path: str, *, login: bool, all_5xx: bool
    ) -> dict[str, Any]:
        status = response.status_code
        if status == 401 and not login:
            raise CrmAuthError(self._unauthorized_message())
        if 300 <= status < 400:
            location = response.headers.get("Location", "?")
            raise CrmUnreachableError(
                f"the CRM at {self.url} redirected {method} {path} to {self._redact(location)}: use that URL"
            )
        if status in RETRYABLE_STATUSES or (all_5xx and status >= 500):
            raise TransientError(
                status,
                self._error_message(response),
                method=method,
                path=path,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                sent=status != 429,
            )
        if status >= 400:
            raise request_error(status, self._error_message(response), method=method, path=path)
        try:
            envelope = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            envelope = None
        if not isinstance(envelope, dict):
            raise CrmUnreachableError(
                f"{self.url} did not answer {method} {path} like an ONLYOFFICE API (no JSON envelope): "
                "is the URL right?"
            )
        if envelope.get("status", 0) != 0:
            code = envelope.get("statusCode", status)
            raise request_error(int(code), self._error_message(response), method=method, path=path)
        return envelope

    def _error_message(self, response: httpx.Response) -> str:
        try:
            payload = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            message = str(payload["error"].get("message", ""))
        else:
            message = response.text.strip()[:300]
        return self._redact(message or response.reason_phrase or f"HTTP {response.status_code}")

    def _auth_kind(self) -> str:
        return "API token" if self._token else "login" if self._user else "anonymous access"

    def _unauthorized_message(self) -> str:
        if self._token:
            return "the CRM rejected the API token (401 Unauthorized): check --token (ONLYOFFICE_TOKEN)"
        if self._user:
            return (
                f"the CRM rejected the session of user {self._user!r} after login (401 Unauthorized): "
                "check the user's access to the CRM"
            )
        return "the CRM requires a login (401 Unauthorized): give --token, or --user and --password"

    def _debug(self, line: str) -> None:
        if self._log is not None:
            self._log(self._redact(line))


def is_retryable(exc: TransientError) -> bool:
    """Whether a failed write may be sent again: no answer at all, or 429/502/503/504 (not another 5xx,
    which says the CRM failed on this very request)."""
    return exc.status == NO_ANSWER or exc.status in RETRYABLE_STATUSES


def answer_text(exc: CrmRequestError) -> str:
    """What the CRM answered, for a message: ``"503 Service Unavailable"``, or what happened when no
    answer came (``"timed out (...)"``)."""
    return exc.message if exc.status == NO_ANSWER else f"{exc.status} {exc.message}"


def is_hidden(record: Mapping[str, Any] | None) -> bool:
    """Whether a record of :meth:`CrmClient.find_invoice` is an invoice the caller may not read."""
    return bool(record) and record is not None and record.get("hidden") is True


def may_mean_taken(exc: CrmRequestError) -> bool:
    """Whether a refused create may mean "this number is taken": the CRM answers a duplicate number, like
    nearly every bad value, with a bare 400 (so the number must be looked up to know)."""
    return isinstance(exc, RefusedError) and exc.status == 400


def request_error(status: int, message: str, *, method: str, path: str) -> CrmRequestError:
    """The typed error for an error answer: 404 NotFoundError, 403 ForbiddenError, else RefusedError."""
    kind: type[CrmRequestError] = RefusedError
    if status == 404:
        kind = NotFoundError
    elif status == 403:
        kind = ForbiddenError
    return kind(status, message, method=method, path=path)


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
