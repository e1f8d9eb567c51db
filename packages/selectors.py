"""Reads for client packages: status in queries, matches for a booking, ledger checks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog.models import Service
from clients.models import Client
from kernel.money import ZERO, to_money
from kernel.prepared import Prepared
from kernel.rowcount import kept_count
from packages.chain import broken_links
from packages.models import (
    ClientPackage,
    ClientPackageCount,
    ClientPackageService,
    ClientPackageStatus,
    CreditLedgerEntry,
    LedgerKind,
)


def status_condition(status: str, today: dt.date) -> Q:
    """The DOMAIN.md status rule (Canceled, Completed, Expired, Active) as a filter."""
    canceled = Q(canceled_at__isnull=False)
    completed = Q(consumed__gte=F("credits"))
    expired = Q(expires_on__lt=today)
    if status == ClientPackageStatus.CANCELED:
        return canceled
    if status == ClientPackageStatus.COMPLETED:
        return ~canceled & completed
    if status == ClientPackageStatus.EXPIRED:
        return ~canceled & ~completed & expired
    if status == ClientPackageStatus.ACTIVE:
        return ~canceled & ~completed & (Q(expires_on__isnull=True) | Q(expires_on__gte=today))
    raise ValueError(f"unknown status {status!r}")


def client_packages_with_status(
    queryset: QuerySet[ClientPackage] | None = None, *, today: dt.date | None = None
) -> QuerySet[ClientPackage]:
    """Annotate `status_value` (and `remaining_credits`) so lists can filter and sort by them."""
    today = today or timezone.localdate()
    queryset = ClientPackage.objects.all() if queryset is None else queryset
    return queryset.annotate(
        status_value=Case(
            *(
                When(status_condition(s, today), then=Value(s))
                for s in (
                    ClientPackageStatus.CANCELED,
                    ClientPackageStatus.COMPLETED,
                    ClientPackageStatus.EXPIRED,
                )
            ),
            default=Value(ClientPackageStatus.ACTIVE),
            output_field=CharField(),
        ),
        remaining_credits=F("credits") - F("consumed"),
    )


@dataclass(frozen=True)
class ExpiredLeft:
    """Packages that expired with credits left, and those credits in all."""

    packages: list[ClientPackage]
    credits: int


def expired_with_credits_left(
    queryset: QuerySet[ClientPackage], *, today: dt.date | None = None
) -> ExpiredLeft:
    """The packages of `queryset` that expired with credits left (not canceled), the
    latest expired first: what an Admin could bring back with Extend expiry (DOMAIN.md:
    an extension after expiry makes them usable again). One query."""
    today = today or timezone.localdate()
    expired = queryset.filter(status_condition(ClientPackageStatus.EXPIRED, today))
    packages = list(expired.order_by("-expires_on", "-id"))
    return ExpiredLeft(packages=packages, credits=sum(p.remaining for p in packages))


_CLIENT_EXPIRED = Prepared(
    lambda client, today: (
        ClientPackage.objects.filter(client_id=client)
        .filter(status_condition(ClientPackageStatus.EXPIRED, today))
        .order_by("-expires_on", "-id")
    ),
    client=int,
    today=dt.date,
).planned()


def client_expired_with_credits_left(
    client: Client, *, today: dt.date | None = None
) -> ExpiredLeft:
    """`expired_with_credits_left` of the client's packages, its SQL built once per
    process. One query."""
    today = today or timezone.localdate()
    packages = _CLIENT_EXPIRED.objects(client=client.pk, today=today)
    return ExpiredLeft(packages=packages, credits=sum(p.remaining for p in packages))


def client_package_matches(
    *,
    client: Client,
    on_date: dt.date,
    service: Service | None = None,
    today: dt.date | None = None,
) -> QuerySet[ClientPackage]:
    """The client's packages an appointment on `on_date` (for `service`, if chosen) may use.

    DOMAIN.md, Matching: belongs to the client, Active, has credit left (for the service),
    covers the service, and `on_date` is on or before its expiry date.
    """
    today = today or timezone.localdate()
    service_id = service.pk if service is not None else None
    return _matching(client.pk, on_date, today, service_id).prefetch_related("services")


def _matching(
    client: int, on_date: dt.date, today: dt.date, service: int | None
) -> QuerySet[ClientPackage]:
    queryset = ClientPackage.objects.filter(client_id=client).filter(
        status_condition(ClientPackageStatus.ACTIVE, today)
    )
    queryset = queryset.filter(Q(expires_on__isnull=True) | Q(expires_on__gte=on_date))
    if service is not None:
        covering = ClientPackageService.objects.filter(
            client_package=OuterRef("pk"), service_id=service
        ).filter(Q(allowance__isnull=True) | Q(used__lt=F("allowance")))
        queryset = queryset.filter(Exists(covering))
    return queryset.order_by("expires_on", "start_date", "id")


def _match_names(client: int, on_date: dt.date, today: dt.date, service: int | None):
    return _matching(client, on_date, today, service).only("pk", "name")


_MATCH_NAMES = Prepared(
    _match_names,
    client=int,
    on_date=dt.date,
    today=dt.date,
    service=int | None,
)


def client_package_match_names(
    *,
    client: Client,
    on_date: dt.date,
    service: Service | None = None,
    today: dt.date | None = None,
) -> list[ClientPackage]:
    """`client_package_matches`, only each package's pk and name (no services): the
    Create appointment banner's read on every change of client, service or date, its SQL
    built once per process."""
    return _MATCH_NAMES.objects(
        client=client.pk,
        on_date=on_date,
        today=today or timezone.localdate(),
        service=service.pk if service is not None else None,
    )


@dataclass(frozen=True)
class LedgerDiscrepancy:
    client_package_id: int
    what: str
    cached: int
    ledger: int

    def __str__(self) -> str:
        return (
            f"client package #{self.client_package_id}: {self.what} is {self.cached} "
            f"but the ledger says {self.ledger}"
        )


def _ledger_sums(group_by: str):
    granted = Q(kind__in=[LedgerKind.GRANT, LedgerKind.ADJUST])
    used = Q(kind__in=[LedgerKind.CONSUME, LedgerKind.RELEASE])
    return (
        CreditLedgerEntry.objects.values(*group_by.split(","))
        .annotate(
            granted=Coalesce(Sum("quantity", filter=granted), 0, output_field=IntegerField()),
            used=Coalesce(-Sum("quantity", filter=used), 0, output_field=IntegerField()),
        )
        .order_by()
    )


@dataclass(frozen=True)
class LinkDiscrepancy:
    """An appointment whose link and the ledger's consumes for it disagree."""

    client_package_id: int
    appointment_id: int
    linked: bool
    net_consumed: int

    def __str__(self) -> str:
        state = "is linked to" if self.linked else "is not linked to"
        return (
            f"client package #{self.client_package_id}: appointment #{self.appointment_id} "
            f"{state} it but the ledger holds {self.net_consumed} net consume(s) for it"
        )


@dataclass(frozen=True)
class ChainBreak:
    """A ledger row that does not follow its package's hash chain (packages/chain.py)."""

    client_package_id: int
    row_id: int

    def __str__(self) -> str:
        return (
            f"client package #{self.client_package_id}: ledger row #{self.row_id} does not "
            "follow its hash chain (a row was changed, removed or inserted outside the app)"
        )


def _link_discrepancies(client_package_ids: list[int] | None) -> list[LinkDiscrepancy]:
    """Every linked appointment has exactly one net consume on its package (consumes
    minus releases), and every other (appointment, package) pair none."""
    ledger = CreditLedgerEntry._meta
    link = ClientPackage.appointments.field  # Appointment.client_package, named from here
    appointments, link_column = link.model._meta, link.column
    only = ""
    params: list = []
    if client_package_ids is not None:
        only = "WHERE coalesce(n.client_package_id, l.client_package_id) = ANY(%s)"
        params = [list(client_package_ids)]
    sql = f"""
        WITH net AS (
            SELECT client_package_id, appointment_id, -sum(quantity) AS used
            FROM {ledger.db_table}
            WHERE appointment_id IS NOT NULL AND kind IN ('consume', 'release')
            GROUP BY client_package_id, appointment_id
        ), linked AS (
            SELECT {link_column} AS client_package_id, id AS appointment_id
            FROM {appointments.db_table} WHERE {link_column} IS NOT NULL
        )
        SELECT * FROM (
            SELECT coalesce(n.client_package_id, l.client_package_id),
                   coalesce(n.appointment_id, l.appointment_id),
                   l.appointment_id IS NOT NULL, coalesce(n.used, 0)
            FROM net n FULL OUTER JOIN linked l
              ON l.client_package_id = n.client_package_id
             AND l.appointment_id = n.appointment_id
            {only}
        ) pairs (client_package_id, appointment_id, linked, used)
        WHERE used <> CASE WHEN linked THEN 1 ELSE 0 END
        ORDER BY client_package_id, appointment_id
    """  # noqa: S608 - table and column names come from the models
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [LinkDiscrepancy(*row) for row in cursor.fetchall()]


def ledger_discrepancies(
    client_package_ids: list[int] | None = None,
) -> list[LedgerDiscrepancy | LinkDiscrepancy | ChainBreak]:
    """Every place the ledger and what it explains disagree (empty when all agree).

    Checks Credits and Consumed per client package and, for fixed packages, each
    service's allowance and use; that every linked appointment has exactly one net
    consume on its package and every unlinked one none; and that every ledger row
    follows its package's hash chain.
    """
    found: list[LedgerDiscrepancy | LinkDiscrepancy | ChainBreak] = []
    packages = ClientPackage.objects.values_list("pk", "credits", "consumed", "kind")
    sums = _ledger_sums("client_package")
    if client_package_ids is not None:
        packages = packages.filter(pk__in=client_package_ids)
        sums = sums.filter(client_package__in=client_package_ids)
    by_package = {row["client_package"]: row for row in sums}
    for pk, credits, consumed, _kind in packages.iterator(chunk_size=5000):
        row = by_package.get(pk, {"granted": 0, "used": 0})
        if credits != row["granted"]:
            found.append(LedgerDiscrepancy(pk, "Credits", credits, row["granted"]))
        if consumed != row["used"]:
            found.append(LedgerDiscrepancy(pk, "Consumed", consumed, row["used"]))
    service_sums = _ledger_sums("client_package,service").filter(client_package__kind="fixed")
    services = ClientPackageService.objects.filter(client_package__kind="fixed").values_list(
        "client_package_id", "service_id", "allowance", "used"
    )
    if client_package_ids is not None:
        service_sums = service_sums.filter(client_package__in=client_package_ids)
        services = services.filter(client_package__in=client_package_ids)
    by_service = {(r["client_package"], r["service"]): r for r in service_sums}
    for pk, service_id, allowance, used in services.iterator(chunk_size=5000):
        row = by_service.get((pk, service_id), {"granted": 0, "used": 0})
        if allowance != row["granted"]:
            found.append(
                LedgerDiscrepancy(
                    pk, f"allowance of service #{service_id}", allowance or 0, row["granted"]
                )
            )
        if used != row["used"]:
            found.append(LedgerDiscrepancy(pk, f"use of service #{service_id}", used, row["used"]))
    found.extend(_link_discrepancies(client_package_ids))
    found.extend(ChainBreak(*pair) for pair in broken_links(CreditLedgerEntry, client_package_ids))
    return found


# ------------------------------------------------ value of credits (DOMAIN.md)


def package_net_price(client_package: ClientPackage, prices_include_tax: bool) -> Decimal:
    """P of DOMAIN.md "Value of credits": the package's price net of tax (the tax part
    rounded half up to the cent, as the liability report takes it)."""
    price = client_package.price
    rate = client_package.tax_rate.rate if client_package.tax_rate is not None else None
    if prices_include_tax and rate:
        return price - to_money(price * rate / (Decimal(100) + rate))
    return price


def credits_value(price: Decimal, credits: int, used: int) -> Decimal:
    """V(k) = P × k ÷ C rounded half up to the cent (DOMAIN.md "Value of credits")."""
    if credits <= 0:
        return ZERO
    return to_money(price * used / credits)


def client_package_count() -> int:
    """How many client packages were ever sold (any status), exact, without counting
    them: the count the database keeps (`ClientPackageCount`)."""
    return kept_count(ClientPackageCount)
