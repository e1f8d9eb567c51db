"""`python manage.py seed_demo`: a believable demo practice, written through the services.

What it creates (all in one transaction, so a failure leaves nothing behind):

1. Reference data: the practice's details, two locations, four practitioners with staff
   users, a receptionist, an accountant and a practice manager (each in their role),
   service categories and a dozen services, fixed and flexible packages (one archived).
2. Clients: `--clients` people (bulk inserted, Faker with `--seed`).
3. History for the first few hundred clients, through the services with `by=None`, so it
   obeys every rule: packages sold in the past months in every status (Active,
   Completed, Expired, Canceled; some extended, some adjusted), their sessions booked and
   linked week by week, a busy month of appointments around today (past two weeks
   Arrived or Missed, next two weeks Booked, some Canceled), and invoices in every
   status (Draft, Open, Part paid, Overdue, Paid, Void) with part payments, a refund and
   a voided payment. Services refuse what the rules forbid, so: a past appointment is
   never Canceled (it is marked Missed), and an Expired package has no linked sessions
   (linking checks the package's status today).
4. For the remaining clients (large `--clients` values) a share gets a package by bulk
   insert: the client package, its services and its GRANT ledger rows, consistent with
   credits and nothing consumed, so `check_ledger` still passes.

Staff users get unusable passwords unless `--demo-passwords` sets them all to
`DEMO_PASSWORD` (for a local demo only).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone
from faker import Faker
from tqdm import tqdm

from calendar_app.models import (
    Appointment,
    AppointmentStatus,
    CancellationReason,
    Location,
    Practitioner,
)
from calendar_app.services import (
    appointment_book,
    appointment_book_series,
    appointment_cancel,
    appointment_mark_arrived,
    appointment_mark_missed,
)
from catalog.models import (
    Package,
    PackageKind,
    PackageService,
    PeriodUnit,
    Service,
    ServiceCategory,
    TaxRate,
)
from clients.models import Client
from invoicing.models import Invoice, InvoiceStatus, Payment, PaymentMethod, PaymentStatus
from invoicing.selectors import invoice_totals, invoices_with_totals
from invoicing.services import (
    invoice_finalize,
    invoice_for_appointment,
    invoice_for_client_package,
    invoice_update,
    invoice_void,
    payment_record,
    payment_refund,
    payment_void,
)
from kernel.errors import DomainError
from kernel.money import to_money
from packages.models import ClientPackage, ClientPackageService, CreditLedgerEntry, LedgerKind
from packages.services import (
    client_package_adjust,
    client_package_assign,
    client_package_cancel,
    client_package_extend_expiry,
)
from practice import roles
from practice.models import PracticeSettings

DEMO_PASSWORD = "caspen-demo"
RICH_CLIENTS = 300  # clients who get a history through the services
MIN_CLIENTS = 20  # enough for every package and invoice status
BUSY_PRACTICE_CLIENTS = 300  # from this many clients on, the calendar is full
BATCH = 5000
EXTRA_PACKAGE_SHARE = 0.3  # of the bulk clients, this share holds a package

PRACTICE = {
    "name": "Harbour Physio & Allied Health",
    "address": "Level 2, 14 Alfred Street\nCircular Quay NSW 2000",
    "phone": "(02) 9251 4400",
    "email": "hello@harbourphysio.example",
    "tax_id": "ABN 51 824 753 556",
}
LOCATIONS = {
    "quay": ("Circular Quay", "Level 2, 14 Alfred Street, Circular Quay NSW 2000"),
    "manly": ("Manly", "Shop 3, 25 Wentworth Street, Manly NSW 2095 (hydrotherapy pool)"),
}
# username, first name, last name, role, (practitioner colour, home location) or None
STAFF = [
    ("mia.thompson", "Mia", "Thompson", roles.PRACTITIONER, ("#2f7d6d", "quay")),
    ("liam.oconnor", "Liam", "O'Connor", roles.PRACTITIONER, ("#3b6fb6", "manly")),
    ("grace.patel", "Grace", "Patel", roles.PRACTITIONER, ("#b5477a", "quay")),
    ("ava.chen", "Ava", "Chen", roles.PRACTITIONER, ("#c07a1f", "manly")),
    ("rosa.nguyen", "Rosa", "Nguyen", roles.RECEPTION, None),
    ("sam.okafor", "Sam", "Okafor", roles.ACCOUNTANT, None),
    ("helen.brooks", "Helen", "Brooks", roles.ADMIN, None),
]
GST, GST_FREE = "GST", "GST-free"
# name: (category, minutes, price incl. GST, tax, practitioners' usernames)
SERVICES = {
    "Physio initial consultation": ("Physiotherapy", 45, "120.00", GST_FREE, ["mia.thompson"]),
    "Physio follow-up": ("Physiotherapy", 30, "95.00", GST_FREE, ["mia.thompson", "liam.oconnor"]),
    "Extended physio session": ("Physiotherapy", 60, "150.00", GST_FREE, ["mia.thompson"]),
    "Remedial massage (60 min)": ("Massage", 60, "115.00", GST, ["grace.patel"]),
    "Remedial massage (30 min)": ("Massage", 30, "70.00", GST, ["grace.patel"]),
    "Clinical pilates class": ("Exercise", 55, "38.00", GST, ["liam.oconnor"]),
    "Private pilates session": ("Exercise", 55, "95.00", GST, ["liam.oconnor"]),
    "Hydrotherapy session": ("Exercise", 45, "65.00", GST_FREE, ["liam.oconnor"]),
    "Dietetics initial consultation": ("Dietetics", 60, "165.00", GST_FREE, ["ava.chen"]),
    "Dietetics review": ("Dietetics", 30, "90.00", GST_FREE, ["ava.chen"]),
    "Occupational therapy assessment": (
        "Occupational therapy",
        60,
        "195.00",
        GST_FREE,
        ["ava.chen"],
    ),
    "Occupational therapy review": ("Occupational therapy", 45, "145.00", GST_FREE, ["ava.chen"]),
}


@dataclass(frozen=True)
class PackageSpec:
    name: str
    kind: str
    price: str
    tax: str
    expires: tuple[int, str] | None
    services: dict[str, int | None]  # service name: allowance (fixed) or None (flexible)
    credits: int
    practitioner: str
    description: str = ""
    archived: bool = False


PACKAGES = [
    PackageSpec(
        "Physio Starter Pack (5 sessions)",
        PackageKind.FIXED,
        "470.00",
        GST_FREE,
        (3, PeriodUnit.MONTHS),
        {"Physio initial consultation": 1, "Physio follow-up": 4},
        5,
        "mia.thompson",
        "New injuries: assessment plus four follow-ups. Saves $45.",
    ),
    PackageSpec(
        "Pilates 10-class pass",
        PackageKind.FLEXIBLE,
        "330.00",
        GST,
        (6, PeriodUnit.MONTHS),
        {"Clinical pilates class": None},
        10,
        "liam.oconnor",
        "Ten group classes; saves $50 on casual rates.",
    ),
    PackageSpec(
        "Massage 5 pack",
        PackageKind.FLEXIBLE,
        "500.00",
        GST,
        (12, PeriodUnit.MONTHS),
        {"Remedial massage (60 min)": None, "Remedial massage (30 min)": None},
        5,
        "grace.patel",
        "Any five remedial massages, 30 or 60 minutes.",
    ),
    PackageSpec(
        "Rehab Combo (physio + hydro)",
        PackageKind.FIXED,
        "420.00",
        GST_FREE,
        (8, PeriodUnit.WEEKS),
        {"Physio follow-up": 2, "Hydrotherapy session": 4},
        6,
        "liam.oconnor",
        "Post-surgery rehab: two physio reviews and four pool sessions.",
    ),
    PackageSpec(
        "Dietetics Kickstart",
        PackageKind.FIXED,
        "310.00",
        GST_FREE,
        None,
        {"Dietetics initial consultation": 1, "Dietetics review": 2},
        3,
        "ava.chen",
        "Initial consultation and two reviews; does not expire.",
    ),
    PackageSpec(
        "Winter Pilates 8 pass (2025)",
        PackageKind.FLEXIBLE,
        "260.00",
        GST,
        (3, PeriodUnit.MONTHS),
        {"Clinical pilates class": None},
        8,
        "liam.oconnor",
        "Seasonal offer, no longer sold.",
        archived=True,
    ),
]
CLIENT_NOTES = [
    "Prefers morning appointments.",
    "Referred by GP for lower back pain.",
    "Private health cover: extras with Bupa.",
    "Training for the City2Surf.",
    "Post knee reconstruction (left), cleared by surgeon.",
    "Please call rather than text.",
    "Office worker, neck and shoulder tension.",
]
CANCEL_PACKAGE_REASONS = [
    "Client moved interstate.",
    "Medical advice: stop treatment for now; unused sessions refunded.",
    "Bought twice by mistake.",
]


def _progress(iterable: Iterable | None = None, **kwargs) -> tqdm:
    # disable=None: a bar on a terminal, nothing when the output is a file or a pipe.
    return tqdm(iterable, disable=None, file=sys.stderr, leave=False, **kwargs)


@dataclass
class Scenario:
    """What happens to one client with a package (chosen per client, see `_scenarios`)."""

    package: str
    started_days_ago: int
    uses: int = 0  # sessions already used (past, linked, arrived)
    future: int = 0  # upcoming linked sessions
    cancel: bool = False
    extend: bool = False
    adjust: bool = False
    invoice: str = "paid"  # paid | part | unpaid | draft | none


# The first clients get these in order, so every status appears even for small
# `--clients`; the others draw from them at random.
FIXED_SCENARIOS = [
    Scenario("Physio Starter Pack (5 sessions)", 30, uses=3, future=1, invoice="paid"),
    Scenario("Massage 5 pack", 80, uses=5, invoice="paid"),  # Completed
    Scenario("Pilates 10-class pass", 230, invoice="paid"),  # Expired
    Scenario("Massage 5 pack", 40, uses=1, cancel=True, invoice="paid"),  # Canceled
    Scenario("Rehab Combo (physio + hydro)", 50, uses=5, extend=True, invoice="unpaid"),  # Overdue
    Scenario("Pilates 10-class pass", 10, uses=2, future=2, invoice="part"),  # Part paid
    Scenario("Dietetics Kickstart", 45, uses=2, adjust=True, invoice="part"),  # Overdue, part paid
    Scenario("Physio Starter Pack (5 sessions)", 0, future=2, invoice="draft"),  # Draft
    Scenario("Physio Starter Pack (5 sessions)", 100, uses=5, invoice="paid"),  # Completed
    Scenario("Pilates 10-class pass", 5, uses=1, future=3, invoice="unpaid"),  # Open
]


class Command(BaseCommand):
    help = (
        "Create a demo practice (settings, staff, catalog, clients, packages, calendar, "
        "invoices) through the services. Use --if-empty to do nothing when clients exist."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--clients", type=int, default=300, help="number of clients (default 300)"
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
        self, *args, clients: int, seed: int, if_empty: bool, demo_passwords: bool, **options
    ):
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
        self.rng = random.Random(seed)
        self.faker = Faker("en_AU")
        self.faker.seed_instance(seed)
        self.today = timezone.localdate()
        self.now = timezone.now()
        started = time.monotonic()
        with transaction.atomic():
            # Foreign keys are DEFERRABLE INITIALLY DEFERRED, so in one long transaction
            # every inserted row queues a check until COMMIT; with the audit triggers
            # (whose functions open a subtransaction per row) that queue makes each
            # insert slower than the last: 30,000 bulk client packages took minutes.
            # Checking at the end of each statement keeps the time linear, and every
            # row here is inserted after the rows it refers to.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            self._phase("Reference data", lambda: self._reference(demo_passwords))
            self._phase("Clients", lambda: self._clients(clients))
            self._phase("Packages and calendar", self._history)
            self._phase("Invoices and payments", self._invoices)
            self._phase("More client packages (bulk)", self._bulk_packages)
        self.stdout.write(
            self.style.SUCCESS(f"Demo practice ready in {time.monotonic() - started:.1f}s.")
        )
        self._print_logins(demo_passwords)

    def _phase(self, title: str, run) -> None:
        started = time.monotonic()
        summary = run()
        self.stdout.write(f"{title}: {summary} ({time.monotonic() - started:.1f}s)")

    # ---------------------------------------------------------------- reference data

    def _reference(self, demo_passwords: bool) -> str:
        settings = PracticeSettings.load()
        for name, value in PRACTICE.items():
            setattr(settings, name, value)
        settings.save(update_fields=list(PRACTICE))

        self.locations = {
            key: Location.objects.get_or_create(name=name, defaults={"address": address})[0]
            for key, (name, address) in LOCATIONS.items()
        }
        User = get_user_model()
        self.users: dict[str, object] = {}
        self.practitioners: dict[str, Practitioner] = {}
        self.home: dict[int, Location] = {}
        for username, first, last, role, calendar in STAFF:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@harbourphysio.example",
                    "is_staff": True,
                },
            )
            if demo_passwords:
                user.set_password(DEMO_PASSWORD)
            elif created:
                user.set_unusable_password()
            user.save()
            user.groups.add(Group.objects.get(name=role))
            self.users[username] = user
            if calendar is not None:
                colour, home = calendar
                practitioner, _ = Practitioner.objects.get_or_create(
                    user=user, defaults={"name": f"{first} {last}", "colour": colour}
                )
                self.practitioners[username] = practitioner
                self.home[practitioner.pk] = self.locations[home]

        taxes = {name: TaxRate.objects.get(name=name) for name in (GST, GST_FREE)}
        self.services: dict[str, Service] = {}
        self.provides: dict[int, list[Service]] = defaultdict(list)
        for name, (category, minutes, price, tax, who) in SERVICES.items():
            service, _ = Service.objects.get_or_create(
                name=name,
                defaults={
                    "category": ServiceCategory.objects.get_or_create(name=category)[0],
                    "duration_minutes": minutes,
                    "price": Decimal(price),
                    "tax_rate": taxes[tax],
                },
            )
            self.services[name] = service
            for username in who:
                self.provides[self.practitioners[username].pk].append(service)

        self.packages: dict[str, Package] = {}
        self.package_specs = {spec.name: spec for spec in PACKAGES}
        for spec in PACKAGES:
            package, created = Package.objects.get_or_create(
                name=spec.name,
                defaults={
                    "description": spec.description,
                    "kind": spec.kind,
                    "credits": spec.credits,
                    "price": Decimal(spec.price),
                    "tax_rate": taxes[spec.tax],
                    "expires_after_value": spec.expires[0] if spec.expires else None,
                    "expires_after_unit": spec.expires[1] if spec.expires else None,
                },
            )
            if created:
                PackageService.objects.bulk_create(
                    PackageService(package=package, service=self.services[name], allowance=n)
                    for name, n in spec.services.items()
                )
            if spec.archived and not package.archived:
                package.archived = True
                package.save(update_fields=["archived"])
            self.packages[spec.name] = package
        self.reasons = list(CancellationReason.objects.filter(archived=False))
        self.methods = list(PaymentMethod.objects.filter(archived=False))
        return (
            f"{len(self.locations)} locations, {len(self.practitioners)} practitioners, "
            f"{len(self.users)} staff users, {len(self.services)} services, "
            f"{len(self.packages)} packages"
        )

    # ------------------------------------------------------------------------ clients

    def _clients(self, count: int) -> str:
        """Bulk insert `count` clients; the first `RICH_CLIENTS` get a history later."""
        first_names = [self.faker.first_name() for _ in range(800)]
        last_names = [self.faker.last_name() for _ in range(800)]
        domains = ["example.com", "example.net", "example.org"]
        rng = self.rng
        self.client_ids: list[int] = []
        with _progress(total=count, desc="Clients", unit="client") as bar:
            for start in range(0, count, BATCH):
                batch = []
                for n in range(start, min(start + BATCH, count)):
                    first, last = rng.choice(first_names), rng.choice(last_names)
                    slug = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
                    rich = n < RICH_CLIENTS
                    batch.append(
                        Client(
                            first_name=first,
                            last_name=last,
                            email=f"{slug}{n}@{rng.choice(domains)}" if rng.random() < 0.9 else "",
                            phone=f"04{rng.randrange(10**2):02d} {rng.randrange(10**3):03d} "
                            f"{rng.randrange(10**3):03d}",
                            date_of_birth=dt.date(1940, 1, 1)
                            + dt.timedelta(days=rng.randrange(365 * 70)),
                            notes=rng.choice(CLIENT_NOTES) if rng.random() < 0.15 else "",
                            # A few former clients; the ones with a history are current.
                            archived=not rich and rng.random() < 0.03,
                        )
                    )
                created = Client.objects.bulk_create(batch, batch_size=BATCH)
                self.client_ids.extend(c.pk for c in created)
                bar.update(len(batch))
        self.rich_clients = list(Client.objects.filter(pk__in=self.client_ids[:RICH_CLIENTS]))
        archived = Client.objects.filter(archived=True).count()
        return f"{count} clients ({archived} archived)"

    # -------------------------------------------------------------- calendar helpers

    def _at(self, day: dt.date, minutes: int) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60)))

    def _free_slot(
        self, practitioner: Practitioner, day: dt.date, service: Service
    ) -> dt.datetime | None:
        """A free start on `day` between 8:00 and 18:00 (15-minute grid), or None."""
        if day.weekday() >= 5:
            return None
        starts = list(range(8 * 60, 18 * 60 - service.duration_minutes + 1, 15))
        self.rng.shuffle(starts)
        busy = self.busy[(practitioner.pk, day)]
        for minute in starts:
            end = minute + service.duration_minutes
            if all(end <= b_start or minute >= b_end for b_start, b_end in busy):
                return self._at(day, minute)
        return None

    def _book(
        self,
        *,
        client: Client,
        practitioner: Practitioner,
        service: Service,
        day: dt.date,
        client_package: ClientPackage | None = None,
        search_days: int = 4,
        backwards: bool = False,
    ) -> Appointment | None:
        """Book on the first day from `day` (going forwards, or backwards for past
        sessions) with a free slot, never on a weekend."""
        for offset in range(search_days):
            when = day + dt.timedelta(days=-offset if backwards else offset)
            starts_at = self._free_slot(practitioner, when, service)
            if starts_at is None:
                continue
            try:
                appointment = appointment_book(
                    client=client,
                    practitioner=practitioner,
                    location=self.home[practitioner.pk],
                    service=service,
                    starts_at=starts_at,
                    client_package=client_package,
                    by=None,
                )
            except DomainError:
                continue
            local = timezone.localtime(starts_at)
            minute = local.hour * 60 + local.minute
            self.busy[(practitioner.pk, when)].append((minute, minute + service.duration_minutes))
            self.counts["appointments"] += 1
            if client_package is not None:
                self.counts["linked"] += 1
            return appointment
        return None

    def _settle_past(self, appointment: Appointment, missed_share: float = 0.08) -> Appointment:
        """A past appointment is Arrived or (sometimes) Missed; later today stays Booked."""
        if appointment.starts_at > self.now:
            return appointment
        if self.rng.random() < missed_share:
            self.counts["missed"] += 1
            return appointment_mark_missed(appointment=appointment, by=None)
        self.counts["arrived"] += 1
        return appointment_mark_arrived(appointment=appointment, by=None)

    # ------------------------------------------------------- packages and calendar

    def _history(self) -> str:
        self.busy: dict[tuple[int, dt.date], list[tuple[int, int]]] = defaultdict(list)
        self.counts: Counter[str] = Counter()
        self.invoice_plans: list[tuple[dt.date, str, object, str]] = []
        self.canceled_packages: list[ClientPackage] = []
        clients = list(self.rich_clients)
        holders = clients[: max(len(FIXED_SCENARIOS), int(len(clients) * 0.45))]
        with _progress(total=len(clients), desc="History", unit="client") as bar:
            for n, client in enumerate(holders):
                if n < len(FIXED_SCENARIOS):
                    scenario = FIXED_SCENARIOS[n]
                else:
                    scenario = self._random_scenario()
                self._play(client, scenario)
                bar.update()
            self._fill_month(clients, bar)
            bar.update(len(clients) - len(holders))
        self._repeating(clients)
        c = self.counts
        return (
            f"{c['packages']} client packages ({c['canceled']} canceled, {c['extended']} "
            f"extended, {c['adjusted']} adjusted), {c['appointments']} appointments "
            f"({c['linked']} linked, {c['arrived']} arrived, {c['missed']} missed, "
            f"{c['appt_canceled']} canceled), {c['series']} repeating series"
        )

    def _random_scenario(self) -> Scenario:
        rng = self.rng
        spec = rng.choice([s for s in PACKAGES if not s.archived])
        life = (
            None
            if spec.expires is None
            else {
                PeriodUnit.WEEKS: 7,
                PeriodUnit.MONTHS: 30,
                PeriodUnit.YEARS: 365,
            }[spec.expires[1]]
            * spec.expires[0]
        )
        roll = rng.random()
        if roll < 0.12 and life:  # expired, some sessions never used
            return Scenario(spec.name, life + rng.randrange(5, 90), invoice="paid")
        started = rng.randrange(0, min(life or 200, 200))
        weeks = started // 7
        uses = min(spec.credits, weeks, rng.randrange(0, spec.credits + 1))
        future = 0 if uses >= spec.credits else rng.randrange(0, min(3, spec.credits - uses) + 1)
        invoice = rng.choices(["paid", "part", "unpaid", "none"], weights=[75, 8, 7, 10])[0]
        return Scenario(
            spec.name,
            started,
            uses=uses,
            future=future,
            cancel=roll > 0.96,
            extend=0.90 < roll <= 0.93 and life is not None,
            adjust=0.93 < roll <= 0.96,
            invoice=invoice,
        )

    def _play(self, client: Client, scenario: Scenario) -> None:
        spec = self.package_specs[scenario.package]
        practitioner = self.practitioners[spec.practitioner]
        start = self.today - dt.timedelta(days=scenario.started_days_ago)
        sold = client_package_assign(
            client=client, package=self.packages[spec.name], start_date=start, by=None
        )
        self.counts["packages"] += 1
        # Sessions in the order a fixed package would use them (initial first).
        plan = [name for name, n in spec.services.items() for _ in range(n or spec.credits)]
        if spec.kind == PackageKind.FLEXIBLE:
            self.rng.shuffle(plan)
        services = iter(self.services[name] for name in plan)
        # Past sessions spread from the start date to yesterday, then upcoming ones.
        span = max((self.today - start).days - 1, 1)
        step = max(span // max(scenario.uses, 1), 1)
        for i in range(scenario.uses):
            day = start + dt.timedelta(days=1 + i * step)
            day = min(day, self.today - dt.timedelta(days=1))
            appointment = self._book(
                client=client,
                practitioner=practitioner,
                service=next(services),
                day=day,
                client_package=sold,
                backwards=True,
            )
            if appointment is not None:
                self._settle_past(appointment, missed_share=0.1)
        for i in range(scenario.future):
            day = self.today + dt.timedelta(days=1 + i * 7 + self.rng.randrange(3))
            if sold.expires_on is not None and day > sold.expires_on:
                break
            self._book(
                client=client,
                practitioner=practitioner,
                service=next(services),
                day=day,
                client_package=sold,
                search_days=2,
            )
        if scenario.adjust:
            client_package_adjust(
                client_package=sold,
                quantity=1,
                service=self.services[plan[-1]] if spec.kind == PackageKind.FIXED else None,
                reason="Goodwill: session cut short when the pool was closed.",
                by=None,
            )
            self.counts["adjusted"] += 1
        if scenario.extend:
            sold.refresh_from_db()
            client_package_extend_expiry(
                client_package=sold,
                expires_on=sold.expires_on + dt.timedelta(days=21),
                reason="Client was overseas for three weeks.",
                by=None,
            )
            self.counts["extended"] += 1
        if scenario.invoice != "none":
            self.invoice_plans.append((start, "package", sold, scenario.invoice))
        if scenario.cancel:
            client_package_cancel(
                client_package=sold, reason=self.rng.choice(CANCEL_PACKAGE_REASONS), by=None
            )
            self.counts["canceled"] += 1
            self.canceled_packages.append(sold)

    def _fill_month(self, clients: list[Client], bar) -> None:
        """Pay-per-visit appointments: the past two weeks and the next two, ~6 a day per
        practitioner (fewer for a small demo), on top of the package sessions."""
        rng = self.rng
        scale = min(1.0, len(clients) / BUSY_PRACTICE_CLIENTS)
        void_one = True
        for offset in range(-14, 15):
            day = self.today + dt.timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            for practitioner in self.practitioners.values():
                for _ in range(max(1, round(rng.randrange(4, 8) * scale))):
                    service = rng.choice(self.provides[practitioner.pk])
                    appointment = self._book(
                        client=rng.choice(clients),
                        practitioner=practitioner,
                        service=service,
                        day=day,
                        search_days=1,
                    )
                    if appointment is None:
                        continue
                    appointment = self._settle_past(appointment)
                    if appointment.starts_at > self.now and rng.random() < 0.08:
                        appointment_cancel(
                            appointment=appointment, reason=rng.choice(self.reasons), by=None
                        )
                        self.counts["appt_canceled"] += 1
                    elif appointment.status == AppointmentStatus.ARRIVED:
                        # The first visit's invoice goes to the wrong client: voided.
                        outcome = "void" if void_one else self._visit_invoice(day)
                        void_one = False
                        self.invoice_plans.append((day, "appointment", appointment, outcome))
        # Some upcoming package sessions are canceled: most give the credit back, a late
        # cancellation keeps it.
        upcoming = Appointment.objects.filter(
            starts_at__gt=self.now, client_package__isnull=False
        ).order_by("pk")
        for appointment in upcoming:
            if rng.random() < 0.15:
                appointment_cancel(
                    appointment=appointment,
                    reason=rng.choice(self.reasons),
                    keep_credit=rng.random() < 0.3,
                    by=None,
                )
                self.counts["appt_canceled"] += 1

    def _visit_invoice(self, day: dt.date) -> str:
        """Most visits are paid at the desk; the last days' may still be drafts, and a
        few invoices wait for payment (Open, then Overdue after the payment terms)."""
        age = (self.today - day).days
        if age <= 1:
            return self.rng.choices(["draft", "paid", "part"], weights=[40, 50, 10])[0]
        if age <= 7:
            return self.rng.choices(["paid", "part", "unpaid"], weights=[85, 5, 10])[0]
        return self.rng.choices(["paid", "unpaid"], weights=[95, 5])[0]

    def _repeating(self, clients: list[Client]) -> None:
        """Two weekly repeating bookings at 7:00, before the other bookings of the day
        (series never use packages)."""
        liam = self.practitioners["liam.oconnor"]
        class_ = self.services["Clinical pilates class"]
        for client, weekday in zip(clients[-2:], (1, 3), strict=True):
            day = self.today + dt.timedelta(days=(weekday - self.today.weekday()) % 7 + 7)
            starts_at = self._at(day, 7 * 60)
            try:
                appointment_book_series(
                    client=client,
                    practitioner=liam,
                    location=self.home[liam.pk],
                    service=class_,
                    starts_at=starts_at,
                    every_weeks=1,
                    weekdays=[weekday],
                    count=6,
                    by=None,
                )
            except DomainError:
                continue
            self.counts["series"] += 1

    # ----------------------------------------------------------------------- invoices

    def _invoices(self) -> str:
        """Drafts first, then finalize in issue-date order (numbers follow the dates),
        then payments, a refund, a voided payment and a voided invoice."""
        rng = self.rng
        drafts: list[tuple[dt.date, Invoice, str]] = []
        counts: Counter[str] = Counter()
        for issue_date, kind, subject, outcome in _progress(
            sorted(self.invoice_plans, key=lambda plan: (plan[0], plan[1])),
            desc="Invoices",
            unit="invoice",
        ):
            if kind == "package":
                practitioner = self.practitioners[self.package_specs[subject.name].practitioner]
                invoice = invoice_for_client_package(
                    client_package=subject,
                    practitioner=practitioner,
                    location=self.home[practitioner.pk],
                    by=None,
                )
            else:
                invoice = invoice_for_appointment(appointment=subject, by=None)
            if outcome != "draft":
                invoice = invoice_update(invoice=invoice, issue_date=issue_date, by=None)
            drafts.append((issue_date, invoice, outcome))

        for issue_date, invoice, outcome in drafts:
            if outcome == "draft":
                counts["draft"] += 1
                continue
            invoice = invoice_finalize(invoice=invoice, by=None)
            total = invoice_totals(invoice).total
            if outcome == "void":
                invoice_void(invoice=invoice, reason="Raised against the wrong client.", by=None)
                counts["void"] += 1
                continue
            if total == 0:
                counts["paid"] += 1
                continue
            method = rng.choice(self.methods)
            paid_on = min(issue_date + dt.timedelta(days=rng.randrange(0, 3)), self.today)
            if outcome == "paid":
                payment_record(invoice=invoice, amount=total, method=method, date=paid_on, by=None)
                counts["paid"] += 1
            elif outcome == "part":
                deposit = to_money(total * Decimal("0.4"))
                payment_record(
                    invoice=invoice,
                    amount=deposit,
                    method=method,
                    date=paid_on,
                    by=None,
                    reference="Deposit",
                )
                counts["part paid"] += 1
            else:
                counts["unpaid"] += 1

        self._refund_canceled(counts)
        self._void_a_payment(counts)
        c = counts
        return (
            f"{len(drafts)} invoices ({c['draft']} draft, {c['paid']} paid, {c['part paid']} "
            f"part paid, {c['unpaid']} unpaid, {c['void']} void), {c['refunds']} refunds, "
            f"{c['voided payments']} voided payment"
        )

    def _refund_canceled(self, counts: Counter[str]) -> None:
        """A canceled package's unused sessions are refunded, pro rata."""
        for sold in self.canceled_packages:
            sold.refresh_from_db()
            paid = (
                Payment.objects.filter(
                    invoice__lines__client_package=sold, status=PaymentStatus.ACTIVE
                )
                .order_by("pk")
                .first()
            )
            if paid is None or sold.remaining == 0:
                continue
            amount = min(to_money(sold.price * sold.remaining / sold.credits), paid.amount)
            if amount <= 0:
                continue
            payment_refund(
                payment=paid,
                amount=amount,
                reason=f"{sold.name} canceled: {sold.remaining} unused session(s) refunded.",
                date=self.today,
                by=None,
            )
            counts["refunds"] += 1

    def _void_a_payment(self, counts: Counter[str]) -> None:
        """Reception recorded a payment twice on an open invoice; the second is voided."""
        invoice = (
            invoices_with_totals(Invoice.objects.filter(status=InvoiceStatus.OPEN))
            .filter(balance__gt=0)
            .order_by("pk")
            .first()
        )
        if invoice is None:
            return
        payment = payment_record(
            invoice=invoice,
            amount=min(invoice.balance, Decimal("20.00")),
            method=self.methods[0],
            reference="Entered twice",
            by=None,
        )
        payment_void(payment=payment, reason="Recorded twice by mistake.", by=None)
        counts["voided payments"] += 1

    # ------------------------------------------------------------------ bulk packages

    def _bulk_packages(self) -> str:
        """A share of the clients beyond the first few hundred hold a package, inserted
        in bulk: the sale, its services and GRANT ledger rows (nothing consumed), exactly
        what `client_package_assign` writes, so the ledger check holds."""
        extra = self.client_ids[RICH_CLIENTS:]
        if not extra:
            return "none (no clients beyond the first few hundred)"
        rng = self.rng
        sellable = [self.packages[s.name] for s in PACKAGES if not s.archived]
        included = {
            package.pk: list(package.package_services.select_related("service").order_by("id"))
            for package in sellable
        }
        holders = [pk for pk in extra if rng.random() < EXTRA_PACKAGE_SHARE]
        # Archived clients were sold their packages before they left; fine either way.
        total = 0
        with _progress(total=len(holders), desc="Bulk packages", unit="package") as bar:
            for start in range(0, len(holders), BATCH):
                chunk = holders[start : start + BATCH]
                sales = []
                for client_id in chunk:
                    package = rng.choice(sellable)
                    start_date = self.today - dt.timedelta(days=rng.randrange(0, 540))
                    sales.append(
                        ClientPackage(
                            client_id=client_id,
                            package=package,
                            name=package.name,
                            kind=package.kind,
                            price=package.price,
                            tax_rate_id=package.tax_rate_id,
                            credits=package.credits,
                            start_date=start_date,
                            expires_on=package.expiry_for(start_date),
                        )
                    )
                sales = ClientPackage.objects.bulk_create(sales, batch_size=BATCH)
                services, grants = [], []
                for sale in sales:
                    fixed = sale.kind == PackageKind.FIXED
                    for ps in included[sale.package_id]:
                        services.append(
                            ClientPackageService(
                                client_package=sale,
                                service=ps.service,
                                name=ps.service.name,
                                allowance=ps.allowance if fixed else None,
                            )
                        )
                        if fixed:
                            grants.append((sale, ps.service, ps.allowance))
                    if not fixed:
                        grants.append((sale, None, sale.credits))
                ClientPackageService.objects.bulk_create(services, batch_size=BATCH)
                CreditLedgerEntry.objects.bulk_create(
                    (
                        CreditLedgerEntry(
                            client_package=sale,
                            kind=LedgerKind.GRANT,
                            quantity=quantity,
                            service=service,
                            reason="Package sold",
                        )
                        for sale, service, quantity in grants
                    ),
                    batch_size=BATCH,
                )
                total += len(sales)
                bar.update(len(sales))
        return f"{total} client packages for {len(extra)} more clients"

    # ------------------------------------------------------------------------ output

    def _print_logins(self, demo_passwords: bool) -> None:
        names = ", ".join(f"{u} ({role})" for u, _, _, role, _ in STAFF)
        if demo_passwords:
            self.stdout.write(f"Staff logins (password {DEMO_PASSWORD!r}): {names}")
        else:
            self.stdout.write(
                f"Staff users: {names}. Their passwords are unusable: set one with "
                "`manage.py changepassword USERNAME`, or seed with --demo-passwords."
            )
