"""`migrate`, run as the tables' owner (DATABASE_OWNER_URL), then granting the app role.

The app's own role (DATABASE_URL) may not create or alter tables; migrations need the
owner. See kernel/database.py.
"""

from django.core.management.commands.migrate import Command as DjangoMigrate

from kernel.database import as_owner


class Command(DjangoMigrate):
    def handle(self, *args, **options):
        with as_owner(options["database"]):
            return super().handle(*args, **options)
