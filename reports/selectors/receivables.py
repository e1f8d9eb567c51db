"""Report 4, aged receivables: Open invoices by days overdue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    DateField,
    F,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat
from django.db.models.query import RawQuerySet

from clients.models import Client
from invoicing.models import Invoice, InvoiceStatus
from invoicing.selectors import invoice_balances_sql, invoices_with_totals
from kernel.money import ZERO
from practice.models import PracticeSettings
from reports.models import InvoiceBalance, ReceivableDay

# ------------------------------------------------------------ aged receivables (report 4)

AGE_BUCKETS: dict[str, str] = {
    "current": "Current",
    "d1_30": "1–30 days",
    "d31_60": "31–60 days",
    "d61_90": "61–90 days",
    "d90_plus": "Over 90 days",
}


@dataclass(frozen=True)
class BucketTotal:
    count: int
    balance: Decimal


@dataclass(frozen=True)
class AgedReceivables:
    on: dt.date
    currency: str
    buckets: dict[str, BucketTotal]
    total: BucketTotal
    location: Any = None
    practitioner: Any = None

    @cached_property
    def rows(self) -> QuerySet[Invoice]:
        """The invoices as a lazy queryset (see `aged_receivables`), built when read."""
        return _queries(self)[0]

    @cached_property
    def every_row(self) -> RawQuerySet:
        """Every row at once (the CSV): the invoices of `rows`, in their order, with
        `client_name`, `days_overdue`, `bucket` and `balance` (no other totals), their
        balances grouped once (`invoice_balances_sql`) instead of computed row by row:
        one query, unrun until read."""
        return _queries(self)[1]

    @cached_property
    def listed(self) -> KeptRows:
        """The rows of `rows` for a page (`ReceivableRow`s), read from the kept balances:
        one query per slice, no queryset to build."""
        return KeptRows(self)


class ReceivableRow(NamedTuple):
    """An invoice of the report, with the attributes of a row of `rows` a page shows."""

    pk: int
    number: str
    due_date: dt.date | None
    client_id: int
    client_name: str
    days_overdue: int | None
    balance: Decimal

    @property
    def bucket(self) -> str:
        return bucket_of(self.days_overdue)


def bucket_of(days_overdue: int | None) -> str:
    """The key of `AGE_BUCKETS` of an invoice this many days overdue (None: no due date)."""
    if days_overdue is None or days_overdue <= 0:
        return "current"
    if days_overdue <= 30:
        return "d1_30"
    if days_overdue <= 60:
        return "d31_60"
    return "d61_90" if days_overdue <= 90 else "d90_plus"


# The report's invoices from the kept balances (reports.models.InvoiceBalance): the open
# invoices by due date (index `invoice_open_due`), each joined to its balance by key.
_KEPT_ROWS = """
SELECT i.id, i.number, i.due_date, i.client_id, CONCAT(c.first_name, ' ', c.last_name),
       %(on)s::date - i.due_date, b.balance
FROM {invoice} i
JOIN {balance} b ON b.invoice_id = i.id
JOIN {client} c ON c.id = i.client_id
WHERE i.status = 'open' AND b.balance > 0 {where}
ORDER BY i.due_date ASC NULLS LAST, i.number ASC, i.id ASC
LIMIT %(limit)s OFFSET %(offset)s
"""


class KeptRows:
    """The report's invoices for a Paginator: `count()` is the totals' (no query), a slice
    one query (LIMIT and OFFSET over the open invoices in order)."""

    def __init__(self, report: AgedReceivables):
        self.report = report

    def count(self) -> int:
        return self.report.total.count

    def __len__(self) -> int:
        return self.report.total.count

    def __getitem__(self, k: slice) -> list[ReceivableRow]:
        if not isinstance(k, slice) or k.step is not None:
            raise TypeError("KeptRows takes a slice")
        start = k.start or 0
        stop = self.report.total.count if k.stop is None else k.stop
        if stop <= start:
            return []
        params: dict[str, Any] = {"on": self.report.on, "limit": stop - start, "offset": start}
        where = ""
        for column, value in (
            ("location_id", self.report.location),
            ("practitioner_id", self.report.practitioner),
        ):
            if value is not None:
                where += f" AND i.{column} = %({column})s"
                params[column] = getattr(value, "pk", value)
        sql = _KEPT_ROWS.format(
            invoice=Invoice._meta.db_table,
            balance=InvoiceBalance._meta.db_table,
            client=Client._meta.db_table,
            where=where,
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [ReceivableRow._make(row) for row in cursor.fetchall()]


def _invoice_filters(qs: QuerySet[Invoice], location, practitioner) -> QuerySet[Invoice]:
    if location is not None:
        qs = qs.filter(location=getattr(location, "pk", location))
    if practitioner is not None:
        qs = qs.filter(practitioner=getattr(practitioner, "pk", practitioner))
    return qs


# Most overdue first; the index `invoice_open_due` holds open invoices in this order.
ORDER = (F("due_date").asc(nulls_last=True), "number", "id")
# A slice of the rows starting past this many rows is read in two steps (`_ReceivableRows`).
WALK_ROWS = 500


class _ReceivableRows(QuerySet[Invoice]):
    """The report's rows: a queryset that pages in time whatever the page.

    - `count()` is known from the totals query (the invoices it counted are exactly the
      rows), so a Paginator does not compute every open invoice's balance again.
    - A slice starting in the first `WALK_ROWS` rows (the first pages) is one ordinary
      query: it walks the open invoices by due date (index `invoice_open_due`), computes
      each one's balance, and stops at the slice's end.
    - A slice starting further would compute the totals of every row it skips (PostgreSQL
      computes the columns of the rows an OFFSET skips). Its ids come first, from a subquery of
      the invoices with a balance above 0 (`invoice_balances_sql`, each table grouped
      once), and only those rows are read with their totals: still one query.

    Anything made from it (a filter, a page) is an ordinary queryset again: it counts
    itself and slices in one step.
    """

    known_count: int | None = None
    ids_in_order: QuerySet[Any, Any] | None = None  # their ids in order, a values("pk")

    def count(self) -> int:
        if self.known_count is not None:
            return self.known_count
        return super().count()

    def __getitem__(self, k):
        if (
            self.ids_in_order is not None
            and self._result_cache is None
            and isinstance(k, slice)
            and k.step is None
            and (k.start or 0) >= WALK_ROWS
        ):
            return self.filter(pk__in=self.ids_in_order[k])
        return super().__getitem__(k)


# The totals by age from the kept receivables: the rows of one location and practitioner,
# of one location (practitioner 0) or of the practice (both 0), one per due date.
_KEPT_TOTALS = """
SELECT CASE WHEN d.due_date IS NULL OR %(on)s::date - d.due_date <= 0 THEN 'current'
            WHEN %(on)s::date - d.due_date <= 30 THEN 'd1_30'
            WHEN %(on)s::date - d.due_date <= 60 THEN 'd31_60'
            WHEN %(on)s::date - d.due_date <= 90 THEN 'd61_90'
            ELSE 'd90_plus' END,
       SUM(d.n), SUM(d.balance)
FROM {table} d
WHERE {level}
GROUP BY 1
"""


def _kept_totals(on: dt.date, location, practitioner) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"on": on, "location": 0, "practitioner": 0}
    level = "d.location_id = %(location)s AND d.practitioner_id = %(practitioner)s"
    if location is not None:
        params["location"] = getattr(location, "pk", location)
    if practitioner is not None:
        params["practitioner"] = getattr(practitioner, "pk", practitioner)
        if location is None:
            level = "d.practitioner_id = %(practitioner)s"
    return _KEPT_TOTALS.format(table=ReceivableDay._meta.db_table, level=level), params


def aged_receivables(
    on: dt.date, *, location=None, practitioner=None, exact: bool = False
) -> AgedReceivables:
    """Open invoices with a balance above 0, by days overdue on `on` (`on` minus the due
    date): current (not yet due: due on `on` or later, or no due date), 1–30, 31–60,
    61–90 and over 90 days. The balance is the invoicing app's own
    (`invoicing.selectors.invoices_with_totals`: lines' totals minus active payments
    net of their refunds, minus credit notes). Drafts, Paid and Void invoices are left
    out.

    `listed` (what the page shows) is the same rows as `ReceivableRow`s read from the
    kept balances, for a Paginator: its count is the totals', a page one query.

    `rows` (built when read) is a lazy queryset, most overdue first, each invoice annotated with
    `client_name`, `days_overdue` (negative when not yet due) and `bucket` (a key of
    `AGE_BUCKETS`), plus the invoicing annotations (`total`, `amount_paid`, `balance`).
    Page it with Django's Paginator: its count is the totals' (no query), its page one
    query that walks the open invoices by due date (index `invoice_open_due`) and stops
    at the page's last row.

    The totals per bucket (and their sum, overall) come from one GROUP BY query over
    the receivables the database keeps (`reports.models.ReceivableDay`: open invoices
    with a balance above 0 by due date, location and practitioner, kept exact by
    triggers; a few hundred rows). With `exact` (the tests' reference) they come from
    `invoicing.selectors.invoice_balances_sql` instead (lines, payments, refunds and
    credit notes each grouped once; the same sums, so the same balances to the cent).
    Two queries in all (the practice's settings, the totals), whatever the data size.
    Filters: the invoice's location and practitioner.
    """
    practice = PracticeSettings.load()
    if exact:
        qs, aged, _ = _aged(on, location, practitioner)
        # One GROUP BY query: each open invoice's bucket (the annotation of `_aged`,
        # compiled by Django) joined to its balance, grouped once per table.
        invoices_sql, invoices_params = (
            aged.order_by().values(invoice=F("pk"), age=F("bucket")).query.sql_with_params()
        )
        balances_sql, balances_params = invoice_balances_sql(qs)
        sql = f"""
            SELECT i.age, COUNT(*), SUM(b.balance)
            FROM ({invoices_sql}) i JOIN ({balances_sql}) b ON b.invoice_id = i.invoice
            WHERE b.balance > 0
            GROUP BY i.age"""  # noqa: S608 - both parts compiled by Django, values as parameters
        params: Any = (*invoices_params, *balances_params)
    else:
        sql, params = _kept_totals(on, location, practitioner)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        grouped = {bucket: BucketTotal(int(n), v) for bucket, n, v in cursor.fetchall()}
    buckets = {key: grouped.get(key, BucketTotal(0, ZERO)) for key in AGE_BUCKETS}
    total = BucketTotal(
        sum(b.count for b in buckets.values()), sum((b.balance for b in buckets.values()), ZERO)
    )
    return AgedReceivables(
        on=on,
        currency=practice.currency,
        buckets=buckets,
        total=total,
        location=location,
        practitioner=practitioner,
    )


def _aged(on: dt.date, location, practitioner):
    """The open invoices the filters keep (`qs`), annotated with `days_overdue` and
    `bucket` (`aged`), and the client's name expression."""
    qs = _invoice_filters(Invoice.objects.filter(status=InvoiceStatus.OPEN), location, practitioner)
    days = Func(
        Value(on, output_field=DateField()),
        F("due_date"),
        template="(%(expressions)s)",
        arg_joiner=" - ",
        output_field=IntegerField(),
    )
    aged = qs.annotate(days_overdue=days).annotate(
        bucket=Case(
            When(Q(days_overdue__isnull=True) | Q(days_overdue__lte=0), then=Value("current")),
            When(days_overdue__lte=30, then=Value("d1_30")),
            When(days_overdue__lte=60, then=Value("d31_60")),
            When(days_overdue__lte=90, then=Value("d61_90")),
            default=Value("d90_plus"),
            output_field=CharField(),
        )
    )
    client_name = Concat(
        "client__first_name", Value(" "), "client__last_name", output_field=CharField()
    )
    return qs, aged, client_name


def _queries(report: AgedReceivables) -> tuple[QuerySet[Invoice], RawQuerySet]:
    """The report's `rows` and `every_row`."""
    qs, aged, client_name = _aged(report.on, report.location, report.practitioner)
    rows = (
        invoices_with_totals(aged)
        .filter(Q(balance__gt=ZERO))
        .annotate(client_name=client_name)
        .order_by(*ORDER)
    )
    balances_sql, balances_params = invoice_balances_sql(qs)
    paged = _ReceivableRows(model=Invoice, query=rows.query.chain(), using=rows.db)
    paged.known_count = report.total.count
    # Built by Django (invoice_balances_sql), values as parameters.
    positive = f"SELECT b.invoice_id FROM ({balances_sql}) b WHERE b.balance > 0"  # noqa: S608
    in_order = aged.filter(pk__in=RawSQL(positive, balances_params))  # noqa: S611
    paged.ids_in_order = in_order.order_by(*ORDER).values("pk")
    listed_sql, listed_params = (
        aged.annotate(client_name=client_name)
        .order_by()
        .values("id", "number", "due_date", "client_id", "client_name", "days_overdue", "bucket")
        .query.sql_with_params()
    )
    every_sql = f"""
        SELECT i.*, b.balance
        FROM ({listed_sql}) i JOIN ({balances_sql}) b ON b.invoice_id = i.id
        WHERE b.balance > 0
        ORDER BY i.due_date ASC NULLS LAST, i.number ASC, i.id ASC"""  # noqa: S608 - as above
    return paged, Invoice.objects.raw(every_sql, (*listed_params, *balances_params))
