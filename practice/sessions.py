"""kernel.sessions' database sessions, with the signed-in user read in the same query
(`SESSION_ENGINE = "practice.sessions"`): a signed-in request then makes one query for
both instead of two.

The user's id is inside the session's signed data, so it is known only once the session
is read. Each process remembers, per session, the user id its data held last time (the
key's hash: no session key is kept); when it knows one, the session's read also reads
that user's row (with the version counters, as practice.auth_backend reads it) and leaves
it in the request's memo. The backend uses that row only when it is the row of the user
the session names now; anything else (a first request, a session signed in again as
someone else) reads the user on its own, as before. Both rows come from one statement, so
the user is as fresh as before: nothing is kept between requests but the hint of which
user row to read.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.models import Session
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from kernel.prepared import PreparedSQL
from kernel.sessions import SessionStore as KernelSessionStore
from kernel.sessions import session_read
from practice import versions
from practice.auth_backend import SESSION_USER, user_read

_MAX_HINTS = 10_000
# hash(session key) -> the user id its data held when last read by this process.
_hints: dict[int, int] = {}


def _session_and_user(key: str, now: dt.datetime, pk: int) -> tuple[str, tuple]:
    """The session's read and the user's read (both as their own Prepared queries build
    them), side by side in one row: no row without the session; the user's columns NULL
    without the user."""
    parts = []
    for queryset in (session_read(key, now), user_read(pk)):
        parts.append(queryset.query.get_compiler(using=DEFAULT_DB_ALIAS).as_sql())
    (session_sql, session_params), (user_sql, user_params) = parts
    sql = f"SELECT s.*, u.* FROM ({session_sql}) s LEFT JOIN ({user_sql}) u ON TRUE"  # noqa: S608 - SQL from Django
    return sql, (*session_params, *user_params)


# Planned once per connection: every signed-in request reads it (kernel.prepared).
_SESSION_AND_USER = PreparedSQL(_session_and_user, key=str, now=dt.datetime, pk=int).planned()


class SessionStore(KernelSessionStore):
    def _get_session_from_db(self):
        key = self.session_key
        memo = versions.request_memo()
        hint = _hints.get(hash(key)) if isinstance(key, str) else None
        if hint is None or memo is None or self.model is not Session:
            return super()._get_session_from_db()
        sql, params = _SESSION_AND_USER.statement(key=key, now=timezone.now(), pk=hint)
        connection = connections[DEFAULT_DB_ALIAS]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if len(rows) != 1:
            self._session_key = None
            return None
        row = rows[0]
        session_fields = [f.attname for f in Session._meta.concrete_fields]
        user_model = get_user_model()
        user_fields = [f.attname for f in user_model._meta.concrete_fields]
        split = len(session_fields)
        session = Session.from_db(DEFAULT_DB_ALIAS, session_fields, row[:split])
        user_row = row[split:]
        if len(user_row) != len(user_fields) + 2:
            raise AssertionError("practice.sessions: the user's columns are not as built")
        if user_row[user_fields.index(user_model._meta.pk.attname)] is not None:
            user = user_model.from_db(DEFAULT_DB_ALIAS, user_fields, user_row[:-2])
            user._auth_version, user._settings_version = user_row[-2:]
            memo[SESSION_USER] = user
        return session

    def load(self):
        data = super().load()
        _hint(self.session_key, data)
        return data

    def create_model_instance(self, data):
        """Django's, noting the user the session names as it is saved (signing in): the
        request after sign-in then reads them with the session too."""
        _hint(self.session_key, data)
        return super().create_model_instance(data)


def _hint(key, data: dict) -> None:
    user_id = data.get(SESSION_KEY)
    if isinstance(key, str) and isinstance(user_id, str) and user_id.isdigit():
        if len(_hints) >= _MAX_HINTS:
            _hints.clear()
        _hints[hash(key)] = int(user_id)
