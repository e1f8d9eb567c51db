"""Who may do what with invoices and payments (DOMAIN.md, People and permissions)."""

from __future__ import annotations

from decimal import Decimal

import pytest

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
from tests.invoicing.helpers import cash, draft, open_invoice, refused

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
    payment_record(invoice=invoice, amount=Decimal("110.00"), method=cash(), by=reception)
    invoice_delete(invoice=draft("5.00", by=reception), by=reception)


def test_reception_cannot_void_or_refund(reception):
    invoice = open_invoice("100.00")
    with refused("permission_denied"):
        invoice_void(invoice=invoice, by=reception)
    payment = _paid_payment()
    with refused("permission_denied"):
        payment_refund(payment=payment, amount=Decimal("10"), reason="Asked", by=reception)
    with refused("permission_denied"):
        payment_void(payment=payment, by=reception)


def test_practitioner_cannot_create_invoices(practitioner_user):
    client, practitioner, location = ClientFactory(), PractitionerFactory(), LocationFactory()
    with refused("permission_denied"):
        invoice_create(
            client=client, practitioner=practitioner, location=location, by=practitioner_user
        )
    client_package = ClientPackageFactory()
    with refused("permission_denied"):
        invoice_for_client_package(
            client_package=client_package,
            practitioner=practitioner,
            location=location,
            by=practitioner_user,
        )
    appointment = AppointmentFactory()
    with refused("permission_denied"):
        invoice_for_appointment(appointment=appointment, by=practitioner_user)


def test_practitioner_cannot_change_finalize_or_take_payments(practitioner_user):
    invoice = draft("100.00")
    with refused("permission_denied"):
        invoice_line_add(
            invoice=invoice,
            by=practitioner_user,
            description="Extra",
            quantity=1,
            unit_price=Decimal("10"),
        )
    with refused("permission_denied"):
        invoice_finalize(invoice=invoice, by=practitioner_user)
    with refused("permission_denied"):
        invoice_delete(invoice=invoice, by=practitioner_user)
    invoice = open_invoice("100.00")
    with refused("permission_denied"):
        payment_record(invoice=invoice, amount=Decimal("10"), method=cash(), by=practitioner_user)


def test_accountant_can_refund_and_void(accountant):
    payment = _paid_payment()
    payment_refund(payment=payment, amount=Decimal("100.00"), reason="Cancelled", by=accountant)
    invoice_void(invoice=payment.invoice, by=accountant)
    other = _paid_payment()
    payment_void(payment=other, by=accountant)


def test_admin_can_do_everything(admin_user):
    invoice = invoice_finalize(invoice=draft("100.00", by=admin_user), by=admin_user)
    payment = payment_record(invoice=invoice, amount="100", method=cash(), by=admin_user)
    payment_refund(payment=payment, amount="100", reason="Cancelled", by=admin_user)
    invoice_void(invoice=invoice, by=admin_user)
