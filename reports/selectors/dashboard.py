"""Report 6, the dashboard: the landing page of Reports, one screen with the liability
today, what expires in the next 30 days, receivables by age and revenue by month. Each
figure comes from its report's own selector, so the dashboard and the reports agree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Case, CharField, Count, Sum, Value, When
from django.utils import timezone

from kernel.money import ZERO, to_money
from practice.models import PracticeSettings
from reports.selectors.expiring import expiring_packages
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


def expiring_by_week(on: dt.date) -> list[ExpiringSlice]:
    """Packages of `expiring_packages(on, 30)` in four slices by days left: count, usable
    credits and their value. One GROUP BY query (and the practice's settings)."""
    grouped = (
        expiring_packages(on, 30)
        .order_by()
        .annotate(
            slice=Case(
                *(
                    When(expires_on__lte=on + dt.timedelta(days=last), then=Value(key))
                    for key, _, _, last in EXPIRY_SLICES
                ),
                output_field=CharField(),
            ),
        )
        .values("slice")
        .annotate(n=Count("id"), c=Sum("remaining_credits"), v=Sum("remaining_value"))
    )
    found: dict[str, dict[str, Any]] = {g["slice"]: dict(g) for g in grouped}
    empty: dict[str, Any] = {}
    return [
        ExpiringSlice(
            label,
            found.get(key, empty).get("n") or 0,
            found.get(key, empty).get("c") or 0,
            to_money(found.get(key, empty).get("v") or 0),
        )
        for key, label, _, _ in EXPIRY_SLICES
    ]


def dashboard(on: dt.date | None = None) -> Dashboard:
    """The four panels for `on` (default: the practice's today). A fixed number of
    queries, whatever the data size."""
    on = on or timezone.localdate()
    return Dashboard(
        on=on,
        currency=PracticeSettings.load().currency,
        liability=package_liability(on.replace(day=1), on),
        expiring=expiring_by_week(on),
        receivables=aged_receivables(on),
        revenue=revenue_by_month(12, on),
    )
