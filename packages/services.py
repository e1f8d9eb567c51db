"""Writes for client packages and their credits.

Every credit movement goes through `consume` / `release` / `move` /
`client_package_adjust`, which lock the client package row first (`select_for_update`),
re-check the rule under the lock, then append a ledger row and update the cached
counters in the same transaction. Two staff racing for the last credit therefore serialize on that row lock:
the second re-reads the counters after the first commits and gets a clear refusal. The
CHECK constraints on the counters are the backstop, not the control.

Lock order, everywhere: appointment row, then client package row. Keeping one order is
what keeps link racing unlink (or cancel) free of deadlocks. This module knows nothing
of appointments beyond their ids: linking and unlinking an appointment (which lock the
appointment row, then call `consume` / `release` / `move`) live in
`calendar_app.services`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Subquery
from django.db.transaction import TransactionManagementError
from django.utils import timezone
from django.utils.formats import date_format

from catalog.models import Package, PackageKind, PackageService, Service
from clients.models import Client
from kernel import hooks
from kernel.errors import DomainError, require_perm
from kernel.prepared import Prepared, column, insert_row
from kernel.time import check_date_in_range
from packages.chain import seal_new_entries
from packages.models import (
    ClientPackage,
    ClientPackageService,
    ClientPackageStatus,
    CreditLedgerEntry,
    ExpiryChange,
    LedgerKind,
)

User = AbstractBaseUser


def _day(value: dt.date) -> str:
    return date_format(value, "j M Y")


def _user(by):
    return by if by is not None and by.is_authenticated else None


@transaction.atomic
def client_package_assign(
    *, client: Client, package: Package, start_date: dt.date | None = None, by: User | None
) -> ClientPackage:
    """Sell `package` to `client`: copy what was sold and grant its credits in the ledger."""
    require_perm(by, "packages.add_clientpackage")
    check_date_in_range(start_date, field="start_date")
    # Re-read both rows under lock: a package archived (or a client archived) by someone
    # else a moment ago must not be sold from a stale copy.
    client = Client.objects.select_for_update().get(pk=client.pk)
    package = Package.objects.select_for_update().get(pk=package.pk)
    if client.archived:
        raise DomainError(
            "client_archived", f"{client} is archived. Restore the client to sell a package."
        )
    if package.archived:
        raise DomainError(
            "package_archived", f"{package.name} is archived and can no longer be sold."
        )
    included = list(package.package_services.select_related("service").order_by("id"))
    client_package, services, grants = client_package_snapshot(
        client=client,
        package=package,
        included=included,
        start_date=start_date or timezone.localdate(),
        by=by,
    )
    client_package.save()
    ClientPackageService.objects.bulk_create(services)
    CreditLedgerEntry.objects.bulk_create(grants)
    hooks.emit("client_package.sold", client_package, by=by)
    return client_package


def client_package_snapshot(
    *,
    client: Client,
    package: Package,
    included: Sequence[PackageService],
    start_date: dt.date,
    by: User | None = None,
) -> tuple[ClientPackage, list[ClientPackageService], list[CreditLedgerEntry]]:
    """What selling `package` to `client` writes, unsaved: the client package (a copy of
    what was sold: name, kind, amount, tax rate, credits, expiry from `start_date`), one
    service row per included service (with its allowance when the package is fixed),
    and the GRANT ledger rows of its credits (one per service when fixed, one for the
    pool when flexible).

    `included` is the package's `package_services` (with `service`) in `id` order. Pure:
    no query and no write. It refuses a package that cannot be sold as configured; who
    may sell and whether the client or package is archived are checked, under lock, by
    `client_package_assign`, which saves the result. Save the client package first: the
    other rows refer to it. The demo's bulk path saves many with `bulk_create`.
    """
    if not included:
        raise DomainError(
            "package_has_no_services", f"{package.name} includes no services; add one first."
        )
    fixed = package.kind == PackageKind.FIXED
    if fixed:
        allowances = [ps.allowance or 0 for ps in included]
        if any(a < 1 for a in allowances) or sum(allowances) != package.credits:
            raise DomainError(
                "package_misconfigured",
                f"The quantities of {package.name} do not add up to its {package.credits} credits.",
            )
    client_package = ClientPackage(
        client=client,
        package=package,
        name=package.name,
        kind=package.kind,
        price=package.price,
        tax_rate_id=package.tax_rate_id,
        credits=package.credits,
        start_date=start_date,
        expires_on=package.expiry_for(start_date),
        created_by=_user(by),
    )
    services = [
        ClientPackageService(
            client_package=client_package,
            service=ps.service,
            name=ps.service.name,
            allowance=ps.allowance if fixed else None,
        )
        for ps in included
    ]
    quantities: list[tuple[Service | None, int]] = (
        [(ps.service, ps.allowance or 0) for ps in included]  # each >= 1, checked above
        if fixed
        else [(None, package.credits)]
    )
    grants = [
        CreditLedgerEntry(
            client_package=client_package,
            kind=LedgerKind.GRANT,
            quantity=quantity,
            service=service,
            reason="Package sold",
            created_by=_user(by),
        )
        for service, quantity in quantities
    ]
    return client_package, services, grants


_LOCKED = Prepared(
    lambda pk: ClientPackage.objects.select_for_update().filter(pk=pk)[:2], pk=int
).planned()


def _lock_package(client_package: ClientPackage | int) -> ClientPackage:
    """The package's row, locked (FOR UPDATE)."""
    if connection.get_autocommit():  # as select_for_update() refuses when compiled
        raise TransactionManagementError(
            "select_for_update cannot be used outside of a transaction."
        )
    pk = client_package if isinstance(client_package, int) else client_package.pk
    found = _LOCKED.objects(pk=pk)
    if not found:
        raise ClientPackage.DoesNotExist("ClientPackage matching query does not exist.")
    return found[0]


# A package's covered services, each with the hash of the package's newest ledger row
# (`chain_head`): what taking a credit reads once the package is locked, in one query.
_SERVICES_AND_HEAD = Prepared(
    lambda package: (
        ClientPackageService.objects.filter(client_package_id=package)
        .annotate(
            chain_head=Subquery(
                CreditLedgerEntry.objects.filter(client_package_id=package)
                .order_by("-id")
                .values("chain_hash")[:1]
            )
        )
        .order_by("id")
    ),
    package=int,
).planned()


def _lock_with_services(client_package_id: int) -> tuple[ClientPackage, str | None]:
    """The package's row locked, with its covered services read after the lock (in one
    query with its ledger's chain head: the hash a new ledger row follows, "" for none;
    None when the package covers nothing, so no head was read). The check and the
    caller's page use those services (`client_package.services.all()`)."""
    # Both sent at once, the services read after the lock (so it sees what the lock
    # waited for), and answered in one round trip (issue 10).
    if not connection.get_autocommit():  # else _lock_package refuses
        _LOCKED.read_ahead(pk=client_package_id)
        _SERVICES_AND_HEAD.read_ahead(package=client_package_id)
    client_package = _lock_package(client_package_id)
    rows = _SERVICES_AND_HEAD.objects(package=client_package_id)
    # As prefetch_related("services") leaves it.
    services: Any = client_package.services.all()
    services._result_cache = rows
    services._prefetch_done = True
    cast(Any, client_package)._prefetched_objects_cache = {"services": services}
    return client_package, ((rows[0].chain_head or "") if rows else None)


def check_package_covers(
    *,
    client_package: ClientPackage,
    client_id: int,
    service: Service,
    on_date: dt.date,
    today: dt.date | None = None,
    consuming: bool = True,
) -> ClientPackageService:
    """Raise the refusal a receptionist should see when `client_package` cannot pay for
    `service` on `on_date` for the client; return the covered service row otherwise.

    `consuming=False` checks an already linked appointment being edited: its own credit
    is already counted, so no free credit is needed.
    """
    today = today or timezone.localdate()
    name = client_package.name
    if client_package.client_id != client_id:
        raise DomainError(
            "package_other_client", f"{name} belongs to another client; it cannot be used here."
        )
    status = client_package.status_on(today)
    if status == ClientPackageStatus.CANCELED:
        raise DomainError("package_not_eligible", f"{name} is canceled and cannot be used.")
    if consuming and status == ClientPackageStatus.COMPLETED:
        raise DomainError("no_credits_left", f"No credits left in {name}.")
    if status == ClientPackageStatus.EXPIRED:
        assert client_package.expires_on is not None  # only a dated package expires
        raise DomainError(
            "package_expired", f"{name} expired on {_day(client_package.expires_on)}."
        )
    if client_package.expires_on is not None and on_date > client_package.expires_on:
        raise DomainError(
            "package_expired",
            f"{name} expires on {_day(client_package.expires_on)}, before this appointment "
            f"({_day(on_date)}).",
        )
    covered = next((s for s in client_package.services.all() if s.service_id == service.pk), None)
    if covered is None:
        raise DomainError("service_not_covered", f"{name} does not cover {service.name}.")
    if consuming and covered.allowance is not None and covered.used >= covered.allowance:
        raise DomainError("no_credits_left", f"No credits left for {service.name} in {name}.")
    return covered


def consume(
    *,
    client_package_id: int,
    appointment_id: int,
    client_id: int,
    service: Service,
    on_date: dt.date,
    reason: str = "Appointment linked",
    by: User | None,
) -> ClientPackage:
    """Take one credit from a client package for an appointment.

    Contract: call inside a transaction in which the caller has already locked the
    appointment row (lock order: appointment, then package). This locks the client
    package row, re-checks under the lock that it pays for `service` on `on_date` for
    `client_id` (`check_package_covers`, raising its `DomainError` otherwise), then
    adds 1 to `consumed` (and, for a fixed package, to the service's `used`) and
    appends one ledger row: kind consume, quantity -1, with the appointment, the
    service, `reason` and `by`. It does not touch the appointment row: setting its
    `client_package` is the caller's job (`calendar_app.services`).
    """
    client_package, head = _lock_with_services(client_package_id)
    covered = check_package_covers(
        client_package=client_package, client_id=client_id, service=service, on_date=on_date
    )
    client_package.consumed += 1
    if covered.allowance is not None:
        covered.used += 1
        covered.save(update_fields=["used"])
    entry = CreditLedgerEntry(
        client_package=client_package,
        kind=LedgerKind.CONSUME,
        quantity=-1,
        service=service,
        appointment_id=appointment_id,
        reason=reason,
        created_by=_user(by),
    )
    seal_new_entries(CreditLedgerEntry, [entry], {} if head is None else {client_package.pk: head})
    # The counter and the ledger row in one statement (the package is locked above),
    # sent without waiting for it: every check is done, nothing reads the row back, and
    # PostgreSQL runs it (with the report triggers it fires) while the caller goes on,
    # e.g. to render its page, inside the package's lock window (issue 10). It is waited
    # for before the transaction's next statement or COMMIT, which raise its error.
    insert_row(
        entry,
        with_=_consumed_sql(),
        with_params=[client_package.consumed, client_package.pk],
        behind=True,
    )
    return client_package


def _consumed_sql() -> str:
    """`UPDATE` of a client package's `consumed` (value, pk), as `save(update_fields=
    ["consumed"])` sends it."""
    meta, quote = ClientPackage._meta, connection.ops.quote_name
    return (
        f"UPDATE {quote(meta.db_table)} SET {quote(column(meta.get_field('consumed')))} = %s "  # noqa: S608 - names from the model
        f"WHERE {quote(column(meta.pk))} = %s"
    )


def release(
    *,
    client_package_id: int,
    appointment_id: int,
    service_id: int,
    reason: str,
    by: User | None,
) -> ClientPackage:
    """Give back the credit an appointment consumed from a client package.

    Contract: call inside a transaction in which the caller has already locked the
    appointment row, which is linked to this package. This locks the client package
    row, subtracts 1 from `consumed` (and, for a fixed package, from the `used` of the
    service the credit was consumed for: the service of the appointment's latest
    consume row in the ledger, else `service_id`), then appends one ledger row: kind
    release, quantity +1, with the appointment, that service, `reason` and `by`. It
    does not touch the appointment row (clearing its `client_package` is the caller's
    job). No re-check: a credit can always be given back, even to an expired or
    canceled package (its status is computed, so it stays Expired or Canceled).
    """
    client_package = _lock_package(client_package_id)
    consumed_row = (
        CreditLedgerEntry.objects.filter(
            client_package=client_package, appointment_id=appointment_id, kind=LedgerKind.CONSUME
        )
        .order_by("-id")
        .first()
    )
    if consumed_row is not None and consumed_row.service_id is not None:
        service_id = consumed_row.service_id
    client_package.consumed -= 1
    client_package.save(update_fields=["consumed"])
    if client_package.kind == PackageKind.FIXED:
        covered = client_package.services.get(service_id=service_id)
        covered.used -= 1
        covered.save(update_fields=["used"])
    CreditLedgerEntry.objects.create(
        client_package=client_package,
        kind=LedgerKind.RELEASE,
        quantity=1,
        service_id=service_id,
        appointment_id=appointment_id,
        reason=reason,
        created_by=_user(by),
    )
    return client_package


def move(
    *,
    appointment_id: int,
    client_id: int,
    from_package_id: int,
    from_service_id: int,
    to_package_id: int,
    service: Service,
    on_date: dt.date,
    reason: str,
    by: User | None,
) -> ClientPackage:
    """Move an appointment's credit: give it back to `from_package_id` and take one from
    `to_package_id` for `service` on `on_date` (the same package, for a service change).

    Contract: call inside a transaction in which the caller has already locked the
    appointment row. Both package rows are locked first, in id order, so two moves in
    opposite directions cannot deadlock. Writes two ledger rows, both with `reason` and
    the appointment: a release (+1) on the old package for the service the credit was
    consumed for (`from_service_id` if the ledger has no consume row), then a consume
    (-1) on the new package for `service`. If the new package cannot pay (see
    `consume`), its `DomainError` is raised and the caller's transaction must be rolled
    back, which takes the release back with it. Returns the package now paying.
    """
    for pk in sorted({from_package_id, to_package_id}):
        _lock_package(pk)
    release(
        client_package_id=from_package_id,
        appointment_id=appointment_id,
        service_id=from_service_id,
        reason=reason,
        by=by,
    )
    return consume(
        client_package_id=to_package_id,
        appointment_id=appointment_id,
        client_id=client_id,
        service=service,
        on_date=on_date,
        reason=reason,
        by=by,
    )


@transaction.atomic
def client_package_cancel(
    *, client_package: ClientPackage, reason: str, by: User | None
) -> ClientPackage:
    """Cancel a client package (a reason is required). Its remaining credits can no longer
    be used; appointments already linked keep their credit until unlinked."""
    require_perm(by, "packages.cancel_clientpackage")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", "Give a reason for canceling the package.")
    locked = _lock_package(client_package)
    if locked.canceled_at is not None:
        raise DomainError("package_canceled", f"{locked.name} is already canceled.")
    locked.canceled_at = timezone.now()
    locked.cancel_reason = reason
    locked.canceled_by = _user(by)
    locked.save(update_fields=["canceled_at", "cancel_reason", "canceled_by"])
    hooks.emit("client_package.canceled", locked, by=by)
    return locked


@transaction.atomic
def client_package_adjust(
    *,
    client_package: ClientPackage,
    quantity: int,
    reason: str,
    service: Service | None = None,
    by: User | None,
) -> ClientPackage:
    """Add (quantity > 0) or remove (< 0) credits by hand, with a reason, as a ledger row.

    Fixed packages adjust one service's allowance, so `service` is required for them.
    Credits never drop below what is already consumed.
    """
    require_perm(by, "packages.adjust_credits")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", "Give a reason for the adjustment.")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity == 0:
        raise DomainError("invalid_quantity", "Enter a whole number of credits other than 0.")
    locked = _lock_package(client_package)
    if locked.canceled_at is not None:
        raise DomainError("package_canceled", f"{locked.name} is canceled; it cannot be adjusted.")
    covered = None
    if locked.kind == PackageKind.FIXED:
        if service is None:
            raise DomainError(
                "service_required", "Choose which service's quantity to adjust.", field="service"
            )
        covered = locked.services.filter(service=service).first()
        if covered is None:
            raise DomainError(
                "service_not_covered", f"{locked.name} does not cover {service.name}."
            )
        assert covered.allowance is not None  # a fixed package's services have allowances
        if covered.allowance + quantity < covered.used:
            raise DomainError(
                "adjust_below_consumed",
                f"Can't remove {-quantity} credit(s) of {service.name}: only "
                f"{covered.allowance - covered.used} remain.",
            )
    elif service is not None and not locked.services.filter(service=service).exists():
        raise DomainError("service_not_covered", f"{locked.name} does not cover {service.name}.")
    if locked.credits + quantity < locked.consumed:
        raise DomainError(
            "adjust_below_consumed",
            f"Can't remove {-quantity} credit(s): only {locked.remaining} remain.",
        )
    if locked.credits + quantity > 10_000:
        raise DomainError("invalid_quantity", "A package cannot hold more than 10,000 credits.")
    locked.credits += quantity
    locked.save(update_fields=["credits"])
    if covered is not None and covered.allowance is not None:
        covered.allowance += quantity
        covered.save(update_fields=["allowance"])
    CreditLedgerEntry.objects.create(
        client_package=locked,
        kind=LedgerKind.ADJUST,
        quantity=quantity,
        service=service if locked.kind == PackageKind.FIXED else None,
        reason=reason,
        created_by=_user(by),
    )
    return locked


@transaction.atomic
def client_package_extend_expiry(
    *, client_package: ClientPackage, expires_on: dt.date, reason: str, by: User | None
) -> ClientPackage:
    """Change one client package's expiry date, with a reason; the change is recorded.

    A new date may not fall before the start date, nor before an appointment that
    already uses the package (unlink that first).
    """
    require_perm(by, "packages.extend_expiry")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", "Give a reason for changing the expiry date.")
    if not isinstance(expires_on, dt.date):
        raise DomainError("invalid_date", "Enter a valid expiry date.")
    check_date_in_range(expires_on, field="expires_on")
    locked = _lock_package(client_package)
    if locked.canceled_at is not None:
        raise DomainError("package_canceled", f"{locked.name} is canceled.")
    if expires_on < locked.start_date:
        raise DomainError(
            "expiry_before_start",
            f"The expiry date can't be before the start date ({_day(locked.start_date)}).",
        )
    if expires_on == locked.expires_on:
        raise DomainError("expiry_unchanged", f"{locked.name} already expires on that date.")
    last_linked = (
        locked.appointments.order_by("-starts_at").values_list("starts_at", flat=True).first()
    )
    if last_linked is not None and timezone.localdate(last_linked) > expires_on:
        raise DomainError(
            "expiry_before_linked_appointment",
            f"An appointment on {_day(timezone.localdate(last_linked))} uses {locked.name}; "
            "unlink it first or choose a later date.",
        )
    ExpiryChange.objects.create(
        client_package=locked,
        old_expires_on=locked.expires_on,
        new_expires_on=expires_on,
        reason=reason,
        created_by=_user(by),
    )
    locked.expires_on = expires_on
    locked.save(update_fields=["expires_on"])
    return locked
