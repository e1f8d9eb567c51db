"""Credit notes as documents (issue 13): the credit note's PDF, and the invoice's PDF and
the client statement showing it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from documents.rendering import document_pdf
from documents.selectors import (
    client_statement_document,
    credit_note_document,
    invoice_document,
)
from invoicing.services import credit_note_issue
from tests.documents.conftest import pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def credited(billed, admin_user):
    """The billed invoice (400.00, 150.00 paid) credited 100.00."""
    return credit_note_issue(
        invoice=billed.invoice, amount=Decimal("100.00"), reason="Goodwill", by=admin_user
    )


def test_credit_note_pdf_prints_its_number_invoice_amount_and_balance(billed, credited):
    text = pdf_text(document_pdf(credit_note_document(credited)))
    for expected in (
        "Harbour Physio",
        "Credit note",
        "CN-0001",
        billed.invoice.number,
        "Jo Citizen",
        "Provider number: 2345678A",
        "Goodwill",
        "Credit $100.00",
        "Balance due $150.00",  # 400.00 - 150.00 paid - 100.00 credited
    ):
        assert expected in text, expected


def test_invoice_pdf_lists_its_credit_notes(billed, credited):
    text = pdf_text(document_pdf(invoice_document(billed.invoice)))
    assert "CREDIT NOTES" in text and "CN-0001" in text
    assert "Credited $100.00" in text and "Balance due $150.00" in text


def test_client_statement_credits_the_credit_note(billed, credited):
    today = timezone.localdate()
    document = client_statement_document(billed.invoice.client, today - dt.timedelta(days=5), today)
    rows = document.context["rows"]
    (row,) = [r for r in rows if "CN-0001" in r.text]
    assert row.credit == Decimal("100.00")
    assert document.context["closing"] == Decimal("150.00")


def test_credit_note_page_and_pdf_but_no_email(billed, credited, client, reception):
    client.force_login(reception)
    args = ("credit-note", credited.pk)
    page = client.get(reverse("documents:page", args=args))
    assert page.status_code == 200
    text = page.content.decode()
    assert "CN-0001" in text and "Download PDF" in text and ">Email<" not in text
    pdf = client.get(reverse("documents:pdf", args=args))
    assert pdf.status_code == 200 and "CN-0001" in pdf_text(pdf.content)
    assert client.get(reverse("documents:email", args=args)).status_code == 404
