"""Credit notes (issue 13): numbered, append-only, reducing the invoice's amount owing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import InternalError, ProgrammingError, connection, transaction

from invoicing.models import CreditNote, CreditNoteLine, InvoiceStatus
from invoicing.selectors import invoice_display_status, invoice_totals, invoices_with_totals
from invoicing.services import (
    credit_note_issue,
    invoice_void,
    payment_record,
    payment_void,
)
from tests.invoicing.helpers import cash, draft, open_invoice, refused
from tests.invoicing.test_day_totals import _assert_summaries_agree

pytestmark = pytest.mark.django_db


def test_issue_takes_the_amount_off_the_balance(admin_user):
    invoice = open_invoice("100.00", "50.00")
    note = credit_note_issue(invoice=invoice, amount="40.00", reason="Goodwill", by=admin_user)
    assert (note.number, note.reason, note.created_by) == ("CN-0001", "Goodwill", admin_user)
    assert note.lines.get().total_amount == Decimal("40.00")
    totals = invoice_totals(invoice)
    assert (totals.credited, totals.balance) == (Decimal("40.00"), Decimal("110.00"))
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN


def test_numbers_follow_on_across_invoices(admin_user):
    first, second = open_invoice("100.00"), open_invoice("100.00")
    numbers = [
        credit_note_issue(invoice=inv, amount="10.00", reason="x", by=admin_user).number
        for inv in (first, second, first)
    ]
    assert numbers == ["CN-0001", "CN-0002", "CN-0003"]


def test_covering_the_balance_makes_the_invoice_paid(admin_user):
    invoice = open_invoice("100.00")
    payment = payment_record(invoice=invoice, amount="30.00", method=cash(), by=admin_user)
    credit_note_issue(invoice=invoice, amount="70.00", reason="Waived", by=admin_user)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice_totals(invoice).balance == 0
    # The payment voided: the 30.00 is owing again, the invoice is Open again.
    payment_void(payment=payment, by=admin_user)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice_totals(invoice).balance == Decimal("30.00")


def test_more_than_the_amount_owing_is_refused_beside_the_amount(admin_user):
    invoice = open_invoice("100.00")
    payment_record(invoice=invoice, amount="30.00", method=cash(), by=admin_user)
    with refused("amount_exceeds_balance", field="amount"):
        credit_note_issue(invoice=invoice, amount="70.01", reason="x", by=admin_user)
    with refused("invalid_amount", field="amount"):
        credit_note_issue(invoice=invoice, amount="0", reason="x", by=admin_user)
    with refused("reason_required", field="reason"):
        credit_note_issue(invoice=invoice, amount="1.00", reason="  ", by=admin_user)
    assert not CreditNote.objects.exists()


@pytest.mark.parametrize("status", ["draft", "paid", "void"])
def test_only_an_open_invoice_is_credited(admin_user, status):
    invoice = draft("100.00") if status == "draft" else open_invoice("100.00")
    if status == "paid":
        payment_record(invoice=invoice, amount="100.00", method=cash(), by=admin_user)
    if status == "void":
        invoice_void(invoice=invoice, by=admin_user)
    with refused("invoice_not_open"):
        credit_note_issue(invoice=invoice, amount="1.00", reason="x", by=admin_user)


@pytest.mark.parametrize("who", ["reception", "accountant", "practitioner_user"])
def test_admin_only(admin_user, who, request):
    invoice = open_invoice("100.00")
    with refused("permission_denied"):
        credit_note_issue(
            invoice=invoice, amount="1.00", reason="x", by=request.getfixturevalue(who)
        )


def test_invoice_with_a_credit_note_is_not_voided(admin_user):
    invoice = open_invoice("100.00")
    credit_note_issue(invoice=invoice, amount="10.00", reason="x", by=admin_user)
    with refused("invoice_has_credit_notes"):
        invoice_void(invoice=invoice, by=admin_user)


def test_tax_is_split_in_proportion_to_the_invoice(admin_user):
    from tests.factories import TaxRateFactory

    invoice = open_invoice("100.00", tax_rate=TaxRateFactory(rate=Decimal("10.00")))
    # 100.00 including 10% tax: 9.09 tax. A credit of 55.00 carries 5.00 of it.
    note = credit_note_issue(invoice=invoice, amount="55.00", reason="x", by=admin_user)
    assert (note.net_amount, note.tax_amount) == (Decimal("50.00"), Decimal("5.00"))


def test_issued_credit_notes_are_never_changed_nor_deleted(admin_user):
    invoice = open_invoice("100.00")
    note = credit_note_issue(invoice=invoice, amount="10.00", reason="x", by=admin_user)
    for attempt in (
        lambda: CreditNote.objects.filter(pk=note.pk).update(total_amount=Decimal("1.00")),
        lambda: connection.cursor().execute(
            "DELETE FROM invoicing_creditnote WHERE id = %s", [note.pk]
        ),
        lambda: CreditNoteLine.objects.filter(credit_note=note).update(description="y"),
        lambda: CreditNoteLine.objects.filter(credit_note=note).delete(),
    ):
        with pytest.raises((InternalError, ProgrammingError)), transaction.atomic():
            attempt()
    assert CreditNote.objects.get(pk=note.pk).total_amount == Decimal("10.00")


def test_display_status_and_list_agree_after_credit_notes(admin_user):
    invoice = open_invoice("100.00")
    credit_note_issue(invoice=invoice, amount="100.00", reason="x", by=admin_user)
    invoice.refresh_from_db()
    assert invoice_display_status(invoice) == "Paid"
    row = invoices_with_totals().get(pk=invoice.pk)
    assert (row.credited, row.balance) == (Decimal("100.00"), 0)


def test_day_totals_follow_credit_notes(admin_user):
    a = open_invoice("100.00", "50.00")
    b = open_invoice("80.00")
    payment_record(invoice=a, amount="60.00", method=cash(), by=admin_user)
    _assert_summaries_agree()
    credit_note_issue(invoice=a, amount="20.00", reason="x", by=admin_user)
    _assert_summaries_agree()
    credit_note_issue(invoice=b, amount="80.00", reason="x", by=admin_user)  # Paid
    _assert_summaries_agree()
