"""Credit notes in the pages (issue 13): the invoice page lists them under payments, an
Admin issues one from "Issue credit note", too much is refused beside the amount."""

from decimal import Decimal

import pytest
from django.urls import reverse

from invoicing.models import CreditNote
from invoicing.services import credit_note_issue, payment_record
from tests.invoicing.helpers import cash, open_invoice

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_invoice_page_shows_credit_notes_under_payments(client, admin_user):
    invoice = open_invoice("100.00")
    payment_record(invoice=invoice, amount="30.00", method=cash(), by=admin_user)
    credit_note_issue(invoice=invoice, amount="25.00", reason="Goodwill", by=admin_user)
    client.force_login(admin_user)
    page = client.get(reverse("invoicing:detail", args=[invoice.pk])).content.decode()
    assert page.index('id="invoice-payments"') < page.index('id="invoice-credit-notes"')
    assert "CN-0001" in page and "Goodwill" in page and "−$25.00" in page
    assert "<dt>Credited</dt><dd>$25.00</dd>" in page
    assert "<dt>Balance</dt><dd>$45.00</dd>" in page
    assert reverse("documents:pdf", args=["credit-note", CreditNote.objects.get().pk]) in page


def test_admin_issues_a_credit_note_from_the_invoice_page(client, admin_user):
    invoice = open_invoice("100.00")
    client.force_login(admin_user)
    detail = client.get(reverse("invoicing:detail", args=[invoice.pk])).content.decode()
    url = reverse("invoicing:credit_note", args=[invoice.pk])
    assert "Issue credit note" in detail and url in detail
    popup = client.get(url, **HTMX).content.decode()
    assert 'value="100.00"' in popup and "Up to the amount owing, $100.00" in popup
    response = client.post(url, {"amount": "100.00", "reason": "Waived"})
    assert response.status_code == 302
    note = CreditNote.objects.get()
    assert (note.total_amount, note.reason, note.created_by) == (
        Decimal("100.00"),
        "Waived",
        admin_user,
    )
    page = client.get(response["Location"]).content.decode()
    assert "Credit note CN-0001 of $100.00 issued. Balance $0.00." in page
    assert "Issue credit note" not in page  # Paid now: nothing owing to credit


def test_issue_credit_note_popup_refuses_too_much_beside_the_amount(client, admin_user):
    invoice = open_invoice("100.00")
    payment_record(invoice=invoice, amount="60.00", method=cash(), by=admin_user)
    client.force_login(admin_user)
    url = reverse("invoicing:credit_note", args=[invoice.pk])
    response = client.post(url, {"amount": "40.01", "reason": "x"}, **HTMX)
    assert response.status_code == 409
    page = response.content.decode()
    assert "more than the amount owing of $40.00" in page
    # Beside the field: the amount's own error list.
    assert 'id="id_amount_error"' in page or "id_amount" in page.split("amount owing of")[0]
    missing = client.post(url, {"amount": "10.00", "reason": ""}, **HTMX)
    assert "Give a reason for the credit note." in missing.content.decode()
    assert not CreditNote.objects.exists()


def test_reception_has_no_issue_credit_note(client, reception):
    invoice = open_invoice("100.00")
    client.force_login(reception)
    page = client.get(reverse("invoicing:detail", args=[invoice.pk])).content.decode()
    assert "Issue credit note" not in page
    url = reverse("invoicing:credit_note", args=[invoice.pk])
    assert client.post(url, {"amount": "1.00", "reason": "x"}).status_code == 403
    assert not CreditNote.objects.exists()


def test_void_popup_says_why_an_invoice_with_a_credit_note_stays(client, admin_user):
    invoice = open_invoice("100.00")
    credit_note_issue(invoice=invoice, amount="10.00", reason="x", by=admin_user)
    client.force_login(admin_user)
    response = client.get(reverse("invoicing:void", args=[invoice.pk]), **HTMX)
    assert response.status_code == 409
    assert "has a credit note (CN-0001), so it cannot be voided" in response.content.decode()
