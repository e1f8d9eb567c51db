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

from django.db import InterfaceError, OperationalError
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.commit_in_doubt = False
        self.commits_done = 0

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
