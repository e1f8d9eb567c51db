"""The credit ledger's hash chain: each row is sealed to the one before it.

Every ledger row carries `chain_hash` = HMAC-SHA256(key, previous row's hash of the same
client package + this row's fields). The key (`settings.LEDGER_CHAIN_KEY`) lives with the
app, not in the database, so even the tables' owner, who can bypass privileges and
triggers, cannot change, remove or insert a row in the middle of a package's history
without `check_ledger` noticing: the next row no longer follows. (Removing the newest rows
of a package and rewinding its counters is the one edit a chain alone cannot show; the
audit's insert events and backups are the record of those.)

Rows are sealed as they are inserted, by the model's manager and `save()`, so every
insert through the ORM is covered; services insert under the package's row lock, so the
previous row is stable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings

# The fields sealed, in order (with the previous hash in front).
SEALED_FIELDS = (
    "client_package_id",
    "kind",
    "quantity",
    "service_id",
    "appointment_id",
    "reason",
    "created_at",
    "created_by_id",
)

HEADS_PER_QUERY = 5000


def _key() -> bytes:
    return settings.LEDGER_CHAIN_KEY.encode()


def _text(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return value


def seal(values: Sequence[Any], previous: str) -> str:
    """The hash of one row given its SEALED_FIELDS values and the previous row's hash."""
    message = json.dumps([previous, *(_text(v) for v in values)], separators=(",", ":"))
    return hmac.new(_key(), message.encode(), hashlib.sha256).hexdigest()


def _values(entry) -> list[Any]:
    if entry.client_package_id is None and entry.client_package is not None:
        entry.client_package_id = entry.client_package.pk
    return [getattr(entry, name) for name in SEALED_FIELDS]


def seal_new_entries(model, entries: Iterable, heads: dict[int, str] | None = None) -> None:
    """Set `chain_hash` on unsaved ledger rows, in the order they will be inserted.

    One query for the current head of the packages concerned (per 5,000 packages: the
    demo's bulk loading seals many at once), none for those in `heads` (package id ->
    its newest row's hash, "" when it has none), read by the caller under the package's
    row lock.
    """
    entries = list(entries)
    rows = [(entry, _values(entry)) for entry in entries]
    heads = dict(heads or {})
    package_ids = sorted({values[0] for _, values in rows} - heads.keys())
    if len(package_ids) == 1:
        # One package (every service's case): its newest row through the (package, id)
        # index, where DISTINCT ON sorts all of the package's rows.
        head = (
            model.objects.filter(client_package_id=package_ids[0])
            .order_by("-id")
            .values_list("chain_hash", flat=True)
            .first()
        )
        if head is not None:
            heads[package_ids[0]] = head
        package_ids = []
    for start in range(0, len(package_ids), HEADS_PER_QUERY):
        heads.update(
            model.objects.filter(client_package_id__in=package_ids[start : start + HEADS_PER_QUERY])
            .order_by("client_package_id", "-id")
            .distinct("client_package_id")
            .values_list("client_package_id", "chain_hash")
        )
    for entry, values in rows:
        entry.chain_hash = seal(values, heads.get(values[0], ""))
        heads[values[0]] = entry.chain_hash


def broken_links(model, client_package_ids: Iterable[int] | None = None) -> list[tuple[int, int]]:
    """(client package id, ledger row id) of the first row of each package that does not
    follow its chain: a row changed, removed or inserted outside the app."""
    rows = model.objects.order_by("client_package_id", "id")
    if client_package_ids is not None:
        rows = rows.filter(client_package_id__in=list(client_package_ids))
    broken: list[tuple[int, int]] = []
    package, previous, skip = None, "", False
    for row in rows.values_list("id", "chain_hash", *SEALED_FIELDS).iterator(chunk_size=5000):
        pk, stored, values = row[0], row[1], row[2:]
        if values[0] != package:
            package, previous, skip = values[0], "", False
        if skip:
            continue
        if not hmac.compare_digest(seal(values, previous), stored):
            broken.append((package, pk))
            skip = True
        previous = stored
    return broken
