"""A year of history for the bulk clients (`seed_demo --size large`): a chain of clinics
whose clients buy packages week after week, book and attend their sessions, cancel some
(the credit comes back, or stays for a late cancellation), let some packages expire with
credits left, get some extended (before or after they expired), adjusted or canceled;
pay-per-visit appointments in between; an invoice for each sale and visit, most paid.

It is planned in memory by the rules the services enforce (a credit is taken when a
session is booked, only from a package that is live on that day and covers the service,
never more than its credits; a canceled package takes no more bookings; an extension
keeps linked sessions inside the new date), then written with COPY (`demo.copy`):

- each sale is `packages.services.client_package_snapshot`, the builder a sale saves,
  with the counters and dates its history leads to;
- ledger rows are sealed by `packages.chain.seal_new_entries`, as
  `CreditLedgerEntry.objects.bulk_create` seals them, so `check_ledger` holds;
- invoices are numbered in issue-date order from the practice's next number, their
  lines computed by `invoicing.services.compute_line_amounts`.

The practitioners of the first clients (`demo.history`) are left alone: the year's
calendar is worked by more practitioners at more locations, as many as its sessions
need (each has the services of one of the demo's practitioners).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from calendar_app.models import Appointment, AppointmentStatus
from calendar_app.services import location_create, practitioner_create
from catalog.models import PackageKind, Service
from clients.models import Client
from demo.context import Demo, progress
from demo.copy import copy_objects, copy_rows, reserve_ids, summaries_rebuilt
from demo.data import CANCEL_PACKAGE_REASONS, PACKAGES, PackageSpec
from demo.reference import Reference
from invoicing.models import (
    Invoice,
    InvoiceDayTotal,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentStatus,
)
from invoicing.services import compute_line_amounts
from kernel.money import to_money
from packages.chain import seal_new_entries
from packages.models import (
    ClientPackage,
    ClientPackageService,
    CreditLedgerEntry,
    ExpiryChange,
    LedgerKind,
)
from packages.services import client_package_snapshot
from practice.models import PracticeSettings
from reports.models import InvoiceBalance, ReceivableDay, RevenueDay

HISTORY_DAYS = 395  # sales from 13 months ago, so a 12-month report has an opening balance
FUTURE_DAYS = 21  # sessions are booked up to three weeks ahead
DAY_START, DAY_END = 7 * 60, 19 * 60  # the clinics open 7:00-19:00, Monday to Saturday
UTILISATION = 0.55  # share of opening hours the practitioners are booked, on average
PRACTITIONERS_PER_LOCATION = 12
# Packages per client: 0 to 4 (mean 1.61).
PACKAGES_PER_CLIENT = ([0, 1, 2, 3, 4], [18, 34, 26, 13, 9])
VISITS_PER_CLIENT = 0.6  # pay-per-visit appointments
USE_ALL_SHARE = 0.75  # the others stop early (their remaining credits expire)
RELEASE_SHARE = 0.07  # sessions canceled in time: the credit returns to the package
KEPT_SHARE = 0.02  # late cancellations: the credit stays used
MISSED_SHARE = 0.07
EXTEND_SHARE = 0.04
ADJUST_UP_SHARE = 0.03
ADJUST_DOWN_SHARE = 0.015
CANCEL_SHARE = 0.03
LEDGER_CHUNK = 20_000  # packages whose ledger rows are sealed and written at once

SUBURBS = [
    "Bondi Junction",
    "Parramatta",
    "Chatswood",
    "Newtown",
    "Cronulla",
    "Penrith",
    "Hornsby",
    "Castle Hill",
    "Liverpool",
    "Mosman",
    "Randwick",
    "Ryde",
    "Burwood",
    "Dee Why",
    "Miranda",
    "Blacktown",
    "Campbelltown",
    "Hurstville",
    "Bankstown",
    "Neutral Bay",
]
COLOURS = ["#2f7d6d", "#3b6fb6", "#b5477a", "#c07a1f", "#6a5acd", "#2e8b57", "#a0522d"]


@dataclass(slots=True)
class Sale:
    client: Client
    spec: PackageSpec
    sold_at: dt.datetime
    start: dt.date
    expires: dt.date | None
    practitioner: int = 0
    location: int = 0
    extension: tuple[dt.date, dt.date, dt.datetime] | None = None
    credits: int = 0
    consumed: int = 0
    allowances: dict[int, int] = field(default_factory=dict)  # fixed: service id -> allowance
    used: dict[int, int] = field(default_factory=dict)
    canceled_at: dt.datetime | None = None
    cancel_reason: str = ""
    # (time, kind, quantity, service id, appointment index, reason)
    moves: list[tuple] = field(default_factory=list)
    outcome: str = "paid"


@dataclass(slots=True)
class Visit:
    client: Client
    template: int  # a demo practitioner's pk: whose services
    service: Service
    day: dt.date


class YearOfHistory:
    def __init__(self, demo: Demo, ref: Reference, clients: list[Client]) -> None:
        self.demo, self.ref, self.rng = demo, ref, demo.rng
        self.today, self.now = demo.today, demo.now
        self.tz = timezone.get_default_timezone()
        self.first_day = self.today - dt.timedelta(days=HISTORY_DAYS)
        self.horizon = self.today + dt.timedelta(days=FUTURE_DAYS)
        self.clients = [client for client in clients if not client.archived]
        self.sellable = [spec for spec in PACKAGES if not spec.archived]
        self.included = {
            spec.name: list(
                ref.packages[spec.name].package_services.select_related("service").order_by("id")
            )
            for spec in self.sellable
        }
        self.team: dict[int, list[tuple[int, int]]] = {}  # template pk: [(pk, location pk)]
        self.cursor: dict[tuple[int, dt.date], int] = {}
        self.sales: list[Sale] = []
        self.visits: list[Visit] = []
        # Appointment rows, without id: [client, practitioner, location, service, starts,
        # ends, status, sale index or None, reason id, kept credit, canceled at, created,
        # updated]
        self.appointments: list[list] = []
        self.visit_invoices: list[tuple[int, str]] = []  # (appointment index, outcome)
        self.package_ids: list[int] = []
        self.appointment_ids: list[int] = []
        self.counts: Counter[str] = Counter()

    # ------------------------------------------------------------------ stages

    def staff(self) -> str:
        """Draw the year's sales and visits, then hire enough practitioners for them."""
        rng = self.rng
        counts, weights = PACKAGES_PER_CLIENT
        span = (self.today - self.first_day).days
        for client in self.clients:
            for _ in range(rng.choices(counts, weights)[0]):
                day = self.first_day + dt.timedelta(days=rng.randrange(span + 1))
                sold_at = self._at(day, 9 * 60 + rng.randrange(510))
                if sold_at > self.now:
                    sold_at = self.now - dt.timedelta(minutes=rng.randrange(1, 120))
                self.sales.append(Sale(client, rng.choice(self.sellable), sold_at, day, None))
        templates = list(self.ref.practitioners.values())
        for client in self.clients:
            if rng.random() < VISITS_PER_CLIENT:
                template = rng.choice(templates)
                service = rng.choice(self.ref.provides[template.pk])
                day = self.first_day + dt.timedelta(days=rng.randrange(span + FUTURE_DAYS))
                self.visits.append(Visit(client, template.pk, service, day))
        # Minutes of sessions each kind of practitioner will give.
        demand: Counter[int] = Counter()
        for sale in self.sales:
            spec = sale.spec
            minutes = sum(ps.service.duration_minutes for ps in self.included[spec.name]) / len(
                self.included[spec.name]
            )
            who = self.ref.practitioners[spec.practitioner].pk
            demand[who] += int(spec.credits * minutes * (1 + RELEASE_SHARE))
        for visit in self.visits:
            demand[visit.template] += visit.service.duration_minutes
        open_days = sum(
            1
            for n in range((self.horizon - self.first_day).days + 1)
            if (self.first_day + dt.timedelta(days=n)).weekday() != 6
        )
        capacity = open_days * (DAY_END - DAY_START) * UTILISATION
        needed = {t.pk: max(1, math.ceil(demand[t.pk] / capacity)) for t in templates}
        total = sum(needed.values())
        locations = []
        for n in range(math.ceil(total / PRACTITIONERS_PER_LOCATION)):
            name = SUBURBS[n] if n < len(SUBURBS) else f"Clinic {n + 1}"
            locations.append(location_create(name=name, address=f"{name} NSW", by=None))
        hired = 0
        for template in templates:
            self.team[template.pk] = []
            for _ in range(needed[template.pk]):
                practitioner = practitioner_create(
                    name=self.demo.faker.name(), colour=COLOURS[hired % len(COLOURS)], by=None
                )
                location = locations[hired % len(locations)]
                self.team[template.pk].append((practitioner.pk, location.pk))
                hired += 1
        return f"{hired} practitioners at {len(locations)} more locations"

    def plan(self) -> str:
        """Play each sale's life and each visit, in memory."""
        for index, sale in enumerate(progress(self.sales, desc="Plan", unit="package")):
            self._play(index, sale)
        for visit in self.visits:
            self._visit(visit)
        c = self.counts
        return (
            f"{len(self.sales)} client packages ({c['expired']} expired with credits left, "
            f"{c['extended']} extended, {c['adjusted']} adjusted, {c['canceled']} canceled), "
            f"{len(self.appointments)} appointments ({c['linked']} package sessions, "
            f"{c['released']} canceled in time, {c['kept']} late cancellations)"
        )

    def write_packages(self) -> str:
        """The client packages (from the sale's snapshot), their services and expiry
        changes."""
        self.package_ids = reserve_ids(ClientPackage, len(self.sales))
        packages, services, changes = [], [], []
        self.grants: list[list[CreditLedgerEntry]] = []
        for sale, pk in zip(self.sales, self.package_ids, strict=True):
            sold, sold_services, grants = client_package_snapshot(
                client=sale.client,
                package=self.ref.packages[sale.spec.name],
                included=self.included[sale.spec.name],
                start_date=sale.start,
            )
            sold.pk = pk
            sold.created_at = sale.sold_at
            sold.credits, sold.consumed = sale.credits, sale.consumed
            sold.canceled_at, sold.cancel_reason = sale.canceled_at, sale.cancel_reason
            if sale.extension is not None:
                old, new, at = sale.extension
                sold.expires_on = new
                changes.append(
                    ExpiryChange(
                        client_package_id=pk,
                        old_expires_on=old,
                        new_expires_on=new,
                        reason="Client was away for a month.",
                        created_at=at,
                    )
                )
            for row in sold_services:
                row.client_package_id = pk
                if row.allowance is not None:
                    row.allowance = sale.allowances[row.service_id]
                    row.used = sale.used.get(row.service_id, 0)
            for grant in grants:
                grant.client_package_id = pk
                grant.created_at = sale.sold_at
            packages.append(sold)
            services.extend(sold_services)
            self.grants.append(grants)
        for row, pk in zip(services, reserve_ids(ClientPackageService, len(services)), strict=True):
            row.pk = pk
        for row, pk in zip(changes, reserve_ids(ExpiryChange, len(changes)), strict=True):
            row.pk = pk
        copy_objects(ClientPackage, packages)
        copy_objects(ClientPackageService, services)
        copy_objects(ExpiryChange, changes)
        return (
            f"{len(packages)} client packages, {len(services)} package services, "
            f"{len(changes)} expiry changes"
        )

    def write_appointments(self) -> str:
        self.appointment_ids = ids = reserve_ids(Appointment, len(self.appointments))
        fields = [
            "id",
            "client_id",
            "practitioner_id",
            "location_id",
            "service_id",
            "starts_at",
            "ends_at",
            "notes",
            "status",
            "client_package_id",
            "cancellation_reason_id",
            "kept_credit",
            "canceled_at",
            "created_at",
            "updated_at",
        ]
        package_ids = self.package_ids

        def rows():
            for pk, row in zip(ids, self.appointments, strict=True):
                client, who, where, service, starts, ends, status, sale, reason = row[:9]
                yield (
                    pk,
                    client,
                    who,
                    where,
                    service.pk,
                    starts,
                    ends,
                    "",
                    status,
                    None if sale is None else package_ids[sale],
                    reason,
                    *row[9:],
                )

        written = copy_rows(Appointment, fields, progress(rows(), total=len(ids), desc="Appts"))
        return f"{written} appointments"

    def write_ledger(self) -> str:
        """Each package's grants (from its snapshot) then its moves in time order,
        sealed by the hash chain, in chunks of packages."""
        total = 0
        kinds: Counter[str] = Counter()
        with progress(total=len(self.sales), desc="Ledger", unit="package") as bar:
            for start in range(0, len(self.sales), LEDGER_CHUNK):
                entries: list[CreditLedgerEntry] = []
                for index in range(start, min(start + LEDGER_CHUNK, len(self.sales))):
                    pk = self.package_ids[index]
                    entries.extend(self.grants[index])
                    for at, kind, quantity, service, appointment, reason in sorted(
                        self.sales[index].moves, key=lambda move: move[0]
                    ):
                        entries.append(
                            CreditLedgerEntry(
                                client_package_id=pk,
                                kind=kind,
                                quantity=quantity,
                                service_id=service,
                                appointment_id=(
                                    None
                                    if appointment is None
                                    else self.appointment_ids[appointment]
                                ),
                                reason=reason,
                                created_at=at,
                            )
                        )
                seal_new_entries(CreditLedgerEntry, entries)
                for entry in entries:
                    kinds[entry.kind] += 1
                total += copy_rows(
                    CreditLedgerEntry,
                    _LEDGER_FIELDS,
                    ([getattr(e, name) for name in _LEDGER_FIELDS] for e in entries),
                )
                bar.update(min(LEDGER_CHUNK, len(self.sales) - start))
        self.grants = []
        detail = ", ".join(f"{kinds[k]} {k}" for k in LedgerKind.values)
        return f"{total} ledger rows ({detail}), sealed"

    def write_invoices(self) -> str:
        """An invoice per sale (most) and per attended visit, numbered in issue-date
        order, and their payments."""
        rng = self.rng
        settings = PracticeSettings.objects.select_for_update().get(pk=1)
        include_tax = settings.prices_include_tax
        terms = dt.timedelta(days=settings.payment_terms_days)
        # (issue date, created at, client, practitioner, location, line values, outcome)
        planned: list[tuple] = []
        for sale, pk in zip(self.sales, self.package_ids, strict=True):
            if sale.outcome == "none":
                continue
            package = self.ref.packages[sale.spec.name]
            created = min(sale.sold_at + dt.timedelta(minutes=rng.randrange(1, 30)), self.now)
            line = (sale.spec.name, package.price, package.tax_rate, pk, None)
            planned.append(
                (
                    sale.start,
                    created,
                    sale.client.pk,
                    sale.practitioner,
                    sale.location,
                    line,
                    sale.outcome,
                )
            )
        for index, outcome in self.visit_invoices:
            client, who, where, service, starts, ends = self.appointments[index][:6]
            created = min(ends + dt.timedelta(minutes=rng.randrange(1, 20)), self.now)
            line = (
                service.name,
                service.price,
                service.tax_rate,
                None,
                self.appointment_ids[index],
            )
            planned.append((timezone.localdate(starts), created, client, who, where, line, outcome))
        planned.sort(key=lambda row: (row[0], row[1]))
        ids = reserve_ids(Invoice, len(planned))
        number = settings.invoice_next_number
        amounts: dict[tuple, object] = {}
        invoices, lines, payments = [], [], []
        outcomes: Counter[str] = Counter()
        methods = self.ref.methods
        for pk, (issued, created, client, who, where, line, outcome) in zip(
            ids, planned, strict=True
        ):
            description, price, tax_rate, package_id, appointment_id = line
            rate = tax_rate.rate if tax_rate is not None else Decimal("0")
            key = (price, rate)
            if key not in amounts:
                amounts[key] = compute_line_amounts(
                    quantity=Decimal("1"),
                    unit_price=price,
                    discount_percent=Decimal("0"),
                    tax_percent=rate,
                    prices_include_tax=include_tax,
                )
            money = amounts[key]
            total = money.total  # type: ignore[attr-defined]
            paid = {"paid": total, "part": to_money(total * Decimal("0.4"))}.get(outcome)
            status = InvoiceStatus.PAID if paid == total or total == 0 else InvoiceStatus.OPEN
            invoices.append(
                (
                    pk,
                    settings.format_invoice_number(number),
                    status,
                    client,
                    who,
                    where,
                    issued,
                    issued + terms,
                    include_tax,
                    "",
                    created,
                    "",
                    created,
                )
            )
            number += 1
            outcomes[outcome] += 1
            lines.append(
                (
                    pk,
                    0,
                    description,
                    Decimal("1.00"),
                    price,
                    Decimal("0.00"),
                    None if tax_rate is None else tax_rate.pk,
                    rate,
                    money.net,
                    money.tax,
                    total,
                    package_id,
                    appointment_id,
                )  # type: ignore[attr-defined]
            )
            if paid:
                paid_on = min(issued + dt.timedelta(days=rng.randrange(0, 3)), self.today)
                paid_at = max(created, self._at(paid_on, 10 * 60 + rng.randrange(420)))
                paid_at = min(paid_at, self.now)
                payments.append(
                    (
                        pk,
                        paid,
                        rng.choice(methods).pk,
                        paid_on,
                        "",
                        PaymentStatus.ACTIVE,
                        "",
                        paid_at,
                    )
                )
        # Every one of them would add into the same summary rows (demo.copy.summaries_rebuilt).
        with summaries_rebuilt([Invoice, InvoiceLine, Payment]) as rebuilt:
            self._copy_invoices(invoices, lines, payments)
        settings.invoice_next_number = number
        settings.save(update_fields=["invoice_next_number"])
        how = "summaries rebuilt" if rebuilt else "summaries kept row by row"
        return (
            f"{len(invoices)} invoices ({outcomes['paid']} paid, {outcomes['part']} part paid, "
            f"{outcomes['unpaid']} unpaid), {len(payments)} payments, {how}"
        )

    @staticmethod
    def _copy_invoices(invoices: list, lines: list, payments: list) -> None:
        copy_rows(
            Invoice,
            [
                "id",
                "number",
                "status",
                "client_id",
                "practitioner_id",
                "location_id",
                "issue_date",
                "due_date",
                "prices_include_tax",
                "notes",
                "finalized_at",
                "void_reason",
                "created_at",
            ],
            invoices,
        )
        copy_rows(
            InvoiceLine,
            [
                "invoice_id",
                "position",
                "description",
                "quantity",
                "unit_price",
                "discount_percent",
                "tax_rate_id",
                "tax_percent",
                "net_amount",
                "tax_amount",
                "total_amount",
                "client_package_id",
                "appointment_id",
            ],
            lines,
        )
        copy_rows(
            Payment,
            [
                "invoice_id",
                "amount",
                "method_id",
                "date",
                "reference",
                "status",
                "void_reason",
                "created_at",
            ],
            payments,
        )

    def analyze(self) -> str:
        """Fresh planner statistics (this database runs without autovacuum)."""
        tables = [
            model._meta.db_table
            for model in (
                Client,
                Appointment,
                ClientPackage,
                ClientPackageService,
                CreditLedgerEntry,
                ExpiryChange,
                Invoice,
                InvoiceLine,
                Payment,
                # the summaries refilled after the invoices
                InvoiceDayTotal,
                InvoiceBalance,
                ReceivableDay,
                RevenueDay,
            )
        ]
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
        return f"{len(tables)} tables analyzed"

    # ------------------------------------------------------------------ one sale

    def _play(self, index: int, sale: Sale) -> None:
        rng = self.rng
        spec = sale.spec
        package = self.ref.packages[spec.name]
        included = self.included[spec.name]
        fixed = spec.kind == PackageKind.FIXED
        template = self.ref.practitioners[spec.practitioner].pk
        sale.practitioner, sale.location = rng.choice(self.team[template])
        sale.start = timezone.localdate(sale.sold_at)
        sale.expires = exp = package.expiry_for(sale.start)
        sale.credits = spec.credits
        if fixed:
            sale.allowances = {ps.service_id: ps.allowance or 0 for ps in included}
            plan = [ps.service for ps in included for _ in range(ps.allowance or 0)]
        else:
            plan = [ps.service for ps in included]
        sale.outcome = rng.choices(["paid", "part", "unpaid", "none"], weights=[84, 4, 4, 8])[0]
        if sale.outcome == "unpaid" and (self.today - sale.start).days > 120:
            sale.outcome = rng.choice(["paid", "paid", "paid", "unpaid"])

        ext_at = None
        if exp is not None and rng.random() < EXTEND_SHARE:
            before = rng.random() < 0.7
            day = (
                exp - dt.timedelta(days=rng.randrange(1, 21))
                if before
                else (exp + dt.timedelta(days=rng.randrange(2, 21)))
            )
            at = self._at(day, 9 * 60 + rng.randrange(480))
            if sale.sold_at + dt.timedelta(days=1) < at < self.now:
                ext_at = at
                sale.extension = (exp, exp + dt.timedelta(days=30), at)
                self.counts["extended"] += 1
        limit = sale.extension[1] if sale.extension else exp

        target = spec.credits if rng.random() < USE_ALL_SHARE else rng.randrange(spec.credits)
        clock = sale.sold_at
        day = sale.start + dt.timedelta(days=rng.randrange(1, 10))
        done = future = 0
        while done < target and future < 3:
            service = plan[done] if fixed else rng.choice(plan)
            slot = self._place(sale.practitioner, day, service.duration_minutes)
            if slot is None:
                break
            starts, ends = slot
            on = starts.date()
            if limit is not None and on > limit:
                break
            needs_extension = exp is not None and on > exp
            if needs_extension and ext_at is not None and on <= ext_at.date():
                # Expired on that day: booked only once the extension brought it back.
                day = ext_at.date() + dt.timedelta(days=1 + rng.randrange(5))
                continue
            booked = starts - dt.timedelta(days=rng.randrange(1, 15), minutes=rng.randrange(600))
            booked = max(booked, clock + dt.timedelta(minutes=1))
            if needs_extension and ext_at is not None:
                booked = max(booked, ext_at + dt.timedelta(minutes=1))
            if booked >= starts or booked > self.now:
                break
            roll = rng.random()
            appointment = len(self.appointments)
            sale.moves.append(
                (booked, LedgerKind.CONSUME, -1, service.pk, appointment, "Appointment linked")
            )
            if roll < RELEASE_SHARE:
                # Canceled in time: the credit comes back; the next session replaces it.
                canceled = booked + (min(starts, self.now) - booked) * rng.uniform(0.3, 0.9)
                sale.moves.append(
                    (
                        canceled,
                        LedgerKind.RELEASE,
                        1,
                        service.pk,
                        appointment,
                        "Appointment canceled",
                    )
                )
                self._appointment(
                    sale.client.pk,
                    sale,
                    service,
                    starts,
                    ends,
                    AppointmentStatus.CANCELED,
                    None,
                    canceled,
                    booked,
                )
                self.counts["released"] += 1
                clock = canceled
            else:
                if roll < RELEASE_SHARE + KEPT_SHARE and starts <= self.now:
                    canceled = max(
                        starts - dt.timedelta(hours=rng.randrange(1, 12)),
                        booked + dt.timedelta(minutes=1),
                    )
                    self._appointment(
                        sale.client.pk,
                        sale,
                        service,
                        starts,
                        ends,
                        AppointmentStatus.CANCELED,
                        index,
                        canceled,
                        booked,
                        kept=True,
                    )
                    self.counts["kept"] += 1
                else:
                    status = self._settled(starts)
                    self._appointment(
                        sale.client.pk, sale, service, starts, ends, status, index, None, booked
                    )
                done += 1
                self.counts["linked"] += 1
                if fixed:
                    sale.used[service.pk] = sale.used.get(service.pk, 0) + 1
                future += starts > self.now
                clock = booked
            day = on + dt.timedelta(days=rng.randrange(4, 15))
        sale.consumed = done
        last = max(clock, ext_at or clock)

        roll = rng.random()
        if roll < ADJUST_UP_SHARE:
            at = sale.sold_at + (self.now - sale.sold_at) * rng.uniform(0.05, 0.95)
            service = plan[-1] if fixed else None
            self._adjust(sale, at, 1, service, "Goodwill: session cut short.")
            last = max(last, at)
        elif roll < ADJUST_UP_SHARE + ADJUST_DOWN_SHARE and sale.credits > done:
            at = last + dt.timedelta(days=rng.randrange(1, 30))
            spare = [
                s
                for s in dict.fromkeys(plan)
                if not fixed or sale.used.get(s.pk, 0) < sale.allowances[s.pk]
            ]
            if at < self.now and spare:
                self._adjust(
                    sale,
                    at,
                    -1,
                    spare[0] if fixed else None,
                    "Sold one session too many; corrected.",
                )
                last = at
        if rng.random() < CANCEL_SHARE and future == 0:
            at = last + dt.timedelta(days=rng.randrange(1, 40), minutes=rng.randrange(600))
            if at < self.now:
                sale.canceled_at = at
                sale.cancel_reason = rng.choice(CANCEL_PACKAGE_REASONS)
                self.counts["canceled"] += 1
        if (
            sale.canceled_at is None
            and sale.credits > sale.consumed
            and sale.extension is None
            and exp is not None
            and exp < self.today
        ):
            self.counts["expired"] += 1

    def _adjust(self, sale: Sale, at, quantity: int, service: Service | None, reason: str) -> None:
        sale.credits += quantity
        if service is not None:
            sale.allowances[service.pk] += quantity
        sale.moves.append(
            (at, LedgerKind.ADJUST, quantity, None if service is None else service.pk, None, reason)
        )
        self.counts["adjusted"] += 1

    def _visit(self, visit: Visit) -> None:
        rng = self.rng
        who, where = rng.choice(self.team[visit.template])
        slot = self._place(who, visit.day, visit.service.duration_minutes)
        if slot is None:
            return
        starts, ends = slot
        booked = min(starts - dt.timedelta(days=rng.randrange(1, 20)), self.now)
        index = len(self.appointments)
        if rng.random() < 0.06:
            canceled = booked + (min(starts, self.now) - booked) * rng.uniform(0.3, 0.9)
            self._place_row(
                visit.client.pk,
                who,
                where,
                visit.service,
                starts,
                ends,
                AppointmentStatus.CANCELED,
                None,
                canceled,
                booked,
            )
            return
        status = self._settled(starts)
        self._place_row(
            visit.client.pk, who, where, visit.service, starts, ends, status, None, None, booked
        )
        if status == AppointmentStatus.ARRIVED:
            age = (self.today - starts.date()).days
            outcome = rng.choices(["paid", "part", "unpaid"], weights=[94, 2, 4])[0]
            if outcome == "unpaid" and age > 120:
                outcome = "paid"
            self.visit_invoices.append((index, outcome))

    # ------------------------------------------------------------------ calendar

    def _at(self, day: dt.date, minutes: int) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=self.tz)

    def _place(self, practitioner: int, day: dt.date, minutes: int):
        """The first free start from `day` in the practitioner's calendar (appointments
        follow each other from 7:00, sometimes with a gap), or None past the horizon."""
        while day <= self.horizon:
            if day.weekday() != 6:
                key = (practitioner, day)
                free = self.cursor.get(key, DAY_START)
                if free + minutes <= DAY_END:
                    gap = 15 if self.rng.random() < 0.25 else 0
                    self.cursor[key] = free + minutes + gap
                    starts = self._at(day, free)
                    return starts, starts + dt.timedelta(minutes=minutes)
            day += dt.timedelta(days=1)
        return None

    def _settled(self, starts: dt.datetime) -> str:
        if starts > self.now:
            return AppointmentStatus.BOOKED
        if self.rng.random() < MISSED_SHARE:
            return AppointmentStatus.MISSED
        return AppointmentStatus.ARRIVED

    def _appointment(
        self,
        client,
        sale: Sale,
        service,
        starts,
        ends,
        status,
        linked,
        canceled,
        booked,
        kept=False,
    ) -> None:
        self._place_row(
            client,
            sale.practitioner,
            sale.location,
            service,
            starts,
            ends,
            status,
            linked,
            canceled,
            booked,
            kept,
        )

    def _place_row(
        self,
        client,
        who,
        where,
        service,
        starts,
        ends,
        status,
        linked,
        canceled,
        booked,
        kept=False,
    ) -> None:
        reason = None
        if status == AppointmentStatus.CANCELED:
            reason = self.rng.choice(self.ref.reasons).pk
        updated = canceled or (
            min(ends, self.now) if status != AppointmentStatus.BOOKED else booked
        )
        self.appointments.append(
            [
                client,
                who,
                where,
                service,
                starts,
                ends,
                status,
                linked,
                reason,
                kept,
                canceled,
                booked,
                max(updated, booked),
            ]
        )


_LEDGER_FIELDS = [
    "client_package_id",
    "kind",
    "quantity",
    "service_id",
    "appointment_id",
    "reason",
    "created_at",
    "created_by_id",
    "chain_hash",
]


def summary_counts() -> dict[str, int]:
    """Row counts of the main tables (for the command's last line)."""
    return {
        "clients": Client.objects.count(),
        "appointments": Appointment.objects.count(),
        "client packages": ClientPackage.objects.count(),
        "ledger rows": CreditLedgerEntry.objects.count(),
        "invoices": Invoice.objects.count(),
        "payments": Payment.objects.count(),
    }
