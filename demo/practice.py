"""A believable demo practice, built from the domain's own services and shared builders.

What it creates, step by step, in one transaction (a failure leaves nothing behind):

1. Reference data (`demo.reference`): the practice's details, two locations, four
   practitioners with staff users, a receptionist, an accountant and a practice manager
   (each in their role), service categories and a dozen services, fixed and flexible
   packages (one archived).
2. Clients (`demo.clients`): `clients` people (Faker, seeded); the first few hundred
   through `client_create`, the rest by bulk insert.
3. History for the first few hundred clients (`demo.history`), through the services:
   packages in every status, their sessions booked and linked, a busy month of
   appointments around today, two repeating series.
4. Invoices in every status (`demo.invoices`): Draft, Open, Part paid, Overdue, Paid,
   Void, with part payments, refunds and a voided payment.
5. For the remaining clients (large `clients` values) a share gets a package
   (`demo.bulk`): built by `client_package_snapshot`, the builder `client_package_assign`
   saves, and inserted in bulk, so `check_ledger` still passes.
   With `year=True` (`seed_demo --size large`) they get a year of history instead
   (`demo.year`): packages sold, used, canceled, extended, adjusted and expired over 13
   months, their appointments, invoices and payments, more practitioners and locations
   to work that calendar, written with COPY in stages, then planner statistics. The
   year's invoices go in with the summaries' row triggers off, the summaries rebuilt
   after (`demo.copy.summaries_rebuilt`): the transaction runs as the tables' owner.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from django.db import connection, transaction

from clients.models import Client
from demo import data
from demo.bulk import sell_packages_in_bulk
from demo.clients import add_clients
from demo.context import Demo
from demo.history import History
from demo.invoices import issue_invoices
from demo.reference import Reference, build_reference
from demo.year import YearOfHistory
from kernel.database import as_owner


class DemoPractice:
    def __init__(
        self, *, clients: int, seed: int, demo_passwords: bool, year: bool = False
    ) -> None:
        self.client_count = clients
        self.year = year
        self.demo_passwords = demo_passwords
        # Read at call time, so a test can make the service path smaller.
        self.demo = Demo.start(seed=seed, rich_clients=data.RICH_CLIENTS, batch=data.BATCH)
        self.ref: Reference
        self.clients: list[Client] = []
        self.history: History

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        """The steps in order, each (title, run) where run returns a summary."""
        steps = [
            ("Reference data", self._reference),
            ("Clients", self._clients),
            ("Packages and calendar", self._history),
            ("Invoices and payments", self._invoices),
        ]
        if not self.year:
            return [*steps, ("More client packages (bulk)", self._bulk)]
        return [
            *steps,
            ("Year: practitioners and locations", lambda: self._year().staff()),
            ("Year: plan", lambda: self._year().plan()),
            ("Year: client packages", lambda: self._year().write_packages()),
            ("Year: appointments", lambda: self._year().write_appointments()),
            ("Year: credit ledger", lambda: self._year().write_ledger()),
            ("Year: invoices and payments", lambda: self._year().write_invoices()),
            ("Planner statistics", lambda: self._year().analyze()),
        ]

    def build(self, report: Callable[[str, str, float], None]) -> None:
        """Run every step in one transaction; after each, `report(title, summary,
        seconds)`."""
        # A year of history is written on the tables' owner's connection: its invoices
        # are copied with the summary triggers off, which only the owner may do, in this
        # transaction (demo.copy.summaries_rebuilt). A connection cannot change roles
        # inside a transaction, so inside a caller's (a test's) it stays the app's, and
        # the triggers stay on.
        owner = self.year and not connection.in_atomic_block
        with as_owner() if owner else contextlib.nullcontext(), transaction.atomic():
            # Foreign keys are DEFERRABLE INITIALLY DEFERRED, so in one long transaction
            # every inserted row queues a check until COMMIT; with the audit triggers
            # (whose functions open a subtransaction per row) that queue makes each
            # insert slower than the last: 30,000 bulk client packages took minutes.
            # Checking at the end of each statement keeps the time linear, and every
            # row here is inserted after the rows it refers to.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for title, run in self.steps():
                started = time.monotonic()
                summary = run()
                report(title, summary, time.monotonic() - started)

    def _reference(self) -> str:
        self.ref = build_reference(demo_passwords=self.demo_passwords)
        return self.ref.summary()

    def _clients(self) -> str:
        self.clients = add_clients(self.demo, self.client_count)
        archived = sum(client.archived for client in self.clients)
        return f"{self.client_count} clients ({archived} archived)"

    def _history(self) -> str:
        self.history = History(self.demo, self.ref)
        return self.history.run(self.clients[: self.demo.rich_clients])

    def _invoices(self) -> str:
        return issue_invoices(
            self.demo, self.ref, self.history.invoice_plans, self.history.canceled_packages
        )

    def _year(self) -> YearOfHistory:
        if not hasattr(self, "year_history"):
            self.year_history = YearOfHistory(
                self.demo, self.ref, self.clients[self.demo.rich_clients :]
            )
        return self.year_history

    def _bulk(self) -> str:
        return sell_packages_in_bulk(self.demo, self.ref, self.clients[self.demo.rich_clients :])
