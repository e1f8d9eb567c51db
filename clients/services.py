"""Writes for clients: create, update, archive, restore.

Pages, the API and management commands call these; each checks the role itself
(`require_perm`) and validates what a form may not have (the API sends raw values). Who
changed what and when is recorded by the audit triggers on the client table
(kernel/audit.py), whichever route the change takes.
Clients are never deleted: packages, appointments and invoices refer to them, so a
client leaves by being archived (not bookable, no new packages) and may be restored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from clients.models import AccessVia, Client, ClientAccess
from kernel.audit import client_ip
from kernel.errors import DomainError, require_perm
from kernel.records import UNSET

User = AbstractBaseUser

# The fields staff edit; everything else (archived, timestamps) has its own service.
EDITABLE_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "email_opt_out",
    "phone",
    "date_of_birth",
    "notes",
)
PHONE_PATTERN = re.compile(r"^\+?[0-9 ()\-.]{3,}$")
EARLIEST_BIRTH = dt.date(1900, 1, 1)


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Normalise and check client fields; raise the refusal a receptionist can act on."""
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if name == "date_of_birth":
            if value is not None and not isinstance(value, dt.date):
                raise DomainError(
                    "invalid_date_of_birth", "Enter a valid date of birth.", field=name
                )
            if isinstance(value, dt.datetime):
                value = value.date()
            if value is not None and value > timezone.localdate():
                raise DomainError(
                    "invalid_date_of_birth", "The date of birth can't be in the future.", field=name
                )
            if value is not None and value < EARLIEST_BIRTH:
                raise DomainError(
                    "invalid_date_of_birth",
                    "Check the date of birth: it is before 1900.",
                    field=name,
                )
            cleaned[name] = value
            continue
        if name == "email_opt_out":
            cleaned[name] = bool(value)
            continue
        text = "" if value is None else str(value)
        text = text if name == "notes" else " ".join(text.split())
        field = Client._meta.get_field(name)
        assert isinstance(field, Field)  # a column of Client, not a relation
        if field.max_length and len(text) > field.max_length:
            raise DomainError(
                "value_too_long",
                f"The {field.verbose_name} is too long (at most {field.max_length} characters).",
                field=name,
            )
        if name in ("first_name", "last_name") and not text:
            raise DomainError(
                "name_required", f"Enter the client's {field.verbose_name}.", field=name
            )
        if name == "email" and text:
            try:
                validate_email(text)
            except ValidationError as exc:
                raise DomainError(
                    "invalid_email", "Enter a valid email address.", field=name
                ) from exc
        if name == "phone" and text and not PHONE_PATTERN.match(text):
            raise DomainError(
                "invalid_phone",
                "Enter a phone number using digits, spaces, +, - or brackets.",
                field=name,
            )
        cleaned[name] = text.strip()
    return cleaned


@transaction.atomic
def client_create(
    *,
    first_name: str,
    last_name: str,
    email: str = "",
    email_opt_out: bool = False,
    phone: str = "",
    date_of_birth: dt.date | None = None,
    notes: str = "",
    by: User | None,
) -> Client:
    """Add a client. First and last name are required; email and phone are checked."""
    require_perm(by, "clients.add_client")
    values = _clean(
        {
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "email_opt_out": email_opt_out,
            "phone": phone,
            "date_of_birth": date_of_birth,
            "notes": notes,
        }
    )
    client = Client.objects.create(**values)
    return client


@transaction.atomic
def client_update(
    *,
    client: Client,
    first_name: str = UNSET,
    last_name: str = UNSET,
    email: str = UNSET,
    email_opt_out: bool = UNSET,
    phone: str = UNSET,
    date_of_birth: dt.date | None = UNSET,
    notes: str = UNSET,
    by: User | None,
) -> Client:
    """Change the given fields of `client` (those left out stay as they are).

    Archived clients can still be corrected (a wrong phone number is worth fixing even
    for a past client); archiving is not a lock on their details.
    """
    require_perm(by, "clients.change_client")
    given = {
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "email_opt_out": email_opt_out,
        "phone": phone,
        "date_of_birth": date_of_birth,
        "notes": notes,
    }
    values = _clean({name: value for name, value in given.items() if value is not UNSET})
    locked = Client.objects.select_for_update().get(pk=client.pk)
    changed = [name for name, value in values.items() if getattr(locked, name) != value]
    if changed:
        for name in changed:
            setattr(locked, name, values[name])
        locked.save(update_fields=[*changed, "updated_at"])
    _copy(client, locked)
    return client


def _copy(target: Client, source: Client) -> None:
    for name in (*EDITABLE_FIELDS, "archived", "updated_at"):
        setattr(target, name, getattr(source, name))


@transaction.atomic
def client_archive(*, client: Client, by: User | None) -> Client:
    """Archive `client`: not bookable, no new packages; their history stays.

    Packages already sold keep working and booked appointments stay in the calendar
    (staff decide whether to cancel them), so archiving never loses anything.
    """
    require_perm(by, "clients.change_client")
    locked = Client.objects.select_for_update().get(pk=client.pk)
    if locked.archived:
        raise DomainError("client_archived", f"{locked} is already archived.")
    locked.archived = True
    locked.save(update_fields=["archived", "updated_at"])
    _copy(client, locked)
    return client


@transaction.atomic
def client_restore(*, client: Client, by: User | None) -> Client:
    """Restore an archived client: bookable again and may be sold packages."""
    require_perm(by, "clients.change_client")
    locked = Client.objects.select_for_update().get(pk=client.pk)
    if not locked.archived:
        raise DomainError("client_not_archived", f"{locked} is not archived.")
    locked.archived = False
    locked.save(update_fields=["archived", "updated_at"])
    _copy(client, locked)
    return client


def client_access_record(*, client: Client, request, via: str = AccessVia.PAGE) -> ClientAccess:
    """Log that the signed-in user viewed `client`'s record (health data), on a page,
    through the API or in the Django admin (`via`)."""
    access = ClientAccess(
        client=client,
        user=request.user if request.user.is_authenticated else None,
        at=timezone.now(),
        ip=client_ip(request),
        path=request.get_full_path()[:500],
        via=via,
    )
    # The INSERT `objects.create` sends, written once per process (every client page
    # sends one; compiling it cost more than running it). Same columns, same values as
    # each field prepares them for the database.
    fields = _access_fields()
    values = [field.get_db_prep_save(field.pre_save(access, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(_access_insert_sql(), values)
        access.pk = cursor.fetchone()[0]
    access._state.adding = False
    access._state.db = connection.alias
    return access


def _access_fields() -> list:
    return [ClientAccess._meta.get_field(name) for name in _ACCESS_COLUMNS]


_ACCESS_COLUMNS = ("client", "user", "at", "ip", "path", "via")
_access_sql: list[str] = []


def _access_insert_sql() -> str:
    if not _access_sql:
        quote = connection.ops.quote_name
        meta = ClientAccess._meta
        columns = ", ".join(quote(field.column) for field in _access_fields())
        places = ", ".join(["%s"] * len(_ACCESS_COLUMNS))
        _access_sql.append(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({places}) "  # noqa: S608 - names from the model
            f"RETURNING {quote(meta.db_table)}.{quote(meta.pk.attname)}"
        )
    return _access_sql[0]


def client_accesses_record(*, client_ids: Iterable[int], request, via: str) -> None:
    """Log one read of each of these clients' records (a page of an API list): one row
    per client, written in one query whatever the page size."""
    ids = list(dict.fromkeys(client_ids))
    if not ids:
        return
    user_id = request.user.pk if request.user.is_authenticated else None
    # One INSERT of the ids as an array, in their order: no model built and validated
    # per row (a third of an API page's Python time). The columns as the model has them.
    sql = f"""
        INSERT INTO {ClientAccess._meta.db_table} (client_id, user_id, at, ip, path, via)
        SELECT t.client_id, %s, %s, %s::inet, %s, %s
        FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(client_id, n) ORDER BY t.n"""  # noqa: S608 - the model's table
    path = request.get_full_path()[: ClientAccess._meta.get_field("path").max_length]
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, timezone.now(), client_ip(request), path, via, ids])
