"""What audit events of clients mean, in words (the Activity pages; see kernel.audit)."""

from __future__ import annotations

from kernel.audit import AuditEvent, changes_text, describes

CLIENT_FIELDS = {
    "first_name": "first name",
    "last_name": "last name",
    "email": "email",
    "phone": "phone",
    "date_of_birth": "date of birth",
    "notes": "notes",
}


def client_name(data: dict) -> str:
    return f"{data.get('first_name', '')} {data.get('last_name', '')}".strip()


@describes("clients.ClientEvent", kind="Clients")
def client_sentence(event: AuditEvent) -> str | None:
    name = client_name(event.data)
    if event.label == "insert":
        return f"added client {name}"
    if event.label == "delete":
        return f"deleted client {name}"
    if event.changed("archived"):
        return f"{'archived' if event.after('archived') else 'restored'} client {name}"
    # Notes are health data: the Activity says they changed, not what they say.
    parts = changes_text(event, CLIENT_FIELDS, hidden={"notes"})
    if not parts:
        return f"changed the details of {name}"
    return f"changed the details of {name}: " + ", ".join(parts)
