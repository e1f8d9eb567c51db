"""Django's PostgreSQL backend, plus what a lost connection needs to be told honestly.

When the connection to PostgreSQL breaks while COMMIT is on its way, nobody on this side
can know whether the server applied it: the COMMIT may have been lost before it arrived
(nothing saved) or its reply may have been lost after the server wrote it (saved). This
backend records that case on the connection (`commit_in_doubt`), and counts the COMMITs
that did succeed (`commits_done`), so that `kernel.middleware.DatabaseUnavailableMiddleware`
says "Nothing was saved" only when no COMMIT was sent during the request, and otherwise
that the outcome is unknown and how to check.

It also follows which audit context the open transaction holds (`audit_context_held`),
so that the context is set once per transaction rather than before every write
(kernel/db/audit_context.py).
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
        self._forget_audit_context()

    # ------------------------------------------------------------------ audit context
    # `_audit_key`: the audit context the open transaction holds (pghistory's
    # set_config(..., true)), set while `_audit_depth` savepoints were open;
    # `_savepoints`: the savepoints open, oldest first. A ROLLBACK TO a savepoint opened
    # before the context was set undoes it; a RELEASE keeps it, in the enclosing level.

    def _forget_audit_context(self) -> None:
        self._audit_key: tuple | None = None
        self._audit_depth = 0
        self._savepoints: list[str] = []

    def audit_context_held(self, key: tuple) -> bool:
        return self._audit_key == key

    def audit_context_set(self, key: tuple) -> None:
        self._audit_key = key
        self._audit_depth = len(self._savepoints)

    def _savepoint(self, sid):
        super()._savepoint(sid)
        self._savepoints.append(sid)

    def _savepoint_rollback(self, sid):
        super()._savepoint_rollback(sid)
        if sid not in self._savepoints:  # not opened through this wrapper: trust nothing
            self._audit_key = None
            return
        level = self._savepoints.index(sid)
        del self._savepoints[level + 1 :]  # the savepoint itself stays
        if self._audit_depth > level:
            self._audit_key = None

    def _savepoint_commit(self, sid):
        super()._savepoint_commit(sid)
        if sid not in self._savepoints:
            self._audit_key = None
            return
        level = self._savepoints.index(sid)
        del self._savepoints[level:]
        self._audit_depth = min(self._audit_depth, level)

    def _rollback(self):
        self._forget_audit_context()
        return super()._rollback()

    def _close(self):
        self._forget_audit_context()
        return super()._close()

    def _set_autocommit(self, autocommit):
        self._forget_audit_context()
        return super()._set_autocommit(autocommit)

    def get_new_connection(self, conn_params):
        self._forget_audit_context()
        return super().get_new_connection(conn_params)

    def get_connection_params(self):
        params = super().get_connection_params()
        if _CTimestamptzLoader is not None and "context" in params:
            params["context"] = _with_fast_timestamps(params["context"], self.timezone)
        return params

    def _commit(self):
        self._forget_audit_context()
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
