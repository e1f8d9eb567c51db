"""Email: the PDF reaches a real SMTP server; every attempt is recorded (who, when, to
whom, result) and a failure is recorded and shown, never swallowed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from documents.models import DocumentSending, SendingStatus
from documents.selectors import (
    client_statement_document,
    default_statement_period,
    invoice_document,
    package_statement_document,
    receipt_document,
)
from documents.services import document_send
from kernel.errors import NotAllowed
from tests import refusals
from tests.documents.conftest import attachment, pdf_text
from tests.invoicing.helpers import draft


def test_the_client_receives_the_invoice_pdf_with_the_bank_details(billed, smtp, reception):
    sending = document_send(document=invoice_document(billed.invoice), by=reception)
    assert sending.status == SendingStatus.SENT
    assert (sending.to, sending.sent_by, sending.invoice) == (
        "jo@example.com",
        reception,
        billed.invoice,
    )
    [(recipients, message)] = smtp.messages
    assert recipients == ["jo@example.com"]
    assert message["Subject"] == f"Invoice {billed.invoice.number} from Harbour Physio"
    assert message["Reply-To"] == "hello@harbour.example"
    body = message.get_body(("plain",)).get_content()
    assert "Balance due: $250.00" in body
    assert "BSB: 062-000" in body
    filename, data = attachment(message)
    assert filename == f"Invoice {billed.invoice.number}.pdf"
    text = pdf_text(data)
    assert "BSB: 062-000" in text and "Provider number: 2345678A" in text


def test_another_address_can_be_typed(billed, smtp, reception):
    sending = document_send(
        document=receipt_document(billed.payment), to="fund@insurer.example", by=reception
    )
    assert sending.to == "fund@insurer.example" and sending.payment == billed.payment
    [(recipients, message)] = smtp.messages
    assert recipients == ["fund@insurer.example"]
    assert "Receipt" in pdf_text(attachment(message)[1])


@pytest.mark.parametrize("which", ["package_statement", "client_statement"])
def test_statements_are_sent_and_recorded_on_the_document(billed, smtp, reception, which):
    if which == "package_statement":
        document = package_statement_document(billed.client_package)
    else:
        document = client_statement_document(billed.invoice.client, *default_statement_period())
    sending = document_send(document=document, by=reception)
    assert sending.status == SendingStatus.SENT
    assert sending.kind == which
    assert list(DocumentSending.objects.filter(kind=which)) == [sending]
    assert len(smtp.messages) == 1


def test_a_refusing_server_is_recorded_as_a_failure(billed, refusing_smtp, reception):
    sending = document_send(document=invoice_document(billed.invoice), by=reception)
    assert sending.status == SendingStatus.FAILED
    assert "550" in sending.error and "Mailbox unavailable" in sending.error
    assert DocumentSending.objects.get().status == SendingStatus.FAILED
    assert refusing_smtp.messages == []


def test_a_server_that_cannot_be_reached_is_recorded_as_a_failure(billed, smtp_down, reception):
    sending = document_send(document=invoice_document(billed.invoice), by=reception)
    assert sending.status == SendingStatus.FAILED
    assert "could not be reached" in sending.error


def test_no_address_is_refused_and_nothing_recorded(billed, smtp, reception):
    billed.invoice.client.email = ""
    billed.invoice.client.save(update_fields=["email"])
    with refusals.refused("no_email_address"):
        document_send(document=invoice_document(billed.invoice), by=reception)
    with refusals.refused("invalid_email"):
        document_send(document=invoice_document(billed.invoice), to="not-an-address", by=reception)
    assert not DocumentSending.objects.exists()
    assert smtp.messages == []


def test_a_draft_invoice_is_not_sent(practice, smtp, reception):
    invoice = draft("80.00", client=practice.client)
    with refusals.refused("invoice_not_issued"):
        document_send(document=invoice_document(invoice), to="jo@example.com", by=reception)


def test_a_practitioner_cannot_send(billed, smtp, practitioner_user):
    with pytest.raises(NotAllowed):
        document_send(document=invoice_document(billed.invoice), by=practitioner_user)
    assert not DocumentSending.objects.exists()


# ---------------------------------------------------------------------------- pages


def test_email_popup_sends_and_the_page_lists_the_sending(billed, smtp, client, reception):
    client.force_login(reception)
    url = reverse("documents:email", args=["invoice", billed.invoice.pk])
    page = client.get(url)
    assert page.status_code == 200 and b"jo@example.com" in page.content
    response = client.post(url, {"to": ""})
    assert response.status_code == 302
    assert len(smtp.messages) == 1
    page = client.get(reverse("documents:page", args=["invoice", billed.invoice.pk]))
    assert b"Sent by email" in page.content
    assert b"jo@example.com" in page.content and b"Sent</span>" in page.content


def test_email_popup_shows_the_failure_and_keeps_the_record(
    billed, refusing_smtp, client, reception
):
    client.force_login(reception)
    url = reverse("documents:email", args=["receipt", billed.payment.pk])
    response = client.post(url, {"to": "x@example.com"})
    assert response.status_code == 409
    assert "was not sent" in response.content.decode()
    assert "Mailbox unavailable" in response.content.decode()
    sending = DocumentSending.objects.get()  # the transaction kept it
    assert sending.status == SendingStatus.FAILED
    page = client.get(reverse("documents:page", args=["receipt", billed.payment.pk]))
    assert b"Failed" in page.content and b"Mailbox unavailable" in page.content


def test_email_popup_invalid_address_shown_beside_the_field(billed, smtp, client, reception):
    client.force_login(reception)
    url = reverse("documents:email", args=["invoice", billed.invoice.pk])
    response = client.post(url, {"to": "nope"})
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    assert not DocumentSending.objects.exists()


def test_email_popup_is_refused_to_a_practitioner(billed, smtp, client, practitioner_user):
    client.force_login(practitioner_user)
    url = reverse("documents:email", args=["invoice", billed.invoice.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"to": ""}).status_code == 403
    assert smtp.messages == []


def test_email_popup_with_a_form_key_sends_once(billed, smtp, client, reception):
    """The popup's form carries a key: a double submit sends one email."""
    client.force_login(reception)
    url = reverse("documents:email", args=["invoice", billed.invoice.pk])
    data = {"to": "", "form_key": "k-123"}
    assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 302  # replayed, not sent again
    assert len(smtp.messages) == 1
    assert DocumentSending.objects.count() == 1
