"""Report 5, revenue: invoiced, paid and refunded by month, practitioner, location or item."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from calendar_app.models import Location, Practitioner
from catalog.models import Package, Service
from invoicing.models import (
    CreditNoteLine,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Refund,
)
from invoicing.selectors import MONEY_FIELD
from kernel.money import ZERO
from practice.models import PracticeSettings
from reports.models import RevenueDay

# group_by → the heading of the rows' first column.
REVENUE_GROUPINGS: dict[str, str] = {
    "month": "Month",
    "practitioner": "Practitioner",
    "location": "Location",
    "item": "Service or package",
}
# Grouped by month, a period covers at most this many months (one row each).
MAX_MONTHS = 120
# Finalized invoices: Draft has no number and no issue date yet; Void leaves every total.
FINALIZED = (InvoiceStatus.OPEN, InvoiceStatus.PAID)
OTHER_ITEMS_KEY = "other"
OTHER_ITEMS_LABEL = "Other lines (typed on the invoice)"


@dataclass(frozen=True)
class RevenueRow:
    """One row. `invoiced` is net of tax, `tax` its tax, `total` both; `paid` and
    `refunded` are None when grouped by item (payments are not split by item)."""

    key: str
    label: str
    invoiced: Decimal = ZERO
    tax: Decimal = ZERO
    paid: Decimal | None = ZERO
    refunded: Decimal | None = ZERO
    kind: str = ""  # grouped by item: "Package", "Service" or "" (other lines)

    @property
    def total(self) -> Decimal:
        return self.invoiced + self.tax


@dataclass(frozen=True)
class Revenue:
    start: dt.date
    end: dt.date
    currency: str
    group_by: str
    rows: list[RevenueRow]
    totals: RevenueRow = field(default_factory=lambda: RevenueRow("total", "Total"))

    @property
    def splits_payments(self) -> bool:
        """False when grouped by item: payments and refunds are not split by line."""
        return self.group_by != "item"


def months_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """The first day of each month from `start`'s month to `end`'s, in order."""
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(dt.date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def month_count(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


def month_label(month: dt.date) -> str:
    return month.strftime("%b %Y")


def _pk(value: Any) -> Any:
    return getattr(value, "pk", value)


def _filter(qs: QuerySet, invoice: str, location: Any, practitioner: Any) -> QuerySet:
    """Keep rows whose invoice (reached by the path `invoice`) has the location and the
    practitioner asked for."""
    if location is not None:
        qs = qs.filter(**{f"{invoice}location": _pk(location)})
    if practitioner is not None:
        qs = qs.filter(**{f"{invoice}practitioner": _pk(practitioner)})
    return qs


def _group_fields(group_by: str, invoice: str, date: str) -> dict[str, Any]:
    """The GROUP BY expressions of a query: `k` the key, `name` its label (when it has one).
    `invoice` is the path to the invoice ("" from an invoice, "invoice__" from a line or a
    payment), `date` the path to the date that places a row in a month."""
    if group_by == "month":
        return {"k": TruncMonth(date)}
    if group_by in ("practitioner", "location"):
        return {"k": F(f"{invoice}{group_by}_id"), "name": F(f"{invoice}{group_by}__name")}
    raise ValueError(f"Unknown group_by {group_by!r}")


def _invoiced(
    start: dt.date, end: dt.date, group_by: str, location: Any, practitioner: Any
) -> list[dict[str, Any]]:
    """One GROUP BY query over the lines of finalized invoices issued in the period: their
    stored net, tax and total (invoicing computes them per line, rounded half up, and its
    invoice totals are the same sums)."""
    lines = InvoiceLine.objects.filter(
        invoice__status__in=FINALIZED,
        invoice__issue_date__gte=start,
        invoice__issue_date__lte=end,
    )
    return _net_and_tax(
        lines, "invoice__", "", "invoice__issue_date", group_by, location, practitioner
    )


def _credited(
    start: dt.date, end: dt.date, group_by: str, location: Any, practitioner: Any
) -> list[dict[str, Any]]:
    """One GROUP BY query over the lines of credit notes dated in the period, on
    finalized invoices: their net and tax, taken off what was invoiced (a credit note
    issued in April on a March invoice lowers April). By item: the credited invoice
    line's package or service, else "Other lines"."""
    lines = CreditNoteLine.objects.filter(
        credit_note__invoice__status__in=FINALIZED,
        credit_note__date__gte=start,
        credit_note__date__lte=end,
    )
    return _net_and_tax(
        lines,
        "credit_note__invoice__",
        "invoice_line__",
        "credit_note__date",
        group_by,
        location,
        practitioner,
    )


def _net_and_tax(
    lines: QuerySet,
    invoice: str,
    line: str,
    date: str,
    group_by: str,
    location: Any,
    practitioner: Any,
) -> list[dict[str, Any]]:
    """`lines` (invoice lines, or credit note lines) of the invoices at `invoice` (a
    lookup prefix), filtered by location and practitioner and summed (net, tax) per group:
    per month of `date`, location or practitioner, or per item (the package or service of
    the invoice line at `line`, a lookup prefix)."""
    lines = _filter(lines, invoice, location, practitioner)
    if group_by == "item":
        keys: dict[str, Any] = {
            "package_id": F(f"{line}client_package__package_id"),
            "service_id": F(f"{line}appointment__service_id"),
        }
    else:
        keys = _group_fields(group_by, invoice, date)
    grouped = (
        lines.order_by()
        .values(**keys)
        .annotate(
            net=Sum("net_amount", output_field=MONEY_FIELD),
            tax=Sum("tax_amount", output_field=MONEY_FIELD),
        )
    )
    if group_by == "item":
        # Grouped by the ids alone, named after grouping (a subquery per group, a few
        # dozen): grouping some 180,000 lines of a year by their names too made the sort
        # wide enough to spill to disk, and the plan dear enough to be JIT-compiled.
        grouped = grouped.annotate(
            package_name=Subquery(Package.objects.filter(pk=OuterRef("package_id")).values("name")),
            service_name=Subquery(Service.objects.filter(pk=OuterRef("service_id")).values("name")),
        )
    return list(grouped)


def _paid(
    start: dt.date, end: dt.date, group_by: str, location: Any, practitioner: Any
) -> list[dict[str, Any]]:
    """One GROUP BY query: active payments dated in the period (a voided payment was
    recorded by mistake and leaves every total)."""
    payments = _filter(
        Payment.objects.filter(status=PaymentStatus.ACTIVE, date__gte=start, date__lte=end),
        "invoice__",
        location,
        practitioner,
    )
    return list(
        payments.order_by()
        .values(**_group_fields(group_by, "invoice__", "date"))
        .annotate(amount=Sum("amount", output_field=MONEY_FIELD))
    )


def _refunded(
    start: dt.date, end: dt.date, group_by: str, location: Any, practitioner: Any
) -> list[dict[str, Any]]:
    """One GROUP BY query: refunds dated in the period, of active payments (as
    invoicing's own totals count them; a payment with refunds cannot be voided anyway)."""
    refunds = _filter(
        Refund.objects.filter(payment__status=PaymentStatus.ACTIVE, date__gte=start, date__lte=end),
        "payment__invoice__",
        location,
        practitioner,
    )
    return list(
        refunds.order_by()
        .values(**_group_fields(group_by, "payment__invoice__", "date"))
        .annotate(amount=Sum("amount", output_field=MONEY_FIELD))
    )


# The revenue figures the database keeps (reports.models.RevenueDay, exact: triggers in
# the transaction of every write), by day and by month, each by location and
# practitioner, by location (practitioner 0) and for the practice (both 0). The period is
# read as its whole months (one row each per group) and the days before and after them,
# at the coarsest level the grouping and filters allow: a dozen rows for a year by month.
# Groups are those with at least one line, credit note line, payment or refund (`n`), as
# the four queries of the exact path find them.
_SUMMARY_SQL = """
SELECT {key} AS k, {name} AS name, SUM(d.net), SUM(d.tax), SUM(d.paid), SUM(d.refunded)
FROM {day} d {join}
WHERE {level}
  AND ((d.span = 'm' AND d.day >= %(m_from)s AND d.day <= %(m_to)s)
       OR (d.span = 'd' AND ((d.day >= %(start)s AND d.day < %(d_before)s)
                             OR (d.day > %(d_after)s AND d.day <= %(end)s))))
GROUP BY 1, 2
HAVING SUM(d.n) > 0
"""
_SUMMARY_GROUPS = {
    "month": ("DATE_TRUNC('month', d.day)::date", "NULL", ""),
    "location": ("d.location_id", "g.name", "JOIN {location} g ON g.id = d.location_id"),
    "practitioner": (
        "d.practitioner_id",
        "g.name",
        "JOIN {practitioner} g ON g.id = d.practitioner_id",
    ),
}


def _level(group_by: str, location: Any, practitioner: Any, params: dict[str, Any]) -> str:
    """Which rows of RevenueDay hold the figures asked for, each once."""
    if practitioner is not None:
        params["practitioner"] = _pk(practitioner)
        if location is None:
            return "d.practitioner_id = %(practitioner)s"
        params["location"] = _pk(location)
        return "d.location_id = %(location)s AND d.practitioner_id = %(practitioner)s"
    by_practitioner = (
        "d.practitioner_id <> 0" if group_by == "practitioner" else ("d.practitioner_id = 0")
    )
    if location is not None:
        params["location"] = _pk(location)
        return f"d.location_id = %(location)s AND {by_practitioner}"
    if group_by == "month":
        return "d.location_id = 0 AND d.practitioner_id = 0"
    return f"d.location_id <> 0 AND {by_practitioner}"


def _summary(
    start: dt.date, end: dt.date, group_by: str, location: Any, practitioner: Any
) -> list[dict[str, Any]]:
    """One GROUP BY query over the kept revenue figures: per group `k` (and `name`), what
    was invoiced (`net`, `tax`: lines less credit notes), `paid` and `refunded`."""
    # The whole months of the period (m_from..m_to, their first days; none when
    # m_from > m_to) and the days outside them.
    m_from = start if start.day == 1 else _next_month(start)
    after = _next_month(end)
    last_whole = after if end == after - dt.timedelta(days=1) else end.replace(day=1)
    m_to = _previous_month(last_whole)
    if m_from > m_to:  # no whole month: every day of the period, by day
        d_before, d_after = end + dt.timedelta(days=1), end
    else:
        d_before, d_after = m_from, _next_month(m_to) - dt.timedelta(days=1)
    params: dict[str, Any] = {
        "start": start,
        "end": end,
        "m_from": m_from,
        "m_to": m_to,
        "d_before": d_before,
        "d_after": d_after,
    }
    key, name, join = _SUMMARY_GROUPS[group_by]
    sql = _SUMMARY_SQL.format(
        key=key,
        name=name,
        day=RevenueDay._meta.db_table,
        join=join.format(
            location=Location._meta.db_table, practitioner=Practitioner._meta.db_table
        ),
        level=_level(group_by, location, practitioner, params),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            {"k": k, "name": n, "net": net, "tax": tax, "paid": paid, "refunded": refunded}
            for k, n, net, tax, paid, refunded in cursor.fetchall()
        ]


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _previous_month(first: dt.date) -> dt.date:
    return (first - dt.timedelta(days=1)).replace(day=1)


def _item_key(group: dict[str, Any]) -> tuple[str, str, str]:
    """(key, label, kind) of a line's group: its package, else its appointment's service,
    else the lines typed on invoices."""
    if group["package_id"] is not None:
        return f"package:{group['package_id']}", group["package_name"], "Package"
    if group["service_id"] is not None:
        return f"service:{group['service_id']}", group["service_name"], "Service"
    return OTHER_ITEMS_KEY, OTHER_ITEMS_LABEL, ""


def _month_key(month: dt.date) -> str:
    return month.strftime("%Y-%m")


def _sum(values: Iterable[Decimal | None]) -> Decimal | None:
    values = list(values)
    if any(value is None for value in values):
        return None
    return sum((v for v in values if v is not None), ZERO)


def _add_exact(args: tuple, group_by: str, slot: Callable, key_of: Callable) -> None:
    """Into the rows (`slot(key, label, kind)`), the figures of the four exact queries."""
    for group in _invoiced(*args):
        if group_by == "item":
            key, label, kind = _item_key(group)
            row = slot(key, label, kind)
        else:
            row = slot(*key_of(group))
        row["invoiced"] += group["net"] or ZERO
        row["tax"] += group["tax"] or ZERO
    for group in _credited(*args):
        if group_by == "item":
            key, label, kind = _item_key(group)
            row = slot(key, label, kind)
        else:
            row = slot(*key_of(group))
        row["invoiced"] -= group["net"] or ZERO
        row["tax"] -= group["tax"] or ZERO
    if group_by != "item":
        for group in _paid(*args):
            slot(*key_of(group))["paid"] += group["amount"] or ZERO
        for group in _refunded(*args):
            slot(*key_of(group))["refunded"] += group["amount"] or ZERO


def revenue(
    start: dt.date,
    end: dt.date,
    *,
    group_by: str = "month",
    location: Any = None,
    practitioner: Any = None,
    exact: bool = False,
) -> Revenue:
    """Invoiced, paid and refunded from `start` to `end` (inclusive days, in the
    practice's time zone: the dates below are the practice's own calendar days), grouped
    by "month", "practitioner", "location" or "item".

    - **Invoiced**: invoices finalized (Open or Paid; not Draft, not Void: an invoice
      voided later leaves the report) whose issue date is in the period, as the
      invoicing app totals them: the sum of their lines' stored net, tax and total
      (each line rounded half up when it was added), less the credit notes dated in the
      period (their net and tax; issue 13). `invoiced` is net of tax, `tax` the tax,
      `total` both.
    - **Paid**: active payments (not voided) dated in the period, whatever the invoice's
      date: a payment in April of a March invoice counts in April.
    - **Refunded**: refunds dated in the period.

    By practitioner or location: the invoice's (for payments and refunds, the invoice
    they were paid against). By item: the invoice line's catalog package (package
    lines), else its appointment's service, else "Other lines"; payments and refunds
    are not split by item, so `paid` and `refunded` are None. By month: one row for each
    month the period touches (the first and last may be part months), zero when nothing
    happened; other groupings list only what has figures, by name.

    `location` and `practitioner` (objects or ids) keep invoices, payments and refunds
    by their invoice's. A row `totals` adds up the rows.

    By month, location or practitioner: one GROUP BY query over the revenue days the
    database keeps (`RevenueDay`, the same sums, exact); by item, or with `exact` (the
    tests' reference), four GROUP BY queries (two by item) over the lines, credit notes,
    payments and refunds themselves. Plus the practice's settings, whatever the data size.
    """
    if group_by not in REVENUE_GROUPINGS:
        raise ValueError(f"Unknown group_by {group_by!r}")
    if end < start:
        raise ValueError("The end date is before the start date.")
    if group_by == "month" and month_count(start, end) > MAX_MONTHS:
        raise ValueError(f"Grouped by month, a period covers at most {MAX_MONTHS} months.")
    currency = PracticeSettings.load().currency
    args = (start, end, group_by, location, practitioner)

    # key -> {"label", "kind", "invoiced", "tax", "paid", "refunded"}
    figures: dict[str, dict[str, Any]] = {}

    def slot(key: str, label: str, kind: str = "") -> dict[str, Any]:
        return figures.setdefault(
            key,
            {
                "label": label,
                "kind": kind,
                "invoiced": ZERO,
                "tax": ZERO,
                "paid": ZERO,
                "refunded": ZERO,
            },
        )

    def key_of(group: dict[str, Any]) -> tuple[str, str]:
        if group_by == "month":
            return _month_key(group["k"]), month_label(group["k"])
        return str(group["k"]), group["name"]

    if group_by == "month":
        for month in months_between(start, end):
            slot(_month_key(month), month_label(month))
    if group_by != "item" and not exact:
        for group in _summary(*args):
            row = slot(*key_of(group))
            row["invoiced"] += group["net"]
            row["tax"] += group["tax"]
            row["paid"] += group["paid"]
            row["refunded"] += group["refunded"]
    else:
        _add_exact(args, group_by, slot, key_of)

    splits = group_by != "item"
    rows = [
        RevenueRow(
            key=key,
            label=values["label"],
            invoiced=values["invoiced"],
            tax=values["tax"],
            paid=values["paid"] if splits else None,
            refunded=values["refunded"] if splits else None,
            kind=values["kind"],
        )
        for key, values in figures.items()
    ]
    if group_by == "month":
        rows.sort(key=lambda row: row.key)
    else:
        # By name; "Other lines" last.
        rows.sort(key=lambda row: (row.key == OTHER_ITEMS_KEY, row.label.casefold(), row.key))
    totals = RevenueRow(
        key="total",
        label="Total",
        invoiced=sum((row.invoiced for row in rows), ZERO),
        tax=sum((row.tax for row in rows), ZERO),
        paid=_sum(row.paid for row in rows) if splits else None,
        refunded=_sum(row.refunded for row in rows) if splits else None,
    )
    return Revenue(
        start=start, end=end, currency=currency, group_by=group_by, rows=rows, totals=totals
    )


class MonthRevenue(NamedTuple):
    month: dt.date  # its first day
    invoiced: Decimal  # net of tax, as in the report
    paid: Decimal  # active payments dated in the month (refunds not taken off)
    invoiced_total: Decimal = ZERO  # invoiced including tax, comparable with paid


def revenue_by_month(
    months: int = 12, on: dt.date | None = None, *, exact: bool = False
) -> list[MonthRevenue]:
    """For the dashboard: the last `months` months up to and including the month of
    `on` (default today in the practice's time zone), oldest first, each with what was
    invoiced (net of tax, and including tax: finalized invoices by issue date) and paid
    (active payments by date, tax included), counted as in `revenue` (credit notes taken
    off what was invoiced in their month). Months with nothing are 0.00. One query over
    the kept revenue figures (`RevenueDay`); three over the rows themselves with `exact`
    (the tests' reference)."""
    if months < 1:
        raise ValueError("months must be 1 or more")
    on = on or timezone.localdate()
    first = on.replace(day=1)
    index = first.year * 12 + first.month - 1 - (months - 1)
    start = dt.date(index // 12, index % 12 + 1, 1)
    if not exact:
        found = {g["k"]: g for g in _summary(start, on, "month", None, None)}
        return [
            MonthRevenue(month, g["net"], g["paid"], g["net"] + g["tax"])
            if (g := found.get(month))
            else MonthRevenue(month, ZERO, ZERO, ZERO)
            for month in months_between(start, on)
        ]
    invoiced = {g["k"]: g for g in _invoiced(start, on, "month", None, None)}
    paid = {g["k"]: g["amount"] or ZERO for g in _paid(start, on, "month", None, None)}
    credited = {g["k"]: g for g in _credited(start, on, "month", None, None)}
    rows = []
    for month in months_between(start, on):
        net = (invoiced.get(month) or {}).get("net") or ZERO
        tax = (invoiced.get(month) or {}).get("tax") or ZERO
        net -= (credited.get(month) or {}).get("net") or ZERO
        tax -= (credited.get(month) or {}).get("tax") or ZERO
        rows.append(MonthRevenue(month, net, paid.get(month, ZERO), net + tax))
    return rows


__all__ = [
    "MAX_MONTHS",
    "REVENUE_GROUPINGS",
    "MonthRevenue",
    "Revenue",
    "RevenueRow",
    "month_count",
    "revenue",
    "revenue_by_month",
]
