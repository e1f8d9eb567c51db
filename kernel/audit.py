"""The audit trail: who changed what, when and from where.

Changes are recorded by PostgreSQL triggers (django-pghistory), so bulk and queryset
updates are covered too, not only `save()`. Each request's context (user, URL, address,
method) is attached by `AuditContextMiddleware`; changes made outside a request (demo
data, migrations) carry no context.
Event tables are append-only (protected by triggers), like the credit ledger.
"""

from __future__ import annotations

import pghistory


def audit_trackers() -> tuple:
    """Fresh trackers for one model: every insert, update and delete becomes an event."""
    return (pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())


def audited(**kwargs):
    """`@audited()` on a model: track it with append-only events."""
    return pghistory.track(*audit_trackers(), append_only=True, **kwargs)


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or behind a trusted proxy (TRUSTED_PROXIES)
    the address it forwarded for (kernel.network, shared with the sign-in lockout)."""
    from kernel.network import client_ip as network_client_ip

    return network_client_ip(request)


def history_for(obj, *, related: bool = True):
    """Audit events of `obj` (and, with `related`, of the rows that reference it: a
    client's packages, appointments, invoices...), newest first, with who/where context.

    One query whatever the number of event tables; paginate the result.
    """
    from pghistory.models import Events

    events = Events.objects.references(obj) if related else Events.objects.tracks(obj)
    return events.order_by("-pgh_created_at", "-pgh_id")


def describe_event(event, users: dict) -> dict:
    """A row for the History pages: when, who, from where, what happened, what changed."""
    context = event.pgh_context or {}
    model = event.pgh_model.split(".")[-1].removesuffix("Event")
    labels = {"insert": "created", "update": "changed", "delete": "deleted"}
    changes = [
        (field, before, after)
        for field, (before, after) in sorted((event.pgh_diff or {}).items())
        if field not in {"updated_at"}
    ]
    return {
        "at": event.pgh_created_at,
        "who": users.get(context.get("user")),
        "ip": context.get("ip"),
        "url": context.get("url"),
        "what": f"{_humanize(model)} {labels.get(event.pgh_label, event.pgh_label)}",
        "object_id": event.pgh_obj_id,
        "changes": changes,
    }


def describe_events(events) -> list[dict]:
    """`describe_event` for a page of events, with the users fetched in one query."""
    from django.contrib.auth import get_user_model

    events = list(events)
    ids = {e.pgh_context["user"] for e in events if (e.pgh_context or {}).get("user") is not None}
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=ids)}
    return [describe_event(e, users) for e in events]


def _humanize(model_name: str) -> str:
    words: list[str] = []
    for char in model_name:
        if char.isupper() and words:
            words.append(" ")
        words.append(char.lower() if words else char)
    return "".join(words)
