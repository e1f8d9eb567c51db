"""Reads of the practice's settings and staff."""

from __future__ import annotations

from practice.models import PracticeSettings


def stored_currency() -> str | None:
    """The currency saved in Settings (None before the settings row exists)."""
    return PracticeSettings.objects.filter(pk=1).values_list("currency", flat=True).first()
