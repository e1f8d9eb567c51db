"""Client packages in the API (issue 13): `payment_status` and `remaining_value`, and
selling with the invoice and a payment in one request (all or nothing)."""

from __future__ import annotations

import pytest

from calendar_app.services import appointment_link
from invoicing.models import Invoice, InvoiceStatus, Payment, PaymentMethod
from packages.models import ClientPackage

V1 = "/api/v1"


@pytest.fixture
def cash(practice):
    return PaymentMethod.objects.get(name="Cash")


def sell(api, practice, **invoice):
    body = {"client": practice.client.pk, "package": practice.fixed.pk}
    if invoice:
        body["invoice"] = {
            "practitioner": practice.practitioner.pk,
            "location": practice.location.pk,
            **invoice,
        }
    return api.post(f"{V1}/client-packages/", body, format="json")


def test_sell_without_invoice_is_not_invoiced(as_reception, practice):
    response = sell(as_reception, practice)
    assert response.status_code == 201
    body = response.json()
    assert (body["payment_status"], body["remaining_value"]) == ("not_invoiced", "400.00")
    assert not Invoice.objects.exists()


def test_sell_with_a_draft_invoice(as_reception, practice):
    body = sell(as_reception, practice, take_payment=None).json()
    assert body["payment_status"] == "unpaid"
    invoice = Invoice.objects.get()
    assert (invoice.status, body["invoices"]) == (InvoiceStatus.DRAFT, [invoice.pk])


def test_sell_and_take_a_deposit_in_one_request(as_reception, practice, cash):
    response = sell(as_reception, practice, take_payment={"amount": "100.00", "method": cash.pk})
    assert response.status_code == 201, response.content
    assert response.json()["payment_status"] == "part_paid"
    invoice = Invoice.objects.get()
    assert (invoice.status, invoice.number) == (InvoiceStatus.OPEN, "INV-0001")
    assert Payment.objects.get().amount == 100


def test_sell_and_take_the_full_amount(as_reception, practice, cash):
    body = sell(as_reception, practice, take_payment={"method": cash.pk}).json()
    assert body["payment_status"] == "paid"


def test_a_deposit_above_the_total_is_409_and_nothing_is_written(as_reception, practice, cash):
    response = sell(as_reception, practice, take_payment={"amount": "400.01", "method": cash.pk})
    assert response.status_code == 409
    assert response.json()["code"] == "amount_exceeds_balance"
    assert not ClientPackage.objects.exists() and not Invoice.objects.exists()


@pytest.mark.parametrize(
    "invoice",
    [
        {"practitioner": None},
        {"location": 999999},
        {"take_payment": {"method": "x"}},
        {"take_payment": {"method": 1, "amount": "-1"}},
        {"take_payment": {"method": 1, "amount": "1e9999"}},
    ],
)
def test_bad_invoice_input_is_400(as_reception, practice, cash, invoice):
    response = sell(as_reception, practice, **invoice)
    assert response.status_code == 400, response.content
    assert "invoice" in response.json()
    assert not ClientPackage.objects.exists()


def test_a_practitioner_may_sell_but_not_invoice(as_practitioner, practice):
    response = sell(as_practitioner, practice, take_payment=None)
    assert response.status_code == 403
    assert not ClientPackage.objects.exists()


def test_remaining_value_follows_use(as_reception, practice, reception):
    sold = practice.sell(practice.flexible)  # 5 credits, 400.00
    appointment_link(appointment=practice.book(by=None), client_package=sold, by=None)
    body = as_reception.get(f"{V1}/client-packages/{sold.pk}/").json()
    assert (body["remaining"], body["remaining_value"]) == (4, "320.00")


def test_schema_documents_the_new_fields(as_reception):
    schema = as_reception.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for word in ("payment_status", "remaining_value", "take_payment", "part_paid"):
        assert word in schema
