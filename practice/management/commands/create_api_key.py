"""`python manage.py create_api_key <username> --name NAME [--expires YYYY-MM-DD]`: for
the server operator, an API key for a user, printed once (only its hash is stored)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from kernel.errors import DomainError
from practice.api_keys import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a user and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What the key is for.")
        parser.add_argument(
            "--expires", help="Last day the key works (YYYY-MM-DD); without it, it never expires."
        )

    def handle(self, *args, username: str, name: str, expires: str | None, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        expires_at = None
        if expires:
            try:
                day = dt.date.fromisoformat(expires)
                midnight = dt.datetime.combine(day, dt.time()) + dt.timedelta(days=1)
            except (ValueError, OverflowError):
                raise CommandError("--expires must be a date such as 2027-06-30.") from None
            expires_at = timezone.make_aware(midnight)
        try:
            created = api_key_create(user=user, name=name, expires_at=expires_at, by=None)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(created.key)
        self.stderr.write(
            f"API key {created.api_key.name!r} for {username}: shown once, store it now."
        )
