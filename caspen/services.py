"""Writes for the practice's settings: its details and invoice settings, locations,
practitioners, cancellation reasons, payment methods, and staff users with their roles.

Same conventions as every `services.py`: keyword-only typed arguments, one transaction,
the caller's permission checked here (`by=None` is the system), and `DomainError` with a
message for staff when a rule refuses. `DomainError.context["field"]` names the input a
message is about. Nothing is deleted: what is no longer used is archived (or, for staff,
deactivated), so the appointments and invoices that refer to it stay whole.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from calendar_app.models import CancellationReason, Location, Practitioner
from caspen import roles
from caspen.errors import DomainError, require_perm
from caspen.models import PracticeSettings
from invoicing.models import Invoice, InvoiceStatus, PaymentMethod

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.contrib.auth.models import User as UserModel

    User = AbstractBaseUser

COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


def _name(value: str, *, what: str, max_length: int, field: str = "name") -> str:
    name = " ".join((value or "").split())
    if not name:
        raise DomainError("name_required", f"Give the {what} a name.", field=field)
    if len(name) > max_length:
        raise DomainError("name_too_long", f"Use at most {max_length} characters.", field=field)
    return name


def _set_archived(model, obj, archived: bool):
    """Archive or restore `obj` under its row lock; the caller's instance follows."""
    locked = model.objects.select_for_update().get(pk=obj.pk)
    if locked.archived != archived:
        locked.archived = archived
        locked.save(update_fields=["archived"])
    obj.archived = archived
    return locked


# ------------------------------------------------------------------ practice settings

PRACTICE_FIELDS = ("name", "address", "phone", "email", "tax_id", "currency")
INVOICE_FIELDS = (
    "invoice_prefix",
    "invoice_next_number",
    "invoice_number_digits",
    "payment_terms_days",
    "prices_include_tax",
)


@transaction.atomic
def practice_details_update(
    *,
    name: str,
    address: str = "",
    phone: str = "",
    email: str = "",
    tax_id: str = "",
    currency: str,
    by: User | None,
) -> PracticeSettings:
    """Change the practice's details.

    The currency cannot change once an invoice has been issued: issued invoices carry
    amounts in the currency they were issued in, and the practice has one currency.
    """
    require_perm(by, "caspen.change_practicesettings")
    settings = _locked_settings()
    currency = (currency or "").strip().upper()
    if not CURRENCY.match(currency):
        raise DomainError(
            "invalid_currency", "Use a three-letter ISO code such as AUD.", field="currency"
        )
    if (
        currency != settings.currency
        and Invoice.objects.exclude(status=InvoiceStatus.DRAFT).exists()
    ):
        raise DomainError(
            "currency_locked",
            f"Invoices have been issued in {settings.currency}, so the currency can no longer change.",
            field="currency",
        )
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise DomainError(
                "invalid_email", "Enter a valid email address.", field="email"
            ) from exc
    settings.name = _name(name, what="practice", max_length=200)
    settings.address = (address or "").strip()
    settings.phone = _short(phone, 40, "phone")
    settings.email = email
    settings.tax_id = _short(tax_id, 40, "tax_id")
    settings.currency = currency
    settings.save(update_fields=list(PRACTICE_FIELDS))
    return settings


def _short(value: str, max_length: int, field: str) -> str:
    value = (value or "").strip()
    if len(value) > max_length:
        raise DomainError("too_long", f"Use at most {max_length} characters.", field=field)
    return value


@transaction.atomic
def invoice_settings_update(
    *,
    invoice_prefix: str,
    invoice_next_number: int,
    invoice_number_digits: int,
    payment_terms_days: int,
    prices_include_tax: bool,
    by: User | None,
) -> PracticeSettings:
    """Change how invoices are numbered and priced.

    Lowering the next number onto one already used is allowed here (a practice may fix
    a typo in a later step), but finalizing refuses to reuse a number
    (`invoice_number_taken`); `next_invoice_number_taken` tells the page to warn.
    Invoices copy "prices include tax" when they are created, so issued invoices keep it.
    """
    require_perm(by, "caspen.change_practicesettings")
    # Locked as finalizing locks it, so the next number never changes mid-numbering.
    settings = _locked_settings()
    settings.invoice_prefix = _short(invoice_prefix, 20, "invoice_prefix")
    for field, value, low, high, message in (
        (
            "invoice_next_number",
            invoice_next_number,
            1,
            2_147_483_647,
            "Enter a whole number of at least 1.",
        ),
        ("invoice_number_digits", invoice_number_digits, 1, 12, "Enter between 1 and 12 digits."),
        ("payment_terms_days", payment_terms_days, 0, 365, "Enter between 0 and 365 days."),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise DomainError("invalid_number", message, field=field)
        setattr(settings, field, value)
    settings.prices_include_tax = bool(prices_include_tax)
    settings.save(update_fields=list(INVOICE_FIELDS))
    return settings


def next_invoice_number_taken(settings: PracticeSettings) -> str | None:
    """The next invoice number when an invoice already has it (finalizing would refuse)."""
    number = settings.format_invoice_number(settings.invoice_next_number)
    return number if Invoice.objects.filter(number=number).exists() else None


def _locked_settings() -> PracticeSettings:
    PracticeSettings.load()
    return PracticeSettings.objects.select_for_update().get(pk=1)


# ------------------------------------------------------------------ locations


@transaction.atomic
def location_create(*, name: str, address: str = "", by: User | None) -> Location:
    require_perm(by, "calendar_app.add_location")
    return Location.objects.create(
        name=_name(name, what="location", max_length=200), address=(address or "").strip()
    )


@transaction.atomic
def location_update(
    *, location: Location, name: str, address: str = "", by: User | None
) -> Location:
    require_perm(by, "calendar_app.change_location")
    locked = Location.objects.select_for_update().get(pk=location.pk)
    locked.name = _name(name, what="location", max_length=200)
    locked.address = (address or "").strip()
    locked.save(update_fields=["name", "address"])
    return locked


@transaction.atomic
def location_archive(*, location: Location, by: User | None) -> Location:
    """No new appointments at an archived location; booked ones stay where they are."""
    require_perm(by, "calendar_app.change_location")
    return _set_archived(Location, location, True)


@transaction.atomic
def location_restore(*, location: Location, by: User | None) -> Location:
    require_perm(by, "calendar_app.change_location")
    return _set_archived(Location, location, False)


# ------------------------------------------------------------------ practitioners


def _practitioner_user(user: UserModel | None, *, practitioner_pk: int | None) -> UserModel | None:
    if user is None:
        return None
    linked = Practitioner.objects.filter(user=user)
    if practitioner_pk is not None:
        linked = linked.exclude(pk=practitioner_pk)
    other = linked.first()
    if other is not None:
        raise DomainError(
            "user_already_linked",
            f"{user.get_username()} is already linked to the practitioner {other.name}.",
            field="user",
        )
    return user


def _colour(value: str) -> str:
    if not COLOUR.match(value or ""):
        raise DomainError("invalid_colour", "Choose a colour such as #2f7d6d.", field="colour")
    return value.lower()


def _save_practitioner(practitioner: Practitioner, fields: list[str] | None) -> Practitioner:
    try:
        with transaction.atomic():
            practitioner.save(update_fields=fields)
    except IntegrityError as exc:  # the same user linked by a concurrent request
        raise DomainError(
            "user_already_linked",
            "That staff user is already linked to a practitioner.",
            field="user",
        ) from exc
    return practitioner


@transaction.atomic
def practitioner_create(
    *, name: str, colour: str = "#2f7d6d", user: UserModel | None = None, by: User | None
) -> Practitioner:
    """A practitioner has a calendar; linking a staff user lets them sign in to it."""
    require_perm(by, "calendar_app.add_practitioner")
    practitioner = Practitioner(
        name=_name(name, what="practitioner", max_length=200),
        colour=_colour(colour),
        user=_practitioner_user(user, practitioner_pk=None),
    )
    return _save_practitioner(practitioner, None)


@transaction.atomic
def practitioner_update(
    *,
    practitioner: Practitioner,
    name: str,
    colour: str,
    user: UserModel | None = None,
    by: User | None,
) -> Practitioner:
    require_perm(by, "calendar_app.change_practitioner")
    locked = Practitioner.objects.select_for_update().get(pk=practitioner.pk)
    locked.name = _name(name, what="practitioner", max_length=200)
    locked.colour = _colour(colour)
    locked.user = _practitioner_user(user, practitioner_pk=locked.pk)
    return _save_practitioner(locked, ["name", "colour", "user"])


@transaction.atomic
def practitioner_archive(*, practitioner: Practitioner, by: User | None) -> Practitioner:
    """An archived practitioner takes no new bookings; their appointments stay."""
    require_perm(by, "calendar_app.change_practitioner")
    return _set_archived(Practitioner, practitioner, True)


@transaction.atomic
def practitioner_restore(*, practitioner: Practitioner, by: User | None) -> Practitioner:
    require_perm(by, "calendar_app.change_practitioner")
    return _set_archived(Practitioner, practitioner, False)


# ------------------------------------------------- cancellation reasons, payment methods


def _unique_name(model, value: str, *, what: str, max_length: int, exclude_pk=None) -> str:
    name = _name(value, what=what, max_length=max_length)
    clash = model.objects.annotate(lname=Lower("name")).filter(lname=name.lower())
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise DomainError("name_taken", f"There is already a {what} called {name}.", field="name")
    return name


def _save_named(obj, fields: list[str] | None, *, what: str):
    try:
        with transaction.atomic():
            obj.save(update_fields=fields)
    except IntegrityError as exc:  # taken by a concurrent request
        raise DomainError(
            "name_taken", f"There is already a {what} called {obj.name}.", field="name"
        ) from exc
    return obj


@transaction.atomic
def cancellation_reason_create(*, name: str, by: User | None) -> CancellationReason:
    require_perm(by, "calendar_app.add_cancellationreason")
    what = "cancellation reason"
    reason = CancellationReason(
        name=_unique_name(CancellationReason, name, what=what, max_length=200)
    )
    return _save_named(reason, None, what=what)


@transaction.atomic
def cancellation_reason_rename(
    *, reason: CancellationReason, name: str, by: User | None
) -> CancellationReason:
    """Appointments canceled with this reason show the new name."""
    require_perm(by, "calendar_app.change_cancellationreason")
    what = "cancellation reason"
    locked = CancellationReason.objects.select_for_update().get(pk=reason.pk)
    locked.name = _unique_name(
        CancellationReason, name, what=what, max_length=200, exclude_pk=locked.pk
    )
    return _save_named(locked, ["name"], what=what)


@transaction.atomic
def cancellation_reason_archive(
    *, reason: CancellationReason, by: User | None
) -> CancellationReason:
    """No longer offered when canceling; appointments canceled with it keep it."""
    require_perm(by, "calendar_app.change_cancellationreason")
    return _set_archived(CancellationReason, reason, True)


@transaction.atomic
def cancellation_reason_restore(
    *, reason: CancellationReason, by: User | None
) -> CancellationReason:
    require_perm(by, "calendar_app.change_cancellationreason")
    return _set_archived(CancellationReason, reason, False)


@transaction.atomic
def payment_method_create(*, name: str, by: User | None) -> PaymentMethod:
    require_perm(by, "invoicing.add_paymentmethod")
    what = "payment method"
    method = PaymentMethod(name=_unique_name(PaymentMethod, name, what=what, max_length=100))
    return _save_named(method, None, what=what)


@transaction.atomic
def payment_method_rename(*, method: PaymentMethod, name: str, by: User | None) -> PaymentMethod:
    """Payments recorded with this method show the new name."""
    require_perm(by, "invoicing.change_paymentmethod")
    what = "payment method"
    locked = PaymentMethod.objects.select_for_update().get(pk=method.pk)
    locked.name = _unique_name(PaymentMethod, name, what=what, max_length=100, exclude_pk=locked.pk)
    return _save_named(locked, ["name"], what=what)


@transaction.atomic
def payment_method_archive(*, method: PaymentMethod, by: User | None) -> PaymentMethod:
    """No longer offered for new payments; payments made with it keep it."""
    require_perm(by, "invoicing.change_paymentmethod")
    return _set_archived(PaymentMethod, method, True)


@transaction.atomic
def payment_method_restore(*, method: PaymentMethod, by: User | None) -> PaymentMethod:
    require_perm(by, "invoicing.change_paymentmethod")
    return _set_archived(PaymentMethod, method, False)


# ------------------------------------------------------------------ staff users


def role_of(user: UserModel) -> str | None:
    """The user's role: the first of `roles.ROLES` among their groups."""
    names = {group.name for group in user.groups.all()}
    return next((role for role in roles.ROLES if role in names), None)


def _check_role(role: str) -> str:
    if role not in roles.ROLES:
        raise DomainError(
            "invalid_role", f"Choose one of the roles: {', '.join(roles.ROLES)}.", field="role"
        )
    return role


def _lock_admins() -> None:
    """Serialize every change that could leave the practice without an active Admin.

    Counting Admins and then changing one is a check-then-act race (two Admins demoting
    each other at once would both see the other). Each such change first locks the Admin
    group's row, so they run one after the other and each counts what the previous one
    committed.
    """
    Group.objects.select_for_update().get(name=roles.ADMIN)


def _active_admin_count() -> int:
    return (
        get_user_model().objects.filter(is_active=True, groups__name=roles.ADMIN).distinct().count()
    )


def _is_active_admin(user: UserModel) -> bool:
    return user.is_active and user.groups.filter(name=roles.ADMIN).exists()


def _set_role(user: UserModel, role: str) -> None:
    """Exactly one role group; Admins may also use the Django admin (is_staff)."""
    user.groups.set([Group.objects.get(name=role)])
    user.is_staff = role == roles.ADMIN or user.is_superuser
    user.save(update_fields=["is_staff"])


def _person(*, first_name: str, last_name: str, email: str) -> dict[str, str]:
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise DomainError(
                "invalid_email", "Enter a valid email address.", field="email"
            ) from exc
    return {
        "first_name": _short(first_name, 150, "first_name"),
        "last_name": _short(last_name, 150, "last_name"),
        "email": _short(email, 254, "email"),
    }


@transaction.atomic
def staff_user_create(
    *,
    username: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    role: str,
    password: str,
    by: User | None,
) -> UserModel:
    """Add a staff user in one role, with an initial password that passes the project's
    password validators. Admins also get `is_staff`, so they can use the Django admin."""
    require_perm(by, "auth.add_user")
    UserModel = get_user_model()
    username = (username or "").strip()
    try:
        UserModel.username_validator(username)
    except ValidationError as exc:
        raise DomainError(
            "invalid_username",
            "Use letters, digits and @ . + - _ only (no spaces).",
            field="username",
        ) from exc
    if not username or len(username) > 150:
        raise DomainError(
            "invalid_username", "Enter a username of at most 150 characters.", field="username"
        )
    if UserModel.objects.filter(username__iexact=username).exists():
        raise DomainError("username_taken", f"The username {username} is taken.", field="username")
    _check_role(role)
    user = UserModel(
        username=username, **_person(first_name=first_name, last_name=last_name, email=email)
    )
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        raise DomainError("invalid_password", " ".join(exc.messages), field="password") from exc
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise DomainError(
            "username_taken", f"The username {username} is taken.", field="username"
        ) from exc
    _set_role(user, role)
    return user


@transaction.atomic
def staff_user_update(
    *,
    user: UserModel,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    role: str,
    by: User | None,
) -> UserModel:
    """Change a staff user's name, email and role.

    Refused when it would leave no active Admin, and when Admins would take their own
    Admin role away (they would lose this page mid-change; another Admin can do it).
    """
    require_perm(by, "auth.change_user")
    _check_role(role)
    _lock_admins()
    UserModel = get_user_model()
    locked = UserModel.objects.select_for_update().get(pk=user.pk)
    if role != roles.ADMIN and _is_active_admin(locked):
        if by is not None and locked.pk == by.pk:
            raise DomainError(
                "own_admin_role",
                "You can't take away your own Admin role. Ask another Admin to do it.",
                field="role",
            )
        if _active_admin_count() <= 1:
            raise DomainError(
                "last_admin",
                f"{_display(locked)} is the only active Admin. Make someone else an Admin first.",
                field="role",
            )
    for key, value in _person(first_name=first_name, last_name=last_name, email=email).items():
        setattr(locked, key, value)
    locked.save(update_fields=["first_name", "last_name", "email"])
    if role_of(locked) != role or len(locked.groups.all()) != 1:
        _set_role(locked, role)
    return locked


@transaction.atomic
def staff_user_deactivate(*, user: UserModel, by: User | None) -> UserModel:
    """A deactivated user can no longer sign in; what they did stays recorded."""
    require_perm(by, "auth.change_user")
    _lock_admins()
    locked = get_user_model().objects.select_for_update().get(pk=user.pk)
    if by is not None and locked.pk == by.pk:
        raise DomainError("deactivate_self", "You can't deactivate your own account.")
    if _is_active_admin(locked) and _active_admin_count() <= 1:
        raise DomainError(
            "last_admin",
            f"{_display(locked)} is the only active Admin. Make someone else an Admin first.",
        )
    if locked.is_active:
        locked.is_active = False
        locked.save(update_fields=["is_active"])
    return locked


@transaction.atomic
def staff_user_reactivate(*, user: UserModel, by: User | None) -> UserModel:
    require_perm(by, "auth.change_user")
    locked = get_user_model().objects.select_for_update().get(pk=user.pk)
    if not locked.is_active:
        locked.is_active = True
        locked.save(update_fields=["is_active"])
    return locked


def _display(user: UserModel) -> str:
    return user.get_full_name() or user.get_username()


def staff_user_fields(user: UserModel) -> dict[str, Any]:
    """A staff user's editable values, as `staff_user_update` takes them."""
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": role_of(user),
    }
