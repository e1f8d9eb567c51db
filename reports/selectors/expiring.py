"""Report 2, expiring soon: client packages with credits left near or past expiry."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

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
from packages.models import ClientPackage
from practice.models import PracticeSettings

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
