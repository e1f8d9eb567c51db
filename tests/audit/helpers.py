"""Shared by the audit tests: the Activity sentences of a set of events."""

from __future__ import annotations

from pghistory.models import Events

from kernel.audit import BASELINE, activity_rows


def sentences(events=None) -> list[str]:
    """The plain-language rows of `events` (default: every event), newest first."""
    if events is None:
        events = Events.objects.all()
    events = events.exclude(pgh_label=BASELINE).order_by("-pgh_created_at", "-pgh_id")
    return [row["sentence"] for row in activity_rows(events)]


def events_of(*models: str):
    """The events of these event models (baseline copies left out)."""
    return Events.objects.across(*models).exclude(pgh_label=BASELINE)
