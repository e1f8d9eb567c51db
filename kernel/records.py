"""Helpers for named, archivable rows (catalog entries, locations, practitioners,
cancellation reasons, payment methods): names typed by staff, archiving instead of
deleting."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model
from django.db.models.functions import Lower

from kernel.errors import DomainError


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


# A keyword argument's default meaning "not given" where None is a value: an update's
# field left alone, or a value the callee reads itself when the caller has not.
UNSET: Any = _Unset()


def clean_name(value: str, *, what: str, max_length: int, field: str = "name") -> str:
    name = " ".join((value or "").split())
    if not name:
        raise DomainError("name_required", f"Give the {what} a name.", field=field)
    if len(name) > max_length:
        raise DomainError("name_too_long", f"Use at most {max_length} characters.", field=field)
    return name


def set_archived(model: type[Model], obj: Any, archived: bool) -> Any:
    """Archive or restore `obj` under its row lock; the caller's instance follows."""
    locked: Any = model._default_manager.select_for_update().get(pk=obj.pk)
    if locked.archived != archived:
        locked.archived = archived
        locked.save(update_fields=["archived"])
    obj.archived = archived
    return locked


def unique_name(
    model: type[Model], value: str, *, what: str, max_length: int, exclude_pk=None
) -> str:
    name = clean_name(value, what=what, max_length=max_length)
    clash = model._default_manager.annotate(lname=Lower("name")).filter(lname=name.lower())
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise DomainError("name_taken", f"There is already a {what} called {name}.", field="name")
    return name


def save_named(obj: Any, fields: list[str] | None, *, what: str) -> Any:
    try:
        with transaction.atomic():
            obj.save(update_fields=fields)
    except IntegrityError as exc:  # taken by a concurrent request
        raise DomainError(
            "name_taken", f"There is already a {what} called {obj.name}.", field="name"
        ) from exc
    return obj
