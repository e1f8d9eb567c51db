"""The documents in the API: PDFs, sending, permissions of DOMAIN.md's roles, and the
schema that documents them."""

from __future__ import annotations

import pytest

from documents.models import DocumentSending
from tests.api.conftest import api_client
from tests.documents.conftest import pdf_text


def _urls(billed) -> dict[str, str]:
    return {
        "invoice": f"/api/v1/invoices/{billed.invoice.pk}/pdf/",
        "receipt": f"/api/v1/payments/{billed.payment.pk}/receipt/pdf/",
        "package": f"/api/v1/client-packages/{billed.client_package.pk}/statement/pdf/",
        "client": f"/api/v1/clients/{billed.invoice.client_id}/statement/pdf/",
    }


@pytest.mark.parametrize(
    ("which", "text"),
    [
        ("invoice", "Provider number: 2345678A"),
        ("receipt", "SESSIONS REMAINING"),
        ("package", "Value left $300.00"),
        ("client", "Balance owing $250.00"),
    ],
)
def test_each_document_is_a_pdf(billed, accountant, which, text):
    response = api_client(accountant).get(_urls(billed)[which])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert text in pdf_text(response.content)


def test_the_client_statement_takes_a_period(billed, accountant):
    url = _urls(billed)["client"]
    response = api_client(accountant).get(url, {"start": "2020-01-01", "end": "2020-01-31"})
    assert response.status_code == 200
    assert "1 Jan 2020" in pdf_text(response.content)
    bad = api_client(accountant).get(url, {"start": "2020-02-01", "end": "2020-01-31"})
    assert bad.status_code == 400
    assert "ends before it starts" in str(bad.json())


def test_unknown_ids_and_anonymous_requests(billed):
    assert api_client().get(_urls(billed)["invoice"]).status_code == 401


def test_unknown_invoice_is_404(billed, accountant):
    assert api_client(accountant).get("/api/v1/invoices/999999/pdf/").status_code == 404


def test_send_answers_with_the_sending_record(billed, smtp, reception):
    response = api_client(reception).post(
        f"/api/v1/invoices/{billed.invoice.pk}/send/", {}, format="json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "sent" and data["to"] == "jo@example.com"
    assert data["invoice"] == billed.invoice.pk and data["sent_by"] == reception.username
    assert len(smtp.messages) == 1


def test_send_to_another_address(billed, smtp, reception):
    response = api_client(reception).post(
        f"/api/v1/payments/{billed.payment.pk}/receipt/send/",
        {"to": "fund@insurer.example"},
        format="json",
    )
    assert response.status_code == 201 and response.json()["to"] == "fund@insurer.example"


def test_a_failed_send_is_502_and_stays_recorded(billed, refusing_smtp, reception):
    response = api_client(reception).post(
        f"/api/v1/invoices/{billed.invoice.pk}/send/", {}, format="json"
    )
    assert response.status_code == 502
    assert response.json()["status"] == "failed" and "550" in response.json()["error"]
    assert DocumentSending.objects.get().status == "failed"


def test_send_bad_input_is_a_4xx_with_a_message(billed, smtp, reception):
    response = api_client(reception).post(
        f"/api/v1/invoices/{billed.invoice.pk}/send/", {"to": "nope"}, format="json"
    )
    assert response.status_code == 400
    billed.invoice.client.email = ""
    billed.invoice.client.save(update_fields=["email"])
    response = api_client(reception).post(
        f"/api/v1/invoices/{billed.invoice.pk}/send/", {}, format="json"
    )
    assert response.status_code in (400, 409)
    assert "no email address" in str(response.json())
    assert not DocumentSending.objects.exists()


def test_statements_are_sent(billed, smtp, accountant):
    client_id = billed.invoice.client_id
    response = api_client(accountant).post(
        f"/api/v1/clients/{client_id}/statement/send/",
        {"start": "2026-01-01", "end": "2026-12-31"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["period_start"] == "2026-01-01"
    response = api_client(accountant).post(
        f"/api/v1/client-packages/{billed.client_package.pk}/statement/send/", {}, format="json"
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("role", "can_read", "can_send"),
    [
        ("admin", True, True),
        ("reception", True, True),
        ("accountant", True, True),
        ("practitioner", True, False),  # invoices read-only
    ],
)
def test_roles(billed, smtp, personas, role, can_read, can_send):
    client = api_client(personas[role])
    assert (client.get(_urls(billed)["invoice"]).status_code == 200) is can_read
    response = client.post(f"/api/v1/invoices/{billed.invoice.pk}/send/", {}, format="json")
    assert (response.status_code == 201) is can_send
    if not can_send:
        assert response.status_code == 403


def test_the_schema_documents_the_documents(as_admin):
    schema = as_admin.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/invoices/{id}/pdf/",
        "/api/v1/invoices/{id}/send/",
        "/api/v1/payments/{id}/receipt/pdf/",
        "/api/v1/payments/{id}/receipt/send/",
        "/api/v1/client-packages/{id}/statement/pdf/",
        "/api/v1/clients/{id}/statement/pdf/",
        "/api/v1/clients/{id}/statement/send/",
    ):
        assert path in paths, path
    pdf = paths["/api/v1/invoices/{id}/pdf/"]["get"]["responses"]["200"]["content"]
    assert "application/pdf" in pdf
    assert "502" in paths["/api/v1/invoices/{id}/send/"]["post"]["responses"]
