"""Writes for the practice's settings (its details and invoice settings) and its staff
users with their roles. (Locations, practitioners and cancellation reasons are written
in `calendar_app.services`, payment methods in `invoicing.services`.)

Same conventions as every `services.py`: keyword-only typed arguments, one transaction,
the caller's permission checked here (`by=None` is the system), and `DomainError` with a
message for staff when a rule refuses. `DomainError.context["field"]` names the input a
message is about. Nothing is deleted: what is no longer used is archived (or, for staff,
deactivated), so the appointments and invoices that refer to it stay whole.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from invoicing.models import Invoice, InvoiceStatus
from invoicing.selectors import LAST_INVOICE_NUMBER, invoice_number_taken, invoices_numbered
from kernel.errors import DomainError, require_perm
from kernel.money import to_money
from kernel.records import clean_name
from practice import roles
from practice.models import (
    MAX_REMINDER_HOURS,
    FeeKind,
    LateAction,
    PracticeLogo,
    PracticeSettings,
    RefundMethod,
)
from practice.selectors import role_of

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.contrib.auth.models import User as UserModel

    User = AbstractBaseUser

CURRENCY = re.compile(r"^[A-Z]{3}$")


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
    settings.name = clean_name(name, what="practice", max_length=200)
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

    The next number (with the prefix and digits given) cannot be one an invoice already
    has: `invoicing.selectors.invoice_number_taken` is the one policy, and finalizing
    refuses it too. Invoices copy "prices include tax" when they are created, so issued
    invoices keep it.
    """
    require_perm(by, "caspen.change_practicesettings")
    # Locked as finalizing locks it, so the next number never changes mid-numbering.
    settings = _locked_settings()
    before = tuple(getattr(settings, field) for field in NUMBERING_FIELDS)
    settings.invoice_prefix = _short(invoice_prefix, 20, "invoice_prefix")
    for field, value, low, high, message in (
        (
            "invoice_next_number",
            invoice_next_number,
            1,
            LAST_INVOICE_NUMBER,
            f"Enter a whole number from 1 to {LAST_INVOICE_NUMBER:,}.",
        ),
        ("invoice_number_digits", invoice_number_digits, 1, 12, "Enter between 1 and 12 digits."),
        ("payment_terms_days", payment_terms_days, 0, 365, "Enter between 0 and 365 days."),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise DomainError("invalid_number", message, field=field)
        setattr(settings, field, value)
    settings.prices_include_tax = bool(prices_include_tax)
    if settings.invoice_number_digits != before[2] and invoices_numbered():
        # INV-343 beside INV-0343 would read and sort as two series (decisions.md).
        raise DomainError(
            "invoice_digits_locked",
            "The number of digits can't change once invoices are numbered: new numbers "
            f"would look different from the ones issued (keep {before[2]}).",
            field="invoice_number_digits",
        )
    if numbering_changed(settings, before):
        taken = invoice_number_taken(settings)
        if taken:
            raise DomainError(
                "invoice_number_taken",
                f"{taken} is already used by an invoice; choose a higher number.",
                field="invoice_next_number",
            )
    settings.save(update_fields=list(INVOICE_FIELDS))
    return settings


CANCELLATION_FIELDS = ("missed_action", "missed_fee_kind", "missed_fee_value", "refund_method")


@transaction.atomic
def cancellation_settings_update(
    *,
    missed_action: str,
    missed_fee_kind: str = FeeKind.FIXED,
    missed_fee_value: Decimal | int | str | None = 0,
    refund_method: str = RefundMethod.LIABILITY,
    by: User | None,
) -> PracticeSettings:
    """What marking Missed does (keep the credit, or charge a fee: an amount or a
    percentage of the service's price) and how a refund of unused credits is valued."""
    require_perm(by, "caspen.change_practicesettings")
    if missed_action not in (LateAction.KEEP, LateAction.FEE):
        raise DomainError(
            "invalid_action", "Choose Keep the credit or Charge a fee.", field="missed_action"
        )
    if missed_fee_kind not in FeeKind.values:
        raise DomainError(
            "invalid_fee", "Choose a fixed fee or a percentage.", field="missed_fee_kind"
        )
    if refund_method not in RefundMethod.values:
        raise DomainError(
            "invalid_method", "Choose how to value unused credits.", field="refund_method"
        )
    try:
        fee = to_money(missed_fee_value if missed_fee_value not in (None, "") else 0)
    except ValueError:
        raise DomainError(
            "invalid_fee", "Enter the fee, such as 25.00.", field="missed_fee_value"
        ) from None
    if fee < 0 or fee > MAX_FEE or (missed_fee_kind == FeeKind.PERCENT and fee > 100):
        raise DomainError(
            "invalid_fee",
            "Enter a percentage from 0 to 100."
            if missed_fee_kind == FeeKind.PERCENT
            else "Enter a fee of 0.00 or more.",
            field="missed_fee_value",
        )
    if missed_action == LateAction.FEE and fee == 0:
        raise DomainError(
            "fee_required",
            "Enter the fee to charge for a missed appointment.",
            field="missed_fee_value",
        )
    settings = _locked_settings()
    settings.missed_action = missed_action
    settings.missed_fee_kind = missed_fee_kind
    settings.missed_fee_value = fee
    settings.refund_method = refund_method
    settings.save(update_fields=list(CANCELLATION_FIELDS))
    return settings


EMAIL_FIELDS = ("confirmation_emails", "reminder_hours")


@transaction.atomic
def email_settings_update(
    *, confirmation_emails: bool, reminder_hours: int, by: User | None
) -> PracticeSettings:
    """Appointment emails (issue 14): whether a booking is confirmed by email, and how
    many hours before an appointment its reminder goes (0: no reminders)."""
    require_perm(by, "caspen.change_practicesettings")
    if isinstance(reminder_hours, bool) or not isinstance(reminder_hours, int):
        raise DomainError("invalid_hours", "Enter a whole number of hours.", field="reminder_hours")
    if not 0 <= reminder_hours <= MAX_REMINDER_HOURS:
        raise DomainError(
            "invalid_hours",
            f"Enter between 0 and {MAX_REMINDER_HOURS} hours (0 sends no reminders).",
            field="reminder_hours",
        )
    settings = _locked_settings()
    settings.confirmation_emails = bool(confirmation_emails)
    settings.reminder_hours = reminder_hours
    settings.save(update_fields=list(EMAIL_FIELDS))
    return settings


MAX_FEE = Decimal("9999999999.99")
NUMBERING_FIELDS = ("invoice_prefix", "invoice_next_number", "invoice_number_digits")


def numbering_changed(settings: PracticeSettings, before: tuple) -> bool:
    return tuple(getattr(settings, field) for field in NUMBERING_FIELDS) != before


@transaction.atomic
def practice_settings_update(*, changes: dict[str, Any], by: User | None) -> PracticeSettings:
    """Change any of the settings at once (the admin's single form): the fields in
    `changes` go through `practice_details_update`, `invoice_settings_update` and
    `email_settings_update`, so
    every rule of the Settings page holds; the others keep their locked values."""
    require_perm(by, "caspen.change_practicesettings")
    settings = _locked_settings()
    unknown = set(changes) - set(PRACTICE_FIELDS) - set(INVOICE_FIELDS) - set(EMAIL_FIELDS)
    if unknown:
        raise ValueError(f"not practice settings: {sorted(unknown)}")
    if set(changes) & set(PRACTICE_FIELDS):
        values = {field: changes.get(field, getattr(settings, field)) for field in PRACTICE_FIELDS}
        settings = practice_details_update(**values, by=by)
    if set(changes) & set(INVOICE_FIELDS):
        values = {field: changes.get(field, getattr(settings, field)) for field in INVOICE_FIELDS}
        settings = invoice_settings_update(**values, by=by)
    if set(changes) & set(EMAIL_FIELDS):
        values = {field: changes.get(field, getattr(settings, field)) for field in EMAIL_FIELDS}
        settings = email_settings_update(**values, by=by)
    return settings


def _locked_settings() -> PracticeSettings:
    PracticeSettings.load()
    return PracticeSettings.objects.select_for_update().get(pk=1)


# ------------------------------------------------------------------ documents (issue 13)

LOGO_MAX_BYTES = 1_000_000
LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


@transaction.atomic
def document_settings_update(
    *,
    payment_instructions: str,
    logo: bytes | None = None,
    remove_logo: bool = False,
    by: User | None,
) -> PracticeSettings:
    """What the practice's documents print besides its details: the payment
    instructions (bank account for "Direct deposit"), and its logo (`logo`: a new image's
    bytes; `remove_logo` takes it off; neither keeps it)."""
    require_perm(by, "caspen.change_practicesettings")
    settings = _locked_settings()
    instructions = "\n".join(
        line.rstrip() for line in (payment_instructions or "").strip().splitlines()
    )
    if len(instructions) > 2000:
        raise DomainError(
            "text_too_long",
            "Payment instructions have at most 2000 characters.",
            field="payment_instructions",
        )
    if instructions != settings.payment_instructions:
        settings.payment_instructions = instructions
        settings.save(update_fields=["payment_instructions"])
    if logo is not None:
        _logo_save(logo)
    elif remove_logo:
        PracticeLogo.objects.filter(pk=1).delete()
    return settings


def _logo_save(data: bytes) -> PracticeLogo:
    """Keep an image the documents can print: PNG, JPEG, GIF or WebP up to 1 MB, checked
    by decoding it (a file named .png that is not an image is refused)."""
    import hashlib
    import io

    from PIL import Image, UnidentifiedImageError

    if len(data) > LOGO_MAX_BYTES:
        raise DomainError("logo_too_large", "The logo must be at most 1 MB.", field="logo")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            kind, (width, height) = image.format, image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DomainError(
            "logo_not_an_image", "Choose a PNG, JPEG, GIF or WebP image.", field="logo"
        ) from exc
    if kind not in LOGO_FORMATS:
        raise DomainError(
            "logo_not_an_image", "Choose a PNG, JPEG, GIF or WebP image.", field="logo"
        )
    logo, _ = PracticeLogo.objects.update_or_create(
        pk=1,
        defaults={
            "image": data,
            "content_type": LOGO_FORMATS[kind],
            "sha256": hashlib.sha256(data).hexdigest(),
            "width": width,
            "height": height,
            "updated_at": timezone.now(),
        },
    )
    return logo


# ------------------------------------------------------------------ staff users


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
