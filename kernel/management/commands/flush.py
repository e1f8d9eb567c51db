"""`flush`, run as the tables' owner: the app role may not TRUNCATE append-only tables.

Used by the test suite after tests that commit, and by developers to empty a local
database. See kernel/database.py.
"""

from django.core.management.commands.flush import Command as DjangoFlush

from kernel.database import as_owner


class Command(DjangoFlush):
    def handle(self, **options):
        with as_owner(options["database"]):
            return super().handle(**options)
