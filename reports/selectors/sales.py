"""Report 3, package sales: count, credits and revenue by package, by month or by seller."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from catalog.models import Package
from kernel.money import ZERO, to_money
from packages.models import ClientPackage, CreditLedgerEntry, LedgerKind
from practice.models import PracticeSettings
from reports.models import SaleDay
from reports.selectors.liability import _midnight, package_invoice_filter

SALES_GROUPS = ("package", "month", "seller")
UNKNOWN_SELLER = "Unknown"


@dataclass(frozen=True)
class SalesRow:
    """One group: `key` is the catalog package's id (by package), the first day of the
    month (by month) or the seller's user id (by seller; None when unknown)."""

    key: int | dt.date | None
    label: str
    count: int
    credits: int
    revenue: Decimal


@dataclass(frozen=True)
class SalesTotal:
    count: int
    credits: int
    revenue: Decimal


@dataclass(frozen=True)
class PackageSales:
    currency: str
    start: dt.date
    end: dt.date
    group_by: str
    rows: list[SalesRow]
    total: SalesTotal


# One statement. `cp`: each client package's sale, on the day its grant was recorded
# (the first grant row: a fixed package writes one per service, together), with the
# credits granted (rows read from the index `ledger_grant` alone). Packages are joined
# and filtered before the grouping, where the planner can count them: after it, it
# guesses a few hundred packages from the HAVING (there can be 150,000) and chose one
# index lookup per package. `s` groups the sales of the period; the names are joined to
# the few groups last.
_SQL = """
WITH cp AS (
    SELECT c.id, c.package_id, c.created_by_id, c.price, tr.rate,
           MIN(l.created_at) AS t, SUM(l.quantity) AS n
    FROM {led} l
    JOIN {cp} c ON c.id = l.client_package_id
    LEFT JOIN {tr} tr ON tr.id = c.tax_rate_id
    WHERE l.kind = %(grant)s {where}
    GROUP BY c.id, tr.id
    HAVING MIN(l.created_at) >= %(start_t)s AND MIN(l.created_at) < %(end_t)s
), s AS (
    SELECT {key} AS key,
           COUNT(*) AS count,
           SUM(cp.n) AS credits,
           -- net of tax: the rule of package_liability
           SUM(CASE WHEN %(incl)s AND cp.rate IS NOT NULL
                    THEN cp.price - ROUND(cp.price * cp.rate / (100 + cp.rate), 2)
                    ELSE cp.price END) AS revenue
    FROM cp
    GROUP BY 1
)
SELECT s.key, {labels}, s.count, s.credits, s.revenue
FROM s
{join}
"""

# By group: the key, the columns naming it and the join that brings them.
_GROUPS = {
    "package": ("cp.package_id", "p.name, NULL, NULL", "JOIN {pkg} p ON p.id = s.key"),
    "month": ("DATE_TRUNC('month', cp.t AT TIME ZONE %(tz)s)::date", "NULL, NULL, NULL", ""),
    "seller": (
        "cp.created_by_id",
        "u.first_name, u.last_name, u.username",
        "LEFT JOIN {user} u ON u.id = s.key",
    ),
}


# Unfiltered, from the sale days (`SaleDay`, kept by triggers: one row per local day,
# catalog package and seller): at most a few rows per day of the period, whatever the
# number of packages sold. The key and labels of `_GROUPS`, from `d` instead of `cp`.
_SUMMARY_SQL = """
WITH s AS (
    SELECT {key} AS key, SUM(d.n) AS count, SUM(d.credits) AS credits,
           SUM(CASE WHEN %(incl)s THEN d.rev_in ELSE d.rev_ex END) AS revenue
    FROM {day} d
    WHERE d.day >= %(start)s AND d.day <= %(end)s
    GROUP BY 1
    HAVING SUM(d.n) > 0
), r AS (
    SELECT s.key, {labels}, s.count, s.credits, s.revenue
    FROM s
    {join}
)
-- First column: whether the days were judged in the zone asked for; a row even when
-- nothing was sold (its other columns NULL).
SELECT reports_sales_zone() = %(tz)s, r.* FROM (VALUES (0)) v LEFT JOIN r ON TRUE
"""
_SUMMARY_KEYS = {
    "package": "d.package_id",
    "month": "DATE_TRUNC('month', d.day)::date",
    "seller": "d.seller_id",
}


def _months(start: dt.date, end: dt.date) -> list[dt.date]:
    months, month = [], start.replace(day=1)
    while month <= end:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def _seller_name(first: str | None, last: str | None, username: str | None) -> str:
    if username is None:
        return UNKNOWN_SELLER
    return f"{first or ''} {last or ''}".strip() or username


def package_sales(
    start: dt.date,
    end: dt.date,
    *,
    location=None,
    practitioner=None,
    group_by: str,
    exact: bool = False,
) -> PackageSales:
    """Client packages sold from `start` to `end` (inclusive days in the practice's time
    zone), grouped by catalog package, by month or by who sold them (`group_by`:
    "package", "month" or "seller"): for each group the number of packages sold, their
    credits as sold (the grant; later adjustments are not sales) and their revenue, net
    of tax. Two queries (the practice's settings, one GROUP BY), whatever the data size
    (three when the kept sales were judged in another zone).

    Unfiltered, the sums come from the sale days the database keeps (`SaleDay`: per
    local day, catalog package and seller; exact, kept by triggers), when they were
    judged in the current time zone; filtered (a package's invoice can change, and the
    filters look at every non-void invoice of it), or with `exact` (the tests' reference),
    from the credit ledger itself.

    A sale counts on the day its grant was recorded in the credit ledger (the first grant
    row), whatever its start date, as "Sold" in `package_liability`. Canceled packages
    still count: they were sold. Revenue is the client package's amount (`price`) net of
    tax by the rule of `package_liability`: the amount itself when prices exclude tax or
    the package has no tax rate, else price − round(price × rate ÷ (100 + rate), 2).
    So the totals equal the liability's Sold credits and value for the same period and
    filters, except for a package sold with an expiry date already past (a backdated
    start): it is a sale here but never held value there.

    Rows: by package, the catalog package's current name; by month, every month the
    period touches, in order, months without sales included (0); by seller,
    `ClientPackage.created_by`'s name, "Unknown" when not recorded. Package and seller
    rows come by revenue, highest first, then by name. Filters select whole packages,
    as in `package_liability`: the location (practitioner) of the package's current,
    non-void invoice; a package never invoiced is in the unfiltered report only.
    """
    if end < start:
        raise ValueError("end is before start")
    if group_by not in SALES_GROUPS:
        raise ValueError(f"group_by is one of {', '.join(SALES_GROUPS)}")
    practice = PracticeSettings.load()
    tables = {
        "day": SaleDay._meta.db_table,
        "led": CreditLedgerEntry._meta.db_table,
        "cp": ClientPackage._meta.db_table,
        "tr": ClientPackage._meta.get_field("tax_rate").related_model._meta.db_table,
        "pkg": Package._meta.db_table,
        "user": get_user_model()._meta.db_table,
    }
    params: dict[str, Any] = {
        "grant": LedgerKind.GRANT.value,
        "incl": practice.prices_include_tax,
        "tz": settings.TIME_ZONE,
        "start": start,
        "end": end,
        "start_t": _midnight(start),
        "end_t": _midnight(end + dt.timedelta(days=1)),
    }
    key, labels, join = _GROUPS[group_by]
    found = None
    with connection.cursor() as cursor:
        if not exact and location is None and practitioner is None:
            # The sale days kept by the database (reports.models.SaleDay): the same sums,
            # when they were judged in the practice's zone.
            sql = _SUMMARY_SQL.format(
                key=_SUMMARY_KEYS[group_by], labels=labels, join=join.format(**tables), **tables
            )
            cursor.execute(sql, params)
            kept = cursor.fetchall()
            if kept[0][0]:
                found = [row[1:] for row in kept if row[5] is not None]
        if found is None:
            where = package_invoice_filter("c", location, practitioner, params)
            sql = _SQL.format(
                key=key, labels=labels, join=join.format(**tables), where=where, **tables
            )
            cursor.execute(sql, params)
            found = cursor.fetchall()

    rows = [
        SalesRow(
            key=row[0],
            label=(
                _seller_name(row[1], row[2], row[3])
                if group_by == "seller"
                else row[1]
                if group_by == "package"
                else ""
            ),
            count=int(row[4]),
            credits=int(row[5] or 0),
            revenue=to_money(row[6] or ZERO),
        )
        for row in found
    ]
    if group_by == "month":
        by_month = {row.key: row for row in rows}
        rows = [
            SalesRow(
                key=month,
                label=f"{month:%B %Y}",
                count=by_month[month].count if month in by_month else 0,
                credits=by_month[month].credits if month in by_month else 0,
                revenue=by_month[month].revenue if month in by_month else ZERO,
            )
            for month in _months(start, end)
        ]
    else:
        rows.sort(
            key=lambda row: (-row.revenue, row.label.casefold(), row.key is None, row.key or 0)
        )
    total = SalesTotal(
        count=sum(row.count for row in rows),
        credits=sum(row.credits for row in rows),
        revenue=sum((row.revenue for row in rows), ZERO),
    )
    return PackageSales(
        currency=practice.currency,
        start=start,
        end=end,
        group_by=group_by,
        rows=rows,
        total=total,
    )
