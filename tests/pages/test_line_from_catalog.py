"""Add a line from the catalog (issue 13, part 7): picking a service or package fills in
description, unit price and tax rate (still editable); a free line stays possible."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import Service
from invoicing.models import InvoiceLine
from invoicing.services import invoice_create
from tests.factories import TaxRateFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def draft(practice, reception):
    return invoice_create(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        by=reception,
    )


def pick(client, draft, value, **headers):
    url = reverse("invoicing:line_from_catalog", args=[draft.pk])
    response = client.get(url, {"add-catalog": value}, headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def test_the_add_form_offers_services_and_packages(client, practice, reception, draft):
    client.force_login(reception)
    page = client.get(reverse("invoicing:detail", args=[draft.pk])).content.decode()
    assert "From the catalog" in page and "Type a free line" in page
    assert '<optgroup label="Services">' in page and '<optgroup label="Packages">' in page
    assert f'value="package:{practice.fixed.pk}">Physio Starter Pack · $400.00' in page


def test_picking_a_service_fills_in_the_line(client, practice, reception, draft):
    gst = TaxRateFactory(name="GST", rate=Decimal("10"))
    Service.objects.filter(pk=practice.massage.pk).update(price=Decimal("95.50"), tax_rate=gst)
    client.force_login(reception)
    page = pick(client, draft, f"service:{practice.massage.pk}", **HTMX)
    assert "<html" not in page and page.lstrip().startswith("<form")
    assert 'value="Remedial massage"' in page
    assert 'value="95.50"' in page
    assert f'<option value="{gst.pk}" selected>' in page
    # Edited before Add line: the typed values are what the line keeps.
    response = client.post(
        reverse("invoicing:line_add", args=[draft.pk]),
        {
            "add-description": "Remedial massage (60 min)",
            "add-quantity": "2",
            "add-unit_price": "90.00",
            "add-tax_rate": gst.pk,
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    line = InvoiceLine.objects.get()
    assert (line.description, line.quantity, line.unit_price, line.tax_rate) == (
        "Remedial massage (60 min)",
        Decimal("2"),
        Decimal("90.00"),
        gst,
    )


def test_picking_a_package_fills_in_its_price(client, practice, reception, draft):
    client.force_login(reception)
    page = pick(client, draft, f"package:{practice.fixed.pk}", **HTMX)
    assert 'value="Physio Starter Pack"' in page and 'value="400.00"' in page


@pytest.mark.parametrize("value", ["", "service:999999", "junk", "package:abc"])
def test_a_free_line_or_junk_leaves_the_form_empty(client, practice, reception, draft, value):
    client.force_login(reception)
    page = pick(client, draft, value, **HTMX)
    assert 'name="add-description"' in page and 'name="add-description" value' not in page


def test_without_javascript_fill_in_shows_the_page(client, practice, reception, draft):
    client.force_login(reception)
    page = pick(client, draft, f"service:{practice.follow_up.pk}")
    assert "<html" in page and 'value="Physio follow-up"' in page
    assert 'form="add-line-pick"' in page


def test_archived_items_are_not_offered(client, practice, reception, draft):
    Service.objects.filter(pk=practice.massage.pk).update(archived=True)
    client.force_login(reception)
    page = client.get(reverse("invoicing:detail", args=[draft.pk])).content.decode()
    assert f"service:{practice.massage.pk}" not in page
    assert 'name="add-description" value' not in pick(
        client, draft, f"service:{practice.massage.pk}", **HTMX
    )


def test_a_practitioner_cannot_pick(client, practice, practitioner_user, draft):
    client.force_login(practitioner_user)
    url = reverse("invoicing:line_from_catalog", args=[draft.pk])
    assert client.get(url).status_code == 403
