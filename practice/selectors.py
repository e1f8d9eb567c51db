"""Reads of the practice's settings and staff."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from practice import roles
from practice.models import PracticeSettings


def stored_currency() -> str | None:
    """The currency saved in Settings (None before the settings row exists)."""
    return PracticeSettings.objects.filter(pk=1).values_list("currency", flat=True).first()


def staff_users() -> QuerySet:
    """Staff users for the Staff page: active first, by name, with their practitioner and
    groups loaded (so `role_of` costs no query per row)."""
    return (
        get_user_model()
        .objects.select_related("practitioner")
        .prefetch_related("groups")
        .order_by("-is_active", "first_name", "last_name", "username", "id")
    )


def role_of(user) -> str | None:
    """The user's role: the first of `roles.ROLES` among their groups."""
    names = {group.name for group in user.groups.all()}
    return next((role for role in roles.ROLES if role in names), None)
