"""Totals, balances and the status staff see, computed from lines and payments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invoicing.models import Invoice, Payment, PaymentStatus
from invoicing.selectors import (
    DISPLAY_STATUSES,
    invoice_balances_sql,
    invoice_display_status,
    invoice_totals,
    invoices_add_totals,
    invoices_summary,
    invoices_with_display_status,
    invoices_with_totals,
    payments_with_refunded,
    refunded_amount,
)
from invoicing.services import (
    credit_note_issue,
    invoice_finalize,
    invoice_void,
    payment_record,
    payment_refund,
    payment_void,
)
from practice.models import PracticeSettings
from tests.factories import TaxRateFactory
from tests.invoicing.helpers import cash, draft, open_invoice

pytestmark = pytest.mark.django_db


def test_totals_sum_lines_and_net_payments():
    PracticeSettings.objects.filter(pk=1).update(prices_include_tax=False)
    gst = TaxRateFactory(rate=Decimal("10"))
    invoice = open_invoice("100.00", "50.00", tax_rate=gst)
    kept = payment_record(invoice=invoice, amount=Decimal("60.00"), method=cash(), by=None)
    payment_refund(payment=kept, amount=Decimal("15.50"), reason="Overcharged", by=None)
    mistake = payment_record(invoice=invoice, amount=Decimal("20.00"), method=cash(), by=None)
    payment_void(payment=mistake, by=None)

    totals = invoice_totals(invoice)
    assert totals.subtotal == Decimal("150.00")
    assert totals.tax == Decimal("15.00")
    assert totals.total == Decimal("165.00")
    assert totals.amount_paid == Decimal("44.50")
    assert totals.balance == Decimal("120.50")
    # Money comes back with exactly two places, never 120.5 or 0.
    assert [str(v) for v in (totals.subtotal, totals.amount_paid, totals.balance)] == [
        "150.00",
        "44.50",
        "120.50",
    ]


def test_invoice_without_lines_or_payments_totals_zero():
    totals = invoice_totals(draft())
    assert {str(v) for v in vars(totals).values()} == {"0.00"}


def test_several_lines_and_payments_do_not_multiply_totals():
    invoice = open_invoice("10.00", "20.00", "30.00")
    for amount in ("5.00", "7.00"):
        payment_record(invoice=invoice, amount=Decimal(amount), method=cash(), by=None)
    totals = invoice_totals(invoice)
    assert (totals.total, totals.amount_paid, totals.balance) == (
        Decimal("60.00"),
        Decimal("12.00"),
        Decimal("48.00"),
    )


def test_invoice_list_totals_take_one_query(django_assert_num_queries):
    for n in range(5):
        invoice = open_invoice("100.00", "10.00")
        if n % 2:
            payment = payment_record(invoice=invoice, amount="50", method=cash(), by=None)
            payment_refund(payment=payment, amount="5", reason="Goodwill", by=None)
    with django_assert_num_queries(1):
        rows = [
            (i.number, i.client.full_name, i.practitioner.name, i.location.name, i.balance)
            for i in invoices_with_totals()
        ]
    assert sorted(r[4] for r in rows) == [Decimal("65.00")] * 2 + [Decimal("110.00")] * 3


def test_annotated_invoice_totals_need_no_query(django_assert_num_queries):
    open_invoice("10.00")
    invoice = invoices_with_totals().get()
    with django_assert_num_queries(0):
        assert invoice_totals(invoice).total == Decimal("10.00")


def test_summary_leaves_out_void_and_draft_invoices():
    open_invoice("100.00")
    paid = open_invoice("30.00")
    payment_record(invoice=paid, amount="30", method=cash(), by=None)
    invoice_void(invoice=open_invoice("999.00"), by=None)
    draft("500.00")
    summary = invoices_summary()
    assert (summary.total, summary.amount_paid, summary.balance) == (
        Decimal("130.00"),
        Decimal("30.00"),
        Decimal("100.00"),
    )


# ------------------------------------------------------------------- display status

DUE = dt.date(2026, 6, 15)


def _open(due=DUE) -> Invoice:
    invoice = open_invoice("100.00")
    Invoice.objects.filter(pk=invoice.pk).update(issue_date=due, due_date=due)
    return invoices_with_totals().get(pk=invoice.pk)


def _status(invoice, today=DUE) -> str:
    return invoice_display_status(Invoice.objects.get(pk=invoice.pk), today=today)


def test_display_status_draft_open_paid_void():
    assert _status(draft("10.00")) == "Draft"
    assert _status(_open()) == "Open"
    paid = open_invoice("10.00")
    payment_record(invoice=paid, amount="10", method=cash(), by=None)
    assert _status(paid) == "Paid"
    assert _status(invoice_void(invoice=open_invoice("10.00"), by=None)) == "Void"


def test_open_invoice_with_a_payment_and_balance_left_is_part_paid():
    invoice = _open()
    payment_record(invoice=invoice, amount="40", method=cash(), by=None)
    assert _status(invoice) == "Part paid"


def test_fully_refunded_payment_is_not_part_paid():
    invoice = _open()
    payment = payment_record(invoice=invoice, amount="40", method=cash(), by=None)
    payment_refund(payment=payment, amount="40", reason="Returned", by=None)
    assert _status(invoice) == "Open"


def test_open_invoice_is_overdue_only_after_its_due_date():
    invoice = _open()
    assert _status(invoice, today=DUE) == "Open"
    assert _status(invoice, today=DUE + dt.timedelta(days=1)) == "Overdue"


def test_overdue_wins_over_part_paid():
    invoice = _open()
    payment_record(invoice=invoice, amount="40", method=cash(), by=None)
    assert _status(invoice, today=DUE + dt.timedelta(days=1)) == "Overdue"


def test_paid_invoice_is_never_overdue():
    invoice = _open()
    payment_record(invoice=invoice, amount="100", method=cash(), by=None)
    assert _status(invoice, today=DUE + dt.timedelta(days=30)) == "Paid"


def test_display_status_uses_annotations_when_present(django_assert_num_queries):
    invoice = _open()
    with django_assert_num_queries(0):
        assert invoice_display_status(invoice, today=DUE) == "Open"


def test_finalized_zero_invoice_displays_paid():
    assert _status(invoice_finalize(invoice=draft("0.00"), by=None)) == "Paid"


# ------------------------------------------------- the same rule in Python and in SQL


def _every_kind_of_invoice() -> None:
    """One invoice of each display status, and the edge cases between them."""
    draft("10.00")
    _open()  # Open, due on DUE
    part_paid = _open()
    payment_record(invoice=part_paid, amount="40", method=cash(), by=None)
    refunded = _open()
    payment = payment_record(invoice=refunded, amount="40", method=cash(), by=None)
    payment_refund(payment=payment, amount="40", reason="Returned", by=None)
    voided_payment = _open()
    mistake = payment_record(invoice=voided_payment, amount="40", method=cash(), by=None)
    payment_void(payment=mistake, by=None)
    paid = _open()
    payment_record(invoice=paid, amount="100", method=cash(), by=None)
    invoice_finalize(invoice=draft("0.00"), by=None)
    invoice_void(invoice=open_invoice("10.00"), by=None)
    # Credit notes take their amount off the balance (issue 13): part credited, and
    # covered by a payment and a credit note together (Paid).
    credit_note_issue(invoice=_open(), amount="30", reason="Goodwill", by=None)
    covered = _open()
    payment_record(invoice=covered, amount="40", method=cash(), by=None)
    credit_note_issue(invoice=covered, amount="60", reason="Unused sessions", by=None)


@pytest.mark.parametrize("days_after_due", [-1, 0, 1, 30])
def test_display_status_in_sql_agrees_with_python_for_every_kind_of_invoice(days_after_due):
    _every_kind_of_invoice()
    today = DUE + dt.timedelta(days=days_after_due)
    shown = {
        invoice.pk: DISPLAY_STATUSES[invoice.display_status]
        for invoice in invoices_with_display_status(today=today)
    }
    expected = {
        invoice.pk: invoice_display_status(Invoice.objects.get(pk=invoice.pk), today=today)
        for invoice in Invoice.objects.all()
    }
    assert shown == expected
    # Every status is reached, so the comparison covers each branch of the rule.
    late = {"Draft", "Overdue", "Paid", "Void"}
    assert set(shown.values()) == (
        late if days_after_due > 0 else {"Draft", "Open", "Part paid", "Paid", "Void"}
    )


def test_totals_in_sql_agree_with_the_rows_summed_in_python():
    _every_kind_of_invoice()
    for invoice in invoices_with_totals():
        lines = list(invoice.lines.all())
        active = [p for p in invoice.payments.all() if p.status == PaymentStatus.ACTIVE]
        paid = sum((p.amount - refunded_amount(p) for p in active), Decimal("0"))
        total = sum((line.total_amount for line in lines), Decimal("0"))
        assert invoice.subtotal == sum((line.net_amount for line in lines), Decimal("0"))
        assert invoice.tax == sum((line.tax_amount for line in lines), Decimal("0"))
        credited = sum((c.total_amount for c in invoice.credit_notes.all()), Decimal("0"))
        assert (invoice.total, invoice.amount_paid, invoice.credited) == (total, paid, credited)
        assert invoice.balance == (
            Decimal("0") if invoice.status == "void" else total - paid - credited
        )


def _grouped_balances(invoices) -> dict[int, Decimal]:
    sql, params = invoice_balances_sql(invoices)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def test_balances_grouped_once_equal_the_annotated_balances_to_the_cent():
    _every_kind_of_invoice()
    PracticeSettings.objects.filter(pk=1).update(prices_include_tax=False)
    gst = TaxRateFactory(rate=Decimal("15"))
    several = open_invoice("10.01", "20.07", "0.33", tax_rate=gst)  # 34.97 with tax by line
    for amount in ("3.33", "6.67"):
        payment = payment_record(invoice=several, amount=amount, method=cash(), by=None)
    payment_refund(payment=payment, amount="1.11", reason="Goodwill", by=None)
    payment_refund(payment=payment, amount="2.22", reason="Goodwill", by=None)

    grouped = _grouped_balances(Invoice.objects.all())
    annotated = {i.pk: i.balance for i in invoices_with_totals()}
    # An invoice without a row (void, or nothing on it) has a balance of 0.00.
    assert {pk: grouped.get(pk, Decimal("0.00")) for pk in annotated} == annotated
    assert not any(
        pk in grouped for pk in Invoice.objects.filter(status="void").values_list("pk", flat=True)
    )
    assert grouped[several.pk] == annotated[several.pk] == Decimal("28.30")
    assert all(str(balance) == f"{balance:.2f}" for balance in grouped.values())
    # Only the invoices asked for.
    assert _grouped_balances(Invoice.objects.filter(pk=several.pk)) == {
        several.pk: Decimal("28.30")
    }
    assert _grouped_balances(Invoice.objects.none()) == {}


def test_refunded_in_sql_agrees_with_python():
    invoice = _open()
    untouched = payment_record(invoice=invoice, amount="10", method=cash(), by=None)
    twice = payment_record(invoice=invoice, amount="50", method=cash(), by=None)
    payment_refund(payment=twice, amount="5.25", reason="One", by=None)
    payment_refund(payment=twice, amount="4.75", reason="Two", by=None)
    annotated = {p.pk: p.refunded_total for p in payments_with_refunded()}
    assert annotated == {
        p.pk: refunded_amount(p) for p in Payment.objects.prefetch_related("refunds")
    }
    assert (annotated[untouched.pk], annotated[twice.pk]) == (Decimal("0.00"), Decimal("10.00"))


@pytest.mark.parametrize("days_after_due", [-1, 1])
def test_totals_of_a_page_of_rows_agree_with_the_annotations(days_after_due):
    """`invoices_add_totals` (the billing list's page of rows, one grouped query) gives each
    invoice the annotations of `invoices_with_display_status`, to the cent and the status."""
    _every_kind_of_invoice()
    today = DUE + dt.timedelta(days=days_after_due)
    fields = (
        "subtotal",
        "tax",
        "total",
        "amount_paid",
        "credited",
        "balance",
        "display_status",
    )
    in_sql = {
        i.pk: tuple(getattr(i, f) for f in fields)
        for i in invoices_with_display_status(today=today)
    }
    rows = invoices_add_totals(list(Invoice.objects.all()), today=today)
    in_python = {i.pk: tuple(getattr(i, f) for f in fields) for i in rows}
    assert in_python == in_sql
    # The same places (0.00, not 0): the pages print them as they come.
    assert {str(v) for i in rows for v in (i.subtotal, i.balance) if not v} == {"0.00"}
    # Rows that already have them are left alone (no query).
    annotated = list(invoices_with_display_status(today=today))
    with CaptureQueriesContext(connection) as queries:
        invoices_add_totals(annotated, today=today)
    assert not queries
