"""The sandbox's CRM users and the contract's "Who may see what", in one place.

Two users: the administrator (sees and may do everything) and an ordinary user, the viewer. The rules, as the
server's ``CRMSecurity`` applies them:

* a contact is visible to an administrator, to anyone when it is shared (share type Read or ReadWrite), and
  to the users on its access list (``managerList``); a contact created through the API is private (share
  type None) by default;
* an invoice is visible to an administrator, to its creator, and to whoever may see its contact;
* only an administrator or its creator may edit (and only a Draft) or delete an invoice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from importer.sandbox.store import Row, Store

SHARE_NONE, SHARE_READ_WRITE, SHARE_READ = 0, 1, 2
DRAFT = 1


@dataclass(frozen=True)
class User:
    id: str
    display_name: str
    admin: bool

    def wrapper(self) -> dict[str, Any]:
        """The server's EmployeeWraper (``createBy``, ``accessList``)."""
        return {
            "id": self.id,
            "displayName": self.display_name,
            "title": "Administrator" if self.admin else "Accountant",
            "avatarSmall": "/skins/default/images/default_user_photo_size_32-32.png",
            "profileUrl": f"/Products/People/Profile.aspx?user={self.id}",
        }


ADMIN_USER = User("93d1a1d4-0b0d-4f38-a1a5-4b4f0f8b7c01", "Sandbox Administrator", admin=True)
VIEWER_USER = User("5b0e3c1a-7d2f-4e8a-9c61-2f4d8b9e0a17", "Sandbox Viewer", admin=False)
USERS = {user.id: user for user in (ADMIN_USER, VIEWER_USER)}


def user_wrapper(user_id: str) -> dict[str, Any]:
    return USERS.get(user_id, ADMIN_USER).wrapper()


def managers_of(contact: Row) -> list[str]:
    try:
        managers = json.loads(contact.get("managers") or "[]")
    except json.JSONDecodeError:
        return []
    return [str(m) for m in managers] if isinstance(managers, list) else []


def is_private(contact: Row) -> bool:
    return int(contact.get("share_type") or 0) == SHARE_NONE


def can_see_contact(user: User, contact: Row) -> bool:
    return (
        user.admin
        or int(contact.get("share_type") or 0) in (SHARE_READ, SHARE_READ_WRITE)
        or user.id in managers_of(contact)
    )


def can_see_invoice(store: Store, user: User, invoice: Row) -> bool:
    if user.admin or invoice.get("create_by") == user.id:
        return True
    contact = store.get("contact", invoice["contact_id"]) if invoice["contact_id"] > 0 else None
    return contact is not None and can_see_contact(user, contact)


def can_delete_invoice(user: User, invoice: Row) -> bool:
    return user.admin or invoice.get("create_by") == user.id


def can_edit_invoice(user: User, invoice: Row) -> bool:
    return can_delete_invoice(user, invoice) and invoice["status"] == DRAFT
