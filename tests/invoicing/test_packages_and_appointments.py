"""Invoicing a client package or an appointment: one line, one non-void invoice each."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from calendar_app.models import AppointmentStatus
from invoicing.models import InvoiceStatus
from invoicing.selectors import (
    current_invoice_for_appointment,
    current_invoice_for_client_package,
    invoices_for_client_package,
)
from invoicing.services import (
    invoice_delete,
    invoice_finalize,
    invoice_for_appointment,
    invoice_for_client_package,
    invoice_line_add,
    invoice_void,
)
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ClientPackageFactory,
    LocationFactory,
    PractitionerFactory,
    ServiceFactory,
    TaxRateFactory,
)
from tests.invoicing.helpers import draft, refused

pytestmark = pytest.mark.django_db


def _invoice_package(client_package, by=None):
    return invoice_for_client_package(
        client_package=client_package,
        practitioner=PractitionerFactory(),
        location=LocationFactory(),
        by=by,
    )


# ------------------------------------------------------------------------- packages


def test_package_invoice_is_one_line_at_the_package_amount(reception):
    gst = TaxRateFactory(rate=Decimal("10"))
    client_package = ClientPackageFactory(
        name="Physio Starter Pack", price=Decimal("440.00"), tax_rate=gst
    )
    practitioner, location = PractitionerFactory(), LocationFactory()
    invoice = invoice_for_client_package(
        client_package=client_package, practitioner=practitioner, location=location, by=reception
    )
    assert invoice.status == InvoiceStatus.DRAFT
    assert (invoice.client, invoice.practitioner, invoice.location) == (
        client_package.client,
        practitioner,
        location,
    )
    line = invoice.lines.get()
    assert line.description == "Physio Starter Pack"
    assert (line.quantity, line.unit_price) == (Decimal("1.00"), Decimal("440.00"))
    assert line.tax_rate == gst
    assert (line.total_amount, line.tax_amount) == (Decimal("440.00"), Decimal("40.00"))
    assert line.client_package == client_package
    assert current_invoice_for_client_package(client_package) == invoice


def test_package_invoice_offers_existing_invoice():
    client_package = ClientPackageFactory()
    first = invoice_finalize(invoice=_invoice_package(client_package), by=None)
    with refused("already_invoiced") as excinfo:
        _invoice_package(client_package)
    assert excinfo.value.message == "This package is already on invoice INV-0001."
    assert excinfo.value.context["invoice"] == first


def test_package_on_a_draft_invoice_offers_that_draft():
    client_package = ClientPackageFactory()
    first = _invoice_package(client_package)
    with refused("already_invoiced") as excinfo:
        _invoice_package(client_package)
    assert excinfo.value.context["invoice"] == first
    assert f"#{first.pk}" in excinfo.value.message


def test_package_can_be_invoiced_again_once_its_invoice_is_void_or_deleted():
    client_package = ClientPackageFactory()
    voided = invoice_void(
        invoice=invoice_finalize(invoice=_invoice_package(client_package), by=None), by=None
    )
    second = _invoice_package(client_package)
    invoice_delete(invoice=second, by=None)
    third = _invoice_package(client_package)
    assert current_invoice_for_client_package(client_package) == third
    assert {i.pk for i in invoices_for_client_package(client_package)} == {voided.pk, third.pk}


def test_canceled_package_can_still_be_invoiced():
    client_package = ClientPackageFactory(canceled_at=timezone.now(), cancel_reason="Moved away")
    assert _invoice_package(client_package).lines.get().client_package == client_package


def test_package_cannot_be_put_on_a_second_invoice_by_hand():
    client_package = ClientPackageFactory()
    first = _invoice_package(client_package)
    other = draft(client=client_package.client)
    with refused("already_invoiced") as excinfo:
        invoice_line_add(
            invoice=other,
            by=None,
            description="Package again",
            quantity=1,
            unit_price=Decimal("400"),
            client_package=client_package,
        )
    assert excinfo.value.context["invoice"] == first


def test_line_for_another_clients_package_is_refused():
    client_package = ClientPackageFactory()
    invoice = draft(client=ClientFactory())
    with refused("client_mismatch"):
        invoice_line_add(
            invoice=invoice,
            by=None,
            description="Someone else's package",
            quantity=1,
            unit_price=Decimal("400"),
            client_package=client_package,
        )


def test_archived_client_package_is_not_invoiced():
    client_package = ClientPackageFactory(client=ClientFactory(archived=True))
    with refused("client_archived"):
        _invoice_package(client_package)


# --------------------------------------------------------------------- appointments


def test_appointment_invoiced_at_the_service_price_and_tax_rate(reception):
    gst = TaxRateFactory(rate=Decimal("10"))
    service = ServiceFactory(name="Physio follow-up", price=Decimal("99.00"), tax_rate=gst)
    appointment = AppointmentFactory(service=service)
    invoice = invoice_for_appointment(appointment=appointment, by=reception)
    assert (invoice.client, invoice.practitioner, invoice.location) == (
        appointment.client,
        appointment.practitioner,
        appointment.location,
    )
    line = invoice.lines.get()
    assert line.description == "Physio follow-up"
    assert (line.unit_price, line.total_amount, line.tax_amount) == (
        Decimal("99.00"),
        Decimal("99.00"),
        Decimal("9.00"),
    )
    assert line.tax_rate == gst
    assert line.appointment == appointment
    assert line.client_package is None


def test_linked_appointment_invoiced_at_zero_covered_by_package():
    client_package = ClientPackageFactory(name="Flexi 5")
    service = ServiceFactory(name="Physio follow-up", price=Decimal("99.00"))
    appointment = AppointmentFactory(
        client=client_package.client, service=service, client_package=client_package
    )
    invoice = invoice_for_appointment(appointment=appointment, by=None)
    line = invoice.lines.get()
    assert line.description == "Physio follow-up — Covered by package: Flexi 5"
    assert (line.unit_price, line.total_amount) == (Decimal("0.00"), Decimal("0.00"))
    # The covered line is about the appointment; the package is billed on its own invoice.
    assert line.client_package is None
    assert _invoice_package(client_package).lines.get().unit_price == Decimal("400.00")


def test_appointment_is_invoiced_once():
    appointment = AppointmentFactory()
    first = invoice_for_appointment(appointment=appointment, by=None)
    with refused("already_invoiced") as excinfo:
        invoice_for_appointment(appointment=appointment, by=None)
    assert excinfo.value.context["invoice"] == first
    assert current_invoice_for_appointment(appointment) == first
    invoice_void(invoice=invoice_finalize(invoice=first, by=None), by=None)
    assert invoice_for_appointment(appointment=appointment, by=None) != first


def test_canceled_appointment_is_not_invoiced():
    appointment = AppointmentFactory(status=AppointmentStatus.CANCELED)
    with refused("appointment_canceled") as excinfo:
        invoice_for_appointment(appointment=appointment, by=None)
    assert excinfo.value.message == "This appointment is canceled."


def test_missed_appointment_can_be_invoiced():
    appointment = AppointmentFactory(status=AppointmentStatus.MISSED)
    assert invoice_for_appointment(appointment=appointment, by=None).lines.count() == 1


def test_line_for_another_clients_appointment_is_refused():
    appointment = AppointmentFactory()
    invoice = draft(client=ClientFactory())
    with refused("client_mismatch"):
        invoice_line_add(
            invoice=invoice,
            by=None,
            description="Consultation",
            quantity=1,
            unit_price=Decimal("90"),
            appointment=appointment,
        )
