"""Exactly-once writes: a request's key, its work and its stored answer commit together.

Used by the API (`Idempotency-Key` header, kernel/api/idempotency.py) and by the staff
pages (a one-time key in each form, kernel/web.py). The keys are rows of the model named
by `settings.IDEMPOTENCY_KEY_MODEL` (like `AUTH_USER_MODEL`: the kernel names no app),
unique per (user, key), with the fields `user`, `key`, `fingerprint`, `state`,
`created_at`, `response_status`, `response_body` and `response_content_type`. An
answer whose headers matter (a page's redirect and htmx instructions) is kept as a JSON
envelope `{"headers": {...}, "body": "..."}` in `response_body`.

How it holds, inside the request's one transaction:

1. `claim` inserts the key row (INSERT ... ON CONFLICT DO NOTHING). A concurrent
   request with the same key blocks on the unique index until the first one ends: if
   the first committed, nothing is inserted and the stored answer is found (and
   replayed); if it rolled back, the insert goes through and this request does the work
   itself.
2. The work runs (in a savepoint, so a refusal leaves nothing behind but its answer).
3. `store` writes the answer into the key row; COMMIT saves key, work and answer at once.

So nothing is ever "in flight" in the database: a crash before COMMIT leaves no key (the
retry runs at once), and a key whose work committed always has its answer (the retry
replays it, never runs the work again). When the connection breaks during COMMIT the
outcome is unknown to the server too; the same key settles it on the retry.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections
from django.http import HttpResponse
from django.utils import timezone

from kernel.db.postgresql.base import plan_once

# A stored answer is replayed for this long; `clear_idempotency_keys` removes older rows.
IDEMPOTENCY_TTL = dt.timedelta(hours=24)
REPLAYED_HEADER = "Idempotent-Replayed"
# A row holding its answer. The design before this one committed the claim apart from
# the work, so its rows may be left "in_flight" without an answer (work done or not).
DONE = "done"
# Headers a replay must repeat besides status, body and content type: where a redirect
# goes, and htmx's instructions (HX-Redirect, HX-Trigger, HX-Reswap...).
REPLAYED_HEADERS = ("location",)
REPLAYED_HEADER_PREFIX = "hx-"


# The statements `claim` and `store` send, by (which, model, database alias).
_SQL: dict[tuple, tuple[str, Any]] = {}


def keys_model() -> Any:
    """The idempotency key model (`settings.IDEMPOTENCY_KEY_MODEL`)."""
    return apps.get_model(settings.IDEMPOTENCY_KEY_MODEL)


def claim(
    *,
    user,
    key: str,
    fingerprint: str,
    now: dt.datetime | None = None,
    then: Sequence[tuple[str, list]] = (),
) -> tuple[Any, Any]:
    """Claim `key` for `user` in the current transaction: (the new row, None), or (None,
    the stored row of an earlier request with this key, committed).

    Must run inside `transaction.atomic`: the row commits with the work, or not at all.
    Waits while a concurrent request holds the same key. A stored key older than
    IDEMPOTENCY_TTL counts as unused (API.md: answers are kept for 24 hours).

    `then`: planned reads ((sql, params) each) that the work runs first, sent with the
    claim and answered in its round trip (`execute_then_read_ahead`); dropped unless
    the key is claimed and they run next (issue 10).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("An idempotency key is claimed inside the request's transaction.")
    keys = keys_model()
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL
    for _attempt in range(3):
        row = _insert_unless_taken(keys(user=user, key=key, fingerprint=fingerprint), then)
        then = ()  # once
        if row is not None:
            return row, None
        # A committed row holds the key (a concurrent one was waited for).
        stored = keys.objects.filter(user=user, key=key).first()
        if stored is None:
            continue  # removed in the meantime (expired): claim it again
        if stored.created_at < cutoff:
            # Expired. A concurrent request deleting the same row waits for this one,
            # then finds the new row and replays it.
            keys.objects.filter(pk=stored.pk).delete()
            continue
        return None, stored
    raise IntegrityError(f"Idempotency key {key!r} could not be claimed.")


def _insert_unless_taken(row: Any, then: Sequence[tuple[str, list]] = ()) -> Any:
    """INSERT `row` unless its (user, key) is taken: `ON CONFLICT DO NOTHING`, one
    statement where a savepoint around a plain INSERT took three (issue 10). As with the
    plain INSERT, a concurrent transaction inserting the same key is waited for: if it
    commits, nothing is inserted (None); if it rolls back, this row is. Returns `row`,
    saved, or None."""
    model = type(row)
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself, not the proxy, for each field
    key = ("claim", model, db.alias)
    if key not in _SQL:  # written once per process: it runs in every form's POST
        fields = [f for f in model._meta.local_concrete_fields if not f.primary_key]
        quote = db.ops.quote_name
        _SQL[key] = (
            plan_once(  # prepared where it is sent with reads ahead
                f"INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608 - names from the model
                f"({', '.join(quote(f.column) for f in fields)}) "
                f"VALUES ({', '.join(['%s'] * len(fields))}) "
                f"ON CONFLICT DO NOTHING RETURNING {quote(model._meta.pk.column)}"
            ),
            fields,
        )
    sql, fields = _SQL[key]
    values = [f.get_db_prep_save(f.pre_save(row, True), db) for f in fields]
    with db.cursor() as cursor:
        if then and hasattr(cursor, "execute_then_read_ahead"):
            cursor.execute_then_read_ahead(sql, values, then)
        else:
            cursor.execute(sql, values)
        found = cursor.fetchone()
    if found is None:
        return None
    row.pk = found[0]
    row._state.adding = False
    row._state.db = db.alias
    return row


def store(row: Any, response: HttpResponse, *, with_headers: bool = False) -> None:
    """Keep `response` in the claimed `row` (same transaction) for replays; with its
    Location and HX-* headers when `with_headers`."""
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    body = response.content.decode("utf-8", errors="replace")
    if with_headers:
        headers = {
            name: value
            for name, value in response.items()
            if name.lower() in REPLAYED_HEADERS or name.lower().startswith(REPLAYED_HEADER_PREFIX)
        }
        body = json.dumps({"headers": headers, "body": body})
    # One plain UPDATE (as `_insert_unless_taken`): it runs in every form POST's
    # transaction, where compiling the queryset's cost more than the statement.
    model = keys_model()
    key = ("store", model, connection.alias)
    if key not in _SQL:
        quote = connection.ops.quote_name
        columns = ("state", "response_status", "response_body", "response_content_type")
        assignments = ", ".join(
            f"{quote(model._meta.get_field(name).column)} = %s" for name in columns
        )
        _SQL[key] = (
            plan_once(  # prepared where it is sent behind
                f"UPDATE {quote(model._meta.db_table)} SET {assignments} "  # noqa: S608 - names from the model
                f"WHERE {quote(model._meta.pk.column)} = %s"
            ),
            None,
        )
    sql = _SQL[key][0]
    values = [DONE, response.status_code, body, response.get("Content-Type", "")[:100], row.pk]
    with connection.cursor() as cursor:
        # Nothing reads its answer: sent behind, it goes with the COMMIT that follows
        # (kernel/db/postgresql/base.py), one round trip fewer. Its failure fails the COMMIT.
        if hasattr(cursor, "execute_behind"):
            cursor.execute_behind(sql, values)
        else:
            cursor.execute(sql, values)


def release(row: Any) -> None:
    """Nothing to keep (a server error, or a page form refused): the key may be used
    again, by a retry that then runs."""
    keys_model().objects.filter(pk=row.pk).delete()


def replay(stored: Any, *, with_headers: bool = False) -> HttpResponse:
    """The stored answer again, marked `Idempotent-Replayed: true` (`with_headers` as
    it was stored)."""
    body, headers = stored.response_body, {}
    if with_headers:
        envelope = json.loads(body)
        body, headers = envelope["body"], envelope["headers"]
    response = HttpResponse(
        body.encode(),
        status=stored.response_status,
        content_type=stored.response_content_type or "application/json",
    )
    for name, value in headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def answered(stored: Any) -> bool:
    """Whether the stored row holds an answer (rows of the old design may not)."""
    return stored.state == DONE and stored.response_status is not None


def clear_expired(now: dt.datetime | None = None) -> int:
    """Delete stored keys older than the replay window; returns how many."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL
    deleted, _ = keys_model().objects.filter(created_at__lt=cutoff).delete()
    return deleted
