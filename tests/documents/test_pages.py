"""The document pages: each document as it prints with Download PDF and Email; the PDF
from the page; who sees what."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import ClientAccess
from tests.documents.conftest import pdf_text


def _pages(billed) -> dict[str, tuple[str, int]]:
    return {
        "invoice": ("invoice", billed.invoice.pk),
        "receipt": ("receipt", billed.payment.pk),
        "package": ("package-statement", billed.client_package.pk),
        "client": ("client-statement", billed.invoice.client_id),
    }


@pytest.mark.parametrize("which", ["invoice", "receipt", "package", "client"])
def test_each_document_page_and_its_pdf(billed, client, reception, which):
    client.force_login(reception)
    args = _pages(billed)[which]
    page = client.get(reverse("documents:page", args=args))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Download PDF" in text and ">Email<" in text and "Print" in text
    assert "Harbour Physio" in text and "Sent by email" in text
    pdf = client.get(reverse("documents:pdf", args=args))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert "Harbour Physio" in pdf_text(pdf.content)


def test_the_invoice_print_view_is_the_document_page(billed, client, reception):
    client.force_login(reception)
    page = client.get(reverse("invoicing:print", args=[billed.invoice.pk]))
    assert page.status_code == 200
    assert b"Provider number: 2345678A" in page.content and b"BSB: 062-000" in page.content
    detail = client.get(reverse("invoicing:detail", args=[billed.invoice.pk])).content.decode()
    assert "Download PDF" in detail and ">Email</a>" in detail and ">Receipt</a>" in detail


def test_statements_are_reads_of_the_clients_record(billed, client, reception):
    client.force_login(reception)
    before = ClientAccess.objects.count()
    client.get(reverse("documents:page", args=_pages(billed)["client"]))
    client.get(reverse("documents:pdf", args=_pages(billed)["package"]))
    assert ClientAccess.objects.count() == before + 2


def test_the_client_statement_period(billed, client, reception):
    client.force_login(reception)
    url = reverse("documents:page", args=_pages(billed)["client"])
    page = client.get(url, {"start": "2020-01-01", "end": "2020-01-31"})
    assert b"1 Jan 2020" in page.content
    bad = client.get(url, {"start": "2020-02-01", "end": "2020-01-31"})
    assert bad.status_code == 200 and b"The period ends before it starts." in bad.content


def test_a_practitioner_reads_but_does_not_send(billed, client, practitioner_user):
    client.force_login(practitioner_user)
    page = client.get(reverse("documents:page", args=_pages(billed)["invoice"]))
    assert page.status_code == 200
    assert b"Download PDF" in page.content and b">Email<" not in page.content
    assert b"Share link" not in page.content


def test_unknown_documents_are_404(billed, client, reception):
    client.force_login(reception)
    assert client.get("/documents/nonsense/1/").status_code == 404
    assert client.get(reverse("documents:page", args=["invoice", 999999])).status_code == 404
    assert client.get(reverse("documents:pdf", args=["receipt", 999999])).status_code == 404


def test_signed_out_staff_pages_go_to_sign_in(billed, client):
    response = client.get(reverse("documents:pdf", args=_pages(billed)["invoice"]))
    assert response.status_code == 302 and "/login/" in response["Location"]
