"""REST API: odd but valid names stored and returned as typed, `<script>` returned
verbatim as data, unknown ids in URLs.
"""

from __future__ import annotations

import pytest

from tests.trust.bad_input.api_endpoints import (
    V1,
)
from tests.trust.bad_input.common import (
    BAD_IDS,
    NAMES,
    SCRIPT,
    fingerprint,
)

pytestmark = pytest.mark.django_db


# ------------------------------------------- odd but valid: stored and returned


@pytest.mark.parametrize(("first", "last"), NAMES.values(), ids=NAMES.keys())
def test_api_stores_emoji_and_right_to_left_names_as_typed(api, world, first, last):
    http = api("reception")
    response = http.post(
        "/api/v1/clients/", {"first_name": first, "last_name": last}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert (response.json()["first_name"], response.json()["last_name"]) == (first, last)
    found = http.get("/api/v1/clients/", {"search": first.split()[0]}).json()["results"]
    assert [(c["first_name"], c["last_name"]) for c in found] == [(first, last)]


API_SHOWS = {
    "client": (lambda s: f"/api/v1/clients/{s.client.pk}/", ["first_name", "last_name", "notes"]),
    "appointment": (lambda s: f"/api/v1/appointments/{s.appointment.pk}/", ["notes"]),
    "client-package": (
        lambda s: f"/api/v1/client-packages/{s.canceled.pk}/",
        ["name", "cancel_reason"],
    ),
    "invoice": (lambda s: f"/api/v1/invoices/{s.invoice.pk}/", ["notes"]),
}


@pytest.mark.parametrize(("where", "fields"), API_SHOWS.values(), ids=API_SHOWS.keys())
def test_api_returns_script_verbatim_as_data(api, scripted, where, fields):
    response = api("admin").get(where(scripted))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert {name: body[name] for name in fields} == {name: SCRIPT for name in fields}


def test_api_returns_script_in_invoice_lines_payments_and_refunds_verbatim(api, scripted):
    body = api("admin").get(f"/api/v1/invoices/{scripted.invoice.pk}/").json()
    assert body["lines"][0]["description"] == SCRIPT
    assert body["payments"][0]["reference"] == SCRIPT
    assert body["payments"][0]["refunds"][0]["reason"] == SCRIPT


# --------------------------------------------------------- unknown ids in API URLs

API_URLS = {
    "client-patch": ("patch", "clients/{}/"),
    "client-package-cancel": ("post", "client-packages/{}/cancel/"),
    "client-package-adjust": ("post", "client-packages/{}/adjust/"),
    "client-package-ledger": ("get", "client-packages/{}/ledger/"),
    "appointment-patch": ("patch", "appointments/{}/"),
    "appointment-delete": ("delete", "appointments/{}/"),
    "appointment-link": ("post", "appointments/{}/link/"),
    "appointment-unlink": ("post", "appointments/{}/unlink/"),
    "appointment-cancel": ("post", "appointments/{}/cancel/"),
    "invoice-delete": ("delete", "invoices/{}/"),
    "invoice-void": ("post", "invoices/{}/void/"),
    "invoice-pay": ("post", "invoices/{}/payments/"),
    "payment-refund": ("post", "payments/{}/refund/"),
    "payment-void": ("post", "payments/{}/void/"),
}


@pytest.mark.parametrize("bad_id", BAD_IDS.values(), ids=BAD_IDS.keys())
@pytest.mark.parametrize(("method", "path"), API_URLS.values(), ids=API_URLS.keys())
def test_unknown_ids_in_api_urls_are_404(api, world, method, path, bad_id):
    http = api("admin")
    before = fingerprint()
    response = getattr(http, method)(
        f"{V1}/{path.format(bad_id)}",
        {"reason": "x", "quantity": 1, "amount": "1.00"},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert fingerprint() == before
