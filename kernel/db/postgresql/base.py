"""Django's PostgreSQL backend, plus what a lost connection needs to be told honestly.

When the connection to PostgreSQL breaks while COMMIT is on its way, nobody on this side
can know whether the server applied it: the COMMIT may have been lost before it arrived
(nothing saved) or its reply may have been lost after the server wrote it (saved). This
backend records that case on the connection (`commit_in_doubt`), and counts the COMMITs
that did succeed (`commits_done`), so that `kernel.middleware.DatabaseUnavailableMiddleware`
says "Nothing was saved" only when no COMMIT was sent during the request, and otherwise
that the outcome is unknown and how to check.
"""

from __future__ import annotations

import functools

from django.db import InterfaceError, OperationalError
from django.db.backends.postgresql import base

try:  # psycopg's C implementation (psycopg[binary]), when installed
    import psycopg
    from psycopg.adapt import AdaptersMap, Loader
    from psycopg_binary._psycopg import (  # type: ignore[attr-defined] # (not in its stub)
        TimestamptzLoader as _CTimestamptzLoader,
    )
except ImportError:  # pragma: no cover - the pure-Python psycopg: Django's loader stays
    _CTimestamptzLoader = None


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.commit_in_doubt = False
        self.commits_done = 0

    def get_connection_params(self):
        params = super().get_connection_params()
        if _CTimestamptzLoader is not None and "context" in params:
            params["context"] = _with_fast_timestamps(params["context"], self.timezone)
        return params

    def _commit(self):
        try:
            result = super()._commit()
        except (OperationalError, InterfaceError):
            # A refusal at COMMIT (a deferred constraint, a serialization failure) is a
            # definite rollback and leaves the connection usable; a broken connection
            # leaves the outcome unknown.
            raw = self.connection
            if raw is None or raw.closed or raw.broken:
                self.commit_in_doubt = True
            raise
        self.commits_done += 1
        return result

    def forget_commits(self) -> None:
        """Start a new request: no COMMIT seen yet."""
        self.commit_in_doubt = False
        self.commits_done = 0


if _CTimestamptzLoader is not None:

    class _FastTzLoader(Loader):
        """Django's timestamptz loader (`psycopg_any.BaseTzLoader`: the value on the
        connection's clock, then given Django's `timezone`), parsing with psycopg's C
        loader instead of its Python one (~3x faster: a calendar week reads hundreds).
        The same values: the C and Python loaders both read the text PostgreSQL sends in
        the connection's TimeZone, which Django sets to its own."""

        timezone = None

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self._load = _CTimestamptzLoader(oid, context).load

        def load(self, data):
            return self._load(data).replace(tzinfo=self.timezone)


@functools.lru_cache
def _with_fast_timestamps(template: AdaptersMap, timezone) -> AdaptersMap:
    """Django's adapters `template` with `_FastTzLoader` for `timezone` (Django's own
    cursor set-up keeps it: it re-registers only a loader of another `timezone`)."""
    context = AdaptersMap(template)
    loader = type("FastTzLoader", (_FastTzLoader,), {"timezone": timezone})
    context.register_loader(psycopg.adapters.types["timestamptz"].oid, loader)
    return context
