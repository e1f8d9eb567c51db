"""Reports: read-only figures computed from the other apps' tables (issue 15).

Only the core of report 1, package liability, so far; its page, API and CSV call
`package_liability`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    DateField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat, Round
from django.utils import timezone

from invoicing.models import Invoice, InvoiceLine, InvoiceStatus
from invoicing.selectors import MONEY_FIELD, invoices_with_totals
from kernel.money import ZERO, to_money
from packages.models import ClientPackage, CreditLedgerEntry, ExpiryChange, LedgerKind
from practice.models import PracticeSettings


@dataclass(frozen=True)
class Amount:
    """Credits and their value (net of tax, 2 places)."""

    credits: int
    value: Decimal


@dataclass(frozen=True)
class Liability:
    currency: str
    start: dt.date
    end: dt.date
    opening: Amount
    sold: Amount
    redeemed: Amount
    expired: Amount
    canceled: Amount
    adjusted: Amount
    closing: Amount


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()), timezone.get_default_timezone())


# One statement. Events of each package (its ledger rows, its expiry changes and its
# cancellation) in order; window sums give, after each event, C (credits incl.
# adjustments), k (consumed), whether it is canceled and the expiry date in effect.
# A package "holds" P - round(P*k/C, 2) and C - k credits while it is live (sold, not
# canceled, C > 0, and the day is not after the expiry date in effect), else nothing.
# Each event is worth held(after) - held(before), both judged on the event's local day.
_SQL = """
WITH pk AS (
    SELECT cp.id,
           -- P in cents (bigint: the per-row arithmetic below stays in integers)
           (100 * CASE WHEN %(incl)s AND tr.rate IS NOT NULL
                       THEN cp.price - ROUND(cp.price * tr.rate / (100 + tr.rate), 2)
                       ELSE cp.price END)::bigint AS p,
           CASE WHEN fx.client_package_id IS NOT NULL THEN fx.old_expires_on
                ELSE cp.expires_on END AS exp0,
           cp.canceled_at
    FROM {cp} cp
    LEFT JOIN {tr} tr ON tr.id = cp.tax_rate_id
    LEFT JOIN (
        SELECT DISTINCT ON (client_package_id) client_package_id, old_expires_on
        FROM {ec} ORDER BY client_package_id, created_at, id
    ) fx ON fx.client_package_id = cp.id
    WHERE TRUE {where}
),
ev AS (
    SELECT l.client_package_id AS cp, pk.p, pk.exp0, l.created_at AS t, 0 AS ord, l.id AS id,
           l.kind AS kind,
           CASE WHEN l.kind IN ('{grant}', '{adjust}') THEN l.quantity ELSE 0 END AS dc,
           CASE WHEN l.kind IN ('{consume}', '{release}') THEN -l.quantity ELSE 0 END AS dk,
           NULL::date AS new_exp
    FROM {led} l JOIN pk ON pk.id = l.client_package_id
    WHERE l.created_at < %(end_t)s
    UNION ALL
    SELECT e.client_package_id, pk.p, pk.exp0, e.created_at, 1, e.id, 'extend', 0, 0,
           e.new_expires_on
    FROM {ec} e JOIN pk ON pk.id = e.client_package_id
    WHERE e.created_at < %(end_t)s
    UNION ALL
    SELECT pk.id, pk.p, pk.exp0, pk.canceled_at, 2, 0, 'cancel', 0, 0, NULL
    FROM pk WHERE pk.canceled_at < %(end_t)s
),
w1 AS (
    -- One window, one sort. After the event: c, k, canceled x, the expiry dates set so
    -- far (xs); before it: c - dc, k - dk, x unless this is the cancellation, and the
    -- expiry date before this change.
    SELECT ev.*,
           SUM(dc) OVER w AS c,
           SUM(dk) OVER w AS k,
           BOOL_OR(kind = 'cancel') OVER w AS x,
           ARRAY_AGG(new_exp) FILTER (WHERE kind = 'extend') OVER w AS xs,
           LEAD(t) OVER w AS nt,
           (t AT TIME ZONE %(tz)s)::date AS d
    FROM ev
    WINDOW w AS (PARTITION BY cp ORDER BY t, ord, id ROWS UNBOUNDED PRECEDING)
),
w3 AS (
    SELECT w1.*,
           c - dc AS pc,
           k - dk AS pk_,
           x AND kind <> 'cancel' AS px,
           CASE WHEN xs IS NULL THEN exp0 ELSE xs[CARDINALITY(xs)] END AS exp,
           CASE WHEN kind <> 'extend' THEN
                     CASE WHEN xs IS NULL THEN exp0 ELSE xs[CARDINALITY(xs)] END
                WHEN CARDINALITY(xs) = 1 THEN exp0
                ELSE xs[CARDINALITY(xs) - 1] END AS pexp
    FROM w1
),
held AS (
    SELECT w3.*,
           -- after the event, on its day
           (c > 0 AND NOT x AND (exp IS NULL OR d <= exp)) AS live_a,
           (pc > 0 AND NOT px AND (pexp IS NULL OR d <= pexp)) AS live_b,
           -- the last state before the period, on the day before it
           (c > 0 AND NOT x AND (exp IS NULL OR %(before)s <= exp)) AS live_o,
           -- the last state of the period, on its last day
           (c > 0 AND NOT x AND (exp IS NULL OR %(end)s <= exp)) AS live_c
    FROM w3
),
m AS (
    -- held = P - V(k), V(k) = round_half_up(P * k / C) in cents = (2Pk + C) div 2C
    SELECT held.*,
           CASE WHEN live_a THEN p - (2 * p * k + c) / (2 * c) ELSE 0 END
             - CASE WHEN live_b THEN p - (2 * p * pk_ + pc) / (2 * pc) ELSE 0 END AS dv,
           CASE WHEN live_a THEN c - k ELSE 0 END
             - CASE WHEN live_b THEN pc - pk_ ELSE 0 END AS dn,
           (t < %(start_t)s AND (nt IS NULL OR nt >= %(start_t)s) AND live_o) AS is_o,
           (nt IS NULL AND live_c) AS is_c,
           t >= %(start_t)s AS in_p
    FROM held
)
SELECT
    SUM(c - k) FILTER (WHERE is_o),
    SUM(p - (2 * p * k + c) / (2 * c)) FILTER (WHERE is_o),
    SUM(c - k) FILTER (WHERE is_c),
    SUM(p - (2 * p * k + c) / (2 * c)) FILTER (WHERE is_c),
    SUM(dn) FILTER (WHERE in_p AND kind = '{grant}'),
    SUM(dv) FILTER (WHERE in_p AND kind = '{grant}'),
    -SUM(dn) FILTER (WHERE in_p AND kind IN ('{consume}', '{release}')),
    -SUM(dv) FILTER (WHERE in_p AND kind IN ('{consume}', '{release}')),
    -SUM(dn) FILTER (WHERE in_p AND kind = 'cancel'),
    -SUM(dv) FILTER (WHERE in_p AND kind = 'cancel'),
    SUM(dn) FILTER (WHERE in_p AND kind = '{adjust}'),
    SUM(dv) FILTER (WHERE in_p AND kind = '{adjust}')
FROM m
"""

_FILTER = """ AND EXISTS (
        SELECT 1 FROM {line} il JOIN {inv} i ON i.id = il.invoice_id
        WHERE il.client_package_id = cp.id AND i.status <> '{void}' AND i.{column} = %({param})s
    )"""


def package_liability(
    start: dt.date, end: dt.date, *, location=None, practitioner=None
) -> Liability:
    """The roll-forward of prepaid package value from `start` to `end` (inclusive days in
    the practice's time zone): opening + sold - redeemed - expired - canceled + adjusted
    = closing, in credits and in money. Three queries (the practice's settings, the
    statement's memory and JIT settings, then one statement), whatever the data size.

    Value, net of tax: P is the client package's amount (`price`) when prices exclude
    tax, or when it has no tax rate; when the practice's prices include tax (the current
    setting, `PracticeSettings.prices_include_tax`) P = price - round(price × rate /
    (100 + rate), 2), the rule of `invoicing.services.compute_line_amounts`. With C its
    credits (as sold ± adjustments, at that moment) and k consumed, a package holds
    P - round_half_up(P × k / C, 2) and C - k credits while it is live: sold (its grant
    row is recorded), not canceled, C > 0, and the day is not after the expiry date in
    effect (the latest `ExpiryChange` at that moment, else the date as sold). Otherwise
    it holds nothing. Every movement is worth the change it causes in what the package
    holds, judged on the movement's day: a grant is sold (on the day it was recorded,
    whatever the start date), consume and release rows are redeemed (net), an adjust row
    is adjusted, the cancellation is canceled. Expired is the rest: value a package held
    when its expiry date passed, less value an extension brought back (negative), so the
    identity holds exactly. Movements on a package that holds nothing (a release after
    expiry or cancellation) move nothing until an extension brings the package back.

    Balances: opening is what packages hold at the end of the day before `start`,
    closing what they hold at the end of `end`; so the closing of a period is the
    opening of the next, and expiry passing at midnight counts in the day that follows
    the expiry date.

    Filters select whole packages, so the identity holds for each filter: `location`
    (or `practitioner`) keeps the packages whose current, non-void invoice has that
    location (practitioner). A package not invoiced is in the unfiltered report only.
    """
    if end < start:
        raise ValueError("end is before start")
    practice = PracticeSettings.load()
    tables = {
        "cp": ClientPackage._meta.db_table,
        "tr": ClientPackage._meta.get_field("tax_rate").related_model._meta.db_table,
        "ec": ExpiryChange._meta.db_table,
        "led": CreditLedgerEntry._meta.db_table,
        "grant": LedgerKind.GRANT,
        "adjust": LedgerKind.ADJUST,
        "consume": LedgerKind.CONSUME,
        "release": LedgerKind.RELEASE,
    }
    params: dict[str, Any] = {
        "incl": practice.prices_include_tax,
        "tz": settings.TIME_ZONE,
        "start_t": _midnight(start),
        "end_t": _midnight(end + dt.timedelta(days=1)),
        "before": start - dt.timedelta(days=1),
        "end": end,
    }
    where = ""
    for column, value in (("location_id", location), ("practitioner_id", practitioner)):
        if value is None:
            continue
        where += _FILTER.format(
            line=InvoiceLine._meta.db_table,
            inv=Invoice._meta.db_table,
            void=InvoiceStatus.VOID,
            column=column,
            param=column,
        )
        params[column] = getattr(value, "pk", value)
    with transaction.atomic(), connection.cursor() as cursor:
        # For this transaction only: the sort of a million ledger rows fits in memory,
        # and no JIT compilation (it cost more than it saved: ~0.7 s at 1M rows).
        cursor.execute(
            "SELECT set_config('work_mem', '128MB', true), set_config('jit', 'off', true)"
        )
        cursor.execute(_SQL.format(where=where, **tables), params)
        row = cursor.fetchone()
    o_n, o_v, c_n, c_v, s_n, s_v, r_n, r_v, x_n, x_v, a_n, a_v = row

    def amount(n, cents) -> Amount:
        return Amount(int(n or 0), to_money(Decimal(cents or 0) / 100))

    opening, closing = amount(o_n, o_v), amount(c_n, c_v)
    sold, redeemed = amount(s_n, s_v), amount(r_n, r_v)
    canceled, adjusted = amount(x_n, x_v), amount(a_n, a_v)
    expired = Amount(
        opening.credits
        + sold.credits
        - redeemed.credits
        - canceled.credits
        + adjusted.credits
        - closing.credits,
        opening.value
        + sold.value
        - redeemed.value
        - canceled.value
        + adjusted.value
        - closing.value,
    )
    return Liability(
        currency=practice.currency,
        start=start,
        end=end,
        opening=opening,
        sold=sold,
        redeemed=redeemed,
        expired=expired,
        canceled=canceled,
        adjusted=adjusted,
        closing=closing,
    )


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
    rows: QuerySet[Invoice]
    buckets: dict[str, BucketTotal]
    total: BucketTotal


def _invoice_filters(qs: QuerySet[Invoice], location, practitioner) -> QuerySet[Invoice]:
    if location is not None:
        qs = qs.filter(location=getattr(location, "pk", location))
    if practitioner is not None:
        qs = qs.filter(practitioner=getattr(practitioner, "pk", practitioner))
    return qs


def aged_receivables(on: dt.date, *, location=None, practitioner=None) -> AgedReceivables:
    """Open invoices with a balance above 0, by days overdue on `on` (`on` minus the due
    date): current (not yet due: due on `on` or later, or no due date), 1–30, 31–60,
    61–90 and over 90 days. The balance is the invoicing app's own
    (`invoicing.selectors.invoices_with_totals`: lines' totals minus active payments
    net of their refunds). Drafts, Paid and Void invoices are left out.

    `rows` is a lazy queryset (page it with Django's Paginator: a count and a page, two
    queries), most overdue first, each invoice annotated with `client_name`,
    `days_overdue` (negative when not yet due) and `bucket` (a key of `AGE_BUCKETS`),
    plus the invoicing annotations (`total`, `amount_paid`, `balance`). The totals per
    bucket (and their sum, overall) come from one GROUP BY query; two queries in all (the
    practice's settings, the totals), whatever the data size. Filters: the invoice's location and
    practitioner.
    """
    practice = PracticeSettings.load()
    qs = _invoice_filters(Invoice.objects.filter(status=InvoiceStatus.OPEN), location, practitioner)
    days = Func(
        Value(on, output_field=DateField()),
        F("due_date"),
        template="(%(expressions)s)",
        arg_joiner=" - ",
        output_field=IntegerField(),
    )
    rows = (
        invoices_with_totals(qs)
        .filter(Q(balance__gt=ZERO))
        .annotate(
            client_name=Concat(
                "client__first_name", Value(" "), "client__last_name", output_field=CharField()
            ),
            days_overdue=days,
        )
        .annotate(
            bucket=Case(
                When(Q(days_overdue__isnull=True) | Q(days_overdue__lte=0), then=Value("current")),
                When(days_overdue__lte=30, then=Value("d1_30")),
                When(days_overdue__lte=60, then=Value("d31_60")),
                When(days_overdue__lte=90, then=Value("d61_90")),
                default=Value("d90_plus"),
                output_field=CharField(),
            )
        )
        .order_by(F("due_date").asc(nulls_last=True), "number", "id")
    )
    # One GROUP BY query: each invoice's balance is computed once, whatever the buckets.
    grouped = {
        group["bucket"]: BucketTotal(group["n"], group["v"])
        for group in rows.order_by()
        .select_related(None)
        .values("bucket")
        .annotate(n=Count("id"), v=Sum("balance", output_field=MONEY_FIELD))
    }
    buckets = {key: grouped.get(key, BucketTotal(0, ZERO)) for key in AGE_BUCKETS}
    return AgedReceivables(
        on=on,
        currency=practice.currency,
        rows=rows,
        buckets=buckets,
        total=BucketTotal(
            sum(b.count for b in buckets.values()), sum((b.balance for b in buckets.values()), ZERO)
        ),
    )


# --------------------------------------------------------------- expiring soon (report 2)

EXPIRING_WITHIN_DAYS = (7, 30, 60)


def _held_value(prices_include_tax: bool) -> Cast:
    """What a client package holds now, as SQL: P − V(k) net of tax with C = `credits`
    and k = `consumed`, in money (2 places). The rule of `package_liability` (see its
    docstring and `_SQL`): P in cents is the price, less round(price × rate / (100 +
    rate), 2) when prices include tax and the package has a tax rate; V(k) in cents is
    (2Pk + C) div 2C, P × k ÷ C rounded half up. A test checks both give the same value.
    Only for packages with C > 0."""
    price = F("price")
    net: F | Case = price
    if prices_include_tax:
        rate = F("tax_rate__rate")
        net = Case(
            When(
                tax_rate__isnull=False,
                then=price - Round(price * rate / (Value(Decimal(100)) + rate), 2),
            ),
            default=price,
            output_field=DecimalField(),
        )
    p = Cast(net * Value(Decimal(100)), BigIntegerField())
    held_cents = ExpressionWrapper(
        p - (2 * p * F("consumed") + F("credits")) / (2 * F("credits")),
        output_field=BigIntegerField(),
    )
    return Cast(
        Func(held_cents, template="(%(expressions)s)::numeric / 100"),
        DecimalField(max_digits=16, decimal_places=2),
    )


def _package_rows(
    qs: QuerySet[ClientPackage], *, location=None, practitioner=None
) -> QuerySet[ClientPackage]:
    """Client packages not canceled, with credits left, annotated with `client_name`,
    `client_phone`, `remaining_credits` and `remaining_value`. Filters as in
    `package_liability`: the package's current, non-void invoice's location or
    practitioner (a package not invoiced is only in the unfiltered list)."""
    for field, value in (("location", location), ("practitioner", practitioner)):
        if value is None:
            continue
        qs = qs.filter(
            Exists(
                InvoiceLine.objects.filter(
                    client_package=OuterRef("pk"),
                    **{f"invoice__{field}": getattr(value, "pk", value)},
                ).exclude(invoice__status=InvoiceStatus.VOID)
            )
        )
    include_tax = PracticeSettings.load().prices_include_tax
    return (
        qs.filter(canceled_at__isnull=True, credits__gt=F("consumed"))
        .select_related("client")
        .annotate(
            client_name=Concat(
                "client__first_name", Value(" "), "client__last_name", output_field=CharField()
            ),
            client_phone=F("client__phone"),
            remaining_credits=F("credits") - F("consumed"),
            remaining_value=_held_value(include_tax),
        )
        .order_by("expires_on", "client__last_name", "client__first_name", "id")
    )


def expiring_packages(
    on: dt.date, within_days: int, *, location=None, practitioner=None
) -> QuerySet[ClientPackage]:
    """Client packages with credits left, not canceled, still usable on `on` and whose
    expiry date is at most `within_days` (7, 30 or 60) days after it: `on` <= expiry
    date <= `on` + `within_days` (a package is usable through its expiry date). Soonest
    first. A lazy queryset (see `_package_rows` for the annotations): the practice's
    settings, then one query for the rows (or a count and a page with a Paginator).
    """
    if within_days not in EXPIRING_WITHIN_DAYS:
        raise ValueError(f"within_days must be one of {EXPIRING_WITHIN_DAYS}")
    qs = ClientPackage.objects.filter(
        expires_on__gte=on, expires_on__lte=on + dt.timedelta(days=within_days)
    )
    return _package_rows(qs, location=location, practitioner=practitioner)


def recently_expired_packages(
    on: dt.date, days: int = 30, *, location=None, practitioner=None
) -> QuerySet[ClientPackage]:
    """Client packages with credits left, not canceled, that expired in the `days` days
    up to `on`: expiry date from `on` − `days` to `on` − 1 (expired on the day after it).
    `remaining_value` is what the credits would hold again if the expiry were extended.
    Same annotations and queries as `expiring_packages`."""
    if days < 1:
        raise ValueError("days must be at least 1")
    qs = ClientPackage.objects.filter(
        expires_on__gte=on - dt.timedelta(days=days), expires_on__lt=on
    )
    return _package_rows(qs, location=location, practitioner=practitioner)
