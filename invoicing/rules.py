"""What an invoice or a payment allows now: each rule written once.

Each `why_not_*` returns the `DomainError` its service raises when it refuses (the same
code, the same words), or None when the action applies. The services raise it under
their row lock (`refuse`); the pages call the same function to decide which buttons an
invoice or a payment offers (`invoice_actions`, `payment_actions`) and to say why an
action does not apply before anyone fills in its form. No refusal text lives anywhere
else.

These read the object they are given (and its totals, from its annotations when it has
them): the caller decides whether that object is freshly locked (services) or just
displayed (pages).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from calendar_app.models import Appointment, AppointmentStatus
from clients.models import Client
from invoicing.models import Invoice, InvoiceStatus, Payment, PaymentStatus
from invoicing.selectors import (
    current_invoice_for_appointment,
    invoice_totals,
    refundable_amount,
)
from kernel.errors import DomainError
from kernel.money import ZERO, format_money
from kernel.records import UNSET

REFUND_REASON_REQUIRED = "Enter a reason for the refund."

# Refusal codes the API's documentation names (invoicing/api.py): written once, here.
AMOUNT_EXCEEDS_BALANCE = "amount_exceeds_balance"
AMOUNT_EXCEEDS_REFUNDABLE = "amount_exceeds_refundable"
INVOICE_HAS_PAYMENTS = "invoice_has_payments"
PAYMENT_ALREADY_VOID = "payment_already_void"
INVOICE_HAS_CREDIT_NOTES = "invoice_has_credit_notes"


def refuse(error: DomainError | None) -> None:
    """Raise `error` when there is one (a service's "re-check, then act")."""
    if error is not None:
        raise error


# -------------------------------------------------------------------------- invoices


def why_not_invoice_client(client: Client) -> DomainError | None:
    """An archived client gets no new invoice."""
    if client.archived:
        return DomainError(
            "client_archived", f"{client} is archived. Restore the client to invoice them."
        )
    return None


def why_not_invoice_appointment(
    appointment: Appointment, *, current: Invoice | None = UNSET
) -> DomainError | None:
    """Why "Create invoice" does not apply to `appointment`: it is canceled, it is
    already on a non-void invoice (one per appointment), or its client is archived.
    `current`: that invoice when the caller has just read it (`current_invoice_for_appointment`)."""
    if appointment.status == AppointmentStatus.CANCELED:
        return DomainError("appointment_canceled", "This appointment is canceled.")
    existing = current_invoice_for_appointment(appointment) if current is UNSET else current
    if existing is not None:
        return already_invoiced("This appointment", existing)
    return why_not_invoice_client(appointment.client)


def already_invoiced(what: str, existing: Invoice) -> DomainError:
    """One non-void invoice per client package and per appointment; the refusal carries
    the existing invoice so pages can offer it instead of a second one."""
    return DomainError(
        "already_invoiced",
        f"{what} is already on invoice {existing.number}."
        if existing.number
        else f"{what} is already on a draft invoice (#{existing.pk}).",
        invoice=existing,
    )


def why_not_editable(invoice: Invoice, action: str = "changed") -> DomainError | None:
    """Only a Draft's details and lines change; after finalizing, extra charges go on a
    new invoice. `action` completes "cannot be …" ("changed", "edited")."""
    if invoice.status == InvoiceStatus.DRAFT:
        return None
    if invoice.status == InvoiceStatus.VOID:
        message = f"Invoice {invoice.number} is void and cannot be {action}."
    else:
        message = (
            f"Invoice {invoice.number} is finalized and cannot be {action}. "
            "For extra charges, create a new invoice."
        )
    return DomainError("invoice_not_draft", message, invoice=invoice)


def why_not_deletable(invoice: Invoice) -> DomainError | None:
    """Only a Draft is deleted; a finalized invoice is voided (it keeps its number)."""
    if invoice.status == InvoiceStatus.DRAFT:
        return None
    return DomainError(
        "invoice_not_draft", "Only draft invoices can be deleted. Void it instead.", invoice=invoice
    )


def why_not_finalizable(invoice: Invoice) -> DomainError | None:
    """Only a Draft is finalized. (It also needs a line: the service checks that.)"""
    if invoice.status == InvoiceStatus.DRAFT:
        return None
    if invoice.status == InvoiceStatus.VOID:
        message = f"Invoice {invoice.number} is void."
    else:
        message = f"Invoice {invoice.number} is already finalized."
    return DomainError("invoice_not_draft", message, invoice=invoice)


def why_not_payable(invoice: Invoice) -> DomainError | None:
    """Pay invoice applies to an Open invoice only."""
    message = {
        InvoiceStatus.DRAFT: "Finalize the invoice before taking a payment.",
        InvoiceStatus.VOID: f"Invoice {invoice.number} is void.",
        InvoiceStatus.PAID: f"Invoice {invoice.number} is already paid.",
    }.get(InvoiceStatus(invoice.status))
    if message is None:
        return None
    return DomainError("invoice_not_open", message, invoice=invoice)


def _void_status_refusal(invoice: Invoice) -> DomainError | None:
    if invoice.status == InvoiceStatus.DRAFT:
        return DomainError(
            "invoice_is_draft",
            "A draft invoice has no number to keep: delete it instead of voiding it.",
            invoice=invoice,
        )
    if invoice.status == InvoiceStatus.VOID:
        return DomainError(
            "invoice_already_void", f"Invoice {invoice.number} is already void.", invoice=invoice
        )
    return None


def money_held_refusal(invoice: Invoice) -> DomainError | None:
    """An invoice with money held against it (active payments minus their refunds above
    0) is not voided: its payments are refunded or voided first."""
    paid = invoice_totals(invoice).amount_paid
    if paid <= ZERO:
        return None
    return DomainError(
        INVOICE_HAS_PAYMENTS,
        f"Invoice {invoice.number} has {format_money(paid)} paid on it. "
        "Refund or void its payments before voiding the invoice.",
        invoice=invoice,
    )


CREDIT_NOTE_REASON_REQUIRED = "Give a reason for the credit note."


def credit_notes_refusal(invoice: Invoice) -> DomainError | None:
    """An invoice with credit notes is not voided: they are issued documents that refer
    to it, and voiding would leave them crediting nothing (RF8)."""
    number = invoice.credit_notes.values_list("number", flat=True).first()
    if number is None:
        return None
    return DomainError(
        INVOICE_HAS_CREDIT_NOTES,
        f"Invoice {invoice.number} has a credit note ({number}), so it cannot be voided.",
        invoice=invoice,
    )


def exceeds_balance_message(balance: str, *, owing: bool = False) -> str:
    """The words of `exceeds_balance`, the balance given as shown ("$95.00")."""
    what = "the amount owing" if owing else "the balance"
    return f"The amount is more than {what} of {balance}."


def exceeds_balance(balance: Decimal, *, owing: bool = False) -> DomainError:
    """The refusal of a payment (or, `owing`, a credit note) of more than the invoice's
    balance, shown beside Amount."""
    return DomainError(
        AMOUNT_EXCEEDS_BALANCE,
        exceeds_balance_message(format_money(balance), owing=owing),
        balance=balance,
        field="amount",
    )


def why_not_voidable(invoice: Invoice) -> DomainError | None:
    """A finalized invoice (Open or Paid) is voided, once no money is held against it and
    no credit note refers to it."""
    return (
        _void_status_refusal(invoice)
        or money_held_refusal(invoice)
        or credit_notes_refusal(invoice)
    )


def why_not_creditable(invoice: Invoice) -> DomainError | None:
    """Issue credit note applies to an Open invoice (one with an amount owing)."""
    if invoice.status == InvoiceStatus.OPEN:
        return None
    message = {
        InvoiceStatus.DRAFT: "A draft invoice is changed, not credited: edit its lines.",
        InvoiceStatus.VOID: f"Invoice {invoice.number} is void.",
        InvoiceStatus.PAID: f"Invoice {invoice.number} is paid: nothing is owing to credit.",
    }[InvoiceStatus(invoice.status)]
    return DomainError("invoice_not_open", message, invoice=invoice)


@dataclass(frozen=True)
class InvoiceActions:
    """What the invoice's status allows now (the user's role is checked apart).

    `void` is offered whatever is paid: its popup explains a refusal for money held.
    """

    edit: bool
    finalize: bool
    delete: bool
    pay: bool
    void: bool
    credit_note: bool = False


def invoice_actions(invoice: Invoice) -> InvoiceActions:
    return InvoiceActions(
        edit=why_not_editable(invoice) is None,
        finalize=why_not_finalizable(invoice) is None,
        delete=why_not_deletable(invoice) is None,
        pay=why_not_payable(invoice) is None,
        void=_void_status_refusal(invoice) is None,
        credit_note=why_not_creditable(invoice) is None,
    )


# -------------------------------------------------------------------------- payments


def why_not_refundable(payment: Payment, amount: Decimal | None = None) -> DomainError | None:
    """A refund gives back part or all of an active payment: at most its amount minus its
    earlier refunds (`refundable_amount`). Without `amount`: whether anything is left to
    refund at all."""
    if payment.status != PaymentStatus.ACTIVE:
        return DomainError("payment_not_active", "This payment is void and cannot be refunded.")
    refundable = refundable_amount(payment)
    if amount is None:
        if refundable > ZERO:
            return None
        return DomainError(
            "payment_refunded_in_full", "This payment has been refunded in full.", refundable=ZERO
        )
    if amount > refundable:
        return DomainError(
            AMOUNT_EXCEEDS_REFUNDABLE,
            "The amount is more than what can still be refunded on this payment "
            f"({format_money(refundable)}).",
            refundable=refundable,
        )
    return None


def why_not_payment_voidable(payment: Payment) -> DomainError | None:
    """A payment recorded by mistake is voided, unless it has refunds (that money really
    moved: voiding would count it twice)."""
    if payment.status == PaymentStatus.VOID:
        return DomainError(PAYMENT_ALREADY_VOID, "This payment is already void.")
    if payment.refunds.all():
        return DomainError(
            "payment_has_refunds",
            "This payment has refunds, so it cannot be voided. Refund the rest instead.",
        )
    return None


@dataclass(frozen=True)
class PaymentActions:
    refund: bool
    void: bool


def payment_actions(payment: Payment) -> PaymentActions:
    """What the payment allows now (read from a prefetch of `refunds` when there is one)."""
    return PaymentActions(
        refund=why_not_refundable(payment) is None,
        void=why_not_payment_voidable(payment) is None,
    )
