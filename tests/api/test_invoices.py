"""Invoices and payments through the API: create, edit and delete drafts, finalize,
void, pay (deposits), refund, void a payment — success and refusals."""

from __future__ import annotations

from invoicing.models import Invoice, InvoiceStatus
from tests.factories import ClientFactory, TaxRateFactory

V1 = "/api/v1"


def _new_invoice(world, **extra):
    practice = world.practice
    return {
        "client": world.client.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        **extra,
    }


def test_create_a_draft_with_lines_and_totals(as_accountant, world):
    gst = TaxRateFactory(rate="10.00")
    response = as_accountant.post(
        f"{V1}/invoices/",
        _new_invoice(
            world,
            notes="Thanks",
            lines=[
                {
                    "description": "Consult",
                    "quantity": "2",
                    "unit_price": "55.00",
                    "tax_rate": gst.pk,
                },
                {"description": "Tape", "quantity": "1", "unit_price": "20.00", "discount": "50"},
            ],
        ),
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["display_status"], body["number"]) == ("draft", "Draft", None)
    # Prices include tax (the practice's default): 110.00 holds 10.00 of GST.
    assert (body["subtotal"], body["tax"], body["total"]) == ("110.00", "10.00", "120.00")
    assert (body["amount_paid"], body["balance"]) == ("0.00", "120.00")
    assert [line["total_amount"] for line in body["lines"]] == ["110.00", "10.00"]
    assert body["lines"][1]["discount"] == "50.00"


def test_invalid_lines_are_400_per_line(as_accountant, world):
    response = as_accountant.post(
        f"{V1}/invoices/",
        _new_invoice(
            world,
            lines=[
                {"description": "Ok", "quantity": "1", "unit_price": "10.00"},
                {"description": "", "quantity": "0", "unit_price": "1.001", "discount": "101"},
            ],
        ),
    )
    assert response.status_code == 400
    errors = response.json()["lines"]  # by index, only the lines with errors
    assert list(errors) == ["1"]
    assert set(errors["1"]) == {"description", "quantity", "unit_price", "discount"}
    assert Invoice.objects.count() == 3  # the world's invoices only


def test_a_line_for_another_clients_package_is_refused(as_accountant, world):
    other = world.practice.sell(world.practice.flexible, client=ClientFactory())
    response = as_accountant.post(
        f"{V1}/invoices/",
        _new_invoice(
            world,
            lines=[
                {
                    "description": "P",
                    "quantity": "1",
                    "unit_price": "1.00",
                    "client_package": other.pk,
                }
            ],
        ),
    )
    assert (response.status_code, response.json()["code"]) == (409, "client_mismatch")


def test_filter_by_status_and_client(as_accountant, world):
    def ids(**query):
        return {row["id"] for row in as_accountant.get(f"{V1}/invoices/", query).json()["results"]}

    assert ids(status="draft") == {world.draft.pk}
    assert ids(status="open") == {world.open.pk, world.unpaid.pk}
    assert ids(client=world.client.pk) == {world.draft.pk, world.open.pk, world.unpaid.pk}
    assert as_accountant.get(f"{V1}/invoices/", {"status": "late"}).status_code == 400


def test_edit_a_draft_replacing_its_lines(as_reception, world):
    response = as_reception.patch(
        f"{V1}/invoices/{world.draft.pk}/",
        {
            "notes": "Updated",
            "lines": [{"description": "New", "quantity": "3", "unit_price": "10"}],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["notes"] == "Updated"
    assert [(line["description"], line["total_amount"]) for line in body["lines"]] == [
        ("New", "30.00")
    ]


def test_only_drafts_are_edited_or_deleted(as_reception, world):
    url = f"{V1}/invoices/{world.open.pk}/"
    for response in (
        as_reception.patch(url, {"notes": "x"}),
        as_reception.patch(url, {"lines": []}),
        as_reception.delete(url),
    ):
        assert (response.status_code, response.json()["code"]) == (409, "invoice_not_draft")
    assert as_reception.delete(f"{V1}/invoices/{world.draft.pk}/").status_code == 204
    assert not Invoice.objects.filter(pk=world.draft.pk).exists()


def test_finalize(as_reception, world):
    response = as_reception.post(f"{V1}/invoices/{world.draft.pk}/finalize/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "open"
    assert body["number"].startswith("INV-")
    assert body["issue_date"] is not None and body["due_date"] is not None
    again = as_reception.post(f"{V1}/invoices/{world.draft.pk}/finalize/")
    assert (again.status_code, again.json()["code"]) == (409, "invoice_not_draft")

    empty = as_reception.post(f"{V1}/invoices/", _new_invoice(world)).json()
    refused = as_reception.post(f"{V1}/invoices/{empty['id']}/finalize/")
    assert (refused.status_code, refused.json()["code"]) == (409, "invoice_has_no_lines")


def test_void(as_accountant, world):
    response = as_accountant.post(f"{V1}/invoices/{world.unpaid.pk}/void/", {"reason": "Twice"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["balance"]) == ("void", "0.00")
    paid = as_accountant.post(f"{V1}/invoices/{world.open.pk}/void/")
    assert (paid.status_code, paid.json()["code"]) == (409, "invoice_has_payments")
    draft = as_accountant.post(f"{V1}/invoices/{world.draft.pk}/void/")
    assert (draft.status_code, draft.json()["code"]) == (409, "invoice_is_draft")


def test_deposits_leave_the_balance_open(as_reception, world):
    url = f"{V1}/invoices/{world.unpaid.pk}/payments/"
    response = as_reception.post(
        url,
        {"amount": "20.00", "method": world.cash.pk, "reference": "Deposit", "date": "2026-01-02"},
    )
    assert response.status_code == 201
    assert (response.json()["amount"], response.json()["date"]) == ("20.00", "2026-01-02")
    invoice = as_reception.get(f"{V1}/invoices/{world.unpaid.pk}/").json()
    assert (invoice["amount_paid"], invoice["balance"], invoice["display_status"]) == (
        "20.00",
        "40.00",
        "Part paid",
    )
    too_much = as_reception.post(url, {"amount": "40.01", "method": world.cash.pk})
    assert (too_much.status_code, too_much.json()["code"]) == (409, "amount_exceeds_balance")
    rest = as_reception.post(url, {"amount": "40.00", "method": world.cash.pk})
    assert rest.status_code == 201
    assert as_reception.get(f"{V1}/invoices/{world.unpaid.pk}/").json()["status"] == "paid"
    listed = as_reception.get(url).json()
    assert [p["amount"] for p in listed["results"]] == ["20.00", "40.00"]


def test_a_draft_takes_no_payment(as_reception, world):
    response = as_reception.post(
        f"{V1}/invoices/{world.draft.pk}/payments/", {"amount": "1.00", "method": world.cash.pk}
    )
    assert (response.status_code, response.json()["code"]) == (409, "invoice_not_open")


def test_refund_part_of_a_payment(as_accountant, world):
    url = f"{V1}/payments/{world.payment.pk}/refund/"
    response = as_accountant.post(url, {"amount": "20.00", "reason": "Overcharged"})
    assert response.status_code == 201
    assert (response.json()["amount"], response.json()["payment"]) == ("20.00", world.payment.pk)
    invoice = as_accountant.get(f"{V1}/invoices/{world.open.pk}/").json()
    assert (invoice["amount_paid"], invoice["balance"]) == ("30.00", "370.00")
    assert invoice["payments"][0]["refunded"] == "20.00"
    too_much = as_accountant.post(url, {"amount": "30.01", "reason": "x"})
    assert (too_much.status_code, too_much.json()["code"]) == (409, "amount_exceeds_refundable")
    assert as_accountant.post(url, {"amount": "1.00"}).status_code == 400
    # A payment with refunds cannot be voided.
    void = as_accountant.post(f"{V1}/payments/{world.payment.pk}/void/")
    assert (void.status_code, void.json()["code"]) == (409, "payment_has_refunds")


def test_void_a_payment(as_accountant, world):
    url = f"{V1}/payments/{world.payment.pk}/void/"
    response = as_accountant.post(url, {"reason": "Wrong invoice"})
    assert (response.status_code, response.json()["status"]) == (200, "void")
    invoice = as_accountant.get(f"{V1}/invoices/{world.open.pk}/").json()
    assert invoice["balance"] == "400.00"
    again = as_accountant.post(url)
    assert (again.status_code, again.json()["code"]) == (409, "payment_already_void")
    assert as_accountant.post(f"{V1}/payments/999999/void/").status_code == 404


def test_status_values_match_the_model():
    assert {s.value for s in InvoiceStatus} == {"draft", "open", "paid", "void"}


def test_the_unfiltered_list_counts_from_the_day_totals_exactly(as_accountant, world):
    """Issue 10: `count` without filters comes from the billing day totals (Draft and Void
    counted through their index), never a count of every invoice; it stays exact."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    as_accountant.post(f"{V1}/invoices/{world.unpaid.pk}/void/", {"reason": "Twice"})
    as_accountant.post(f"{V1}/invoices/", _new_invoice(world))
    assert {i.status for i in Invoice.objects.all()} >= {"draft", "open", "void"}
    with CaptureQueriesContext(connection) as queries:
        body = as_accountant.get(f"{V1}/invoices/", {"page_size": 1}).json()
    assert body["count"] == Invoice.objects.count()
    assert body["next"] is not None
    assert not [
        q["sql"]
        for q in queries
        if q["sql"].startswith('SELECT COUNT(*) AS "__count" FROM "invoicing_invoice"')
        and "WHERE" not in q["sql"]
    ]
    ordered = as_accountant.get(f"{V1}/invoices/", {"ordering": "number"}).json()
    assert ordered["count"] == Invoice.objects.count()
    void = as_accountant.get(f"{V1}/invoices/", {"status": "void"}).json()
    assert void["count"] == Invoice.objects.filter(status="void").count()
