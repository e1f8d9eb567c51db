"""Writes for the catalog: tax rates, service categories, services and packages.

Catalog rows are templates. A client package copies what was sold (name, kind, credits,
amount, services and allowances), so nothing here ever changes a package already sold.
Nothing is deleted either: what is no longer offered is archived, and archived rows stay
on the appointments, invoices and client packages that refer to them.

Every function checks the caller's permission (`by=None` is the system), validates the
rule under a row lock where two staff editing at once could break it, and raises
`DomainError` with a message for staff. `DomainError.context["field"]` names the input
the message is about, so a form can show it beside that field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from catalog.models import (
    MAX_CAPACITY,
    Package,
    PackageKind,
    PackageService,
    PeriodUnit,
    Service,
    ServiceCategory,
    TaxRate,
)
from kernel.errors import DomainError, require_perm
from kernel.records import clean_name, set_archived

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser as User

# DecimalField(max_digits=12, decimal_places=2) holds amounts below 10^10.
MAX_PRICE = Decimal("9999999999.99")
MAX_CREDITS = 1000
MAX_PERIOD = 1000
MAX_DURATION = 24 * 60


# ------------------------------------------------------------------------ validation


def _price(value: Any, *, field: str = "price") -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        amount = None
    if amount is None or not amount.is_finite():
        raise DomainError("invalid_amount", "Enter an amount such as 120.00.", field=field)
    if amount < 0:
        raise DomainError("invalid_amount", "The amount cannot be negative.", field=field)
    if amount != amount.quantize(Decimal("0.01")):
        raise DomainError(
            "invalid_amount", "Use at most two decimals, such as 120.50.", field=field
        )
    if amount > MAX_PRICE:
        raise DomainError("invalid_amount", "That amount is too large.", field=field)
    return amount.quantize(Decimal("0.01"))


def _whole(value: Any, *, low: int, high: int, field: str, message: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DomainError("invalid_number", message, field=field)
    return value


def _usable_tax_rate(tax_rate: TaxRate | None, *, current: TaxRate | None = None) -> None:
    """A newly chosen tax rate must be in use; an archived one already set may stay."""
    if tax_rate is None or (current is not None and tax_rate.pk == current.pk):
        return
    if TaxRate.objects.filter(pk=tax_rate.pk, archived=True).exists():
        raise DomainError(
            "tax_rate_archived", f"The tax rate {tax_rate.name} is archived.", field="tax_rate"
        )


def package_quantities_problem(*, credits: int, quantities: Mapping[Any, int | None]) -> str | None:
    """Why the quantities of a fixed package are wrong, or None when they are right.

    Each included service needs a quantity of at least 1, and the quantities add up to
    the package's credits (DOMAIN.md: the allowances add up to the package's credits).
    Forms call this too, so the message beside the field is the service's own.
    """
    if any(q is None or q < 1 for q in quantities.values()):
        return "Give each service a quantity of at least 1."
    total = sum(q for q in quantities.values() if q is not None)  # none is None (above)
    if total != credits:
        credit_word = "credit" if credits == 1 else "credits"
        return f"The quantities add up to {total} but the package has {credits} {credit_word}."
    return None


# ------------------------------------------------------------------------ tax rates


def _rate(value: Any) -> Decimal:
    try:
        rate = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        rate = None
    if rate is None or not rate.is_finite() or not 0 <= rate <= 100:
        raise DomainError("invalid_rate", "Enter a rate between 0 and 100 (%).", field="rate")
    if rate != rate.quantize(Decimal("0.01")):
        raise DomainError("invalid_rate", "Use at most two decimals, such as 12.5.", field="rate")
    return rate.quantize(Decimal("0.01"))


@transaction.atomic
def tax_rate_create(*, name: str, rate: Decimal, by: User | None) -> TaxRate:
    require_perm(by, "catalog.add_taxrate")
    return TaxRate.objects.create(
        name=clean_name(name, what="tax rate", max_length=100), rate=_rate(rate)
    )


@transaction.atomic
def tax_rate_update(*, tax_rate: TaxRate, name: str, rate: Decimal, by: User | None) -> TaxRate:
    """Rename a tax rate or change its rate. Invoices copy the rate on each line, so
    issued invoices keep the rate they were issued with."""
    require_perm(by, "catalog.change_taxrate")
    locked = TaxRate.objects.select_for_update().get(pk=tax_rate.pk)
    locked.name = clean_name(name, what="tax rate", max_length=100)
    locked.rate = _rate(rate)
    locked.save(update_fields=["name", "rate"])
    return locked


@transaction.atomic
def tax_rate_archive(*, tax_rate: TaxRate, by: User | None) -> TaxRate:
    """Archived tax rates are no longer offered; services and packages that use one keep
    it until they are edited."""
    require_perm(by, "catalog.change_taxrate")
    return set_archived(TaxRate, tax_rate, True)


@transaction.atomic
def tax_rate_restore(*, tax_rate: TaxRate, by: User | None) -> TaxRate:
    require_perm(by, "catalog.change_taxrate")
    return set_archived(TaxRate, tax_rate, False)


# ------------------------------------------------------------------------ categories


def _category_name(name: str, *, exclude_pk: int | None = None) -> str:
    clean = clean_name(name, what="category", max_length=100)
    clash = ServiceCategory.objects.annotate(lname=Lower("name")).filter(lname=clean.lower())
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise DomainError(
            "category_exists", f"There is already a category called {clean}.", field="name"
        )
    return clean


def _save_unique(obj, fields: list[str] | None, message: str):
    """Save; a unique name taken by a concurrent request becomes a clear refusal."""
    try:
        with transaction.atomic():
            obj.save(update_fields=fields)
    except IntegrityError as exc:
        raise DomainError("name_taken", message, field="name") from exc
    return obj


@transaction.atomic
def category_create(*, name: str, by: User | None) -> ServiceCategory:
    require_perm(by, "catalog.add_servicecategory")
    clean = _category_name(name)
    return _save_unique(
        ServiceCategory(name=clean), None, f"There is already a category called {clean}."
    )


@transaction.atomic
def category_update(*, category: ServiceCategory, name: str, by: User | None) -> ServiceCategory:
    require_perm(by, "catalog.change_servicecategory")
    locked = ServiceCategory.objects.select_for_update().get(pk=category.pk)
    locked.name = _category_name(name, exclude_pk=locked.pk)
    return _save_unique(locked, ["name"], f"There is already a category called {locked.name}.")


# ------------------------------------------------------------------------ services


def _service_fields(
    *,
    name: str,
    category: ServiceCategory | None,
    duration_minutes: int,
    price: Decimal,
    tax_rate: TaxRate | None,
    capacity: int | None,
    current: Service | None = None,
) -> dict[str, Any]:
    _usable_tax_rate(tax_rate, current=current.tax_rate if current else None)
    if capacity is None:  # not given: a new service is an ordinary one, an edit keeps it
        capacity = current.capacity if current else 1
    return {
        "name": clean_name(name, what="service", max_length=200),
        "category": category,
        "duration_minutes": _whole(
            duration_minutes,
            low=1,
            high=MAX_DURATION,
            field="duration_minutes",
            message="Enter a duration between 1 and 1440 minutes.",
        ),
        "price": _price(price),
        "tax_rate": tax_rate,
        "capacity": _whole(
            capacity,
            low=1,
            high=MAX_CAPACITY,
            field="capacity",
            message=f"Enter a capacity between 1 and {MAX_CAPACITY} places "
            "(1 is an ordinary appointment, more makes it a class).",
        ),
    }


@transaction.atomic
def service_create(
    *,
    name: str,
    category: ServiceCategory | None,
    duration_minutes: int,
    price: Decimal,
    tax_rate: TaxRate | None = None,
    capacity: int | None = None,
    by: User | None,
) -> Service:
    """A service; `capacity` > 1 makes it a class (that many clients per session)."""
    require_perm(by, "catalog.add_service")
    return Service.objects.create(
        **_service_fields(
            name=name,
            category=category,
            duration_minutes=duration_minutes,
            price=price,
            tax_rate=tax_rate,
            capacity=capacity,
        )
    )


@transaction.atomic
def service_update(
    *,
    service: Service,
    name: str,
    category: ServiceCategory | None,
    duration_minutes: int,
    price: Decimal,
    tax_rate: TaxRate | None = None,
    capacity: int | None = None,
    by: User | None,
) -> Service:
    """Change a service. Appointments already booked keep their times; invoices keep
    their lines; client packages keep the service's name as it was sold. A smaller
    `capacity` (None keeps it) applies to new attendees: nobody booked is removed."""
    require_perm(by, "catalog.change_service")
    locked = (
        Service.objects.select_for_update(of=("self",))
        .select_related("tax_rate")
        .get(pk=service.pk)
    )
    fields = _service_fields(
        name=name,
        category=category,
        duration_minutes=duration_minutes,
        price=price,
        tax_rate=tax_rate,
        capacity=capacity,
        current=locked,
    )
    for key, value in fields.items():
        setattr(locked, key, value)
    locked.save(update_fields=list(fields))
    return locked


@transaction.atomic
def service_archive(*, service: Service, by: User | None) -> Service:
    """Stop offering a service: it can no longer be booked or added to a package.

    Refused while a package on sale includes it, because selling that package would
    grant credits nobody could book; archive the package or take the service out of it
    first.
    """
    require_perm(by, "catalog.change_service")
    locked = Service.objects.select_for_update().get(pk=service.pk)
    on_sale = list(
        Package.objects.filter(archived=False, package_services__service=locked)
        .order_by("name")
        .values_list("name", flat=True)
    )
    if on_sale:
        names = ", ".join(on_sale)
        raise DomainError(
            "service_in_packages",
            f"{locked.name} is included in packages on sale ({names}). Archive those "
            "packages or take the service out of them first.",
        )
    return set_archived(Service, service, True)


@transaction.atomic
def service_restore(*, service: Service, by: User | None) -> Service:
    require_perm(by, "catalog.change_service")
    return set_archived(Service, service, False)


# ------------------------------------------------------------------------ packages


def _package_fields(
    *,
    name: str,
    description: str,
    credits: int,
    price: Decimal,
    tax_rate: TaxRate | None,
    services: Sequence[Service],
    quantities: Mapping[Service, int] | None,
    expires_after: tuple[int, str] | None,
    current: Package | None,
) -> tuple[dict[str, Any], list[tuple[Service, int | None]]]:
    """Validate a package's input; return its fields and its (service, allowance) rows."""
    clean: dict[str, Any] = {
        "name": clean_name(name, what="package", max_length=200),
        "description": (description or "").strip(),
        "credits": _whole(
            credits,
            low=1,
            high=MAX_CREDITS,
            field="credits",
            message=f"Enter a number of credits between 1 and {MAX_CREDITS}.",
        ),
        "price": _price(price),
        "tax_rate": tax_rate,
    }
    _usable_tax_rate(tax_rate, current=current.tax_rate if current else None)

    chosen: list[Service] = []
    for service in services:
        if service.pk not in {s.pk for s in chosen}:
            chosen.append(service)
    if not chosen:
        raise DomainError(
            "package_has_no_services", "Choose at least one service.", field="services"
        )
    # A package on sale includes only bookable services; an archived package being
    # edited may keep the archived services it already has, but gains no new ones.
    kept = set()
    if current is not None and current.archived:
        kept = set(current.package_services.values_list("service_id", flat=True))
    archived_chosen = Service.objects.filter(pk__in=[s.pk for s in chosen], archived=True)
    archived = [s.name for s in archived_chosen.order_by("name") if s.pk not in kept]
    if archived:
        raise DomainError(
            "service_archived",
            f"{', '.join(archived)} {'is' if len(archived) == 1 else 'are'} archived and "
            "cannot be part of a package on sale.",
            field="services",
        )

    if quantities is None:
        clean["kind"] = PackageKind.FLEXIBLE
        rows: list[tuple[Service, int | None]] = [(s, None) for s in chosen]
    else:
        clean["kind"] = PackageKind.FIXED
        by_pk = {s.pk: q for s, q in quantities.items()}
        rows = [(s, by_pk.get(s.pk)) for s in chosen]
        problem = package_quantities_problem(
            credits=clean["credits"], quantities={s.pk: q for s, q in rows}
        )
        if problem:
            raise DomainError("quantities_mismatch", problem, field="define_quantities")

    if expires_after is None:
        clean["expires_after_value"] = None
        clean["expires_after_unit"] = None
    else:
        value, unit = expires_after
        clean["expires_after_value"] = _whole(
            value,
            low=1,
            high=MAX_PERIOD,
            field="expires_after_value",
            message=f"Enter a period between 1 and {MAX_PERIOD}.",
        )
        if unit not in PeriodUnit.values:
            raise DomainError(
                "invalid_period", "Choose days, weeks, months or years.", field="expires_after_unit"
            )
        clean["expires_after_unit"] = unit
    return clean, rows


@transaction.atomic
def package_create(
    *,
    name: str,
    description: str = "",
    credits: int,
    price: Decimal,
    tax_rate: TaxRate | None = None,
    services: Sequence[Service],
    quantities: Mapping[Service, int] | None = None,
    expires_after: tuple[int, str] | None = None,
    by: User | None,
) -> Package:
    """Add a package to the catalog.

    `quantities` given makes it a fixed package ("Define quantities"): one allowance per
    service in `services`, adding up to `credits`. Without it the package is flexible:
    its credits are one pool for any of its services. `expires_after` is (value, unit),
    e.g. (3, "months"); None: the package never expires.
    """
    require_perm(by, "catalog.add_package")
    fields, rows = _package_fields(
        name=name,
        description=description,
        credits=credits,
        price=price,
        tax_rate=tax_rate,
        services=services,
        quantities=quantities,
        expires_after=expires_after,
        current=None,
    )
    package = Package.objects.create(**fields)
    PackageService.objects.bulk_create(
        PackageService(package=package, service=service, allowance=allowance)
        for service, allowance in rows
    )
    return package


@transaction.atomic
def package_update(
    *,
    package: Package,
    name: str,
    description: str = "",
    credits: int,
    price: Decimal,
    tax_rate: TaxRate | None = None,
    services: Sequence[Service],
    quantities: Mapping[Service, int] | None = None,
    expires_after: tuple[int, str] | None = None,
    by: User | None,
) -> Package:
    """Change a package (same arguments as `package_create`).

    Client packages already sold are snapshots of what was sold, so they never change:
    only packages sold from now on get the new name, credits, amount, services and
    expiry period.
    """
    require_perm(by, "catalog.change_package")
    # Locked so that two staff saving the same package at once cannot mix their services.
    locked = (
        Package.objects.select_for_update(of=("self",))
        .select_related("tax_rate")
        .get(pk=package.pk)
    )
    fields, rows = _package_fields(
        name=name,
        description=description,
        credits=credits,
        price=price,
        tax_rate=tax_rate,
        services=services,
        quantities=quantities,
        expires_after=expires_after,
        current=locked,
    )
    for key, value in fields.items():
        setattr(locked, key, value)
    locked.save(update_fields=list(fields))

    existing = {ps.service_id: ps for ps in locked.package_services.all()}
    wanted = {service.pk for service, _ in rows}
    locked.package_services.exclude(service_id__in=wanted).delete()
    changed = []
    for service, allowance in rows:
        row = existing.get(service.pk)
        if row is None:
            PackageService.objects.create(package=locked, service=service, allowance=allowance)
        elif row.allowance != allowance:
            row.allowance = allowance
            changed.append(row)
    PackageService.objects.bulk_update(changed, ["allowance"])
    return locked


@transaction.atomic
def package_archive(*, package: Package, by: User | None) -> Package:
    """Archived packages can't be sold; packages already sold keep working."""
    require_perm(by, "catalog.change_package")
    return set_archived(Package, package, True)


@transaction.atomic
def package_restore(*, package: Package, by: User | None) -> Package:
    """Put a package back on sale; refused while it includes an archived service."""
    require_perm(by, "catalog.change_package")
    locked = Package.objects.select_for_update().get(pk=package.pk)
    archived = list(
        Service.objects.filter(archived=True, pk__in=locked.package_services.values("service_id"))
        .order_by("name")
        .values_list("name", flat=True)
    )
    if archived:
        raise DomainError(
            "service_archived",
            f"{locked.name} includes archived services ({', '.join(archived)}). Restore "
            "them or take them out of the package first.",
        )
    return set_archived(Package, package, False)
