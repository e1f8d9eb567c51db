"""`python manage.py clear_idempotency_keys`: remove stored API Idempotency-Keys and staff
form keys older than their 24-hour replay window (run it daily, e.g. from cron)."""

from django.core.management.base import BaseCommand

from kernel.api.idempotency import clear_expired_idempotency_keys


class Command(BaseCommand):
    help = "Delete stored Idempotency-Keys (API and staff forms) older than 24 hours."

    def handle(self, *args, **options):
        deleted = clear_expired_idempotency_keys()
        self.stdout.write(f"Removed {deleted} expired idempotency key(s).")
