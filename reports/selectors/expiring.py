"""Report 2, expiring soon: client packages with credits left near or past expiry."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat, Round

from invoicing.models import InvoiceLine, InvoiceStatus
from kernel.money import to_money
from packages.models import ClientPackage
from practice.models import PracticeSettings
from reports.models import ExpiryDay

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


@dataclass(frozen=True)
class PackageTotals:
    """How many client packages a list holds, their remaining credits and value."""

    count: int
    credits: int
    value: Decimal


def package_totals(rows: QuerySet[ClientPackage]) -> PackageTotals:
    """The totals of a list from `expiring_packages` or `recently_expired_packages`
    (all its rows, not one page): one query. The sum of the rows' `remaining_value`, so
    the total is exactly what the rows add up to."""
    got = rows.order_by().aggregate(
        count=Count("pk"),
        credits=Sum("remaining_credits"),
        value=Sum("remaining_value"),
    )
    return PackageTotals(
        count=got["count"],
        credits=got["credits"] or 0,
        value=got["value"] if got["value"] is not None else Decimal("0.00"),
    )


# The usable packages (not canceled, credits left) by expiry date in a range, from the
# summary the database keeps per expiry date (`reports.ExpiryDay`): a few rows per day,
# whatever the number of packages.
_EXPIRY_DAYS = f"""
SELECT day, SUM(n), SUM(credits), SUM(CASE WHEN %(incl)s THEN v_in ELSE v_ex END)
FROM {ExpiryDay._meta.db_table}
WHERE day >= %(first)s AND day <= %(last)s
GROUP BY day
"""  # noqa: S608 - the model's table


def expiry_days(
    first: dt.date, last: dt.date, *, prices_include_tax: bool
) -> dict[dt.date, PackageTotals]:
    """Per expiry date from `first` to `last` (inclusive; days without any left out):
    how many usable client packages (not canceled, credits left) expire that day, their
    credits left and what they hold (the rule of `_held_value`). One query."""
    params: dict[str, Any] = {"incl": prices_include_tax, "first": first, "last": last}
    with connection.cursor() as cursor:
        cursor.execute(_EXPIRY_DAYS, params)
        rows = cursor.fetchall()
    return {
        day: PackageTotals(int(n), int(credits), to_money(Decimal(cents) / 100))
        for day, n, credits, cents in rows
        if n
    }


def sum_totals(parts) -> PackageTotals:
    """The totals of several lists' totals."""
    parts = list(parts)
    return PackageTotals(
        sum(p.count for p in parts),
        sum(p.credits for p in parts),
        sum((p.value for p in parts), Decimal("0.00")),
    )


def expiry_totals(
    first: dt.date, last: dt.date, *, prices_include_tax: bool | None = None
) -> PackageTotals:
    """How many usable client packages (not canceled, credits left) expire from `first`
    to `last` (inclusive), their credits left and what they hold: the totals of
    `package_totals` over the same rows, read from the expiry-date summary. One query
    (two without `prices_include_tax`: the practice's settings)."""
    if prices_include_tax is None:
        prices_include_tax = PracticeSettings.load().prices_include_tax
    days = expiry_days(first, last, prices_include_tax=prices_include_tax)
    return sum_totals(days.values())


def expiring_totals(
    on: dt.date,
    within_days: int,
    *,
    location=None,
    practitioner=None,
    prices_include_tax: bool | None = None,
) -> PackageTotals:
    """`package_totals(expiring_packages(...))` for the same arguments: from the summary
    when no filter is given (`expiry_totals`), else from the rows."""
    if location is None and practitioner is None:
        last = on + dt.timedelta(days=within_days)
        return expiry_totals(on, last, prices_include_tax=prices_include_tax)
    rows = expiring_packages(on, within_days, location=location, practitioner=practitioner)
    return package_totals(rows)


def recently_expired_totals(
    on: dt.date,
    days: int = 30,
    *,
    location=None,
    practitioner=None,
    prices_include_tax: bool | None = None,
) -> PackageTotals:
    """`package_totals(recently_expired_packages(...))` for the same arguments: from the
    summary when no filter is given (`expiry_totals`), else from the rows."""
    if location is None and practitioner is None:
        if days < 1:
            raise ValueError("days must be at least 1")
        first, last = on - dt.timedelta(days=days), on - dt.timedelta(days=1)
        return expiry_totals(first, last, prices_include_tax=prices_include_tax)
    rows = recently_expired_packages(on, days, location=location, practitioner=practitioner)
    return package_totals(rows)


@dataclass(frozen=True)
class PackageRow:
    """One row of an Expiring soon list (what `_package_rows` annotates, read as a tuple)."""

    pk: int
    client_id: int
    client_name: str
    client_phone: str
    name: str
    remaining_credits: int
    remaining_value: Decimal
    expires_on: dt.date


# One page of a list, in the order of `_package_rows` (expiry date, client's last and
# first name, id), through the partial index of usable packages by expiry date.
_PAGE = """
SELECT cp.id, cp.client_id, c.first_name || ' ' || c.last_name, c.phone, cp.name,
       cp.credits - cp.consumed,
       p.p - (2 * p.p * cp.consumed + cp.credits) / (2 * cp.credits),
       cp.expires_on
FROM {cp} cp
JOIN {client} c ON c.id = cp.client_id
LEFT JOIN {rate} tr ON tr.id = cp.tax_rate_id
CROSS JOIN LATERAL (
    SELECT (100 * CASE WHEN %(incl)s AND tr.rate IS NOT NULL
                       THEN cp.price - ROUND(cp.price * tr.rate / (100 + tr.rate), 2)
                       ELSE cp.price END)::bigint AS p
) p
WHERE cp.canceled_at IS NULL AND cp.credits > cp.consumed
  AND cp.expires_on >= %(first)s AND cp.expires_on <= %(last)s {where}
ORDER BY cp.expires_on, c.last_name, c.first_name, cp.id
LIMIT %(limit)s OFFSET %(offset)s
"""


def expiry_page(
    first: dt.date,
    last: dt.date,
    *,
    offset: int,
    limit: int,
    prices_include_tax: bool,
    location=None,
    practitioner=None,
) -> list[PackageRow]:
    """The rows `offset` to `offset + limit` of the usable client packages expiring from
    `first` to `last` (inclusive): those of `expiring_packages` or
    `recently_expired_packages` for the same days and filters, in the same order, read
    as plain rows (no queryset to build). One query."""
    # Imported here: the liability module imports this one.
    from reports.selectors.liability import package_invoice_filter

    params: dict[str, Any] = {
        "incl": prices_include_tax,
        "first": first,
        "last": last,
        "limit": limit,
        "offset": offset,
    }
    where = package_invoice_filter("cp", location, practitioner, params)
    sql = _PAGE.format(
        cp=ClientPackage._meta.db_table,
        client=ClientPackage._meta.get_field("client").related_model._meta.db_table,
        rate=ClientPackage._meta.get_field("tax_rate").related_model._meta.db_table,
        where=where,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        PackageRow(pk, client, name, phone, package, credits, to_money(Decimal(cents) / 100), day)
        for pk, client, name, phone, package, credits, cents, day in rows
    ]
