"""Report 6, the dashboard: the landing page of Reports, one screen with the liability
today, what expires in the next 30 days, receivables by age and revenue by month. Each
figure comes from its report's own selector, so the dashboard and the reports agree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from kernel.money import ZERO
from practice.models import PracticeSettings
from reports.selectors.expiring import expiry_days, sum_totals
from reports.selectors.liability import Liability, package_liability
from reports.selectors.receivables import AgedReceivables, aged_receivables
from reports.selectors.revenue import MonthRevenue, revenue_by_month

# The next 30 days in four slices: (key, label, first day, last day) after today.
EXPIRY_SLICES = (
    ("w1", "0–7 days", 0, 7),
    ("w2", "8–14 days", 8, 14),
    ("w3", "15–21 days", 15, 21),
    ("w4", "22–30 days", 22, 30),
)


@dataclass(frozen=True)
class ExpiringSlice:
    label: str
    count: int
    credits: int
    value: Decimal


@dataclass(frozen=True)
class Dashboard:
    on: dt.date
    currency: str
    liability: Liability  # this month so far: its closing balance is the liability today
    expiring: list[ExpiringSlice]
    receivables: AgedReceivables
    revenue: list[MonthRevenue]

    @property
    def expiring_total(self) -> ExpiringSlice:
        return ExpiringSlice(
            "Next 30 days",
            sum(s.count for s in self.expiring),
            sum(s.credits for s in self.expiring),
            sum((s.value for s in self.expiring), ZERO),
        )


def expiring_by_week(on: dt.date, *, prices_include_tax: bool | None = None) -> list[ExpiringSlice]:
    """Packages of `expiring_packages(on, 30)` in four slices by days left: count, usable
    credits and their value, from the expiry-date summary (`expiry_days`). One query
    (and the practice's settings when `prices_include_tax` is not given)."""
    if prices_include_tax is None:
        prices_include_tax = PracticeSettings.load().prices_include_tax
    days = expiry_days(on, on + dt.timedelta(days=30), prices_include_tax=prices_include_tax)
    slices = []
    for _, label, first, last in EXPIRY_SLICES:
        got = sum_totals(
            totals
            for day, totals in days.items()
            if on + dt.timedelta(days=first) <= day <= on + dt.timedelta(days=last)
        )
        slices.append(ExpiringSlice(label, got.count, got.credits, got.value))
    return slices


def dashboard(on: dt.date | None = None) -> Dashboard:
    """The four panels for `on` (default: the practice's today). A fixed number of
    queries, whatever the data size."""
    on = on or timezone.localdate()
    practice = PracticeSettings.load()
    return Dashboard(
        on=on,
        currency=practice.currency,
        liability=package_liability(on.replace(day=1), on),
        expiring=expiring_by_week(on, prices_include_tax=practice.prices_include_tax),
        receivables=aged_receivables(on),
        revenue=revenue_by_month(12, on),
    )
