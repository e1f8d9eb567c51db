"""Who may do what with invoices and payments (DOMAIN.md, People and permissions)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from invoicing.models import Invoice, InvoiceStatus, Payment, PaymentStatus
from invoicing.selectors import invoice_totals
from invoicing.services import (
    invoice_create,
    invoice_delete,
    invoice_finalize,
    invoice_for_appointment,
    invoice_for_client_package,
    invoice_line_add,
    invoice_update,
    invoice_void,
    payment_record,
    payment_refund,
    payment_void,
)
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ClientPackageFactory,
    LocationFactory,
    PractitionerFactory,
)
from tests.invoicing.helpers import cash, db_state, draft, open_invoice
from tests.refusals import refused

pytestmark = pytest.mark.django_db


def _paid_payment():
    invoice = open_invoice("100.00")
    return payment_record(invoice=invoice, amount=Decimal("100.00"), method=cash(), by=None)


def test_reception_creates_finalizes_and_takes_payments(reception):
    invoice = draft("100.00", by=reception)
    invoice_line_add(
        invoice=invoice, by=reception, description="Extra", quantity=1, unit_price=Decimal("10")
    )
    invoice_update(invoice=invoice, by=reception, notes="Thanks")
    invoice_finalize(invoice=invoice, by=reception)
    payment = payment_record(invoice=invoice, amount=Decimal("110.00"), method=cash(), by=reception)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.notes, invoice.created_by, invoice.finalized_by) == (
        InvoiceStatus.PAID,
        "Thanks",
        reception,
        reception,
    )
    assert invoice.number
    assert [(line.description, line.unit_price) for line in invoice.lines.order_by("pk")] == [
        ("Item 1", Decimal("100.00")),
        ("Extra", Decimal("10.00")),
    ]
    assert (payment.status, payment.amount, payment.created_by) == (
        PaymentStatus.ACTIVE,
        Decimal("110.00"),
        reception,
    )
    assert invoice_totals(invoice).balance == Decimal("0.00")

    doomed = draft("5.00", by=reception)
    invoice_delete(invoice=doomed, by=reception)
    assert not Invoice.objects.filter(pk=doomed.pk).exists()


def test_reception_cannot_void_or_refund(reception):
    invoice = open_invoice("100.00")
    with refused("permission_denied", unchanged=db_state):
        invoice_void(invoice=invoice, by=reception)
    payment = _paid_payment()
    with refused("permission_denied", unchanged=db_state):
        payment_refund(payment=payment, amount=Decimal("10"), reason="Asked", by=reception)
    with refused("permission_denied", unchanged=db_state):
        payment_void(payment=payment, by=reception)


def test_practitioner_cannot_create_invoices(practitioner_user):
    client, practitioner, location = ClientFactory(), PractitionerFactory(), LocationFactory()
    with refused("permission_denied", unchanged=db_state):
        invoice_create(
            client=client, practitioner=practitioner, location=location, by=practitioner_user
        )
    client_package = ClientPackageFactory()
    with refused("permission_denied", unchanged=db_state):
        invoice_for_client_package(
            client_package=client_package,
            practitioner=practitioner,
            location=location,
            by=practitioner_user,
        )
    appointment = AppointmentFactory()
    with refused("permission_denied", unchanged=db_state):
        invoice_for_appointment(appointment=appointment, by=practitioner_user)


def test_practitioner_cannot_change_finalize_or_take_payments(practitioner_user):
    invoice = draft("100.00")
    with refused("permission_denied", unchanged=db_state):
        invoice_line_add(
            invoice=invoice,
            by=practitioner_user,
            description="Extra",
            quantity=1,
            unit_price=Decimal("10"),
        )
    with refused("permission_denied", unchanged=db_state):
        invoice_finalize(invoice=invoice, by=practitioner_user)
    with refused("permission_denied", unchanged=db_state):
        invoice_delete(invoice=invoice, by=practitioner_user)
    invoice = open_invoice("100.00")
    with refused("permission_denied", unchanged=db_state):
        payment_record(invoice=invoice, amount=Decimal("10"), method=cash(), by=practitioner_user)


def test_accountant_can_refund_and_void(accountant):
    payment = _paid_payment()
    refund = payment_refund(
        payment=payment, amount=Decimal("100.00"), reason="Cancelled", by=accountant
    )
    assert (refund.payment, refund.amount, refund.reason, refund.created_by) == (
        payment,
        Decimal("100.00"),
        "Cancelled",
        accountant,
    )
    invoice = payment.invoice
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN  # the refund reopened the paid invoice
    invoice_void(invoice=invoice, by=accountant)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.voided_by) == (InvoiceStatus.VOID, accountant)
    assert invoice.voided_at is not None

    other = _paid_payment()
    payment_void(payment=other, by=accountant)
    other.refresh_from_db()
    other.invoice.refresh_from_db()
    assert (other.status, other.voided_by) == (PaymentStatus.VOID, accountant)
    assert other.invoice.status == InvoiceStatus.OPEN
    assert invoice_totals(other.invoice).balance == Decimal("100.00")


def test_admin_can_do_everything(admin_user):
    invoice = invoice_finalize(invoice=draft("100.00", by=admin_user), by=admin_user)
    assert (invoice.status, invoice.finalized_by) == (InvoiceStatus.OPEN, admin_user)
    payment = payment_record(invoice=invoice, amount="100", method=cash(), by=admin_user)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    refund = payment_refund(payment=payment, amount="100", reason="Cancelled", by=admin_user)
    assert (refund.amount, refund.created_by) == (Decimal("100.00"), admin_user)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    invoice_void(invoice=invoice, by=admin_user)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.voided_by) == (InvoiceStatus.VOID, admin_user)
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.ACTIVE
