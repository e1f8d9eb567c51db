"""`python manage.py sync_roles`: give each role (group) exactly its permissions again."""

from django.apps import apps
from django.core.management.base import BaseCommand

from practice import roles


class Command(BaseCommand):
    help = (
        "Create the staff roles (Admin, Reception, Practitioner, Accountant) and their permissions."
    )

    def handle(self, *args, **options):
        roles.sync_roles(apps)
        self.stdout.write(self.style.SUCCESS(f"Roles up to date: {', '.join(roles.ROLES)}."))
