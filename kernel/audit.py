"""The audit trail: who changed what, when and from where.

Changes are recorded by PostgreSQL triggers (django-pghistory), so bulk and queryset
updates are covered too, not only `save()`. Each request's context (user, URL, address,
method) is attached by `AuditContextMiddleware`; changes made outside a request (demo
data, migrations) carry no context.
Event tables are append-only (protected by triggers), like the credit ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

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


# ------------------------------------------------------------------ baseline events
BASELINE = "baseline"


def baseline_events(tracked: str, event: str):
    """A migration operation for a model that starts being audited: copy each existing
    row into its event table as a "baseline" event (no who, no context), so the first
    audited change of an old row shows what it changed from. The Activity pages do not
    show baseline events."""
    from django.db import migrations
    from django.utils import timezone

    def forward(apps, schema_editor):
        tracked_model = apps.get_model(tracked)
        event_model = apps.get_model(event)
        names = [
            f.attname for f in event_model._meta.concrete_fields if not f.name.startswith("pgh_")
        ]
        now = timezone.now()
        event_model.objects.bulk_create(
            event_model(
                pgh_created_at=now,
                pgh_label=BASELINE,
                pgh_obj_id=row.pk,
                **{name: getattr(row, name) for name in names},
            )
            for row in tracked_model._base_manager.all()
        )

    return migrations.RunPython(forward, migrations.RunPython.noop)


# ------------------------------------------------------------- plain-language activity
# Each app says in words what its audit events mean: `<app>/audit_events.py` registers a
# describer per event model (the kernel finds those modules by name, as Django's admin
# finds `admin.py`, and never imports an app itself).


@dataclass(frozen=True)
class Describer:
    """How one event model reads: `kind` groups it for the Activity filter ("Catalog",
    "Appointments"...), `sentence(event)` returns the words after the person's name
    ("canceled the appointment of 7 Dec 08:00: Client unwell") or None to leave the
    event out (it is told by another event of the same change), and `refs(event)` names
    the rows the sentence needs, as (model label, pk) pairs, fetched in one query per
    model for the whole page."""

    kind: str
    sentence: Callable[[AuditEvent], str | None]
    refs: Callable[[AuditEvent], Iterable[tuple[str, Any]]] | None = None


_describers: dict[str, Describer] = {}
_silent: set[str] = set()
_discovered = False


def describes(event_model: str, *, kind: str, refs=None):
    """Register the decorated function as the sentence of `event_model` ("app.ModelEvent")."""

    def register(sentence):
        _describers[event_model] = Describer(kind=kind, sentence=sentence, refs=refs)
        return sentence

    return register


def _discover() -> None:
    global _discovered
    if not _discovered:
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("audit_events")
        _discovered = True


def silent(event_model: str, *, kind: str) -> None:
    """Register `event_model` as never told on its own (its changes are always told by
    another event: a package's per-service counters by the appointments). The Activity
    pages leave its events out of their queries."""
    _describers[event_model] = Describer(kind=kind, sentence=lambda event: None)
    _silent.add(event_model)


def silent_event_models() -> list[str]:
    _discover()
    return sorted(_silent)


def activity_kinds() -> dict[str, list[str]]:
    """Object types for the Activity filter: kind -> the event models it covers."""
    _discover()
    kinds: dict[str, list[str]] = {}
    for label, describer in sorted(_describers.items()):
        kinds.setdefault(describer.kind, []).append(label)
    return dict(sorted(kinds.items()))


def audited_event_models() -> list[str]:
    """Every event model with a describer (the Activity page reads these)."""
    _discover()
    return sorted(_describers)


class AuditEvent:
    """One audit event with what a describer needs: the data as saved (`data`), the
    changes (`changed`, `before`, `after`), rows fetched for the page (`ref`), the other
    events of the same request (`siblings`) and the person (`who_name`)."""

    def __init__(self, event, *, refs: dict, users: dict, siblings: list):
        self.event = event
        self.label: str = event.pgh_label
        self.model: str = event.pgh_model
        self.at = event.pgh_created_at
        self.data: dict = event.pgh_data or {}
        # The event's own dict (describers format values in it for the admin's list too),
        # less `updated_at` (kernel.changes), which moves with every change.
        self.diff: dict = event.pgh_diff or {}
        self.diff.pop("updated_at", None)
        self.context: dict = event.pgh_context or {}
        self._refs = refs
        self.who = users.get(self.context.get("user"))
        self.siblings = siblings

    @property
    def who_name(self) -> str:
        return person_name(self.who) if self.who is not None else "The system"

    def changed(self, field: str) -> bool:
        return field in self.diff

    def before(self, field: str):
        return self.diff[field][0] if field in self.diff else self.data.get(field)

    def after(self, field: str):
        return self.data.get(field)

    def ref(self, model_label: str, pk):
        """The row `pk` of `model_label`, fetched for the page (None if gone or unset)."""
        if pk is None:
            return None
        return self._refs.get(model_label.lower(), {}).get(str(pk))

    def name_of(self, model_label: str, pk, fallback: str = "") -> str:
        obj = self.ref(model_label, pk)
        if obj is None:
            return fallback
        return person_name(obj) if model_label.lower() == "auth.user" else str(obj)


def person_name(user) -> str:
    return (user.get_full_name() or user.get_username()).strip()


def when_text(value) -> str:
    """'7 Dec 08:00' in the practice's time zone ('7 Dec 2025 08:00' for another year)."""
    from django.utils import timezone
    from django.utils.dateparse import parse_datetime

    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        return ""
    local = timezone.localtime(value)
    if local.year == timezone.localdate().year:
        return f"{local.day} {local:%b %H:%M}"
    return f"{local.day} {local:%b %Y %H:%M}"


def date_text(value) -> str:
    """'7 Dec 2026' for a date (or an ISO date string); 'none' when empty."""
    import datetime as dt

    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if value is None:
        return "none"
    return f"{value.day} {value:%b %Y}"


def money_text(value) -> str:
    """An amount as saved ("95.00"); the event data holds it as a JSON number."""
    from decimal import Decimal

    if value is None or value == "":
        return "none"
    return f"{Decimal(str(value)):.2f}"


def value_text(value) -> str:
    if value is None or value == "":
        return "empty"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def changes_text(event: AuditEvent, labels: dict[str, str], *, hidden=()) -> list[str]:
    """'price from 90.00 to 95.00' for each changed field named in `labels` (field ->
    words); fields in `hidden` are named without their values (notes, health data)."""
    parts = []
    for field, label in labels.items():
        if not event.changed(field):
            continue
        if field in hidden:
            parts.append(label)
        else:
            before, after = event.diff[field]
            parts.append(f"{label} from {value_text(before)} to {value_text(after)}")
    return parts


def changes_in_words(event) -> list[str]:
    """Every field an event changed, as "field: before → after" (the admin's detail);
    notes are named without their text."""
    parts = []
    for field, (before, after) in sorted((event.pgh_diff or {}).items()):
        if field in {"updated_at"}:
            continue
        label = field.removesuffix("_id").replace("_", " ")
        if "notes" in field:
            parts.append(f"{label} changed")
        else:
            parts.append(f"{label}: {_short(value_text(before))} → {_short(value_text(after))}")
    return parts


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def record_sentence(event: AuditEvent, noun: str, labels: dict[str, str], *, hidden=()) -> str:
    """The sentence of a simple record (a service, a location, a tax rate...): added,
    deleted, archived, restored, renamed or changed, with what changed."""
    name = event.data.get("name") or event.before("name") or ""
    if event.label == "insert":
        return f"added {noun} {name}"
    if event.label == "delete":
        return f"deleted {noun} {name}"
    if event.changed("archived") and len(event.diff) == 1:
        return f"{'archived' if event.after('archived') else 'restored'} {noun} {name}"
    if event.changed("name") and len(event.diff) == 1:
        return f"renamed {noun} {event.before('name')} to {name}"
    if event.changed("archived"):
        verb = "archived" if event.after("archived") else "restored"
        return f"{verb} {noun} {name}"
    parts = changes_text(event, labels, hidden=hidden)
    if not parts:
        return f"changed {noun} {name}"
    if len(parts) == 1:
        field, rest = parts[0].split(" from ", 1) if " from " in parts[0] else (parts[0], "")
        tail = f" from {rest}" if rest else ""
        return f"changed the {field} of {noun} {name}{tail}"
    return f"changed {noun} {name}: " + ", ".join(parts)


def event_keys(events):
    """(event model, event id, time) of each event in `events`, in order: cheap to count
    and slice, since the data and the diff of each event are not computed. Paginate this,
    then `load_events` the page."""
    return events.values_list("pgh_model", "pgh_id", "pgh_created_at")


def load_events(keys) -> list:
    """The events named by `keys` (from `event_keys`), with their data, diff and context,
    in the same order: one query whatever their number."""
    from pghistory.models import Events

    keys = [(key[0], key[1]) for key in keys]
    if not keys:
        return []
    models = sorted({model for model, _ in keys})
    loaded = {
        (e.pgh_model, e.pgh_id): e
        for e in Events.objects.across(*models).filter(
            pgh_model__in=models, pgh_id__in={pk for _, pk in keys}
        )
    }
    return [loaded[key] for key in keys if key in loaded]


def activity_rows(events, *, every: bool = False) -> list[dict]:
    """Plain-language rows for a page of events: when, who, what happened ("Rosa Nguyen
    canceled the appointment of 7 Dec 08:00: Client unwell"), from where, and the kind.

    A constant number of queries whatever the page holds: one for the people, one per
    model the sentences refer to. Events a describer leaves out (told by another event
    of the same request) are dropped; events with no describer read generically.
    """
    from django.apps import apps
    from django.contrib.auth import get_user_model

    _discover()
    if not every:
        events = [e for e in events if e.pgh_label != BASELINE]
    by_context: dict[Any, list] = {}
    for e in events:
        if e.pgh_context_id is not None:
            by_context.setdefault(e.pgh_context_id, []).append(e)

    wrapped = []
    wanted: dict[str, set] = {}
    user_ids = set()
    for e in events:
        ctx_user = (e.pgh_context or {}).get("user")
        if ctx_user is not None:
            user_ids.add(ctx_user)
        ev = AuditEvent(e, refs={}, users={}, siblings=[])
        describer = _describers.get(e.pgh_model)
        if describer and describer.refs:
            for label, pk in describer.refs(ev):
                if pk is not None:
                    wanted.setdefault(label.lower(), set()).add(pk)
        wrapped.append((e, describer))

    refs: dict[str, dict] = {}
    user_label = get_user_model()._meta.label_lower
    user_ids |= wanted.pop(user_label, set())
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=user_ids)}
    refs[user_label] = {str(pk): u for pk, u in users.items()}
    for label, pks in wanted.items():
        model = apps.get_model(label)
        refs[label] = {str(o.pk): o for o in model._base_manager.filter(pk__in=pks)}

    rows = []
    for e, describer in wrapped:
        siblings = [s for s in by_context.get(e.pgh_context_id, []) if s is not e]
        ev = AuditEvent(e, refs=refs, users=users, siblings=siblings)
        generic = describe_event(e, users)["what"].lower()
        if e.pgh_label == BASELINE:
            sentence: str | None = f"{generic}: the row as it was when its audit began"
        elif describer is None:
            sentence = generic
        else:
            sentence = describer.sentence(ev)
        kind = describer.kind if describer else "Other"
        if sentence is None:
            if not every:
                continue
            sentence = f"{generic} (told with the change it belongs to)"
        rows.append(
            {
                "at": e.pgh_created_at,
                "who": ev.who,
                "who_name": ev.who_name,
                "sentence": f"{ev.who_name} {sentence}",
                "kind": kind,
                "ip": ev.context.get("ip"),
                "url": ev.context.get("url"),
                "method": ev.context.get("method"),
                "api_key": ev.context.get("api_key"),
                "event": e,
                "changes": changes_in_words(e),
            }
        )
    return rows
