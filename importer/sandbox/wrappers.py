"""The JSON shapes of the server's wrappers (camelCase names, as ONLYOFFICE serializes them)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from importer.crm_constants import Currency
from importer.sandbox.store import Row, Store
from importer.sandbox.users import is_private, managers_of, user_wrapper

ADMIN_ID = "93d1a1d4-0b0d-4f38-a1a5-4b4f0f8b7c01"
ADMIN = {
    "id": ADMIN_ID,
    "displayName": "Sandbox Administrator",
    "title": "Administrator",
    "avatarSmall": "/skins/default/images/default_user_photo_size_32-32.png",
    "profileUrl": "/Products/People/Profile.aspx?user=admin",
}

INFO_TYPES = ("Phone", "Email", "Website", "Skype", "Twitter", "LinkedIn", "Facebook", "Address")
ADDRESS_TYPE = 7
ADDRESS_CATEGORIES = ("Home", "Postal", "Office", "Billing", "Other", "Work")
PHONE_CATEGORIES = ("Home", "Work", "Mobile", "Fax", "Direct", "Other")
BASE_CATEGORIES = ("Home", "Work", "Other")
# the portal's English titles: the contract says "Draft", "Billed", "Rejected", "Paid", "Archive"
INVOICE_STATUSES = {1: "Draft", 2: "Billed", 3: "Rejected", 4: "Paid", 5: "Archive"}
STATUS_NAMES = {1: "Draft", 2: "Sent", 3: "Rejected", 4: "Paid", 5: "Archived"}  # the enum's names


def categories_of(info_type: int) -> tuple[str, ...]:
    """The category names of one contact info type."""
    if info_type == ADDRESS_TYPE:
        return ADDRESS_CATEGORIES
    if info_type == 0:
        return PHONE_CATEGORIES
    return BASE_CATEGORIES


def number(text: str | Decimal) -> float:
    """A stored 2-decimal amount as a JSON number."""
    return float(Decimal(text))


def currency_wrapper(currency: Currency) -> dict[str, Any]:
    return {
        "title": currency.title,
        "symbol": currency.symbol,
        "abbreviation": currency.abbreviation,
        "cultureName": currency.abbreviation[:2],
        "isConvertable": currency.is_convertable,
        "isBasic": currency.is_basic,
    }


def contact_base(row: Row) -> dict[str, Any]:
    kind = "company" if row["is_company"] else "people"
    private = is_private(row)
    return {
        "id": row["id"],
        "smallFotoUrl": f"/skins/default/images/empty_{kind}_logo_40_40.png",
        "mediumFotoUrl": f"/skins/default/images/empty_{kind}_logo_82_82.png",
        "displayName": row["display_name"],
        "isCompany": bool(row["is_company"]),
        "accessList": [user_wrapper(m) for m in managers_of(row)] if private else [],
        "isPrivate": private,
        "isShared": not private,
        "shareType": int(row.get("share_type") or 0),
        "currency": None,
        "canEdit": True,
        "canDelete": True,
    }


def info_wrapper(row: Row) -> dict[str, Any]:
    names = categories_of(row["info_type"])
    category = row["category"]
    return {
        "id": row["id"],
        "infoType": row["info_type"],
        "category": category,
        "data": row["data"],
        "isPrimary": bool(row["is_primary"]),
        "categoryName": names[category] if 0 <= category < len(names) else "",
    }


def address_wrapper(row: Row) -> dict[str, Any]:
    fields = json.loads(row["data"])
    return {
        "id": row["id"],
        **{name: fields.get(name, "") for name in ("street", "city", "state", "zip", "country")},
        "category": row["category"],
        "categoryName": ADDRESS_CATEGORIES[row["category"]],
        "isPrimary": bool(row["is_primary"]),
    }


def contact_wrapper(store: Store, row: Row) -> dict[str, Any]:
    """The full contact: a person or a company, with its info rows (``commonData``) and addresses."""
    infos = store.rows("SELECT * FROM contact_info WHERE contact_id = ? ORDER BY id", (row["id"],))
    result = contact_base(row) | {
        "createBy": user_wrapper(row.get("owner") or ""),
        "created": row["created"],
        "about": row["about"],
        "industry": None,
        "contactStatus": None,
        "contactType": None,
        "commonData": [info_wrapper(info) for info in infos if info["info_type"] != ADDRESS_TYPE],
        "addresses": [address_wrapper(info) for info in infos if info["info_type"] == ADDRESS_TYPE],
        "customFields": [],
        "tags": [],
        "haveLateTasks": False,
    }
    if row["is_company"]:
        persons = store.one("SELECT count(*) AS n FROM contact WHERE company_id = ?", (row["id"],))
        result |= {"companyName": row["company_name"], "personsCount": persons["n"] if persons else 0}
    else:
        company = store.get("contact", row["company_id"]) if row["company_id"] else None
        result |= {
            "firstName": row["first_name"],
            "lastName": row["last_name"],
            "title": row["job_title"],
            "company": contact_base(company) if company else None,
        }
    return result


def tax_wrapper(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "rate": number(row["rate"]),
        "createOn": row["created"],
        "createBy": ADMIN,
        "canEdit": True,
        "canDelete": True,
    }


def item_wrapper(store: Store, row: Row, currency: Currency | None) -> dict[str, Any]:
    taxes = [store.get("tax", row[key]) if row[key] else None for key in ("tax1_id", "tax2_id")]
    return {
        "id": row["id"],
        "title": row["title"],
        "stockKeepingUnit": row["sku"],
        "description": row["description"],
        "price": number(row["price"]),
        "currency": currency_wrapper(currency) if currency else None,
        "stockQuantity": number(row["stock_quantity"]),
        "trackInvenory": bool(row["track_inventory"]),
        "invoiceTax1": tax_wrapper(taxes[0]) if taxes[0] else None,
        "invoiceTax2": tax_wrapper(taxes[1]) if taxes[1] else None,
        "createOn": row["created"],
        "createBy": ADMIN,
        "canEdit": True,
        "canDelete": True,
    }


def line_wrapper(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "invoiceID": row["invoice_id"],
        "invoiceItemID": row["item_id"],
        "invoiceTax1ID": row["tax1_id"],
        "invoiceTax2ID": row["tax2_id"],
        "sortOrder": row["sort_order"],
        "description": row["description"] or "",
        "quantity": number(row["quantity"]),
        "price": number(row["price"]),
        "discount": number(row["discount"]),
    }


def deal_wrapper(store: Store, row: Row) -> dict[str, Any]:
    """Close to the server's OpportunityWrapper; ``members`` lists the member contacts' IDs."""
    contact = store.get("contact", row["contact_id"]) if row["contact_id"] else None
    members = store.rows(
        "SELECT contact_id FROM deal_member WHERE deal_id = ? ORDER BY contact_id", (row["id"],)
    )
    return {
        "id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "contact": contact_base(contact) if contact else None,
        "members": [member["contact_id"] for member in members],
        "createBy": ADMIN,
        "created": row["created"],
        "responsible": ADMIN,
        "isClosed": False,
        "isPrivate": False,
        "accessList": [],
        "stage": None,
        "successProbability": 0,
        "bidValue": 0.0,
        "bidCurrency": None,
        "bidType": 0,
        "perPeriodValue": 0,
        "expectedCloseDate": None,
        "actualCloseDate": None,
        "canEdit": True,
        "customFields": [],
    }
