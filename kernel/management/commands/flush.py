"""`flush`, run as the tables' owner: the app role may not TRUNCATE append-only tables.

Used by the test suite after tests that commit, and by developers to empty a local
database. See kernel/database.py.

TRUNCATE takes an exclusive lock on every table at once; a request still finishing (a
browser test's last answer as the test ends) may hold a lock on one of them and want
another, and PostgreSQL then aborts one side as a deadlock. Nothing was emptied in that
case, so flush tries again, a few times, a moment later.
"""

import time

from django.core.management.base import CommandError
from django.core.management.commands.flush import Command as DjangoFlush

from kernel.database import as_owner

ATTEMPTS = 5


def _deadlocked(exc: BaseException | None) -> bool:
    while exc is not None:
        if getattr(exc, "sqlstate", None) == "40P01":
            return True
        exc = exc.__cause__
    return False


class Command(DjangoFlush):
    def handle(self, **options):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with as_owner(options["database"]):
                    return super().handle(**options)
            except CommandError as exc:
                if attempt == ATTEMPTS or not _deadlocked(exc):
                    raise
                time.sleep(0.2 * attempt)
