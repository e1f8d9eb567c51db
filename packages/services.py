"""Writes for client packages and their credits.

Every credit movement goes through `_consume` / `_release` / `client_package_adjust`,
which lock the client package row first (`select_for_update`), re-check the rule under
the lock, then append a ledger row and update the cached counters in the same
transaction. Two staff racing for the last credit therefore serialize on that row lock:
the second re-reads the counters after the first commits and gets a clear refusal. The
CHECK constraints on the counters are the backstop, not the control.

Lock order, everywhere: appointment row, then client package row. Keeping one order is
what keeps link racing unlink (or cancel) free of deadlocks.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format

from calendar_app.models import Appointment, AppointmentStatus
from catalog.models import Package, PackageKind, Service
from clients.models import Client
from kernel.errors import DomainError, require_perm
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
    if not included:
        raise DomainError(
            "package_has_no_services", f"{package.name} includes no services; add one first."
        )
    if package.kind == PackageKind.FIXED:
        allowances = [ps.allowance or 0 for ps in included]
        if any(a < 1 for a in allowances) or sum(allowances) != package.credits:
            raise DomainError(
                "package_misconfigured",
                f"The quantities of {package.name} do not add up to its {package.credits} credits.",
            )
    start_date = start_date or timezone.localdate()
    client_package = ClientPackage.objects.create(
        client=client,
        package=package,
        name=package.name,
        kind=package.kind,
        price=package.price,
        tax_rate=package.tax_rate,
        credits=package.credits,
        start_date=start_date,
        expires_on=package.expiry_for(start_date),
        created_by=_user(by),
    )
    fixed = package.kind == PackageKind.FIXED
    ClientPackageService.objects.bulk_create(
        ClientPackageService(
            client_package=client_package,
            service=ps.service,
            name=ps.service.name,
            allowance=ps.allowance if fixed else None,
        )
        for ps in included
    )
    grants = [(ps.service, ps.allowance) for ps in included] if fixed else [(None, package.credits)]
    CreditLedgerEntry.objects.bulk_create(
        CreditLedgerEntry(
            client_package=client_package,
            kind=LedgerKind.GRANT,
            quantity=quantity,
            service=service,
            reason="Package sold",
            created_by=_user(by),
        )
        for service, quantity in grants
    )
    return client_package


def _lock_package(client_package: ClientPackage | int) -> ClientPackage:
    pk = client_package if isinstance(client_package, int) else client_package.pk
    return ClientPackage.objects.select_for_update().get(pk=pk)


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


def _consume(*, appointment: Appointment, client_package_id: int, by: User | None) -> ClientPackage:
    """Take one credit for `appointment` (already locked) from the package, under its lock."""
    client_package = _lock_package(client_package_id)
    covered = check_package_covers(
        client_package=client_package,
        client_id=appointment.client_id,
        service=appointment.service,
        on_date=timezone.localdate(appointment.starts_at),
    )
    client_package.consumed += 1
    client_package.save(update_fields=["consumed"])
    if covered.allowance is not None:
        covered.used += 1
        covered.save(update_fields=["used"])
    CreditLedgerEntry.objects.create(
        client_package=client_package,
        kind=LedgerKind.CONSUME,
        quantity=-1,
        service=appointment.service,
        appointment=appointment,
        reason="Appointment linked",
        created_by=_user(by),
    )
    return client_package


def _release(*, appointment: Appointment, reason: str, by: User | None) -> ClientPackage:
    """Give back the credit `appointment` (locked, linked) consumed, under the package lock."""
    client_package = _lock_package(appointment.client_package_id)
    consumed_row = (
        CreditLedgerEntry.objects.filter(
            client_package=client_package, appointment_id=appointment.pk, kind=LedgerKind.CONSUME
        )
        .order_by("-id")
        .first()
    )
    service_id = consumed_row.service_id if consumed_row else appointment.service_id
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
        appointment=appointment,
        reason=reason,
        created_by=_user(by),
    )
    return client_package


def _lock_appointment(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("service", "client")
        .get(pk=appointment.pk)
    )


def link_locked(
    *, appointment: Appointment, client_package: ClientPackage, by: User | None
) -> Appointment:
    """Link an appointment the caller has locked (or just created) in its transaction."""
    if appointment.client_package_id is not None:
        if appointment.client_package_id == client_package.pk:
            raise DomainError(
                "already_linked", f"This appointment is already linked to {client_package.name}."
            )
        raise DomainError(
            "already_linked",
            "This appointment is already linked to a package. Unlink it first to link another.",
        )
    if appointment.series_id is not None:
        raise DomainError(
            "repeating_appointment",
            "Packages can't be applied to repeating appointments. Book each appointment "
            "separately to use package credits.",
        )
    if appointment.status == AppointmentStatus.CANCELED:
        raise DomainError(
            "appointment_canceled", "This appointment is canceled; it cannot use a package."
        )
    _consume(appointment=appointment, client_package_id=client_package.pk, by=by)
    appointment.client_package_id = client_package.pk
    appointment.save(update_fields=["client_package", "updated_at"])
    return appointment


@transaction.atomic
def appointment_link(
    *,
    appointment: Appointment,
    client_package: ClientPackage,
    service: Service | None = None,
    by: User | None,
) -> Appointment:
    """Link `appointment` to `client_package`, consuming one credit in the same transaction.

    `service` is the Service chosen in the Link package popup; when it differs from the
    appointment's, the appointment is for that service from now on (and must be covered).
    """
    require_perm(by, "packages.link_clientpackage")
    locked = _lock_appointment(appointment)
    if service is not None and service.pk != locked.service_id and locked.client_package_id is None:
        locked.service = service
        locked.save(update_fields=["service", "updated_at"])
    link_locked(appointment=locked, client_package=client_package, by=by)
    _refresh(appointment, locked)
    return appointment


@transaction.atomic
def appointment_unlink(*, appointment: Appointment, by: User | None) -> Appointment:
    """Remove the package from `appointment` and give its credit back.

    A Completed package becomes Active again (its status is computed from the credits).
    """
    require_perm(by, "packages.link_clientpackage")
    locked = _lock_appointment(appointment)
    if locked.client_package_id is None:
        raise DomainError("not_linked", "This appointment is not linked to a package.")
    unlink_locked(appointment=locked, reason="Appointment unlinked", by=by)
    _refresh(appointment, locked)
    return appointment


def unlink_locked(*, appointment: Appointment, reason: str, by: User | None) -> None:
    _release(appointment=appointment, reason=reason, by=by)
    appointment.client_package = None
    appointment.kept_credit = False
    appointment.save(update_fields=["client_package", "kept_credit", "updated_at"])


def _refresh(target: Appointment, source: Appointment) -> None:
    for field in ("client_package_id", "service_id", "kept_credit", "status", "updated_at"):
        setattr(target, field, getattr(source, field))
    for cached in ("client_package", "service"):
        target._state.fields_cache.pop(cached, None)


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
            raise DomainError("service_required", "Choose which service's quantity to adjust.")
        covered = locked.services.filter(service=service).first()
        if covered is None:
            raise DomainError(
                "service_not_covered", f"{locked.name} does not cover {service.name}."
            )
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
    if covered is not None:
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
        Appointment.objects.filter(client_package=locked)
        .order_by("-starts_at")
        .values_list("starts_at", flat=True)
        .first()
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
