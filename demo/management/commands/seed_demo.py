"""`python manage.py seed_demo`: a believable demo practice on an empty database.

What it creates is described in `demo.practice`: reference data, `--clients` clients
(Faker with `--seed`), a history in every status for the first few hundred through the
services, invoices, and for large `--clients` values packages for a share of the rest,
inserted in bulk from the same builder a sale uses. One transaction: a failure leaves
nothing behind. Progress bars go to stderr on a terminal.

Staff users get unusable passwords unless `--demo-passwords` sets them all to
`DEMO_PASSWORD` (for a local demo only).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clients.models import Client
from demo.data import DEMO_PASSWORD, MIN_CLIENTS, STAFF
from demo.practice import DemoPractice
from demo.year import summary_counts

# --size: how many clients (unless --clients says), and whether the bulk clients get a
# year of history (large) or only a share of them a package, nothing used (small).
SIZES = {"small": 300, "large": 100_000}


class Command(BaseCommand):
    help = (
        "Create a demo practice (settings, staff, catalog, clients, packages, calendar, "
        "invoices) through the services. Use --if-empty to do nothing when clients exist."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--size",
            choices=sorted(SIZES),
            default="small",
            help="small (default): 300 clients; large: 100,000 clients with a year of "
            "history (hundreds of thousands of appointments, invoices and payments, over a "
            "million credit ledger rows), for measuring at size",
        )
        parser.add_argument(
            "--clients",
            type=int,
            default=None,
            help="number of clients (default: 300, or 100,000 with --size large)",
        )
        parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing (and say so) when the database already has clients",
        )
        parser.add_argument(
            "--demo-passwords",
            action="store_true",
            help=f"give every demo staff user the password {DEMO_PASSWORD!r} (local demos "
            "only); without it their passwords are unusable",
        )

    def handle(
        self,
        *args,
        size: str,
        clients: int | None,
        seed: int,
        if_empty: bool,
        demo_passwords: bool,
        **options,
    ):
        if clients is None:
            clients = SIZES[size]
        if Client.objects.exists():
            if if_empty:
                self.stdout.write("Clients already exist: seed_demo --if-empty did nothing.")
                return
            raise CommandError(
                "The database already has clients; seed_demo fills an empty database. "
                "Use --if-empty to skip quietly."
            )
        if clients < MIN_CLIENTS:
            raise CommandError(f"--clients must be at least {MIN_CLIENTS}.")
        started = time.monotonic()
        DemoPractice(
            clients=clients, seed=seed, demo_passwords=demo_passwords, year=size == "large"
        ).build(self._report)
        if size == "large":
            counts = ", ".join(f"{n:,} {name}" for name, n in summary_counts().items())
            self.stdout.write(f"Rows: {counts}")
        self.stdout.write(
            self.style.SUCCESS(f"Demo practice ready in {time.monotonic() - started:.1f}s.")
        )
        self._print_logins(demo_passwords)

    def _report(self, title: str, summary: str, seconds: float) -> None:
        self.stdout.write(f"{title}: {summary} ({seconds:.1f}s)")
        self.stdout.flush()

    def _print_logins(self, demo_passwords: bool) -> None:
        names = ", ".join(f"{u} ({role})" for u, _, _, role, _ in STAFF)
        if demo_passwords:
            self.stdout.write(f"Staff logins (password {DEMO_PASSWORD!r}): {names}")
        else:
            self.stdout.write(
                f"Staff users: {names}. Their passwords are unusable: set one with "
                "`manage.py changepassword USERNAME`, or seed with --demo-passwords."
            )
