"""Django's database sessions, with the read that every signed-in request makes built
once per process (kernel.prepared): the same statement, the session key and the time as
its parameters. Writes, expiry and everything else are Django's. The engine is its
subclass practice.sessions, which also reads the signed-in user in the same query."""

from __future__ import annotations

import datetime as dt

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from kernel.prepared import Prepared


def session_read(key: str, now: dt.datetime):
    """The read of the session `key` unless expired (at most 2 rows, as Django's `get`)."""
    return Session.objects.filter(session_key=key, expire_date__gt=now)[:2]


_SESSION = Prepared(session_read, key=str, now=dt.datetime).planned()


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self):
        key = self.session_key
        if not isinstance(key, str) or self.model is not Session:
            return super()._get_session_from_db()
        found = _SESSION.objects(key=key, now=timezone.now())
        if not found:
            self._session_key = None
            return None
        return found[0]
