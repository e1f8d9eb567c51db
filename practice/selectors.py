"""Reads of the practice's settings and staff."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from practice import roles, versions
from practice.models import PracticeSettings


def stored_currency() -> str | None:
    """The currency saved in Settings (None before the settings row exists)."""
    return PracticeSettings.objects.filter(pk=1).values_list("currency", flat=True).first()


_kept_currency: list[tuple[int, str | None]] = []


def kept_currency() -> str | None:
    """`stored_currency`, kept per process while the settings version (practice.versions,
    bumped by a trigger when the currency changes) stays the same."""
    version = versions.current().settings
    if version is not None and _kept_currency and _kept_currency[0][0] == version:
        return _kept_currency[0][1]
    currency = stored_currency()
    if version is not None and versions.may_keep():
        _kept_currency[:] = [(version, currency)]
    return currency


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
