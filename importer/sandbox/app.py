"""The ASGI app: the routes of the ONLYOFFICE CRM contract over the sandbox's SQLite store."""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from importer.crm_constants import CURRENCIES
from importer.sandbox import catalog, directory, invoices
from importer.sandbox.dates import DateFormatError, format_api_date, stored_date
from importer.sandbox.faults import SCOPE_FLAGS, FaultMiddleware, SandboxStats, SlidingWindow
from importer.sandbox.listing import Page, descending, matches_words, page_of, sort_by, sorted_page_order
from importer.sandbox.store import Row, Store
from importer.sandbox.users import (
    ADMIN_USER,
    VIEWER_USER,
    User,
    can_delete_invoice,
    can_see_contact,
    can_see_invoice,
    is_private,
    managers_of,
    user_wrapper,
)
from importer.sandbox.values import BadArgument, to_int
from importer.sandbox.wrappers import (
    INVOICE_STATUSES,
    contact_wrapper,
    currency_wrapper,
    deal_wrapper,
    info_wrapper,
    item_wrapper,
    tax_wrapper,
)

CRM = "/api/2.0/crm"
LOGIN_LOCK_ATTEMPTS = 5
LOGIN_LOCK_SECONDS = 60.0
TOKEN_LIFETIME = timedelta(days=365)

HRESULT_ARGUMENT = -2147024809
HRESULT_FORMAT = -2146233033
HRESULT_SECURITY = -2146233078
HRESULT_GENERIC = -2146233088

SCOPE_USER = "sandbox.user"  # the users.User whose token the request carries
TOTAL_CACHE_SECONDS = 30.0  # invoice/filter's total is cached per user and filterValue


class NotFound(Exception):
    pass


class LoginFailed(Exception):
    pass


@dataclass
class SandboxState:
    """Everything the routes share: the store, credentials, counters and the fault settings.

    Two logins: the administrator (``user``, fixed ``token``) sees everything; the viewer (``viewer_user``,
    fixed ``viewer_token``) is an ordinary CRM user: no admin-only calls, no private contacts.
    """

    store: Store
    stats: SandboxStats
    token: str
    user: str
    password: str
    viewer_token: str = "sandbox-viewer"
    viewer_user: str = "viewer@example.com"
    viewer_password: str = "sandbox"
    racy_numbers: bool = False
    drop_rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    tokens: dict[str, User] = field(default_factory=dict)  # issued by login -> its user
    login_failures: dict[str, deque[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    clock: Callable[[], float] = time.monotonic
    # invoice/filter's total: (user ID, filterValue) -> (when counted, total)
    totals: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)

    def user_of(self, token: str) -> User | None:
        """The administrator, the viewer, a user logged in with this token, or None for an unknown token."""
        with self.lock:
            if token == self.token:
                return ADMIN_USER
            if token == self.viewer_token:
                return VIEWER_USER
            return self.tokens.get(token)

    def admin_of(self, token: str) -> bool | None:
        """True for an administrator's token, False for another user's, None for an unknown token."""
        user = self.user_of(token)
        return None if user is None else user.admin

    def cached_total(self, user: User, filter_value: str, count: Callable[[], int]) -> int:
        """``total`` as the server gives it: counted once per 30 s for a user and a ``filterValue``."""
        key, now = (user.id, filter_value), self.clock()
        with self.lock:
            cached = self.totals.get(key)
            if cached is not None and now - cached[0] < TOTAL_CACHE_SECONDS:
                return cached[1]
        total = count()
        with self.lock:
            self.totals[key] = (now, total)
        return total

    def clear_logins(self) -> None:
        with self.lock:
            self.login_failures.clear()

    def clear_totals(self) -> None:
        with self.lock:
            self.totals.clear()


Handler = Callable[[Request, SandboxState], Awaitable[Response]]


def success(response: Any, status: int = 200, start: int = 0, total: int | None = None) -> JSONResponse:
    """The success envelope; ``count`` and ``startIndex`` are left out when 0, as the server does."""
    count = len(response) if isinstance(response, list) else 1
    body: dict[str, Any] = {}
    if count:
        body["count"] = count
    if start:
        body["startIndex"] = start
    body |= {"status": 0, "statusCode": status, "response": response}
    if total is not None:
        body["total"] = total
    return JSONResponse(body, status_code=status)


def failure(status: int, message: str, hresult: int) -> JSONResponse:
    """The error envelope."""
    body = {"status": 1, "statusCode": status, "error": {"message": message, "hresult": hresult, "data": {}}}
    return JSONResponse(body, status_code=status)


def paged(items: list[Any], page: Page, total: int) -> JSONResponse:
    """One page already cut, with the list's total."""
    return success(items, start=page.start, total=total)


async def json_body(request: Request) -> dict[str, Any]:
    """The JSON object of the body (an empty body is an empty object)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    parsed = json.loads(raw, parse_float=Decimal)
    if not isinstance(parsed, dict):
        raise BadArgument()
    return parsed


def user_of(request: Request) -> User:
    user = request.scope.get(SCOPE_USER)
    return user if isinstance(user, User) else ADMIN_USER


def is_admin(request: Request) -> bool:
    return user_of(request).admin


def demand_admin(request: Request) -> None:
    """An admin-only call: 403 Access Denied for anyone else."""
    if not is_admin(request):
        raise PermissionError()


def may_see(request: Request, contact: Row) -> bool:
    """Whether the caller may see this contact ("Who may see what")."""
    return can_see_contact(user_of(request), contact)


def _token_of(request: Request) -> str:
    header = request.headers.get("authorization", "").strip()
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return header


def endpoint(
    handler: Handler, state: SandboxState, *, auth: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with the token check and the server's mapping of exceptions to answers."""

    async def run(request: Request) -> Response:
        if auth:
            user = state.user_of(_token_of(request))
            if user is None:
                return PlainTextResponse("Unauthorized", status_code=401)
            request.scope[SCOPE_USER] = user
        try:
            return await handler(request, state)
        except DateFormatError as error:
            return failure(400, str(error), HRESULT_FORMAT)
        except BadArgument as error:
            return failure(400, str(error), HRESULT_ARGUMENT)
        except json.JSONDecodeError as error:
            return failure(400, str(error), HRESULT_GENERIC)
        except (NotFound, invoices.InvoiceNotEditable):
            return failure(404, "Not found", HRESULT_GENERIC)
        except PermissionError:
            return failure(403, "Access Denied", HRESULT_SECURITY)
        except invoices.NullLanguage as error:
            return failure(500, str(error), HRESULT_GENERIC)
        except Exception as error:
            return failure(500, str(error), HRESULT_GENERIC)

    return run


def _found(row: Row | None) -> Row:
    if row is None:
        raise NotFound()
    return row


# --- authentication


async def login(request: Request, state: SandboxState) -> Response:
    content_type = request.headers.get("content-type", "")
    if "json" in content_type or not content_type:
        args = directory.lower_keys(await json_body(request))
    else:
        args = {key.lower(): value for key, value in (await request.form()).items()}
    user, password = str(args.get("username") or ""), str(args.get("password") or "")
    admin = _check_login(state, user, password)
    token = secrets.token_urlsafe(32)
    with state.lock:
        state.tokens[token] = ADMIN_USER if admin else VIEWER_USER
    expires = format_api_date(datetime.now(UTC) + TOKEN_LIFETIME)
    return success({"token": token, "expires": expires}, status=201)


def _check_login(state: SandboxState, user: str, password: str) -> bool:
    """Whether the login is the administrator; raise (a 500) for a locked login or wrong credentials,
    recording the failure."""
    key, now = user.lower(), time.monotonic()
    with state.lock:
        failures = state.login_failures.setdefault(key, deque())
        while failures and failures[0] <= now - LOGIN_LOCK_SECONDS:
            failures.popleft()
        if len(failures) >= LOGIN_LOCK_ATTEMPTS:
            raise LoginFailed("Login Fail. Too many attempts")
        if key == state.user.lower() and password == state.password:
            return True
        if key == state.viewer_user.lower() and password == state.viewer_password:
            return False
        failures.append(now)
        raise LoginFailed("User authentication failed")


# --- invoices


async def create_invoice(request: Request, state: SandboxState) -> Response:
    body = await json_body(request)
    try:
        invoice_id = await invoices.create_invoice(
            state.store, body, racy=state.racy_numbers, user=user_of(request)
        )
    except invoices.CultureNotFound:
        state.stats.count_invoice_create()
        raise
    state.stats.count_invoice_create()
    if state.drop_rate and state.rng.random() < state.drop_rate:
        request.scope[SCOPE_FLAGS]["drop"] = True
        state.stats.count_drop()
    row = _found(invoices.get_invoice(state.store, invoice_id))
    return success(invoices.invoice_wrapper(state.store, row, user=user_of(request)), status=201)


def _readable_invoice(request: Request, state: SandboxState, row: Row | None) -> Row:
    """An invoice the caller may read: 404 if absent, 403 Access Denied if not visible to the caller."""
    found = _found(row)
    if not can_see_invoice(state.store, user_of(request), found):
        raise PermissionError()
    return found


async def get_invoice(request: Request, state: SandboxState) -> Response:
    row = _readable_invoice(request, state, invoices.get_invoice(state.store, request.path_params["id"]))
    return success(invoices.invoice_wrapper(state.store, row, user=user_of(request)))


async def delete_invoice(request: Request, state: SandboxState) -> Response:
    """``DELETE invoice/{id}``: whatever its status; 404 if absent, 403 unless administrator or creator;
    the answer carries ``cost`` 0."""
    user = user_of(request)
    row = _found(invoices.get_invoice(state.store, request.path_params["id"]))
    if not can_delete_invoice(user, row):
        raise PermissionError()
    wrapper = invoices.invoice_wrapper(state.store, row, with_lines=False, user=user, cost=False)
    invoices.delete_invoice(state.store, row["id"])
    return success(wrapper)


async def _invoice_ids(request: Request) -> list[int]:
    """``invoiceids`` from the JSON body, else ``invoiceids[]`` from the query; none: 400."""
    body = await json_body(request)
    ids = directory.lower_keys(body).get("invoiceids")
    if ids is None:
        ids = request.query_params.getlist("invoiceids[]") or request.query_params.getlist("invoiceids")
    if not isinstance(ids, list) or not ids:
        raise BadArgument()
    return [to_int(value) for value in ids]


async def delete_invoices(request: Request, state: SandboxState) -> Response:
    """``DELETE invoice``: the invoices the caller may delete, deleted; the others skipped silently."""
    user = user_of(request)
    deleted = []
    for invoice_id in dict.fromkeys(await _invoice_ids(request)):
        row = invoices.get_invoice(state.store, invoice_id)
        if row is None or not can_delete_invoice(user, row):
            continue
        deleted.append(invoices.invoice_wrapper(state.store, row, with_lines=False, user=user, cost=False))
        invoices.delete_invoice(state.store, invoice_id)
    return success(deleted)


async def update_invoice(request: Request, state: SandboxState) -> Response:
    """``PUT invoice/{id}``: lines first (400); then absent, not Draft, or neither administrator nor
    creator: 404; then the create's rules; every field is replaced, the lines made anew."""
    user = user_of(request)
    invoice_id = invoices.update_invoice(
        state.store, request.path_params["id"], await json_body(request), user
    )
    row = _found(invoices.get_invoice(state.store, invoice_id))
    return success(invoices.invoice_wrapper(state.store, row, user=user))


async def change_status(request: Request, state: SandboxState) -> Response:
    """``PUT invoice/status/{status}``: the allowed moves made, the others silently not; invisible or
    unknown IDs dropped. Answers ``{"key": [invoices], "value": [changed items]}``."""
    user = user_of(request)
    status = invoices.status_of(request.path_params["status"])
    ids = await _invoice_ids(request)
    rows, items = invoices.change_status(state.store, ids, status, user)
    listed = [invoices.invoice_wrapper(state.store, row, with_lines=False, user=user) for row in rows]
    return success({"key": listed, "value": [_item(state, item) for item in items]})


async def invoice_sample(request: Request, state: SandboxState) -> Response:
    return success(invoices.sample(state.store))


def _number_param(request: Request) -> str:
    number = request.query_params.get("number", "")
    if not number:
        raise BadArgument()
    return number


async def invoice_by_number(request: Request, state: SandboxState) -> Response:
    """The thin invoice (``invoiceLines`` null, ``cost`` 0); 404 absent, 400 empty, 403 not readable."""
    row = _readable_invoice(request, state, invoices.get_by_number(state.store, _number_param(request)))
    return success(invoices.invoice_wrapper(state.store, row, thin=True, user=user_of(request)))


async def invoice_number_exists(request: Request, state: SandboxState) -> Response:
    return success(invoices.get_by_number(state.store, _number_param(request)) is not None)


_INVOICE_SORTS = {
    "number": "number_key",
    "issuedate": "issue_date",
    "duedate": "due_date",
    "status": "status",
    "id": "id",
    "contact": "contact_id",
}


async def filter_invoices(request: Request, state: SandboxState) -> Response:
    """Only the invoices the caller may see; ``total`` counted with ``filterValue`` alone (the status, date
    and currency filters ignored) and cached for 30 s per user and ``filterValue``."""
    params = {key.lower(): value for key, value in request.query_params.items()}
    user = user_of(request)
    visible = [
        row
        for row in state.store.rows("SELECT * FROM invoice ORDER BY id")
        if can_see_invoice(state.store, user, row)
    ]
    filter_value = params.get("filtervalue") or ""
    total = state.cached_total(
        user, filter_value, lambda: sum(1 for row in visible if _matches_value(row, filter_value))
    )
    rows = [row for row in visible if _invoice_matches(row, params)]
    sort_key = _INVOICE_SORTS.get(params.get("sortby", "number").lower(), "number_key")
    if sort_key == "contact_id":
        names = {
            c["id"]: c["display_name"].lower()
            for c in state.store.rows("SELECT id, display_name FROM contact")
        }
        rows.sort(key=lambda row: (names.get(row["contact_id"], ""), row["id"]))
    else:
        rows.sort(key=lambda row: (row[sort_key], row["id"]))
    if descending(request.query_params):
        rows.reverse()
    page = page_of(params)
    wrappers = [
        invoices.invoice_wrapper(state.store, row, with_lines=False, user=user) for row in page.take(rows)
    ]
    return success(wrappers, start=page.start, total=total)


def _matches_value(row: Row, value: str) -> bool:
    return not value or matches_words(value, [row["number"], row["description"]])


def _status_param(value: str) -> int:
    for status_id, title in INVOICE_STATUSES.items():
        if value.lower() in (title.lower(), str(status_id)):
            return status_id
    raise BadArgument()


def _day_bound(value: str, upper: bool) -> str:
    stored = stored_date(value)
    if upper and "T" not in value:
        return stored[:10] + "T23:59:59.9999999Z"
    return stored


def _invoice_matches(row: Row, params: dict[str, str]) -> bool:
    if params.get("status") and row["status"] != _status_param(params["status"]):
        return False
    if params.get("currency") and row["currency"] != params["currency"].upper():
        return False
    for name, column in (("issuedate", "issue_date"), ("duedate", "due_date")):
        if params.get(f"{name}from") and row[column] < _day_bound(params[f"{name}from"], upper=False):
            return False
        if params.get(f"{name}to") and row[column] > _day_bound(params[f"{name}to"], upper=True):
            return False
    return _matches_value(row, params.get("filtervalue") or "")


async def invoice_settings(request: Request, state: SandboxState) -> Response:
    return success(catalog.invoice_settings(state.store))


# --- items, taxes, currencies


def _item(state: SandboxState, row: Row) -> dict[str, Any]:
    return item_wrapper(state.store, row, catalog.currency_by_code(row["currency"]))


_ITEM_SORTS: dict[str, tuple[Callable[[Row], Any], bool]] = {  # sortBy -> (key, unique)
    "name": (lambda row: row["title"].lower(), False),
    "price": (lambda row: Decimal(row["price"]), False),
    "quantity": (lambda row: Decimal(row["stock_quantity"]), False),
    "sku": (lambda row: (row["sku"] or "").lower(), False),
    "created": (lambda row: row["created"], False),
    "id": (lambda row: row["id"], True),
}


async def filter_items(request: Request, state: SandboxState) -> Response:
    """Items; by title unless ``sortBy`` says otherwise (the title is not unique: ties in no fixed order)."""
    page = page_of(request.query_params)
    rows = catalog.filter_items(state.store, _param(request, "filterValue"))
    key, unique = _ITEM_SORTS.get(sort_by(request.query_params) or "name", _ITEM_SORTS["name"])
    rows = sorted_page_order(
        rows, key, unique=unique, reverse=descending(request.query_params), start=page.start
    )
    return paged([_item(state, row) for row in page.take(rows)], page, len(rows))


def _param(request: Request, name: str) -> str | None:
    return next((v for k, v in request.query_params.items() if k.lower() == name.lower()), None)


async def get_item(request: Request, state: SandboxState) -> Response:
    return success(_item(state, _found(state.store.get("item", request.path_params["id"]))))


async def create_item(request: Request, state: SandboxState) -> Response:
    demand_admin(request)
    return success(_item(state, catalog.create_item(state.store, await json_body(request))), status=201)


async def list_taxes(request: Request, state: SandboxState) -> Response:
    return success([tax_wrapper(row) for row in state.store.rows("SELECT * FROM tax ORDER BY id")])


async def create_tax(request: Request, state: SandboxState) -> Response:
    demand_admin(request)
    return success(tax_wrapper(catalog.create_tax(state.store, await json_body(request))), status=201)


async def list_currencies(request: Request, state: SandboxState) -> Response:
    return success([currency_wrapper(currency) for currency in CURRENCIES])


# --- contacts and deals


def _contacts(state: SandboxState, rows: list[Row]) -> list[dict[str, Any]]:
    return [contact_wrapper(state.store, row) for row in rows]


def _contact(request: Request, state: SandboxState) -> Row:
    """The contact of the path: 404 if absent, and 404 too if the caller may not see it (the server throws
    ItemNotFoundException for both)."""
    row = _found(state.store.get("contact", request.path_params["id"]))
    if not may_see(request, row):
        raise NotFound()
    return row


def _contact_id(request: Request, state: SandboxState) -> int:
    return int(_contact(request, state)["id"])


def _visible(request: Request, rows: list[Row]) -> list[Row]:
    return [row for row in rows if may_see(request, row)]


_CONTACT_SORTS: dict[str, tuple[Callable[[Row], Any], bool]] = {  # sortBy -> (key, unique)
    "displayname": (lambda row: row["display_name"].lower(), False),
    "contacttype": (lambda row: row["is_company"], False),
    "created": (lambda row: row["created"], False),
    "firstname": (lambda row: (row["first_name"] or "").lower(), False),
    "lastname": (lambda row: (row["last_name"] or "").lower(), False),
    "history": (lambda row: row["created"], False),
    "id": (lambda row: row["id"], True),
}


async def filter_contacts(request: Request, state: SandboxState) -> Response:
    """Visible contacts; newest first unless ``sortBy`` says otherwise (creation dates are not unique: ties
    in no fixed order, so pages can repeat or skip records)."""
    rows = _visible(request, directory.filter_contacts(state.store, _param(request, "filterValue")))
    page = page_of(request.query_params)
    chosen = sort_by(request.query_params)
    if chosen is None:
        key, unique, reverse = _CONTACT_SORTS["created"][0], False, True
    else:
        key, unique = _CONTACT_SORTS.get(chosen, (lambda row: 0, False))
        reverse = descending(request.query_params)
    rows = sorted_page_order(rows, key, unique=unique, reverse=reverse, start=page.start)
    return success(_contacts(state, page.take(rows)), start=page.start, total=len(rows))


async def contact_access(request: Request, state: SandboxState) -> Response:
    """``GET contact/{id}/access`` (not in the contract; CRMApi.Contacts.cs GetContactAccessList): 404 if
    absent, 403 if the caller may not see it, else the access list of a private contact ([] if shared)."""
    row = _found(state.store.get("contact", request.path_params["id"]))
    if not may_see(request, row):
        raise PermissionError()
    return success([user_wrapper(m) for m in managers_of(row)] if is_private(row) else [])


async def contacts_by_info(request: Request, state: SandboxState) -> Response:
    params = {key.lower(): value for key, value in request.query_params.items()}
    info_type = directory.info_type_of(params.get("infotype"))
    rows = _visible(request, directory.contacts_by_info(state.store, info_type, params.get("data")))
    return success(_contacts(state, rows))


async def get_contact(request: Request, state: SandboxState) -> Response:
    return success(contact_wrapper(state.store, _contact(request, state)))


async def contact_data(request: Request, state: SandboxState) -> Response:
    contact_id = _contact_id(request, state)
    rows = state.store.rows("SELECT * FROM contact_info WHERE contact_id = ? ORDER BY id", (contact_id,))
    return success([info_wrapper(row) for row in rows])


async def add_contact_data(request: Request, state: SandboxState) -> Response:
    contact_id = _contact_id(request, state)
    row = directory.add_info(state.store, contact_id, await json_body(request))
    return success(info_wrapper(row), status=201)


async def add_address(request: Request, state: SandboxState) -> Response:
    contact_id = _contact_id(request, state)
    row = directory.add_address(state.store, contact_id, await json_body(request))
    return success(info_wrapper(row), status=201)


async def create_person(request: Request, state: SandboxState) -> Response:
    row = directory.create_person(state.store, await json_body(request), owner=user_of(request).id)
    return success(contact_wrapper(state.store, row), status=201)


async def create_company(request: Request, state: SandboxState) -> Response:
    row = directory.create_company(state.store, await json_body(request), owner=user_of(request).id)
    return success(contact_wrapper(state.store, row), status=201)


async def get_deal(request: Request, state: SandboxState) -> Response:
    return success(deal_wrapper(state.store, _found(state.store.get("deal", request.path_params["id"]))))


async def deal_contacts(request: Request, state: SandboxState) -> Response:
    deal = _found(state.store.get("deal", request.path_params["id"]))
    return success(_contacts(state, _visible(request, directory.deal_members(state.store, deal["id"]))))


async def create_deal(request: Request, state: SandboxState) -> Response:
    row = directory.create_deal(state.store, await json_body(request))
    return success(deal_wrapper(state.store, row), status=201)


# --- sandbox control


async def stats(request: Request, state: SandboxState) -> Response:
    return JSONResponse(state.stats.as_json())


async def reset_stats(request: Request, state: SandboxState) -> Response:
    state.stats.reset()
    return JSONResponse(state.stats.as_json())


_ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("POST", f"{CRM}/invoice", create_invoice),
    ("GET", f"{CRM}/invoice/bynumber", invoice_by_number),
    ("GET", f"{CRM}/invoice/bynumber/exist", invoice_number_exists),
    ("GET", f"{CRM}/invoice/filter", filter_invoices),
    ("GET", f"{CRM}/invoice/settings", invoice_settings),
    ("GET", f"{CRM}/invoice/tax", list_taxes),
    ("POST", f"{CRM}/invoice/tax", create_tax),
    ("GET", f"{CRM}/invoice/sample", invoice_sample),
    ("GET", f"{CRM}/invoice/{{id:int}}", get_invoice),
    ("DELETE", f"{CRM}/invoice/{{id:int}}", delete_invoice),
    ("PUT", f"{CRM}/invoice/{{id:int}}", update_invoice),
    ("DELETE", f"{CRM}/invoice", delete_invoices),
    ("PUT", f"{CRM}/invoice/status/{{status}}", change_status),
    ("GET", f"{CRM}/invoiceitem/filter", filter_items),
    ("GET", f"{CRM}/invoiceitem/{{id:int}}", get_item),
    ("POST", f"{CRM}/invoiceitem", create_item),
    ("GET", f"{CRM}/contact/filter", filter_contacts),
    ("GET", f"{CRM}/contact/bycontactinfo", contacts_by_info),
    ("POST", f"{CRM}/contact/person", create_person),
    ("POST", f"{CRM}/contact/company", create_company),
    ("GET", f"{CRM}/contact/{{id:int}}", get_contact),
    ("GET", f"{CRM}/contact/{{id:int}}/data", contact_data),
    ("GET", f"{CRM}/contact/{{id:int}}/access", contact_access),
    ("POST", f"{CRM}/contact/{{id:int}}/data", add_contact_data),
    ("POST", f"{CRM}/contact/{{id:int}}/addressdata", add_address),
    ("GET", f"{CRM}/settings/currency", list_currencies),
    ("GET", f"{CRM}/opportunity/{{id:int}}", get_deal),
    ("GET", f"{CRM}/opportunity/{{id:int}}/contact", deal_contacts),
    ("POST", f"{CRM}/opportunity", create_deal),
)


def build_routes(state: SandboxState) -> list[Route]:
    routes = [Route(path, endpoint(handler, state), methods=[method]) for method, path, handler in _ROUTES]
    routes.append(Route("/api/2.0/authentication", endpoint(login, state, auth=False), methods=["POST"]))
    routes.append(Route("/_sandbox/stats", endpoint(stats, state, auth=False), methods=["GET"]))
    routes.append(Route("/_sandbox/reset-stats", endpoint(reset_stats, state, auth=False), methods=["POST"]))
    return routes


def build_app(
    state: SandboxState,
    *,
    latency_ms: int = 0,
    jitter_ms: int = 0,
    error_rate: float = 0.0,
    window: SlidingWindow | None = None,
) -> ASGIApp:
    """The sandbox as an ASGI app: the routes behind the counting and fault-injecting middleware."""
    routes = build_routes(state)
    app = Starlette(routes=routes)
    return FaultMiddleware(
        app,
        list(routes),
        state.stats,
        latency_ms=latency_ms,
        jitter_ms=jitter_ms,
        error_rate=error_rate,
        window=window,
        rng=state.rng,
    )
