"""The first clients' history, written through the services (`by=None`), so it obeys
every rule: packages sold in the past months in every status (Active, Completed,
Expired, Canceled; some extended, some adjusted), their sessions booked and linked week
by week, a busy month of pay-per-visit appointments around today (the past two weeks
Arrived or Missed, the next two Booked, some Canceled) and two repeating series.

Services refuse what the rules forbid, so: a past appointment is never Canceled (it is
marked Missed), and an Expired package has no linked sessions (linking checks the
package's status today). What should be invoiced is collected in `invoice_plans` for
`demo.invoices`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.utils import timezone

from calendar_app.models import Appointment, AppointmentStatus, Practitioner
from calendar_app.services import (
    appointment_book,
    appointment_book_series,
    appointment_cancel,
    appointment_mark_arrived,
    appointment_mark_missed,
)
from catalog.models import PackageKind, PeriodUnit, Service
from clients.models import Client
from demo.context import Demo, progress
from demo.data import (
    BUSY_PRACTICE_CLIENTS,
    CANCEL_PACKAGE_REASONS,
    FIXED_SCENARIOS,
    PACKAGES,
    SHOWCASE_BOOKED,
    SHOWCASE_CLASS,
    SHOWCASE_ON_PASS,
    Scenario,
)
from demo.reference import Reference
from kernel.errors import DomainError
from packages.models import ClientPackage
from packages.services import (
    client_package_adjust,
    client_package_assign,
    client_package_cancel,
    client_package_extend_expiry,
)


@dataclass
class InvoicePlan:
    """An invoice to raise: for a package sale or a visit, and what becomes of it
    (paid | part | unpaid | draft | void)."""

    issue_date: dt.date
    kind: str  # package | appointment
    subject: ClientPackage | Appointment
    outcome: str


class History:
    def __init__(self, demo: Demo, ref: Reference) -> None:
        self.ref = ref
        self.rng = demo.rng
        self.today = demo.today
        self.now = demo.now
        self.busy: dict[tuple[int, dt.date], list[tuple[int, int]]] = defaultdict(list)
        self.counts: Counter[str] = Counter()
        self.invoice_plans: list[InvoicePlan] = []
        self.canceled_packages: list[ClientPackage] = []

    def run(self, clients: list[Client]) -> str:
        """Play the history of `clients` (the first, current ones); return a summary."""
        holders = clients[: max(len(FIXED_SCENARIOS), int(len(clients) * 0.45))]
        with progress(total=len(clients), desc="History", unit="client") as bar:
            for n, client in enumerate(holders):
                if n < len(FIXED_SCENARIOS):
                    scenario = FIXED_SCENARIOS[n]
                else:
                    scenario = self.random_scenario()
                self._play(client, scenario)
                bar.update()
            self._fill_month(clients, bar)
            bar.update(len(clients) - len(holders))
        self._repeating(clients)
        self._class(clients)
        c = self.counts
        return (
            f"{c['packages']} client packages ({c['canceled']} canceled, {c['extended']} "
            f"extended, {c['adjusted']} adjusted), {c['appointments']} appointments "
            f"({c['linked']} linked, {c['arrived']} arrived, {c['missed']} missed, "
            f"{c['appt_canceled']} canceled), {c['series']} repeating series"
        )

    def random_scenario(self) -> Scenario:
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
        spec = self.ref.package_specs[scenario.package]
        practitioner = self.ref.practitioners[spec.practitioner]
        start = self.today - dt.timedelta(days=scenario.started_days_ago)
        sold = client_package_assign(
            client=client, package=self.ref.packages[spec.name], start_date=start, by=None
        )
        self.counts["packages"] += 1
        # Sessions in the order a fixed package would use them (initial first).
        plan = [name for name, n in spec.services.items() for _ in range(n or spec.credits)]
        if spec.kind == PackageKind.FLEXIBLE:
            self.rng.shuffle(plan)
        services = iter(self.ref.services[name] for name in plan)
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
                service=self.ref.services[plan[-1]] if spec.kind == PackageKind.FIXED else None,
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
            self.invoice_plans.append(InvoicePlan(start, "package", sold, scenario.invoice))
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
            for practitioner in self.ref.practitioners.values():
                for _ in range(max(1, round(rng.randrange(4, 8) * scale))):
                    service = rng.choice(self.ref.provides[practitioner.pk])
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
                            appointment=appointment, reason=rng.choice(self.ref.reasons), by=None
                        )
                        self.counts["appt_canceled"] += 1
                    elif appointment.status == AppointmentStatus.ARRIVED:
                        # The first visit's invoice goes to the wrong client: voided.
                        outcome = "void" if void_one else self._visit_invoice(day)
                        void_one = False
                        self.invoice_plans.append(
                            InvoicePlan(day, "appointment", appointment, outcome)
                        )
        # Some upcoming package sessions are canceled: most give the credit back, a late
        # cancellation keeps it.
        upcoming = Appointment.objects.filter(
            starts_at__gt=self.now, client_package__isnull=False
        ).order_by("pk")
        for appointment in upcoming:
            if rng.random() < 0.15:
                appointment_cancel(
                    appointment=appointment,
                    reason=rng.choice(self.ref.reasons),
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
        liam = self.ref.practitioners["liam.oconnor"]
        class_ = self.ref.services["Clinical pilates class"]
        for client, weekday in zip(clients[-2:], (1, 3), strict=True):
            day = self.today + dt.timedelta(days=(weekday - self.today.weekday()) % 7 + 7)
            starts_at = self._at(day, 7 * 60)
            try:
                appointment_book_series(
                    client=client,
                    practitioner=liam,
                    location=self.ref.home[liam.pk],
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

    def _class(self, clients: list[Client]) -> None:
        """The clinical pilates class of the next working day (08:45 when free): 6 of 8
        places taken, the first 4 attendees on a 10-class pass of their own, sold today."""
        service_name, pass_name, minute = SHOWCASE_CLASS
        class_ = self.ref.services[service_name]
        spec = self.ref.package_specs[pass_name]
        liam = self.ref.practitioners[spec.practitioner]
        day = self.today + dt.timedelta(days=1)
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        busy = self.busy[(liam.pk, day)]
        end = minute + class_.duration_minutes
        free = all(end <= b_start or minute >= b_end for b_start, b_end in busy)
        starts_at = self._at(day, minute) if free else self._free_slot(liam, day, class_)
        if starts_at is None:
            return
        booked = 0
        # Not the two clients of the repeating series (the last two).
        for client in [c for c in clients[:-2] if not c.archived][-SHOWCASE_BOOKED:]:
            sold = None
            if booked < SHOWCASE_ON_PASS:
                sold = client_package_assign(
                    client=client,
                    package=self.ref.packages[pass_name],
                    start_date=self.today,
                    by=None,
                )
                self.counts["packages"] += 1
                self.invoice_plans.append(InvoicePlan(self.today, "package", sold, "paid"))
            try:
                appointment_book(
                    client=client,
                    practitioner=liam,
                    location=self.ref.home[liam.pk],
                    service=class_,
                    starts_at=starts_at,
                    client_package=sold,
                    by=None,
                )
            except DomainError:
                continue
            booked += 1
            self.counts["appointments"] += 1
            self.counts["linked"] += sold is not None
        self._mark_busy(liam, starts_at, class_)

    # -------------------------------------------------------------- calendar helpers

    def _at(self, day: dt.date, minutes: int) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60)))

    def _mark_busy(
        self, practitioner: Practitioner, starts_at: dt.datetime, service: Service
    ) -> None:
        local = timezone.localtime(starts_at)
        minute = local.hour * 60 + local.minute
        self.busy[(practitioner.pk, local.date())].append(
            (minute, minute + service.duration_minutes)
        )

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
                    location=self.ref.home[practitioner.pk],
                    service=service,
                    starts_at=starts_at,
                    client_package=client_package,
                    by=None,
                )
            except DomainError:
                continue
            self._mark_busy(practitioner, starts_at, service)
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
