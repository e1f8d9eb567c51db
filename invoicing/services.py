"""Writes for invoices, their lines, payments and refunds.

Every write here follows "lock, re-check, act" inside `transaction.atomic`: the row the
rule is about is re-read with `select_for_update()` and the rule is checked again under
the lock before anything is written, so two staff acting at once serialize instead of
both passing a check made on stale data.

Lock order, everywhere: invoice row, then payment row; appointment row, then client
package row (the order `packages.services` uses), then the practice settings row.
Keeping one order is what keeps concurrent actions free of deadlocks.

Refusals raise `DomainError(code, message)`; nothing has been written when one is raised
(the transaction rolls back). What an invoice or payment allows is decided in
`invoicing.rules` (the pages read the same functions); totals come from
`invoicing.selectors.invoice_totals`, the rule the pages show.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, cast

from django.db import transaction
from django.db.models import Max, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from calendar_app.models import (
    Appointment,
    AppointmentStatus,
    CancellationReason,
    Location,
    Practitioner,
)
from calendar_app.selectors import MISS, appointment_refusal, cancellation_outcome, missed_outcome
from calendar_app.services import appointment_cancel, appointment_mark_missed, unlink_locked
from catalog.models import Package, TaxRate
from clients.models import Client
from invoicing.models import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    SaleInvoicing,
)
from invoicing.rules import (
    CREDIT_NOTE_REASON_REQUIRED,
    REFUND_REASON_REQUIRED,
    already_invoiced,
    exceeds_balance,
    refuse,
    why_not_creditable,
    why_not_deletable,
    why_not_editable,
    why_not_finalizable,
    why_not_invoice_appointment,
    why_not_invoice_client,
    why_not_payable,
    why_not_payment_voidable,
    why_not_refundable,
    why_not_voidable,
)
from invoicing.selectors import (
    LAST_INVOICE_NUMBER,
    UnusedValue,
    client_package_unused_value,
    current_invoice_for_appointment,
    current_invoice_for_client_package,
    invoice_number_taken,
    invoice_totals,
    refundable_amount,
)
from kernel import hooks
from kernel.errors import DomainError, require_perm
from kernel.money import ZERO, format_money, to_money
from kernel.records import save_named, set_archived, unique_name
from kernel.time import check_date_in_range
from packages.models import ClientPackage
from packages.services import client_package_assign, client_package_cancel
from practice.models import PracticeSettings

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser as User
    from django.contrib.auth.models import User as RecordedUser

HUNDRED = Decimal("100")
# DecimalField(max_digits=12, decimal_places=2) holds amounts below 10^10.
MAX_MONEY = Decimal("9999999999.99")
# InvoiceLine.quantity is DecimalField(max_digits=10, decimal_places=2).
MAX_QUANTITY = Decimal("99999999.99")
TWO_PLACES = Decimal("0.01")

INVOICE_FIELDS = frozenset({"practitioner", "location", "issue_date", "notes"})
LINE_FIELDS = frozenset(
    {
        "description",
        "quantity",
        "unit_price",
        "discount_percent",
        "tax_rate",
        "client_package",
        "appointment",
    }
)


# --------------------------------------------------------------------------- helpers


def _user(by: User | None) -> RecordedUser | None:
    """The user to record as "who" (None for the system or an anonymous caller)."""
    return cast("RecordedUser", by) if by is not None and by.is_authenticated else None


def _decimal(value: Any, *, code: str, message: str, field: str) -> Decimal:
    """`value` as a finite Decimal, or a refusal (forms and the API may pass anything)."""
    if isinstance(value, float):
        value = str(value)
    try:
        result = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise DomainError(code, message, field=field) from None
    if not result.is_finite():
        raise DomainError(code, message, field=field)
    return result


def _amount(value: Any) -> Decimal:
    """A payment or refund amount: more than 0, in cents (no third decimal)."""
    message = "Enter an amount of money greater than 0, such as 50.00."
    amount = _decimal(value, code="invalid_amount", message=message, field="amount")
    if amount <= 0 or amount > MAX_MONEY:
        raise DomainError("invalid_amount", message, field="amount")
    if amount != amount.quantize(TWO_PLACES):
        raise DomainError(
            "invalid_amount", "Use at most two decimals, such as 50.25.", field="amount"
        )
    return to_money(amount)


def _lock_invoice(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_for_update().get(pk=invoice.pk)


def _require_draft(invoice: Invoice, action: str = "changed") -> None:
    refuse(why_not_editable(invoice, action))


# ------------------------------------------------------------------ line computation


@dataclass(frozen=True)
class LineAmounts:
    net: Decimal
    tax: Decimal
    total: Decimal


def compute_line_amounts(
    *,
    quantity: Decimal,
    unit_price: Decimal,
    discount_percent: Decimal,
    tax_percent: Decimal,
    prices_include_tax: bool,
) -> LineAmounts:
    """The one place a line's money is computed, rounded half-up to cents per line.

    amount = quantity × unit price × (1 − discount/100), rounded to cents. When prices
    include tax the amount is the total and the tax is the part of it at `tax_percent`
    (total × rate / (100 + rate)); otherwise the amount is the net and tax is added on
    top (net × rate / 100). Net + tax = total always holds exactly.
    """
    amount = to_money(quantity * unit_price * (HUNDRED - discount_percent) / HUNDRED)
    if prices_include_tax:
        total = amount
        tax = to_money(total * tax_percent / (HUNDRED + tax_percent))
        net = total - tax
    else:
        net = amount
        tax = to_money(net * tax_percent / HUNDRED)
        total = net + tax
    return LineAmounts(net=net, tax=tax, total=total)


def _clean_line_values(values: dict[str, Any]) -> dict[str, Any]:
    """Check a line's inputs and normalise them to what the columns store (2 places)."""
    description = (values.get("description") or "").strip()
    if not description:
        raise DomainError("invalid_line", "Each line needs a description.", field="description")
    max_length = InvoiceLine._meta.get_field("description").max_length
    if max_length is not None and len(description) > max_length:
        raise DomainError(
            "invalid_line", "The line's description is too long.", field="description"
        )
    quantity = _decimal(
        values.get("quantity"),
        code="invalid_line",
        message="Enter a quantity, such as 1.",
        field="quantity",
    )
    if quantity <= 0 or quantity > MAX_QUANTITY or quantity != quantity.quantize(TWO_PLACES):
        raise DomainError(
            "invalid_line",
            "The quantity must be more than 0, with at most 2 decimals.",
            field="quantity",
        )
    unit_price = _decimal(
        values.get("unit_price"),
        code="invalid_line",
        message="Enter a unit price, such as 90.00.",
        field="unit_price",
    )
    if unit_price < 0 or unit_price > MAX_MONEY or unit_price != unit_price.quantize(TWO_PLACES):
        raise DomainError(
            "invalid_line",
            "The unit price must be 0 or more, with at most two decimals (such as 90.00).",
            field="unit_price",
        )
    discount = _decimal(
        values.get("discount_percent") or 0,
        code="invalid_line",
        message="Enter the discount as a percentage from 0 to 100.",
        field="discount_percent",
    )
    if discount < 0 or discount > HUNDRED or discount != discount.quantize(TWO_PLACES):
        raise DomainError(
            "invalid_line",
            "The discount must be a percentage from 0 to 100.",
            field="discount_percent",
        )
    tax_rate = values.get("tax_rate")
    if tax_rate is not None and not isinstance(tax_rate, TaxRate):
        raise TypeError("tax_rate must be a TaxRate or None")
    return {
        **values,
        "description": description,
        "quantity": quantity.quantize(TWO_PLACES),
        "unit_price": unit_price.quantize(TWO_PLACES),
        "discount_percent": discount.quantize(TWO_PLACES),
    }


def _apply_amounts(line: InvoiceLine, invoice: Invoice) -> None:
    """Snapshot the tax rate and compute the stored amounts of `line`."""
    line.tax_percent = line.tax_rate.rate if line.tax_rate is not None else ZERO
    amounts = compute_line_amounts(
        quantity=line.quantity,
        unit_price=line.unit_price,
        discount_percent=line.discount_percent,
        tax_percent=line.tax_percent,
        prices_include_tax=invoice.prices_include_tax,
    )
    if amounts.total > MAX_MONEY:
        raise DomainError(
            "invalid_line",
            f"The line “{line.description}” is too large an amount.",
            field="unit_price",
        )
    line.net_amount, line.tax_amount, line.total_amount = amounts.net, amounts.tax, amounts.total
    _refuse_total_too_large(invoice, line)


def _refuse_total_too_large(invoice: Invoice, line: InvoiceLine) -> None:
    """An invoice's total must fit what a money column holds (MAX_MONEY): it is paid with
    payments of at most that much, and its totals are shown and sent as one amount. The
    caller holds the invoice's row lock, so its other lines cannot change meanwhile."""
    others = invoice.lines.exclude(pk=line.pk) if line.pk is not None else invoice.lines.all()
    total = (others.aggregate(total=Sum("total_amount"))["total"] or ZERO) + line.total_amount
    if total > MAX_MONEY:
        raise DomainError(
            "invoice_total_too_large",
            f"The invoice's total would be {format_money(total)}; one invoice holds at most "
            f"{format_money(MAX_MONEY)}. Put the rest on another invoice.",
            field="unit_price",
        )


def _refuse_if_invoiced(
    *,
    client_package: ClientPackage | None = None,
    appointment: Appointment | None = None,
    exclude_line: InvoiceLine | None = None,
) -> None:
    """One non-void invoice per client package and per appointment (DOMAIN.md, Invoices).

    The caller holds the row lock of the package or appointment, so two requests cannot
    both see "not invoiced yet". The refusal carries the existing invoice so pages can
    offer it instead of a second one.
    """
    if client_package is not None:
        existing = current_invoice_for_client_package(client_package, excluding=exclude_line)
        what = "This package"
    else:
        assert appointment is not None
        existing = current_invoice_for_appointment(appointment, excluding=exclude_line)
        what = "This appointment"
    if existing is not None:
        raise already_invoiced(what, existing)


def _check_line_references(
    invoice: Invoice, values: dict[str, Any], line: InvoiceLine | None
) -> None:
    """A line may refer to a package or appointment of the invoice's client, invoiced once.

    Locks the appointment row, then the client package row (the packages' lock order).
    """
    appointment: Appointment | None = values.get("appointment")
    client_package: ClientPackage | None = values.get("client_package")
    if appointment is not None:
        appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if appointment.client_id != invoice.client_id:
            raise DomainError(
                "client_mismatch", "That appointment belongs to another client than this invoice."
            )
        _refuse_if_invoiced(appointment=appointment, exclude_line=line)
    if client_package is not None:
        client_package = ClientPackage.objects.select_for_update().get(pk=client_package.pk)
        if client_package.client_id != invoice.client_id:
            raise DomainError(
                "client_mismatch", "That package belongs to another client than this invoice."
            )
        _refuse_if_invoiced(client_package=client_package, exclude_line=line)


def _line_create(*, invoice: Invoice, **values: Any) -> InvoiceLine:
    """Add a line to a locked Draft invoice (the caller checked the status)."""
    unknown = set(values) - LINE_FIELDS
    if unknown:
        raise TypeError(f"Unknown invoice line fields: {', '.join(sorted(unknown))}")
    values = _clean_line_values(values)
    _check_line_references(invoice, values, line=None)
    last = invoice.lines.aggregate(last=Coalesce(Max("position"), -1))["last"]
    line = InvoiceLine(invoice=invoice, position=last + 1, **values)
    _apply_amounts(line, invoice)
    line.save()
    return line


# ------------------------------------------------------------------------- invoices


def _invoice_create(
    *,
    client: Client,
    practitioner: Practitioner,
    location: Location,
    issue_date: dt.date | None,
    lines: Iterable[Mapping[str, Any]],
    notes: str,
    by: User | None,
) -> Invoice:
    refuse(why_not_invoice_client(client))
    check_date_in_range(issue_date, field="issue_date")
    invoice = Invoice.objects.create(
        client=client,
        practitioner=practitioner,
        location=location,
        issue_date=issue_date,
        notes=notes,
        prices_include_tax=PracticeSettings.load().prices_include_tax,
        created_by=_user(by),
    )
    for values in lines:
        _line_create(invoice=invoice, **values)
    return invoice


@transaction.atomic
def invoice_create(
    *,
    client: Client,
    practitioner: Practitioner,
    location: Location,
    issue_date: dt.date | None = None,
    lines: Iterable[Mapping[str, Any]] = (),
    notes: str = "",
    by: User | None,
) -> Invoice:
    """Create a Draft invoice, optionally with lines.

    The practice's "prices include tax" setting is copied onto the invoice so a later
    change of the setting never changes it. Each line is a mapping with `description`,
    `quantity`, `unit_price` and optionally `discount_percent`, `tax_rate`,
    `client_package`, `appointment`.
    """
    require_perm(by, "invoicing.add_invoice")
    return _invoice_create(
        client=client,
        practitioner=practitioner,
        location=location,
        issue_date=issue_date,
        lines=lines,
        notes=notes,
        by=by,
    )


@transaction.atomic
def invoice_update(*, invoice: Invoice, by: User | None, **fields: Any) -> Invoice:
    """Change a Draft invoice's practitioner, location, issue date or notes."""
    require_perm(by, "invoicing.change_invoice")
    unknown = set(fields) - INVOICE_FIELDS
    if unknown:
        raise TypeError(f"invoice_update cannot change: {', '.join(sorted(unknown))}")
    check_date_in_range(fields.get("issue_date"), field="issue_date")
    locked = _lock_invoice(invoice)
    _require_draft(locked, "edited")
    for name, value in fields.items():
        setattr(locked, name, value)
    if fields:
        locked.save(update_fields=list(fields))
    return locked


@transaction.atomic
def invoice_delete(*, invoice: Invoice, by: User | None) -> None:
    """Delete a Draft invoice and its lines. Finalized invoices are voided, never deleted."""
    require_perm(by, "invoicing.delete_invoice")
    locked = _lock_invoice(invoice)
    refuse(why_not_deletable(locked))
    locked.delete()


@transaction.atomic
def invoice_line_add(
    *,
    invoice: Invoice,
    by: User | None,
    description: str,
    quantity: Decimal | int | str,
    unit_price: Decimal | int | str,
    discount_percent: Decimal | int | str = 0,
    tax_rate: TaxRate | None = None,
    client_package: ClientPackage | None = None,
    appointment: Appointment | None = None,
) -> InvoiceLine:
    """Add a line to a Draft invoice; its amounts are computed here."""
    require_perm(by, "invoicing.add_invoiceline")
    locked = _lock_invoice(invoice)
    _require_draft(locked)
    return _line_create(
        invoice=locked,
        description=description,
        quantity=quantity,
        unit_price=unit_price,
        discount_percent=discount_percent,
        tax_rate=tax_rate,
        client_package=client_package,
        appointment=appointment,
    )


@transaction.atomic
def invoice_line_update(*, line: InvoiceLine, by: User | None, **fields: Any) -> InvoiceLine:
    """Change a line of a Draft invoice; its amounts are recomputed."""
    require_perm(by, "invoicing.change_invoiceline")
    unknown = set(fields) - LINE_FIELDS
    if unknown:
        raise TypeError(f"invoice_line_update cannot change: {', '.join(sorted(unknown))}")
    invoice = _lock_invoice(line.invoice)
    _require_draft(invoice)
    locked = InvoiceLine.objects.select_for_update().get(pk=line.pk)
    current = {name: getattr(locked, name) for name in LINE_FIELDS}
    values = _clean_line_values({**current, **fields})
    _check_line_references(invoice, values, line=locked)
    for name, value in values.items():
        setattr(locked, name, value)
    _apply_amounts(locked, invoice)
    locked.save()
    return locked


@transaction.atomic
def invoice_line_remove(*, line: InvoiceLine, by: User | None) -> None:
    """Remove a line from a Draft invoice."""
    require_perm(by, "invoicing.delete_invoiceline")
    invoice = _lock_invoice(line.invoice)
    _require_draft(invoice)
    InvoiceLine.objects.filter(pk=line.pk, invoice=invoice).delete()


@transaction.atomic
def invoice_finalize(*, invoice: Invoice, by: User | None) -> Invoice:
    """Finalize a Draft invoice: number it, date it, freeze its lines.

    The number is the practice's next number (prefix + zero-padded); the settings row is
    locked so concurrent finalizing takes consecutive numbers with no gap and no
    duplicate, and the counter moves in the same transaction as the invoice. Issue date
    defaults to today in the practice's time zone; due date = issue date + payment
    terms. An invoice totalling 0.00 is Paid at once.
    """
    require_perm(by, "invoicing.finalize_invoice")
    locked = _lock_invoice(invoice)
    refuse(why_not_finalizable(locked))
    if not locked.lines.exists():
        raise DomainError("invoice_has_no_lines", "Add at least one line before finalizing.")

    settings, _ = PracticeSettings.objects.select_for_update().get_or_create(pk=1)
    if settings.invoice_next_number > LAST_INVOICE_NUMBER:
        # The settings accept no higher number; this guards rows written around them,
        # so moving the counter on can never overflow its column.
        raise DomainError(
            "invoice_numbers_used_up",
            f"Invoice numbers are used up (the last is {LAST_INVOICE_NUMBER:,}). Ask an "
            "administrator to start a new series with another prefix and a lower next "
            "number in the practice settings.",
        )
    number = settings.format_invoice_number(settings.invoice_next_number)
    if invoice_number_taken(settings):
        # The settings refuse a used number; this guards rows written around them.
        raise DomainError(
            "invoice_number_taken",
            f"The next invoice number, {number}, is already used by another invoice. "
            "Ask an administrator to set the next invoice number in the practice settings "
            "above the highest number used.",
        )

    issue_date = locked.issue_date or timezone.localdate()
    locked.number = number
    locked.issue_date = issue_date
    locked.due_date = issue_date + dt.timedelta(days=settings.payment_terms_days)
    total = invoice_totals(locked).total
    locked.status = InvoiceStatus.PAID if total == ZERO else InvoiceStatus.OPEN
    locked.finalized_at = timezone.now()
    locked.finalized_by = _user(by)
    locked.save(
        update_fields=[
            "number",
            "issue_date",
            "due_date",
            "status",
            "finalized_at",
            "finalized_by",
        ]
    )
    settings.invoice_next_number += 1
    settings.save(update_fields=["invoice_next_number"])
    hooks.emit("invoice.finalized", locked, by=by)
    hooks.send_on_commit(hooks.invoice_finalized, Invoice, invoice=locked, by=by)
    return locked


@transaction.atomic
def invoice_void(*, invoice: Invoice, reason: str = "", by: User | None) -> Invoice:
    """Void a finalized invoice. It keeps its number and leaves every total.

    Refused while money is held against it (active payments minus refunds above 0):
    refund or void those payments first.
    """
    require_perm(by, "invoicing.void_invoice")
    locked = _lock_invoice(invoice)
    refuse(why_not_voidable(locked))
    locked.status = InvoiceStatus.VOID
    locked.voided_at = timezone.now()
    locked.voided_by = _user(by)
    locked.void_reason = reason.strip()
    locked.save(update_fields=["status", "voided_at", "voided_by", "void_reason"])
    return locked


@transaction.atomic
def invoice_for_client_package(
    *,
    client_package: ClientPackage,
    practitioner: Practitioner,
    location: Location,
    by: User | None,
) -> Invoice:
    """A Draft invoice with one line: the package at its amount (DOMAIN.md, Invoices).

    While the package is on a non-void invoice, refuses with `already_invoiced` and that
    invoice in the error's context, so pages offer it instead of creating a second one.
    A canceled package may still be invoiced (a practice may bill for it).
    """
    require_perm(by, "invoicing.add_invoice")
    # The lock makes two concurrent requests take turns: the second sees the first's
    # invoice after it commits and is refused.
    locked = ClientPackage.objects.select_for_update().get(pk=client_package.pk)
    _refuse_if_invoiced(client_package=locked)
    return _invoice_create(
        client=locked.client,
        practitioner=practitioner,
        location=location,
        issue_date=None,
        lines=[
            {
                "description": locked.name,
                "quantity": Decimal("1"),
                "unit_price": locked.price,
                "tax_rate": locked.tax_rate,
                "client_package": locked,
            }
        ],
        notes="",
        by=by,
    )


@transaction.atomic
def invoice_for_appointment(*, appointment: Appointment, by: User | None) -> Invoice:
    """A Draft invoice with one line for the appointment's service.

    The line is the service at its price and tax rate, or 0.00 "Covered by package: NAME"
    when the appointment is linked to a package (the package is billed on its own
    invoice; the line refers to the appointment only, so it never counts as the
    package's invoice). One non-void invoice per appointment, like packages.
    """
    require_perm(by, "invoicing.add_invoice")
    # of=("self",): lock the appointment row only, not the rows joined for reading.
    locked = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("service", "service__tax_rate", "client", "client_package")
        .get(pk=appointment.pk)
    )
    # Canceled, already invoiced (checked under the lock just taken), client archived.
    refuse(why_not_invoice_appointment(locked))
    service = locked.service
    package = locked.client_package
    if package is not None:
        description = f"{service.name} — Covered by package: {package.name}"
        unit_price = ZERO
    else:
        description = service.name
        unit_price = service.price
    return _invoice_create(
        client=locked.client,
        practitioner=locked.practitioner,
        location=locked.location,
        issue_date=None,
        lines=[
            {
                "description": description,
                "quantity": Decimal("1"),
                "unit_price": unit_price,
                "tax_rate": service.tax_rate,
                "appointment": locked,
            }
        ],
        notes="",
        by=by,
    )


# ------------------------------------------------------------------------- payments


def _reopen_if_balance(invoice: Invoice) -> None:
    """A Paid invoice whose balance grew again (refund, voided payment) is Open again."""
    if invoice.status == InvoiceStatus.PAID and invoice_totals(invoice).balance > ZERO:
        invoice.status = InvoiceStatus.OPEN
        invoice.save(update_fields=["status"])


@transaction.atomic
def payment_record(
    *,
    invoice: Invoice,
    amount: Decimal | int | str,
    method: PaymentMethod,
    date: dt.date | None = None,
    reference: str = "",
    by: User | None,
) -> Payment:
    """Record money received on an Open invoice: more than 0 and at most the balance.

    Below the balance it is a part payment and the invoice stays Open; when the balance
    reaches 0 the invoice is Paid. The invoice row is locked, so two payments of the
    full balance at once cannot both pass the balance check.
    """
    require_perm(by, "invoicing.add_payment")
    amount = _amount(amount)
    check_date_in_range(date, field="date")
    locked = _lock_invoice(invoice)
    refuse(why_not_payable(locked))
    if method.archived or PaymentMethod.objects.filter(pk=method.pk, archived=True).exists():
        raise DomainError(
            "payment_method_archived", f"The payment method {method.name} is no longer in use."
        )
    balance = invoice_totals(locked).balance
    if amount > balance:
        raise exceeds_balance(balance)
    payment = Payment.objects.create(
        invoice=locked,
        amount=amount,
        method=method,
        date=date or timezone.localdate(),
        reference=reference.strip(),
        created_by=_user(by),
    )
    if amount == balance:
        locked.status = InvoiceStatus.PAID
        locked.save(update_fields=["status"])
    hooks.emit("payment.recorded", payment, by=by)
    hooks.send_on_commit(hooks.payment_recorded, Payment, payment=payment, invoice=locked, by=by)
    return payment


def _lock_payment(payment: Payment) -> tuple[Invoice, Payment]:
    """Lock the payment's invoice, then the payment (the lock order of this module)."""
    invoice_id = Payment.objects.values_list("invoice_id", flat=True).get(pk=payment.pk)
    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    return invoice, locked


@transaction.atomic
def payment_refund(
    *,
    payment: Payment,
    amount: Decimal | int | str,
    reason: str,
    date: dt.date | None = None,
    by: User | None,
) -> Refund:
    """Give back all or part of an active payment; the invoice's balance grows again.

    At most the payment's amount minus its earlier refunds. A Paid invoice becomes Open.
    """
    require_perm(by, "invoicing.refund_payment")
    amount = _amount(amount)
    check_date_in_range(date, field="date")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", REFUND_REASON_REQUIRED)
    invoice, locked = _lock_payment(payment)
    refuse(why_not_refundable(locked, amount))
    refund = Refund.objects.create(
        payment=locked,
        amount=amount,
        reason=reason,
        date=date or timezone.localdate(),
        created_by=_user(by),
    )
    _reopen_if_balance(invoice)
    hooks.emit("payment.refunded", locked, by=by)
    return refund


@transaction.atomic
def payment_void(*, payment: Payment, reason: str = "", by: User | None) -> Payment:
    """Void a payment recorded by mistake: it stays for audit and leaves the totals.

    Refused when it has refunds (the money really moved; void would count it twice).
    A Paid invoice becomes Open again.
    """
    require_perm(by, "invoicing.void_payment")
    invoice, locked = _lock_payment(payment)
    refuse(why_not_payment_voidable(locked))
    locked.status = PaymentStatus.VOID
    locked.voided_at = timezone.now()
    locked.voided_by = _user(by)
    locked.void_reason = (reason or "").strip()
    locked.save(update_fields=["status", "voided_at", "voided_by", "void_reason"])
    _reopen_if_balance(invoice)
    return locked


# ------------------------------------------------------- one-step package sale


@dataclass(frozen=True)
class PackageSale:
    """What `client_package_sell` made: the client package, and its invoice and payment
    when it was asked to make them."""

    client_package: ClientPackage
    invoice: Invoice | None = None
    payment: Payment | None = None


def _required(value: Any, *, field: str, code: str, message: str) -> None:
    if value is None:
        raise DomainError(code, message, field=field)


@transaction.atomic
def client_package_sell(
    *,
    client: Client,
    package: Package,
    invoicing: str = SaleInvoicing.LATER,
    practitioner: Practitioner | None = None,
    location: Location | None = None,
    amount: Decimal | int | str | None = None,
    method: PaymentMethod | None = None,
    reference: str = "",
    start_date: dt.date | None = None,
    by: User | None,
) -> PackageSale:
    """Sell `package` to `client` and, in the same step, invoice it and take a payment
    (the Create package popup, issue 13):

    - `SaleInvoicing.LATER`: the package only (invoice it later from the package);
    - `INVOICE`: and a Draft invoice for it (`invoice_for_client_package`);
    - `PAY`: and that invoice finalized (numbered) and a payment recorded: `amount`
      (a deposit, at most the total) or, when None, the full amount.

    Each step is the service that does it alone, so every rule (archived client or
    package, one non-void invoice per package, sequential numbers, amount at most the
    balance) holds as it does there. One transaction: a refusal or an error at any
    step (a deposit above the total, an archived payment method, a database error) rolls
    back the whole sale, the package included, and the invoice number is not used.
    """
    if invoicing not in SaleInvoicing.values:
        raise DomainError("invalid_choice", "Choose how to invoice the package.", field="invoicing")
    if invoicing != SaleInvoicing.LATER:
        # Checked before anything is written, so the refusal names the field to fix.
        require_perm(by, "invoicing.add_invoice")
        _required(
            practitioner,
            field="practitioner",
            code="practitioner_required",
            message="Choose the practitioner the invoice is from.",
        )
        _required(
            location,
            field="location",
            code="location_required",
            message="Choose the location the invoice is from.",
        )
    if invoicing == SaleInvoicing.PAY:
        require_perm(by, "invoicing.finalize_invoice")
        require_perm(by, "invoicing.add_payment")
        _required(
            method,
            field="method",
            code="payment_method_required",
            message="Choose the payment method.",
        )
        if amount is not None:
            amount = _amount(amount)
    client_package = client_package_assign(
        client=client, package=package, start_date=start_date, by=by
    )
    if invoicing == SaleInvoicing.LATER:
        return PackageSale(client_package=client_package)
    invoice = invoice_for_client_package(
        client_package=client_package,
        practitioner=cast(Practitioner, practitioner),
        location=cast(Location, location),
        by=by,
    )
    if invoicing == SaleInvoicing.INVOICE:
        return PackageSale(client_package=client_package, invoice=invoice)
    invoice = invoice_finalize(invoice=invoice, by=by)
    if invoice.status == InvoiceStatus.PAID:  # a package sold for 0.00: nothing to take
        return PackageSale(client_package=client_package, invoice=invoice)
    payment = payment_record(
        invoice=invoice,
        amount=amount if amount is not None else invoice_totals(invoice).balance,
        method=cast(PaymentMethod, method),
        reference=reference,
        by=by,
    )
    return PackageSale(client_package=client_package, invoice=invoice, payment=payment)


# ------------------------------------------------------------------ payment methods


@transaction.atomic
def payment_method_create(*, name: str, by: User | None) -> PaymentMethod:
    require_perm(by, "invoicing.add_paymentmethod")
    what = "payment method"
    method = PaymentMethod(name=unique_name(PaymentMethod, name, what=what, max_length=100))
    return save_named(method, None, what=what)


@transaction.atomic
def payment_method_rename(*, method: PaymentMethod, name: str, by: User | None) -> PaymentMethod:
    """Payments recorded with this method show the new name."""
    require_perm(by, "invoicing.change_paymentmethod")
    what = "payment method"
    locked = PaymentMethod.objects.select_for_update().get(pk=method.pk)
    locked.name = unique_name(PaymentMethod, name, what=what, max_length=100, exclude_pk=locked.pk)
    return save_named(locked, ["name"], what=what)


@transaction.atomic
def payment_method_archive(*, method: PaymentMethod, by: User | None) -> PaymentMethod:
    """No longer offered for new payments; payments made with it keep it."""
    require_perm(by, "invoicing.change_paymentmethod")
    locked = set_archived(PaymentMethod, method, True)
    if locked.is_default:  # an archived method is no longer offered, so not the default
        locked.is_default = method.is_default = False
        locked.save(update_fields=["is_default"])
    return locked


@transaction.atomic
def payment_method_set_default(*, method: PaymentMethod | None, by: User | None) -> None:
    """Make `method` the practice's default payment method (None: no default). Pay
    invoice and the package sale start with it; staff may still choose another."""
    require_perm(by, "invoicing.change_paymentmethod")
    # Lock every method: two Admins choosing different defaults at once take turns
    # (the partial unique constraint is the backstop).
    list(PaymentMethod.objects.select_for_update().order_by("pk"))
    if method is not None and PaymentMethod.objects.filter(pk=method.pk, archived=True).exists():
        raise DomainError(
            "payment_method_archived",
            f"The payment method {method.name} is no longer in use.",
            field="default_payment_method",
        )
    others = PaymentMethod.objects.filter(is_default=True)
    if method is not None:
        others = others.exclude(pk=method.pk)
    others.update(is_default=False)
    if method is not None:
        PaymentMethod.objects.filter(pk=method.pk, is_default=False).update(is_default=True)


@transaction.atomic
def payment_method_restore(*, method: PaymentMethod, by: User | None) -> PaymentMethod:
    require_perm(by, "invoicing.change_paymentmethod")
    return set_archived(PaymentMethod, method, False)


# ------------------------------------------- cancellation and no-show rules (issue 13)


@dataclass(frozen=True)
class LateApplied:
    """What canceling or marking Missed did by the practice's rules (and any override):
    `rule` and `why` from `calendar_app.selectors`, whether the credit was kept, the fee
    charged (None: none) and the Draft invoice that carries it."""

    appointment: Appointment
    rule: str
    why: str
    kept_credit: bool
    fee: Decimal | None
    invoice: Invoice | None


def _late_fee_invoice(
    *, charges: list[tuple[Appointment, Decimal]], label: str, by: User | None
) -> Invoice | None:
    """A new Draft invoice for the client with one fee line per appointment charged (its
    service's tax rate, so the fee is taxed as the service would be). A new draft rather
    than a line on some existing one: staff may be editing that one, and a fee should
    never land on an invoice nobody expects it on."""
    if not charges:
        return None
    first = charges[0][0]
    return _invoice_create(
        client=first.client,
        practitioner=first.practitioner,
        location=first.location,
        issue_date=None,
        lines=[
            {
                "description": (
                    f"{label}: {appointment.service.name}, "
                    f"{timezone.localtime(appointment.starts_at):%d %b %Y %H:%M}"
                ),
                "quantity": Decimal("1"),
                "unit_price": fee,
                "tax_rate": appointment.service.tax_rate,
            }
            for appointment, fee in charges
        ],
        notes="",
        by=by,
    )


def _override_note(rule_keeps: bool, keep: bool, linked: bool, fee_waived: bool) -> str:
    notes = []
    if linked and keep != rule_keeps:
        notes.append("staff chose to keep the credit" if keep else "staff gave the credit back")
    if fee_waived:
        notes.append("staff waived the fee")
    return f" Overridden: {' and '.join(notes)}." if notes else ""


def _check_fee_override(charge_fee: bool | None, by: User | None) -> None:
    """Waiving a fee the rule charges changes what the client is billed: only staff who
    may edit invoices (not a Practitioner, whose invoices are read-only)."""
    if charge_fee is False:
        require_perm(by, "invoicing.change_invoice")


@transaction.atomic
def appointment_cancel_by_rules(
    *,
    appointment: Appointment,
    reason: CancellationReason | None,
    keep_credit: bool | None = None,
    charge_fee: bool | None = None,
    scope: str = "this",
    by: User | None,
) -> LateApplied:
    """Cancel as `calendar_app.services.appointment_cancel` does, applying `reason`'s rule
    (DOMAIN.md, Cancellation and no-show rules): inside its notice window the credit is
    released, kept, or a fee is charged on a new Draft invoice, all in this transaction.

    `keep_credit` and `charge_fee` None follow the rule; staff may override them (keep or
    give back the credit; waive the fee: see `_check_fee_override`), and the override is
    said in `why`. For "this and following" of a series each occurrence is judged by its
    own start (series use no package, so only fees apply).
    """
    _check_fee_override(charge_fee, by)
    now = timezone.now()
    # Lock first, so the rule is judged on the row the cancel will change.
    locked = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("service", "client_package", "client", "practitioner", "location")
        .get(pk=appointment.pk)
    )
    if reason is None:
        raise DomainError("reason_required", "Choose a cancellation reason.")
    outcome = cancellation_outcome(locked, reason, now)
    keep = outcome.keep_credit if keep_credit is None else bool(keep_credit)
    following: list[Appointment] = []
    if scope == "following" and locked.series_id is not None:
        following = list(
            Appointment.objects.filter(series_id=locked.series_id, starts_at__gt=locked.starts_at)
            .exclude(status=AppointmentStatus.CANCELED)
            .select_related("service", "client", "practitioner", "location")
        )
    result = appointment_cancel(
        appointment=locked, reason=reason, keep_credit=keep, scope=scope, by=by
    )
    charges = []
    if charge_fee is not False:
        for target in [locked, *following]:
            fee = cancellation_outcome(target, reason, now).fee
            if fee is not None and fee > ZERO:
                charges.append((target, fee))
    invoice = _late_fee_invoice(charges=charges, label="Late cancellation fee", by=by)
    linked = locked.client_package_id is not None
    why = outcome.why + _override_note(
        outcome.keep_credit, keep, linked, charge_fee is False and outcome.fee is not None
    )
    return LateApplied(
        appointment=result,
        rule=outcome.rule,
        why=why,
        kept_credit=bool(keep and linked),
        fee=sum((fee for _, fee in charges), ZERO) if charges else None,
        invoice=invoice,
    )


@transaction.atomic
def appointment_missed_by_rules(
    *, appointment: Appointment, charge_fee: bool | None = None, by: User | None
) -> LateApplied:
    """Mark Missed, applying the practice's rule for no-shows: keep the credit, or charge a
    fee on a new Draft invoice (the credit then goes back to the package, with the reason
    in the ledger). Marking an appointment Missed again changes and charges nothing."""
    _check_fee_override(charge_fee, by)
    locked = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("service", "client_package", "client", "practitioner", "location")
        .get(pk=appointment.pk)
    )
    already = locked.status == AppointmentStatus.MISSED
    outcome = missed_outcome(locked, PracticeSettings.load())
    linked = locked.client_package_id is not None
    fee = outcome.fee if charge_fee is not False and not already else None
    if fee is not None and linked:
        # Checked before any write: appointment_mark_missed refuses what is not yet due.
        refuse(appointment_refusal(locked, MISS))
        unlink_locked(appointment=locked, reason="Missed: a no-show fee is charged instead", by=by)
    result = appointment_mark_missed(appointment=locked, by=by)
    if already:
        return LateApplied(
            appointment=result,
            rule="already_missed",
            why="Already marked Missed: nothing changes.",
            kept_credit=linked,
            fee=None,
            invoice=None,
        )
    invoice = _late_fee_invoice(
        charges=[(locked, fee)] if fee is not None and fee > ZERO else [],
        label="Missed appointment fee",
        by=by,
    )
    keep = fee is None
    why = outcome.why
    if charge_fee is False and outcome.fee is not None:
        why = "The practice's rule for a missed appointment charges a fee; staff waived it" + (
            ", so the credit is kept." if linked else "."
        )
    return LateApplied(
        appointment=result,
        rule=outcome.rule,
        why=why,
        kept_credit=bool(keep and linked),
        fee=fee,
        invoice=invoice,
    )


# ------------------------------------------------ refund of unused credits (issue 13)


@dataclass(frozen=True)
class PackageRefund:
    """What canceling a package with a refund did: the canceled package, the unused value
    computed under the lock, the `amount` given back, and how: on a finalized invoice a
    `credit_note` for the amount and `refunds` against its payments of what was paid
    beyond what it then asks for (`refunded`, their sum); on a Draft,
    `credited_invoice`, its package line reduced by that much."""

    client_package: ClientPackage
    unused: UnusedValue
    amount: Decimal
    refunds: list[Refund]
    credited_invoice: Invoice | None
    credit_note: CreditNote | None = None

    @property
    def refunded(self) -> Decimal:
        return sum((refund.amount for refund in self.refunds), ZERO)


def _refund_amount(value: Any) -> Decimal:
    """The amount staff chose: 0.00 or more, in cents."""
    message = "Enter an amount of money, 0.00 or more, such as 120.00."
    amount = _decimal(value, code="invalid_amount", message=message, field="refund_amount")
    if amount < 0 or amount > MAX_MONEY:
        raise DomainError("invalid_amount", message, field="refund_amount")
    if amount != amount.quantize(TWO_PLACES):
        raise DomainError(
            "invalid_amount", "Use at most two decimals, such as 50.25.", field="refund_amount"
        )
    return to_money(amount)


def _credit_draft(
    *, invoice: Invoice, client_package: ClientPackage, amount: Decimal, note: str, by: User | None
) -> Decimal:
    """Reduce the package's line on a Draft invoice by `amount` (tax included); returns
    what the invoice's total fell by (when prices exclude tax the new net is rounded half
    up, so it can differ from `amount` by a cent)."""
    line = invoice.lines.filter(client_package=client_package).order_by("position", "id").first()
    assert line is not None  # the package's current invoice has its line
    before = line.total_amount
    new_total = before - amount
    if invoice.prices_include_tax:
        unit_price = new_total
    else:
        unit_price = to_money(new_total * HUNDRED / (HUNDRED + line.tax_percent))
    updated = invoice_line_update(
        line=line,
        description=f"{line.description} ({note})"[:500],
        quantity=Decimal("1"),
        unit_price=unit_price,
        discount_percent=ZERO,
        by=by,
    )
    return before - updated.total_amount


@transaction.atomic
def client_package_cancel_with_refund(
    *,
    client_package: ClientPackage,
    reason: str,
    refund_amount: Decimal | str | None = None,
    by: User | None,
) -> PackageRefund:
    """Cancel a client package and give back its unused part in one transaction
    (DOMAIN.md, Value of credits: refunding the unused part).

    The unused value is `client_package_unused_value` by the practice's method, computed
    under the locks. `refund_amount` (default: all of it that can be given back) may be
    lowered, never raised: more than the unused value is refused
    (`refund_exceeds_unused`), more than the package's invoice still bills
    (`refund_exceeds_paid`). On a finalized (Open or Paid) invoice the amount is taken
    off it by a numbered credit note, and what was paid beyond what the invoice then
    asks for is refunded against its payments, newest first (each a `Refund` with the
    reason): the invoice ends with the balance it should have, the price of what was
    used less what was paid for it (RF6). A Draft invoice has its package line reduced
    instead (nothing was billed yet); without an invoice nothing is refunded and the
    package is only canceled. Admin only: canceling packages and refunding payments are
    both needed. A second submit finds the package canceled and is refused
    (`package_canceled`), so nothing is refunded twice.
    """
    require_perm(by, "packages.cancel_clientpackage")
    require_perm(by, "invoicing.refund_payment")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", "Give a reason for canceling the package.")
    # Lock order: the invoice, then the client package (as adding an invoice line does).
    invoice = current_invoice_for_client_package(client_package)
    if invoice is not None:
        invoice = _lock_invoice(invoice)
    locked = ClientPackage.objects.select_for_update().get(pk=client_package.pk)
    if locked.canceled_at is not None:
        raise DomainError("package_canceled", f"{locked.name} is already canceled.")
    unused = client_package_unused_value(locked)
    if (unused.invoice and unused.invoice.pk) != (invoice and invoice.pk):
        raise DomainError(
            "invoice_changed", "The package's invoice changed meanwhile; open the popup again."
        )
    amount = unused.limit if refund_amount is None else _refund_amount(refund_amount)
    if amount > unused.value:
        raise DomainError(
            "refund_exceeds_unused",
            f"The refund can't be more than the unused value, {format_money(unused.value)}.",
            field="refund_amount",
        )
    if amount > unused.limit:
        where = (
            f"what invoice {unused.invoice} still bills, {format_money(unused.limit)}"
            if unused.invoice is not None
            else "what was paid: the package is not invoiced, so nothing can be refunded"
        )
        raise DomainError(
            "refund_exceeds_paid",
            f"The refund can't be more than {where}.",
            field="refund_amount",
        )
    canceled = client_package_cancel(client_package=locked, reason=reason, by=by)
    note = (
        f"{unused.unused_credits} unused of {locked.credits} credits refunded on cancellation: "
        f"{reason}"
    )
    refunds: list[Refund] = []
    credited = None
    credit_note = None
    if amount > ZERO and invoice is not None and unused.credit_note:
        amount = _credit_draft(
            invoice=invoice, client_package=locked, amount=amount, note=note, by=by
        )
        credited = invoice
    elif amount > ZERO and invoice is not None:
        credit, rest = unused.split(amount)
        line = invoice.lines.filter(client_package=locked).order_by("position", "id").first()
        credit_note = _credit_note_create(
            invoice=invoice,
            amount=credit,
            reason=note,
            line=line,
            client_package=locked,
            by=by,
        )
        payments = invoice.payments.filter(status=PaymentStatus.ACTIVE).prefetch_related("refunds")
        for payment in payments.order_by("-date", "-id"):
            if rest == ZERO:
                break
            share = min(rest, refundable_amount(payment))
            if share <= ZERO:
                continue
            refunds.append(payment_refund(payment=payment, amount=share, reason=note, by=by))
            rest -= share
        # amount <= what the invoice bills, so the excess over what is owing <= the money
        # held = the payments' refundable sum.
        assert rest == ZERO
        _settle_if_covered(invoice)
    return PackageRefund(
        client_package=canceled,
        unused=unused,
        amount=amount,
        refunds=refunds,
        credited_invoice=credited,
        credit_note=credit_note,
    )


# ----------------------------------------------------------------- credit notes (issue 13)


def _settle_if_covered(invoice: Invoice) -> None:
    """An Open invoice whose payments and credit notes cover it (balance 0.00 or less)
    is Paid (RF7), as a payment of the whole balance makes it."""
    if invoice.status == InvoiceStatus.OPEN and invoice_totals(invoice).balance <= ZERO:
        invoice.status = InvoiceStatus.PAID
        invoice.save(update_fields=["status"])


def _next_credit_note_sequence() -> int:
    """The next number of the credit note series, under the practice settings row's lock
    (the lock invoice numbers are taken under): concurrent issuing takes consecutive
    numbers with no gap and no duplicate. Credit notes are never deleted (their triggers
    refuse it), so one past the highest is the next."""
    PracticeSettings.objects.select_for_update().get_or_create(pk=1)
    last = CreditNote.objects.aggregate(last=Max("sequence"))["last"]
    return (last or 0) + 1


def _credit_note_create(
    *,
    invoice: Invoice,
    amount: Decimal,
    reason: str,
    line: InvoiceLine | None = None,
    client_package: ClientPackage | None = None,
    date: dt.date | None = None,
    by: User | None,
) -> CreditNote:
    """Issue a credit note of `amount` (tax included) on the locked, finalized `invoice`.

    Its tax is the part of the amount at `line`'s tax rate (the package line), or, for
    the invoice as a whole, in proportion to the invoice's tax in its total; rounded half
    up to the cent, the net is the rest. The caller checks the amount."""
    if line is not None:
        rate = line.tax_percent
        tax = to_money(amount * rate / (HUNDRED + rate)) if rate else ZERO
        description = line.description
    else:
        totals = invoice_totals(invoice)
        tax = to_money(amount * totals.tax / totals.total) if totals.total else ZERO
        description = f"Credit on invoice {invoice.number}"
    sequence = _next_credit_note_sequence()
    note = CreditNote.objects.create(
        sequence=sequence,
        number=f"{CreditNote.NUMBER_PREFIX}{sequence:04d}",
        invoice=invoice,
        client_package=client_package,
        date=date or timezone.localdate(),
        reason=reason,
        net_amount=amount - tax,
        tax_amount=tax,
        total_amount=amount,
        created_by=_user(by),
    )
    CreditNoteLine.objects.create(
        credit_note=note,
        invoice_line=line,
        description=description[:500],
        net_amount=amount - tax,
        tax_amount=tax,
        total_amount=amount,
    )
    return note


@transaction.atomic
def credit_note_issue(
    *,
    invoice: Invoice,
    amount: Decimal | int | str,
    reason: str,
    date: dt.date | None = None,
    by: User | None,
) -> CreditNote:
    """Issue credit note on an Open invoice (Admin): take up to its amount owing off it.

    More than 0 and at most the balance (`amount_exceeds_balance`, beside Amount); a
    reason is required. When it covers the whole balance the invoice is Paid (RF7). The
    invoice row is locked, so two credit notes (or a payment) at once cannot both pass
    the balance check."""
    require_perm(by, "invoicing.add_creditnote")
    amount = _amount(amount)
    check_date_in_range(date, field="date")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", CREDIT_NOTE_REASON_REQUIRED, field="reason")
    locked = _lock_invoice(invoice)
    refuse(why_not_creditable(locked))
    balance = invoice_totals(locked).balance
    if amount > balance:
        raise exceeds_balance(balance, owing=True)
    note = _credit_note_create(invoice=locked, amount=amount, reason=reason, date=date, by=by)
    _settle_if_covered(locked)
    return note
