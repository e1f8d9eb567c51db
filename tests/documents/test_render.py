"""The four documents, rendered to PDF by WeasyPrint and read back (pypdf): each prints
what the client needs (DOMAIN.md "Documents and messages")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from documents.rendering import document_pdf
from documents.selectors import (
    client_statement_document,
    invoice_document,
    package_statement_document,
    package_statement_rows,
    receipt_document,
)
from packages.selectors import credits_value
from tests.documents.conftest import pdf_text


def test_invoice_pdf_prints_practice_provider_number_lines_payments_and_how_to_pay(billed):
    text = pdf_text(document_pdf(invoice_document(billed.invoice)))
    for expected in (
        "Harbour Physio",
        "12 Wharf Street",
        "ABN 12 345 678 901",
        "Tax invoice",
        billed.invoice.number,
        "Jo Citizen",
        "Provider number: 2345678A",
        "Physio Starter Pack",
        "Balance due",
        "$250.00",
        "DEP-1",
        "HOW TO PAY",  # headings print in capitals
        "BSB: 062-000",
    ):
        assert expected in text, expected


def test_paid_invoice_prints_no_payment_instructions(billed):
    from invoicing.services import payment_record
    from tests.invoicing.helpers import cash

    payment_record(invoice=billed.invoice, amount=Decimal("250.00"), method=cash(), by=None)
    text = pdf_text(document_pdf(invoice_document(billed.invoice)))
    assert "Paid" in text
    assert "BSB" not in text


def test_receipt_shows_the_payment_and_the_sessions_remaining(billed):
    text = pdf_text(document_pdf(receipt_document(billed.payment)))
    assert "Receipt" in text
    assert "$150.00" in text
    assert "Cash" in text
    assert "SESSIONS REMAINING" in text
    assert "3 of 4" in text  # one of four sessions used
    assert "Balance due $250.00" in text


def test_package_statement_values_follow_the_value_rule(billed, practice):
    client_package = billed.client_package
    price, rows = package_statement_rows(client_package, prices_include_tax=False)
    assert price == Decimal("400.00")
    # A fixed package grants per service (1 initial + 3 follow-ups), then one is used.
    assert [row.change for row in rows] == [1, 3, -1]
    assert [row.value for row in rows[:2]] == [Decimal("400.00"), Decimal("0.00")]
    assert rows[2].value == -credits_value(price, 4, 1) == Decimal("-100.00")
    assert rows[-1].held == Decimal("300.00")
    text = pdf_text(document_pdf(package_statement_document(client_package)))
    assert "Package statement" in text
    assert "Physio Starter Pack" in text
    assert "3 of 4 remaining" in text
    assert "Value left $300.00" in text


def test_movements_of_a_package_add_up_to_its_price():
    # 3 credits for 100.00 redeem 33.33, 33.34, 33.33 (DOMAIN.md).
    price = Decimal("100.00")
    redeemed = [credits_value(price, 3, k) - credits_value(price, 3, k - 1) for k in (1, 2, 3)]
    assert redeemed == [Decimal("33.33"), Decimal("33.34"), Decimal("33.33")]


def test_package_statement_net_of_tax_when_prices_include_it(billed):
    from catalog.models import TaxRate

    client_package = billed.client_package
    client_package.tax_rate = TaxRate.objects.create(name="GST", rate=Decimal("10"))
    price, rows = package_statement_rows(client_package, prices_include_tax=True)
    assert price == Decimal("363.64")  # 400 less 36.36 tax
    assert rows[-1].held == Decimal("272.73")  # 363.64 − V(1) (90.91)


def test_client_statement_runs_a_balance_over_the_period(billed):
    today = timezone.localdate()
    document = client_statement_document(
        billed.invoice.client, today - dt.timedelta(days=30), today
    )
    assert document.context["opening"] == Decimal("0.00")
    assert document.context["closing"] == Decimal("250.00")
    text = pdf_text(document_pdf(document))
    assert "Statement" in text
    assert f"Invoice {billed.invoice.number}" in text
    assert "Payment, Cash" in text
    assert "Balance owing $250.00" in text


def test_client_statement_brings_earlier_invoices_forward(billed):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    document = client_statement_document(
        billed.invoice.client, tomorrow, tomorrow + dt.timedelta(days=5)
    )
    assert document.context["opening"] == Decimal("250.00")
    assert document.context["rows"] == []
    assert document.context["closing"] == Decimal("250.00")
