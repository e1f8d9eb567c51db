"""Payments, refunds and voided payments, and what they do to the balance."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from invoicing.models import Invoice, InvoiceStatus, Payment, PaymentMethod, PaymentStatus
from invoicing.selectors import invoice_totals
from invoicing.services import (
    invoice_void,
    payment_record,
    payment_refund,
    payment_void,
)
from tests.invoicing.helpers import cash, draft, open_invoice, refused

pytestmark = pytest.mark.django_db


def _status(invoice: Invoice) -> str:
    return Invoice.objects.get(pk=invoice.pk).status


def test_part_payment_leaves_balance_open(reception):
    invoice = open_invoice("100.00", "20.00")
    payment = payment_record(
        invoice=invoice,
        amount=Decimal("50.00"),
        method=cash(),
        date=dt.date(2026, 5, 1),
        reference="Deposit",
        by=reception,
    )
    assert (payment.amount, payment.date, payment.reference) == (
        Decimal("50.00"),
        dt.date(2026, 5, 1),
        "Deposit",
    )
    assert payment.created_by == reception
    assert _status(invoice) == InvoiceStatus.OPEN
    assert invoice_totals(invoice).balance == Decimal("70.00")
    # Several part payments are allowed.
    payment_record(invoice=invoice, amount=Decimal("20.00"), method=cash(), by=reception)
    assert invoice_totals(invoice).balance == Decimal("50.00")
    assert _status(invoice) == InvoiceStatus.OPEN


def test_payment_date_defaults_to_today():
    payment = payment_record(invoice=open_invoice("10.00"), amount="5", method=cash(), by=None)
    assert payment.date == timezone.localdate()


def test_paying_the_balance_marks_the_invoice_paid():
    invoice = open_invoice("100.00")
    payment_record(invoice=invoice, amount=Decimal("40.00"), method=cash(), by=None)
    payment_record(invoice=invoice, amount=Decimal("60.00"), method=cash(), by=None)
    assert _status(invoice) == InvoiceStatus.PAID
    assert invoice_totals(invoice).balance == Decimal("0.00")


def test_payment_above_balance_is_refused():
    invoice = open_invoice("1250.00")
    payment_record(invoice=invoice, amount=Decimal("250.00"), method=cash(), by=None)
    with refused("amount_exceeds_balance") as excinfo:
        payment_record(invoice=invoice, amount=Decimal("1000.01"), method=cash(), by=None)
    assert "1,000.00" in excinfo.value.message


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-5.00"), "abc", "1.005", None, "Inf"])
def test_payment_amount_must_be_positive_money(amount):
    invoice = open_invoice("100.00")
    with refused("invalid_amount"):
        payment_record(invoice=invoice, amount=amount, method=cash(), by=None)


def test_payment_needs_an_open_invoice():
    invoice = draft("100.00")
    with refused("invoice_not_open") as excinfo:
        payment_record(invoice=invoice, amount=Decimal("10"), method=cash(), by=None)
    assert excinfo.value.message == "Finalize the invoice before taking a payment."

    paid = open_invoice("10.00")
    payment_record(invoice=paid, amount=Decimal("10"), method=cash(), by=None)
    with refused("invoice_not_open") as excinfo:
        payment_record(invoice=paid, amount=Decimal("1"), method=cash(), by=None)
    assert "already paid" in excinfo.value.message

    void = invoice_void(invoice=open_invoice("10.00"), by=None)
    with refused("invoice_not_open") as excinfo:
        payment_record(invoice=void, amount=Decimal("1"), method=cash(), by=None)
    assert "void" in excinfo.value.message


def test_archived_payment_method_is_refused():
    invoice = open_invoice("100.00")
    cheque = PaymentMethod.objects.create(name="Old cheque", archived=True)
    with refused("payment_method_archived"):
        payment_record(invoice=invoice, amount=Decimal("10"), method=cheque, by=None)


def test_payment_methods_default_list():
    """DOMAIN.md: a list the practice manages, by default Credit card, EFTPOS, Cash,
    Direct deposit, Cheque (created for a new practice by a data migration)."""
    migration = importlib.import_module("invoicing.migrations.0002_default_payment_methods")
    PaymentMethod.objects.all().delete()
    migration.create(apps, None)
    assert list(PaymentMethod.objects.order_by("id").values_list("name", "archived")) == [
        ("Credit card", False),
        ("EFTPOS", False),
        ("Cash", False),
        ("Direct deposit", False),
        ("Cheque", False),
    ]


def test_refund_reopens_paid_invoice(accountant):
    invoice = open_invoice("100.00")
    payment = payment_record(invoice=invoice, amount=Decimal("100.00"), method=cash(), by=None)
    assert _status(invoice) == InvoiceStatus.PAID
    refund = payment_refund(
        payment=payment, amount=Decimal("30.00"), reason="Session not given", by=accountant
    )
    assert (refund.amount, refund.reason, refund.created_by) == (
        Decimal("30.00"),
        "Session not given",
        accountant,
    )
    assert refund.date == timezone.localdate()
    assert _status(invoice) == InvoiceStatus.OPEN
    totals = invoice_totals(invoice)
    assert (totals.amount_paid, totals.balance) == (Decimal("70.00"), Decimal("30.00"))


def test_refund_of_a_part_payment_keeps_the_invoice_open():
    invoice = open_invoice("100.00")
    payment = payment_record(invoice=invoice, amount=Decimal("50.00"), method=cash(), by=None)
    payment_refund(payment=payment, amount=Decimal("50.00"), reason="Changed plan", by=None)
    assert _status(invoice) == InvoiceStatus.OPEN
    assert invoice_totals(invoice).balance == Decimal("100.00")


def test_refund_above_what_is_left_to_refund_is_refused():
    invoice = open_invoice("100.00")
    payment = payment_record(invoice=invoice, amount=Decimal("80.00"), method=cash(), by=None)
    payment_refund(payment=payment, amount=Decimal("50.00"), reason="Partly unused", by=None)
    with refused("amount_exceeds_refundable") as excinfo:
        payment_refund(payment=payment, amount=Decimal("30.01"), reason="More", by=None)
    assert "30.00" in excinfo.value.message
    payment_refund(payment=payment, amount=Decimal("30.00"), reason="The rest", by=None)


def test_refund_needs_a_reason_and_a_positive_amount():
    payment = payment_record(invoice=open_invoice("100.00"), amount="80", method=cash(), by=None)
    with refused("reason_required"):
        payment_refund(payment=payment, amount=Decimal("10"), reason="  ", by=None)
    with refused("invalid_amount"):
        payment_refund(payment=payment, amount=Decimal("0"), reason="Because", by=None)


def test_void_payment_leaves_totals_and_reopens_the_invoice(accountant):
    invoice = open_invoice("100.00")
    payment = payment_record(invoice=invoice, amount=Decimal("100.00"), method=cash(), by=None)
    voided = payment_void(payment=payment, reason="Entered on the wrong invoice", by=accountant)
    assert voided.status == PaymentStatus.VOID
    assert (voided.voided_by, voided.void_reason) == (accountant, "Entered on the wrong invoice")
    assert voided.voided_at is not None
    assert _status(invoice) == InvoiceStatus.OPEN
    totals = invoice_totals(invoice)
    assert (totals.amount_paid, totals.balance) == (Decimal("0.00"), Decimal("100.00"))


def test_voided_payment_is_kept_for_audit_and_left_out_of_the_totals():
    invoice = open_invoice("100.00")
    payment_record(invoice=invoice, amount=Decimal("30.00"), method=cash(), by=None)
    mistake = payment_record(invoice=invoice, amount=Decimal("50.00"), method=cash(), by=None)
    payment_void(payment=mistake, reason="Wrong invoice", by=None)
    kept = Payment.objects.get(pk=mistake.pk)
    assert (kept.status, kept.amount, kept.void_reason) == (
        PaymentStatus.VOID,
        Decimal("50.00"),
        "Wrong invoice",
    )
    assert invoice.payments.count() == 2
    totals = invoice_totals(invoice)
    assert (totals.amount_paid, totals.balance) == (Decimal("30.00"), Decimal("70.00"))


def test_void_payment_cannot_be_voided_again_or_refunded():
    payment = payment_record(invoice=open_invoice("100.00"), amount="40", method=cash(), by=None)
    payment_void(payment=payment, by=None)
    with refused("payment_already_void"):
        payment_void(payment=payment, by=None)
    with refused("payment_not_active"):
        payment_refund(payment=payment, amount=Decimal("1"), reason="Oops", by=None)


def test_payment_with_refunds_cannot_be_voided():
    payment = payment_record(invoice=open_invoice("100.00"), amount="40", method=cash(), by=None)
    payment_refund(payment=payment, amount=Decimal("10"), reason="Discount", by=None)
    with refused("payment_has_refunds"):
        payment_void(payment=payment, by=None)
