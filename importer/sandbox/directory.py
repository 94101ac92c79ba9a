"""Contacts, their info rows and addresses, and deals (opportunities)."""

from __future__ import annotations

import json
from typing import Any

from importer.sandbox.dates import now_stored
from importer.sandbox.listing import matches_words
from importer.sandbox.store import Row, Store
from importer.sandbox.values import BadArgument, to_bool, to_int, to_text
from importer.sandbox.wrappers import ADDRESS_CATEGORIES, ADDRESS_TYPE, INFO_TYPES, categories_of


def lower_keys(body: dict[str, Any]) -> dict[str, Any]:
    return {key.lower(): value for key, value in body.items()}


def _enum_value(value: Any, names: tuple[str, ...], default: int | None = None) -> int:
    """An enum given by name (any case) or by number."""
    if value is None or value == "":
        if default is None:
            raise BadArgument()
        return default
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        lowered = [name.lower() for name in names]
        if value.strip().lower() not in lowered:
            raise BadArgument()
        return lowered.index(value.strip().lower())
    number = to_int(value)
    if not 0 <= number < len(names):
        raise BadArgument()
    return number


def info_type_of(value: Any) -> int:
    return _enum_value(value, INFO_TYPES)


def filter_contacts(store: Store, filter_value: str | None) -> list[Row]:
    rows = store.rows("SELECT * FROM contact ORDER BY id")
    if filter_value:
        rows = [row for row in rows if matches_words(filter_value, [row["display_name"]])]
    return rows


def contacts_by_info(store: Store, info_type: int, data: str | None) -> list[Row]:
    """Contacts with an info row of this type whose data contains ``data`` (case-insensitive substring)."""
    needle = (data or "").lower()
    infos = store.rows(
        "SELECT contact_id, data FROM contact_info WHERE info_type = ? ORDER BY id", (info_type,)
    )
    ids = sorted({info["contact_id"] for info in infos if needle in info["data"].lower()})
    return [row for contact_id in ids if (row := store.get("contact", contact_id)) is not None]


def _sharing(args: dict[str, Any], owner: str) -> dict[str, Any]:
    """``shareType`` (0 None = private, the default through the API; 1 ReadWrite; 2 Read), ``managerList``
    (user IDs on the access list) and the owner (the caller)."""
    share_type = to_int(args.get("sharetype"))
    if share_type not in (0, 1, 2):
        raise BadArgument()
    managers = args.get("managerlist") or []
    if not isinstance(managers, list):
        raise BadArgument()
    return {"share_type": share_type, "managers": json.dumps([str(m) for m in managers]), "owner": owner}


def create_person(store: Store, body: dict[str, Any], owner: str = "") -> Row:
    args = lower_keys(body)
    first, last = to_text(args.get("firstname")) or "", to_text(args.get("lastname")) or ""
    if not first.strip() or not last.strip():
        raise BadArgument()
    company_id = to_int(args.get("companyid"))
    if company_id and store.get("contact", company_id) is None:
        raise BadArgument()
    contact_id = store.insert(
        "contact",
        {
            "is_company": 0,
            "first_name": first,
            "last_name": last,
            "display_name": f"{first} {last}",
            "job_title": to_text(args.get("jobtitle")),
            "company_id": company_id,
            "about": to_text(args.get("about")),
            "created": now_stored(),
            **_sharing(args, owner),
        },
    )
    return _created(store, "contact", contact_id)


def create_company(store: Store, body: dict[str, Any], owner: str = "") -> Row:
    args = lower_keys(body)
    name = to_text(args.get("companyname")) or ""
    if not name.strip():
        raise BadArgument()
    contact_id = store.insert(
        "contact",
        {
            "is_company": 1,
            "company_name": name,
            "display_name": name,
            "about": to_text(args.get("about")),
            "created": now_stored(),
            **_sharing(args, owner),
        },
    )
    return _created(store, "contact", contact_id)


def _created(store: Store, table: str, row_id: int) -> Row:
    row = store.get(table, row_id)
    assert row is not None
    return row


def add_info(store: Store, contact_id: int, body: dict[str, Any]) -> Row:
    """A new info row (not an address: those go through ``addressdata``)."""
    args = lower_keys(body)
    info_type = info_type_of(args.get("infotype"))
    data = to_text(args.get("data")) or ""
    if info_type == ADDRESS_TYPE or not data.strip():
        raise BadArgument()
    category = _enum_value(args.get("category"), categories_of(info_type), default=0)
    info_id = store.insert(
        "contact_info",
        {
            "contact_id": contact_id,
            "info_type": info_type,
            "category": category,
            "data": data,
            "is_primary": int(to_bool(args.get("isprimary"))),
        },
    )
    return _created(store, "contact_info", info_id)


def add_address(store: Store, contact_id: int, body: dict[str, Any]) -> Row:
    address = lower_keys(body).get("address")
    if not isinstance(address, dict):
        raise BadArgument()
    fields = lower_keys(address)
    data = {name: to_text(fields.get(name)) or "" for name in ("street", "city", "state", "zip", "country")}
    if not any(data.values()):
        raise BadArgument()
    category = _enum_value(fields.get("category"), ADDRESS_CATEGORIES)
    info_id = store.insert(
        "contact_info",
        {
            "contact_id": contact_id,
            "info_type": ADDRESS_TYPE,
            "category": category,
            "data": json.dumps(data),
            "is_primary": int(to_bool(fields.get("isprimary"))),
        },
    )
    return _created(store, "contact_info", info_id)


def create_deal(store: Store, body: dict[str, Any]) -> Row:
    """A deal: ``title``, ``contactId`` (also made a member) and ``members`` (contact IDs)."""
    args = lower_keys(body)
    title = to_text(args.get("title")) or ""
    contact_id = to_int(args.get("contactid"))
    members = args.get("members") or []
    if not title.strip() or not isinstance(members, list):
        raise BadArgument()
    member_ids = {to_int(member) for member in members} | ({contact_id} if contact_id else set())
    if any(store.get("contact", member) is None for member in member_ids):
        raise BadArgument()
    with store.transaction():
        deal_id = store.insert(
            "deal",
            {
                "title": title,
                "description": to_text(args.get("description")),
                "contact_id": contact_id,
                "created": now_stored(),
            },
        )
        for member in sorted(member_ids):
            store.insert("deal_member", {"deal_id": deal_id, "contact_id": member})
    return _created(store, "deal", deal_id)


def deal_members(store: Store, deal_id: int) -> list[Row]:
    return store.rows(
        "SELECT c.* FROM contact c JOIN deal_member m ON m.contact_id = c.id"
        " WHERE m.deal_id = ? ORDER BY c.id",
        (deal_id,),
    )
