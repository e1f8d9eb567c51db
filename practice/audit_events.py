"""What audit events of the practice mean, in words (the Activity pages; see
kernel.audit): settings, staff users, roles and permissions, API keys.

"Jo Admin made Sam Lee an Admin (was Practitioner)", "Jo Admin changed the practice
settings: next invoice number from 12 to 100".
"""

from __future__ import annotations

from kernel.audit import AuditEvent, changes_text, describes, when_text
from practice.api_keys import KEY_PREFIX

SETTINGS_FIELDS = {
    "name": "practice name",
    "address": "address",
    "phone": "phone",
    "email": "email",
    "tax_id": "tax / business number",
    "currency": "currency",
    "prices_include_tax": "prices include tax",
    "invoice_prefix": "invoice prefix",
    "invoice_next_number": "next invoice number",
    "invoice_number_digits": "invoice number digits",
    "payment_terms_days": "payment terms (days)",
    "payment_instructions": "payment instructions",
}
# Roles that read as a person ("made Sam Lee an Admin"); others read as a role
# ("gave Rosa Nguyen the Reception role").
PERSON_ROLES = {"Admin", "Practitioner", "Accountant"}
USER_FIELDS = {
    "username": "username",
    "first_name": "first name",
    "last_name": "last name",
    "email": "email",
}


@describes("caspen.PracticeSettingsEvent", kind="Settings")
def practice_settings_sentence(event: AuditEvent) -> str | None:
    if event.label != "update":
        return f"{'created' if event.label == 'insert' else 'deleted'} the practice settings"
    numbering_only = set(event.diff) == {"invoice_next_number"}
    if numbering_only and any(
        other.pgh_model == "invoicing.InvoiceEvent" and other.pgh_label == "update"
        for other in event.siblings
    ):
        return None  # finalizing took the number: "finalized invoice INV-0012" tells it
    parts = changes_text(event, SETTINGS_FIELDS)
    if not parts:
        return "changed the practice settings"
    return "changed the practice settings: " + ", ".join(parts)


def _user_name(data: dict) -> str:
    full = f"{data.get('first_name') or ''} {data.get('last_name') or ''}".strip()
    return full or data.get("username") or "a user"


def _article(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


@describes("caspen.UserEvent", kind="Staff and roles")
def user_sentence(event: AuditEvent) -> str | None:
    name = _user_name(event.data)
    if event.label == "insert":
        return f"added staff user {name}"
    if event.label == "delete":
        return f"deleted staff user {name}"
    if event.label == "password_changed":
        if event.who is not None and event.who.pk == event.data.get("id"):
            return "changed their password"
        return f"changed the password of {name}"
    parts = []
    if event.changed("is_active"):
        parts.append(f"{'reactivated' if event.after('is_active') else 'deactivated'} {name}")
    if event.changed("is_superuser"):
        parts.append(
            f"made {name} a superuser"
            if event.after("is_superuser")
            else f"took superuser rights from {name}"
        )
    if event.changed("is_staff"):
        parts.append(
            f"gave {name} access to the Django admin"
            if event.after("is_staff")
            else f"took Django admin access from {name}"
        )
    details = changes_text(event, USER_FIELDS)
    if details:
        parts.append(f"changed the details of {name}: " + ", ".join(details))
    if not parts:
        return None if event.diff else f"changed staff user {name}"
    return "; ".join(parts)


def _membership_refs(event: AuditEvent):
    yield "auth.User", event.data.get("user_id")
    yield "auth.Group", event.data.get("group_id")
    yield "auth.Permission", event.data.get("permission_id")
    for other in event.siblings:
        if other.pgh_model == "caspen.UserGroupsEvent":
            yield "auth.Group", (other.pgh_data or {}).get("group_id")


def _other_memberships(event: AuditEvent, label: str) -> list:
    user_id = event.data.get("user_id")
    return [
        other
        for other in event.siblings
        if other.pgh_model == "caspen.UserGroupsEvent"
        and other.pgh_label == label
        and (other.pgh_data or {}).get("user_id") == user_id
    ]


@describes("caspen.UserGroupsEvent", kind="Staff and roles", refs=_membership_refs)
def user_groups_sentence(event: AuditEvent) -> str | None:
    user = event.name_of("auth.User", event.data.get("user_id"), "a user")
    role = event.name_of("auth.Group", event.data.get("group_id"), "a role")
    if event.label == "insert":
        removed = [
            event.name_of("auth.Group", (other.pgh_data or {}).get("group_id"), "a role")
            for other in _other_memberships(event, "delete")
        ]
        was = f" (was {', '.join(sorted(removed))})" if removed else ""
        if role in PERSON_ROLES:
            return f"made {user} {_article(role)}{was}"
        return f"gave {user} the {role} role{was}"
    if event.label == "delete":
        if _other_memberships(event, "insert"):
            return None  # told with the new role: "(was Practitioner)"
        return f"removed {user} from the {role} role"
    return None


def _permission_name(event: AuditEvent) -> str:
    permission = event.ref("auth.Permission", event.data.get("permission_id"))
    if permission is None:
        return "a permission"
    return f"“{permission.name}”"


def _permission_refs(event: AuditEvent):
    yield from _membership_refs(event)


@describes("caspen.UserPermissionsEvent", kind="Staff and roles", refs=_permission_refs)
def user_permissions_sentence(event: AuditEvent) -> str | None:
    user = event.name_of("auth.User", event.data.get("user_id"), "a user")
    if event.label == "insert":
        return f"gave {user} the permission {_permission_name(event)}"
    if event.label == "delete":
        return f"took the permission {_permission_name(event)} from {user}"
    return None


@describes("caspen.GroupEvent", kind="Staff and roles")
def group_sentence(event: AuditEvent) -> str | None:
    name = event.data.get("name")
    if event.label == "insert":
        return f"created the role {name}"
    if event.label == "delete":
        return f"deleted the role {name}"
    if event.changed("name"):
        return f"renamed the role {event.before('name')} to {name}"
    return None


@describes("caspen.GroupPermissionsEvent", kind="Staff and roles", refs=_permission_refs)
def group_permissions_sentence(event: AuditEvent) -> str | None:
    role = event.name_of("auth.Group", event.data.get("group_id"), "a role")
    if event.label == "insert":
        return f"gave the {role} role the permission {_permission_name(event)}"
    if event.label == "delete":
        return f"took the permission {_permission_name(event)} from the {role} role"
    return None


def _api_key_refs(event: AuditEvent):
    yield "auth.User", event.data.get("user_id")


@describes("caspen.ApiKeyEvent", kind="API keys", refs=_api_key_refs)
def api_key_sentence(event: AuditEvent) -> str | None:
    data = event.data
    owner_id = data.get("user_id")
    mine = event.who is not None and event.who.pk == owner_id
    owner = "their" if mine else f"{event.name_of('auth.User', owner_id, 'a user')}’s"
    key = f"{owner} API key “{data.get('name')}” ({KEY_PREFIX}_{data.get('prefix')}…)"
    if event.label == "insert":
        expires = data.get("expires_at")
        return f"created {key}{f', expiring {when_text(expires)}' if expires else ''}"
    if event.changed("revoked_at") and data.get("revoked_at"):
        reason = data.get("revoked_reason")
        return f"revoked {key}{f': {reason}' if reason else ''}"
    if event.label == "delete":
        return f"deleted {key}"
    if event.changed("name"):
        return f"renamed {key} (was “{event.before('name')}”)"
    return None


@describes("caspen.PracticeLogoEvent", kind="Settings")
def practice_logo_sentence(event: AuditEvent) -> str:
    if event.label == "delete":
        return "removed the practice's logo"
    return (
        "uploaded the practice's logo" if event.label == "insert" else "changed the practice's logo"
    )
