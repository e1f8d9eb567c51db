"""`python manage.py clear_idempotency_keys`: remove stored API Idempotency-Keys older
than their 24-hour replay window (run it daily, e.g. from cron)."""

from django.core.management.base import BaseCommand

from kernel.api.idempotency import clear_expired_idempotency_keys


class Command(BaseCommand):
    help = "Delete stored API Idempotency-Keys older than 24 hours."

    def handle(self, *args, **options):
        deleted = clear_expired_idempotency_keys()
        self.stdout.write(f"Removed {deleted} expired idempotency key(s).")
