"""Make sure a development superuser exists and print how to sign in as it.

`make run` calls this after `migrate`. The first run creates the user with a random
password and keeps the login in `.devdb/admin-login.txt` (mode 600, gitignored with the
rest of `.devdb/`), so every later run prints the same login. Delete that file to get a
new password on the next run.
"""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from practice import roles

ADMIN_URL = "http://127.0.0.1:8000/admin/"
# Letters and digits only, so a double-click selects the whole password in a terminal.
PASSWORD_ALPHABET = string.ascii_letters + string.digits


def random_password(length: int = 20) -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def default_login_file() -> Path:
    return Path(settings.BASE_DIR) / ".devdb" / "admin-login.txt"


def read_login_file(path: Path, *, username: str) -> str | None:
    """The password stored for `username` in `path` ("username password"), if any."""
    try:
        line = path.read_text(encoding="utf-8").rstrip("\n")
    except FileNotFoundError:
        return None
    stored_username, sep, password = line.partition(" ")
    return password if sep and password and stored_username == username else None


def write_login_file(path: Path, *, username: str, password: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created with mode 600 from the start, so the password is never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"{username} {password}\n")
    path.chmod(0o600)  # in case the file existed with looser permissions


class Command(BaseCommand):
    help = (
        "Create the development superuser (in the Admin group) if it is missing, and print "
        "its login. The login is kept in .devdb/admin-login.txt; without that file the "
        "password is reset."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin", help="default: admin")
        parser.add_argument(
            "--password",
            help="set this password (default: keep the stored one, or make a random one)",
        )
        parser.add_argument(
            "--login-file",
            type=Path,
            default=None,
            help="where the login is kept (default: .devdb/admin-login.txt)",
        )

    def handle(self, *args, username: str, password: str | None, login_file: Path | None, **opts):
        login_file = login_file or default_login_file()
        try:
            admin_group = Group.objects.get(name=roles.ADMIN)
        except Group.DoesNotExist:
            raise CommandError(
                f"The {roles.ADMIN!r} group does not exist: run `python manage.py migrate` first"
            ) from None

        User = get_user_model()
        stored = read_login_file(login_file, username=username)
        with transaction.atomic():
            user = User.objects.select_for_update().filter(username=username).first()
            created = user is None
            if created:
                user = User(username=username)
            user.is_staff = True
            user.is_superuser = True
            user.is_active = True
            if password is None and stored is not None and not created:
                password = stored
                changed_password = False
            else:
                # A recreated database reuses the stored password, so the login stays the
                # same across `rm -rf .devdb/data`.
                password = password or stored or random_password()
                user.set_password(password)
                changed_password = True
            user.save()
            user.groups.add(admin_group)

        if changed_password or stored != password:
            write_login_file(login_file, username=username, password=password)

        if not changed_password and not user.check_password(password):
            self.stdout.write(
                f"Admin login: {username} (its password was changed after {login_file} was "
                f"written; delete that file to reset it)  →  {ADMIN_URL}"
            )
            return
        verb = "Created" if created else ("Reset password of" if changed_password else "")
        if verb:
            self.stderr.write(f"{verb} superuser {username!r} (login kept in {login_file})")
        self.stdout.write(f"Admin login: {username} / {password}  →  {ADMIN_URL}")
