"""What a server process may keep in memory between requests, and how it stays exact.

The permissions of each user (with the name of their role), the practice's currency,
the calendar's practitioners, locations and working hours, and the webhook endpoints
subscribed to each event type are kept per process, stamped with a version counter from
PostgreSQL (`caspen_config_version`, migrations caspen.0009, calendar_app.0013 and
integrations.0002). Triggers bump the counter in the same transaction as any change of
roles, permissions, a user's groups, the currency or those tables, so a change is visible
to every process (and every app host) on its next request: each request reads the
counters once, in one small query, and only when it needs one of them.

A value is kept only when it was read outside any transaction of our own (`kept`), or
with the version in the same statement (`kept_as_read`), so it never holds uncommitted
(possibly rolled back) data under a version anyone else reads; the counters come from a
sequence, so a rolled-back bump is never reused either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple, TypeVar, cast

from django.db import connection


class Versions(NamedTuple):
    auth: int | None
    settings: int | None


NONE = Versions(None, None)
T = TypeVar("T")
_request_versions: ContextVar[list[Versions] | None] = ContextVar("versions", default=None)
_request_memo: ContextVar[dict | None] = ContextVar("request_memo", default=None)


def _read() -> Versions:
    with connection.cursor() as cursor:
        cursor.execute("SELECT auth, settings FROM caspen_config_version WHERE id = 1")
        row = cursor.fetchone()
    return Versions(*row) if row else NONE


AUTH_SQL = "SELECT auth FROM caspen_config_version WHERE id = 1"
SETTINGS_SQL = "SELECT settings FROM caspen_config_version WHERE id = 1"


def prime(read: Versions) -> None:
    """The counters as just read with another query (the signed-in user's, see
    practice.auth_backend), if the request has not read them yet."""
    holder = _request_versions.get()
    if holder is not None and not holder:
        holder.append(read)


def current() -> Versions:
    """The counters, read at most once per request (`versions_scope`); outside a request
    None (nothing cached is trusted: callers read the database)."""
    holder = _request_versions.get()
    if holder is None:
        return NONE
    if not holder:
        holder.append(_read())
    return holder[0]


def request_memo() -> dict | None:
    """A dict that lives as long as the request's `versions_scope` (None outside one):
    what one step of a request reads for a later step of the same request, never for
    another request (practice.sessions: the signed-in user, read with the session)."""
    return _request_memo.get()


@contextmanager
def versions_scope() -> Iterator[None]:
    token = _request_versions.set([])
    memo_token = _request_memo.set({})
    try:
        yield
    finally:
        _request_memo.reset(memo_token)
        _request_versions.reset(token)


def may_keep() -> bool:
    """True when what was just read is committed data: no transaction of ours is open
    (a test's own wrapping transaction aside, whose data no other test sees)."""
    if not connection.in_atomic_block:
        return True
    return all(getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


# What is kept per process under the settings version: name -> (version, value).
_kept_state: dict[str, tuple[int, Any]] = {}
_NOTHING = object()


def _kept_for_request(name: str) -> tuple[int | None, Any]:
    """The request's settings version, and the value kept under `name` for that version
    (`_NOTHING` when none is)."""
    version = current().settings
    found = _kept_state.get(name)
    if version is not None and found is not None and found[0] == version:
        return version, found[1]
    return version, _NOTHING


def kept(name: str, read: Callable[[], T]) -> T:
    """`read()`, kept per process under `name` while the settings version stays the same.
    Triggers bump that version in the same transaction as any change of the currency,
    practitioners, locations, working hours or webhook endpoints (migrations caspen.0009,
    calendar_app.0013, integrations.0002),
    and the version comes with the signed-in user's row: every request sees their
    current values without a query of its own. Only for values read from those tables.
    Only committed data is kept (`may_keep`). The value is shared: callers must not
    change it."""
    version, found = _kept_for_request(name)
    if found is not _NOTHING:
        return cast(T, found)
    value = read()
    if version is not None and may_keep():
        _kept_state[name] = (version, value)
    return value


def kept_as_read(name: str, read: Callable[[], tuple[int | None, T]]) -> T:
    """As `kept`, for a value read inside a transaction (events emitted by a booking):
    `read()` returns the settings version read *in the same statement* as the value
    (`SETTINGS_SQL` as a subquery), and the value is kept under that version.

    One statement sees one snapshot, so the pair agrees whatever the transaction: with
    no change of ours, it is committed data and its committed version; after a change of
    ours to a table whose triggers bump the version, the version read is our own bump, a
    sequence value no other transaction ever gets (if we roll back, nobody asks for it;
    if we commit, it is the version of that data unless we change the tables again, which
    bumps it once more). A later request uses the value while the version it read at its
    start is the same."""
    _, found = _kept_for_request(name)
    if found is not _NOTHING:
        return cast(T, found)
    read_version, value = read()
    if read_version is not None:
        _kept_state[name] = (read_version, value)
    return value


class VersionsMiddleware:
    """Opens the request's `versions_scope` (before authentication reads permissions)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with versions_scope():
            return self.get_response(request)
