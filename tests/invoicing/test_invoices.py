"""Invoices: drafts, finalizing and numbering, deleting and voiding."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from invoicing.models import Invoice, InvoiceLine, InvoiceStatus
from invoicing.selectors import invoice_totals, invoices_summary, invoices_with_totals
from invoicing.services import (
    invoice_create,
    invoice_delete,
    invoice_finalize,
    invoice_update,
    invoice_void,
    payment_record,
    payment_refund,
    payment_void,
)
from practice.models import PracticeSettings
from tests.factories import ClientFactory, LocationFactory, PractitionerFactory
from tests.invoicing.helpers import cash, draft, open_invoice, refused

pytestmark = pytest.mark.django_db


def _settings(**values) -> PracticeSettings:
    PracticeSettings.objects.filter(pk=1).update(**values)
    return PracticeSettings.objects.get(pk=1)


# --------------------------------------------------------------------------- drafts


def test_new_invoice_is_a_draft_without_number(admin_user):
    invoice = draft("90.00", by=admin_user, notes="Bring referral")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.DRAFT
    assert invoice.number is None
    assert invoice.due_date is None
    assert invoice.notes == "Bring referral"
    assert invoice.created_by == admin_user
    assert invoice.lines.count() == 1


def test_archived_client_cannot_be_invoiced():
    client = ClientFactory(archived=True)
    with refused("client_archived"):
        invoice_create(
            client=client,
            practitioner=PractitionerFactory(),
            location=LocationFactory(),
            lines=[{"description": "Consultation", "quantity": 1, "unit_price": Decimal("90")}],
            by=None,
        )


def test_an_invoice_has_a_client_a_practitioner_and_a_location():
    for name in ("client", "practitioner", "location"):
        field = Invoice._meta.get_field(name)
        assert (field.null, field.blank) == (False, False), name
    invoice = draft("90.00")
    for name in ("client_id", "practitioner_id", "location_id"):
        with pytest.raises(IntegrityError), transaction.atomic():
            Invoice.objects.filter(pk=invoice.pk).update(**{name: None})


def test_draft_invoice_can_be_edited():
    invoice = draft("90.00")
    other = PractitionerFactory()
    invoice_update(invoice=invoice, by=None, practitioner=other, notes="Paid by insurer")
    invoice.refresh_from_db()
    assert (invoice.practitioner, invoice.notes) == (other, "Paid by insurer")


def test_finalized_invoice_cannot_be_edited():
    invoice = open_invoice("90.00")
    with refused("invoice_not_draft") as excinfo:
        invoice_update(invoice=invoice, by=None, notes="Changed")
    assert "create a new invoice" in excinfo.value.message


def test_only_draft_invoices_can_be_deleted():
    invoice = open_invoice("90.00")
    with refused("invoice_not_draft") as excinfo:
        invoice_delete(invoice=invoice, by=None)
    assert excinfo.value.message == "Only draft invoices can be deleted. Void it instead."

    doomed = draft("50.00", "20.00")
    invoice_delete(invoice=doomed, by=None)
    assert not Invoice.objects.filter(pk=doomed.pk).exists()
    assert not InvoiceLine.objects.filter(invoice_id=doomed.pk).exists()


def test_void_invoice_cannot_be_deleted():
    invoice = invoice_void(invoice=open_invoice("90.00"), by=None)
    with refused("invoice_not_draft"):
        invoice_delete(invoice=invoice, by=None)


# ----------------------------------------------------------------------- finalizing


def test_finalize_assigns_next_number_with_prefix(admin_user):
    _settings(invoice_prefix="CL-", invoice_number_digits=5, invoice_next_number=42)
    invoice = invoice_finalize(invoice=draft("90.00"), by=admin_user)
    invoice.refresh_from_db()
    assert invoice.number == "CL-00042"
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.finalized_at is not None
    assert invoice.finalized_by == admin_user
    assert PracticeSettings.objects.get(pk=1).invoice_next_number == 43


def test_finalize_numbers_follow_each_other_from_inv_0001():
    drafts = [draft("10.00") for _ in range(3)]
    # Finalized out of creation order: numbers follow finalizing, not creation.
    numbers = [invoice_finalize(invoice=d, by=None).number for d in reversed(drafts)]
    assert numbers == ["INV-0001", "INV-0002", "INV-0003"]
    assert PracticeSettings.objects.get(pk=1).invoice_next_number == 4


def test_finalize_needs_at_least_one_line():
    invoice = draft()
    with refused("invoice_has_no_lines") as excinfo:
        invoice_finalize(invoice=invoice, by=None)
    assert excinfo.value.message == "Add at least one line before finalizing."


def test_finalize_twice_is_refused_even_from_a_stale_copy():
    invoice = draft("10.00")
    stale = Invoice.objects.get(pk=invoice.pk)
    invoice_finalize(invoice=invoice, by=None)
    with refused("invoice_not_draft"):
        invoice_finalize(invoice=stale, by=None)
    assert PracticeSettings.objects.get(pk=1).invoice_next_number == 2


def test_lowered_next_number_that_is_taken_is_refused_clearly():
    open_invoice("10.00")  # INV-0001
    _settings(invoice_next_number=1)
    second = draft("20.00")
    with refused("invoice_number_taken") as excinfo:
        invoice_finalize(invoice=second, by=None)
    assert "INV-0001" in excinfo.value.message


def test_due_date_is_issue_plus_terms():
    _settings(payment_terms_days=30)
    invoice = invoice_finalize(invoice=draft("90.00", issue_date=dt.date(2026, 3, 10)), by=None)
    assert invoice.issue_date == dt.date(2026, 3, 10)
    assert invoice.due_date == dt.date(2026, 4, 9)


def test_issue_date_defaults_to_today_in_the_practice_time_zone():
    _settings(payment_terms_days=14)
    invoice = draft("90.00")
    # 14:00 UTC on 1 March is already 2 March in Sydney (the practice's time zone).
    with time_machine.travel(dt.datetime(2026, 3, 1, 14, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))):
        assert timezone.get_current_timezone_name() == "Australia/Sydney"
        invoice = invoice_finalize(invoice=invoice, by=None)
    assert invoice.issue_date == dt.date(2026, 3, 2)
    assert invoice.due_date == dt.date(2026, 3, 16)


def test_invoice_of_zero_is_paid_when_finalized():
    invoice = invoice_finalize(invoice=draft("0.00"), by=None)
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.number == "INV-0001"


# -------------------------------------------------------------------------- voiding


def test_void_invoice_keeps_number_and_leaves_totals(admin_user):
    kept = open_invoice("100.00")
    voided = open_invoice("40.00")
    invoice_void(invoice=voided, reason="Wrong client", by=admin_user)
    voided.refresh_from_db()
    assert voided.status == InvoiceStatus.VOID
    assert voided.number == "INV-0002"
    assert voided.void_reason == "Wrong client"
    assert voided.voided_at is not None
    assert voided.voided_by == admin_user
    assert invoice_totals(voided).balance == Decimal("0.00")
    summary = invoices_summary()
    assert summary.total == Decimal("100.00")
    assert summary.balance == Decimal("100.00")
    assert sum(i.balance for i in invoices_with_totals()) == invoice_totals(kept).balance
    # The next invoice still takes the next number: voiding frees nothing.
    assert open_invoice("5.00").number == "INV-0003"


def test_draft_cannot_be_voided_delete_it_instead():
    invoice = draft("10.00")
    with refused("invoice_is_draft") as excinfo:
        invoice_void(invoice=invoice, by=None)
    assert "delete" in excinfo.value.message


def test_void_invoice_cannot_be_voided_again():
    invoice = open_invoice("10.00")
    invoice_void(invoice=invoice, by=None)
    with refused("invoice_already_void"):
        invoice_void(invoice=invoice, by=None)


def test_void_needs_no_active_payments():
    invoice = open_invoice("100.00")
    payment = payment_record(invoice=invoice, amount=Decimal("30.00"), method=cash(), by=None)
    with refused("invoice_has_payments") as excinfo:
        invoice_void(invoice=invoice, by=None)
    assert "30.00" in excinfo.value.message

    payment_void(payment=payment, reason="Recorded twice", by=None)
    invoice_void(invoice=invoice, by=None)
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.VOID


def test_void_allowed_once_payments_are_fully_refunded():
    invoice = open_invoice("100.00")
    payment = payment_record(invoice=invoice, amount=Decimal("100.00"), method=cash(), by=None)
    payment_refund(payment=payment, amount=Decimal("60.00"), reason="Cancelled", by=None)
    with refused("invoice_has_payments"):
        invoice_void(invoice=invoice, by=None)
    payment_refund(payment=payment, amount=Decimal("40.00"), reason="Cancelled", by=None)
    invoice_void(invoice=invoice, by=None)
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.VOID
