"""Money beyond one column: invoice totals are summed without a precision cap, and an
invoice whose total would not fit the money columns (numeric(12, 2): at most
9,999,999,999.99) is refused where it is written (page, API, admin), so no one can take
Billing down with large amounts (issue 9, finding 1).

Each test here failed on the code before the fix: sums were cast to numeric(12, 2) in
SQL, so two invoices of 6,000,000,000.00 made the billing summary overflow (500 on the
pages, 400 on the API list), and a second line on a maxed-out draft was accepted.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from invoicing.models import Invoice, InvoiceLine
from invoicing.selectors import invoice_totals, invoices_summary, invoices_with_totals
from invoicing.services import (
    MAX_MONEY,
    invoice_create,
    invoice_finalize,
    invoice_line_add,
    invoice_line_update,
)
from tests.invoicing.helpers import db_state, line
from tests.refusals import refused
from tests.trust.bad_input.common import beside

pytestmark = pytest.mark.django_db

SIX_BILLION = Decimal("6000000000.00")


def api_client(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user=user)
    return api


def _draft(practice, *prices: Decimal) -> Invoice:
    return invoice_create(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        lines=[line(str(price), description=f"Item {i}") for i, price in enumerate(prices)],
        by=None,
    )


def _pages_of(invoice: Invoice) -> list[str]:
    return [
        reverse("invoicing:list"),
        reverse("invoicing:detail", args=[invoice.pk]),
        reverse("invoicing:print", args=[invoice.pk]),
        reverse("invoicing:delete", args=[invoice.pk]),
        reverse("clients:invoices", args=[invoice.client_id]),
        reverse("clients:detail", args=[invoice.client_id]),
        reverse("admin:invoicing_invoice_changelist"),
        reverse("admin:invoicing_invoice_change", args=[invoice.pk]),
    ]


def _over_large_invoice(practice) -> Invoice:
    """An invoice totalling more than a column holds, written around the services (as
    rows from before the refusal existed would be)."""
    invoice = _draft(practice, MAX_MONEY)
    InvoiceLine.objects.create(
        invoice=invoice,
        position=1,
        description="Written around the services",
        quantity=1,
        unit_price=MAX_MONEY,
        net_amount=MAX_MONEY,
        total_amount=MAX_MONEY,
    )
    return invoice


# ------------------------------------------------------------------- sums, uncapped


def test_sums_over_many_invoices_are_not_capped(practice):
    for _ in range(2):
        invoice_finalize(invoice=_draft(practice, SIX_BILLION), by=None)
    summary = invoices_summary()
    assert summary.total == Decimal("12000000000.00")
    assert summary.balance == Decimal("12000000000.00")
    assert {i.total for i in invoices_with_totals()} == {SIX_BILLION}


def test_two_invoices_of_six_billion_through_the_api_leave_every_page_working(
    practice, admin_user, client
):
    api = api_client(admin_user)
    for _ in range(2):
        created = api.post(
            "/api/v1/invoices/",
            {
                "client": practice.client.pk,
                "practitioner": practice.practitioner.pk,
                "location": practice.location.pk,
                "lines": [{"description": "Big", "quantity": "1", "unit_price": "6000000000.00"}],
            },
            format="json",
        )
        assert created.status_code == 201, created.content
        assert created.json()["total"] == "6000000000.00"
        finalized = api.post(f"/api/v1/invoices/{created.json()['id']}/finalize/")
        assert finalized.status_code == 200, finalized.content

    listed = api.get("/api/v1/invoices/")
    assert listed.status_code == 200, listed.content
    assert [i["total"] for i in listed.json()["results"]] == ["6000000000.00"] * 2

    client.force_login(admin_user)
    invoice = Invoice.objects.first()
    for url in _pages_of(invoice):
        assert client.get(url).status_code == 200, url
    billing = client.get(reverse("invoicing:list")).content.decode()
    assert "12,000,000,000.00" in billing


def test_existing_over_large_invoices_still_render(practice, admin_user, client):
    invoice = _over_large_invoice(practice)
    assert invoice_totals(invoice).total == MAX_MONEY * 2
    client.force_login(admin_user)
    for url in _pages_of(invoice):
        assert client.get(url).status_code == 200, url
    assert "19,999,999,999.98" in client.get(_pages_of(invoice)[1]).content.decode()
    api = api_client(admin_user)
    for url in ("/api/v1/invoices/", f"/api/v1/invoices/{invoice.pk}/"):
        response = api.get(url)
        assert response.status_code == 200, response.content
    assert api.get(f"/api/v1/invoices/{invoice.pk}/").json()["total"] == "19999999999.98"


# ------------------------------------------------------------ the refusal, per door


def test_the_services_refuse_an_invoice_total_beyond_the_columns(practice):
    invoice = _draft(practice, MAX_MONEY)
    with refused("invoice_total_too_large", field="unit_price", unchanged=db_state):
        invoice_line_add(
            invoice=invoice, by=None, description="One cent more", quantity=1, unit_price="0.01"
        )
    with refused("invoice_total_too_large", field="unit_price", unchanged=db_state):
        _draft(practice, SIX_BILLION, SIX_BILLION)
    second = invoice_line_add(
        invoice=_draft(practice, SIX_BILLION),
        by=None,
        description="Two",
        quantity=1,
        unit_price="3999999999.99",
    )
    with refused("invoice_total_too_large", field="unit_price", unchanged=db_state):
        invoice_line_update(line=second, by=None, unit_price="4000000000.00")
    # A line may be changed to a smaller amount, and exactly the limit is fine.
    invoice_line_update(line=second, by=None, unit_price="1.00")
    assert invoice_totals(second.invoice).total == Decimal("6000000001.00")


def test_the_page_refuses_a_second_line_on_a_maxed_out_draft_beside_the_field(
    practice, admin_user, client
):
    invoice = _draft(practice, MAX_MONEY)
    client.force_login(admin_user)
    before = db_state()
    response = client.post(
        reverse("invoicing:line_add", args=[invoice.pk]),
        {
            "add-description": "One cent more",
            "add-quantity": "1",
            "add-unit_price": "0.01",
            "add-discount_percent": "0",
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 409
    assert "one invoice holds at most $9,999,999,999.99" in beside(response, "id_add-unit_price")
    assert db_state() == before
    for url in _pages_of(invoice):
        assert client.get(url).status_code == 200, url


def test_the_api_refuses_an_invoice_total_beyond_the_columns_with_400(practice, admin_user):
    api = api_client(admin_user)
    body = {
        "client": practice.client.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "lines": [{"description": "Big", "quantity": "1", "unit_price": "6000000000.00"}] * 2,
    }
    before = db_state()
    response = api.post("/api/v1/invoices/", body, format="json")
    assert response.status_code == 400, response.content
    assert "lines" in response.json()
    assert db_state() == before

    draft = _draft(practice, SIX_BILLION)
    response = api.patch(f"/api/v1/invoices/{draft.pk}/", {"lines": body["lines"]}, format="json")
    assert response.status_code == 400, response.content
    assert "lines" in response.json()
    assert invoice_totals(draft).total == SIX_BILLION


def test_the_admin_refuses_an_invoice_total_beyond_the_columns(practice, admin_user, client):
    invoice = _draft(practice, MAX_MONEY)
    kept = invoice.lines.get()
    client.force_login(admin_user)
    prefix = "lines"
    data = {
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "issue_date": "",
        "notes": "",
        f"{prefix}-TOTAL_FORMS": "2",
        f"{prefix}-INITIAL_FORMS": "1",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
        f"{prefix}-0-id": kept.pk,
        f"{prefix}-0-invoice": invoice.pk,
        f"{prefix}-0-description": kept.description,
        f"{prefix}-0-quantity": "1",
        f"{prefix}-0-unit_price": str(MAX_MONEY),
        f"{prefix}-0-discount_percent": "0",
        f"{prefix}-1-invoice": invoice.pk,
        f"{prefix}-1-description": "One cent more",
        f"{prefix}-1-quantity": "1",
        f"{prefix}-1-unit_price": "0.01",
        f"{prefix}-1-discount_percent": "0",
        "payments-TOTAL_FORMS": "0",
        "payments-INITIAL_FORMS": "0",
        "payments-MIN_NUM_FORMS": "0",
        "payments-MAX_NUM_FORMS": "1000",
    }
    before = db_state()
    response = client.post(reverse("admin:invoicing_invoice_change", args=[invoice.pk]), data)
    assert response.status_code == 200, response.status_code
    assert "one invoice holds at most" in beside(response, "id_lines-1-unit_price")
    assert db_state() == before
