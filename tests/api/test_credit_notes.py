"""Credit notes through the API (issue 13): reported by the package cancel with a refund,
shown on invoices, listed, and issued on an Open invoice by an Admin."""

from decimal import Decimal

import pytest

from invoicing.models import CreditNote
from invoicing.services import credit_note_issue
from tests.invoicing.helpers import open_invoice, sold_and_paid

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def test_cancel_with_refund_reports_the_credit_note(as_admin, practice, admin_user):
    sold, invoice = sold_and_paid(practice, by=admin_user, paid="50.00")
    response = as_admin.post(
        f"{V1}/client-packages/{sold.pk}/cancel/",
        {"reason": "Moving away", "refund_unused": True},
        format="json",
    )
    assert response.status_code == 200, response.json()
    refund = response.json()["refund"]
    note = CreditNote.objects.get()
    assert refund["credit_note"] == {"id": note.pk, "number": "CN-0001", "amount": "77.00"}
    # 60.00 was owing; 17.00 of the 50.00 paid goes back.
    assert (refund["amount"], refund["refunded"]) == ("77.00", "17.00")
    assert [r["amount"] for r in refund["refunds"]] == ["17.00"]

    shown = as_admin.get(f"{V1}/invoices/{invoice.pk}/").json()
    assert (shown["status"], shown["balance"], shown["credited"]) == ("paid", "0.00", "77.00")
    (listed,) = shown["credit_notes"]
    assert (listed["number"], listed["total_amount"], listed["client_package"]) == (
        "CN-0001",
        "77.00",
        sold.pk,
    )
    assert (listed["net_amount"], listed["tax_amount"]) == ("70.00", "7.00")


def test_credit_notes_list_and_detail(as_admin, admin_user):
    invoice = open_invoice("100.00")
    note = credit_note_issue(invoice=invoice, amount="25.00", reason="Goodwill", by=admin_user)
    listed = as_admin.get(f"{V1}/credit-notes/").json()
    assert [row["number"] for row in listed["results"]] == ["CN-0001"]
    detail = as_admin.get(f"{V1}/credit-notes/{note.pk}/").json()
    assert (detail["invoice"], detail["reason"], detail["total_amount"]) == (
        invoice.pk,
        "Goodwill",
        "25.00",
    )
    assert as_admin.get(f"{V1}/credit-notes/?invoice={invoice.pk}").json()["count"] == 1
    assert as_admin.get(f"{V1}/credit-notes/999999/").status_code == 404


def test_issue_a_credit_note_on_an_invoice(as_admin):
    invoice = open_invoice("100.00")
    url = f"{V1}/invoices/{invoice.pk}/credit-notes/"
    too_much = as_admin.post(url, {"amount": "100.01", "reason": "x"}, format="json")
    assert too_much.status_code == 409 and too_much.json()["code"] == "amount_exceeds_balance"
    assert as_admin.post(url, {"amount": "10.00"}, format="json").status_code == 400
    made = as_admin.post(url, {"amount": "100.00", "reason": "Waived"}, format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["number"] == "CN-0001"
    shown = as_admin.get(f"{V1}/invoices/{invoice.pk}/").json()
    assert (shown["status"], shown["balance"]) == ("paid", "0.00")
    again = as_admin.post(url, {"amount": "1.00", "reason": "x"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "invoice_not_open"


def test_reception_reads_but_does_not_issue(as_reception, admin_user):
    invoice = open_invoice("100.00")
    credit_note_issue(invoice=invoice, amount="5.00", reason="x", by=admin_user)
    assert as_reception.get(f"{V1}/credit-notes/").status_code == 200
    response = as_reception.post(
        f"{V1}/invoices/{invoice.pk}/credit-notes/",
        {"amount": "1.00", "reason": "x"},
        format="json",
    )
    assert response.status_code == 403
    assert CreditNote.objects.count() == 1
    assert Decimal(as_reception.get(f"{V1}/invoices/{invoice.pk}/").json()["balance"]) == 95


def test_the_invoice_list_shows_each_invoice_as_its_detail(as_admin, practice, admin_user):
    """The list reads a page's lines, payments, refunds, credit notes and their lines by
    the page's ids (invoicing.api.invoice_list_rows); each row is the invoice's
    detail (read through the prefetches), byte for byte, children in the same order."""
    sold, paid = sold_and_paid(practice, by=admin_user, paid="50.00")
    as_admin.post(
        f"{V1}/client-packages/{sold.pk}/cancel/",
        {"reason": "Moving away", "refund_unused": True},
        format="json",
    )
    two = open_invoice("100.00", "40.00")
    credit_note_issue(invoice=two, amount="25.00", reason="Goodwill", by=admin_user)
    credit_note_issue(invoice=two, amount="5.00", reason="Again", by=admin_user)
    open_invoice("12.00")
    listed = as_admin.get(f"{V1}/invoices/").json()["results"]
    assert len(listed) == 3
    assert any(row["payments"] and row["payments"][0]["refunds"] for row in listed)
    assert [len(row["credit_notes"]) for row in listed if row["id"] == two.pk] == [2]
    for row in listed:
        assert row == as_admin.get(f"{V1}/invoices/{row['id']}/").json()
    small = as_admin.get(f"{V1}/invoices/", {"page_size": 1, "page": 2}).json()["results"]
    assert small == [listed[1]]
