"""The permission matrix: every endpoint, each role of DOMAIN.md, and anonymous.

A role that may act gets the endpoint's success status (so the request really went
through the service); a role that may not gets 403; anonymous gets 401 everywhere.

DOMAIN.md, People and permissions: Admin everything; Reception clients, calendar,
packages, invoices, payments; Practitioner calendar, clients, link and unlink, invoices
read-only; Accountant invoices, payments, refunds, reports, calendar read-only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from tests.api.conftest import ROLES, api_client
from tests.factories import next_local

V1 = "/api/v1"
ALL = frozenset(ROLES)
ADMIN = frozenset({"admin"})
STAFF_CAL = frozenset({"admin", "reception", "practitioner"})  # calendar and clients
BILLING = frozenset({"admin", "reception", "accountant"})  # invoices and payments
MONEY_BACK = frozenset({"admin", "accountant"})  # voids and refunds
REPORTS = frozenset({"admin", "accountant"})  # reports.view_reports


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: Any  # world -> str
    success: int
    allowed: frozenset[str]
    body: Any = None  # world -> dict


def _tomorrow() -> str:
    return (timezone.localdate() + dt.timedelta(days=1)).isoformat()


def _credit_note(w) -> int:
    """The id of a credit note on the world's Open invoice (issued by the system); any id
    for the stand-in that only shapes paths (`_AnyRow`, at collection)."""
    from invoicing.services import credit_note_issue

    if type(w).__name__ == "_AnyRow":
        return 1
    return credit_note_issue(invoice=w.open, amount="1.00", reason="Goodwill", by=None).pk


ENDPOINTS = [
    Endpoint("list clients", "get", lambda w: f"{V1}/clients/", 200, ALL),
    Endpoint(
        "create client",
        "post",
        lambda w: f"{V1}/clients/",
        201,
        STAFF_CAL,
        lambda w: {"first_name": "New", "last_name": "Client"},
    ),
    Endpoint("get client", "get", lambda w: f"{V1}/clients/{w.client.pk}/", 200, ALL),
    Endpoint(
        "change client",
        "patch",
        lambda w: f"{V1}/clients/{w.client.pk}/",
        200,
        STAFF_CAL,
        lambda w: {"phone": "0400 000 000"},
    ),
    *(
        Endpoint(f"list {resource}", "get", lambda w, r=resource: f"{V1}/{r}/", 200, ALL)
        for resource in (
            "locations",
            "practitioners",
            "services",
            "tax-rates",
            "payment-methods",
            "cancellation-reasons",
            "packages",
        )
    ),
    Endpoint(
        "add location",
        "post",
        lambda w: f"{V1}/locations/",
        201,
        ADMIN,
        lambda w: {"name": "Annex"},
    ),
    Endpoint(
        "add practitioner",
        "post",
        lambda w: f"{V1}/practitioners/",
        201,
        ADMIN,
        lambda w: {"name": "Dr New"},
    ),
    Endpoint(
        "add service",
        "post",
        lambda w: f"{V1}/services/",
        201,
        ADMIN,
        lambda w: {"name": "Pilates", "duration_minutes": 45, "price": "70.00"},
    ),
    Endpoint(
        "add tax rate",
        "post",
        lambda w: f"{V1}/tax-rates/",
        201,
        ADMIN,
        lambda w: {"name": "VAT", "rate": "20.00"},
    ),
    Endpoint(
        "add payment method",
        "post",
        lambda w: f"{V1}/payment-methods/",
        201,
        ADMIN,
        lambda w: {"name": "Voucher"},
    ),
    Endpoint(
        "add cancellation reason",
        "post",
        lambda w: f"{V1}/cancellation-reasons/",
        201,
        ADMIN,
        lambda w: {"name": "Weather"},
    ),
    Endpoint(
        "add catalog package",
        "post",
        lambda w: f"{V1}/packages/",
        201,
        ADMIN,
        lambda w: {
            "name": "Massage 3",
            "kind": "flexible",
            "credits": 3,
            "price": "200.00",
            "services": [{"service": w.practice.massage.pk}],
        },
    ),
    Endpoint("get service", "get", lambda w: f"{V1}/services/{w.practice.massage.pk}/", 200, ALL),
    Endpoint(
        "change service",
        "patch",
        lambda w: f"{V1}/services/{w.practice.massage.pk}/",
        200,
        ADMIN,
        lambda w: {"price": "95.00"},
    ),
    Endpoint(
        "get catalog package",
        "get",
        lambda w: f"{V1}/packages/{w.practice.flexible.pk}/",
        200,
        ALL,
    ),
    Endpoint(
        "change catalog package",
        "patch",
        lambda w: f"{V1}/packages/{w.practice.flexible.pk}/",
        200,
        ADMIN,
        lambda w: {"description": "Five sessions, any service."},
    ),
    Endpoint("list client packages", "get", lambda w: f"{V1}/client-packages/", 200, ALL),
    Endpoint(
        "sell a package",
        "post",
        lambda w: f"{V1}/client-packages/",
        201,
        frozenset({"admin", "reception"}),
        lambda w: {"client": w.client.pk, "package": w.practice.flexible.pk},
    ),
    Endpoint(
        "matches",
        "get",
        lambda w: f"{V1}/client-packages/matches/?client={w.client.pk}&date={_tomorrow()}",
        200,
        ALL,
    ),
    Endpoint("get client package", "get", lambda w: f"{V1}/client-packages/{w.sold.pk}/", 200, ALL),
    Endpoint(
        "extend expiry",
        "patch",
        lambda w: f"{V1}/client-packages/{w.sold.pk}/",
        200,
        ADMIN,
        lambda w: {
            "expires_on": (w.sold.expires_on + dt.timedelta(days=30)).isoformat(),
            "reason": "Client was away",
        },
    ),
    Endpoint(
        "cancel client package",
        "post",
        lambda w: f"{V1}/client-packages/{w.flexi.pk}/cancel/",
        200,
        frozenset({"admin", "reception"}),
        lambda w: {"reason": "Moved away"},
    ),
    Endpoint(
        "adjust credits",
        "post",
        lambda w: f"{V1}/client-packages/{w.flexi.pk}/adjust/",
        200,
        ADMIN,
        lambda w: {"quantity": 1, "reason": "Goodwill"},
    ),
    Endpoint(
        "invoice client package",
        "post",
        lambda w: f"{V1}/client-packages/{w.sold.pk}/invoice/",
        201,
        BILLING,
        lambda w: {"practitioner": w.practice.practitioner.pk, "location": w.practice.location.pk},
    ),
    Endpoint("ledger", "get", lambda w: f"{V1}/client-packages/{w.sold.pk}/ledger/", 200, ALL),
    Endpoint("list appointments", "get", lambda w: f"{V1}/appointments/", 200, ALL),
    Endpoint(
        "book",
        "post",
        lambda w: f"{V1}/appointments/",
        201,
        STAFF_CAL,
        lambda w: {
            "client": w.client.pk,
            "practitioner": w.practice.practitioner.pk,
            "location": w.practice.location.pk,
            "service": w.practice.follow_up.pk,
            "starts_at": next_local(hour=15, days=5).isoformat(),
        },
    ),
    Endpoint(
        "get appointment", "get", lambda w: f"{V1}/appointments/{w.appointment.pk}/", 200, ALL
    ),
    Endpoint(
        "edit appointment",
        "patch",
        lambda w: f"{V1}/appointments/{w.appointment.pk}/",
        200,
        STAFF_CAL,
        lambda w: {"notes": "Bring the scans"},
    ),
    Endpoint(
        "delete appointment",
        "delete",
        lambda w: f"{V1}/appointments/{w.appointment.pk}/",
        204,
        STAFF_CAL,
    ),
    Endpoint(
        "link",
        "post",
        lambda w: f"{V1}/appointments/{w.appointment.pk}/link/",
        200,
        STAFF_CAL,
        lambda w: {"client_package": w.flexi.pk},
    ),
    Endpoint(
        "unlink", "post", lambda w: f"{V1}/appointments/{w.linked.pk}/unlink/", 200, STAFF_CAL
    ),
    Endpoint(
        "unlink and edit",
        "post",
        lambda w: f"{V1}/appointments/{w.linked.pk}/unlink-and-edit/",
        200,
        STAFF_CAL,
        lambda w: {"notes": "Paid at the desk"},
    ),
    Endpoint(
        "cancel appointment",
        "post",
        lambda w: f"{V1}/appointments/{w.appointment.pk}/cancel/",
        200,
        STAFF_CAL,
        lambda w: {"reason": w.practice.reason.pk},
    ),
    Endpoint(
        "arrived", "post", lambda w: f"{V1}/appointments/{w.past.pk}/arrived/", 200, STAFF_CAL
    ),
    Endpoint("missed", "post", lambda w: f"{V1}/appointments/{w.past.pk}/missed/", 200, STAFF_CAL),
    Endpoint(
        "invoice appointment",
        "post",
        lambda w: f"{V1}/appointments/{w.appointment.pk}/invoice/",
        201,
        BILLING,
    ),
    Endpoint("list invoices", "get", lambda w: f"{V1}/invoices/", 200, ALL),
    Endpoint(
        "create invoice",
        "post",
        lambda w: f"{V1}/invoices/",
        201,
        BILLING,
        lambda w: {
            "client": w.client.pk,
            "practitioner": w.practice.practitioner.pk,
            "location": w.practice.location.pk,
            "lines": [{"description": "Report", "quantity": "1", "unit_price": "30.00"}],
        },
    ),
    Endpoint("get invoice", "get", lambda w: f"{V1}/invoices/{w.draft.pk}/", 200, ALL),
    Endpoint(
        "change draft invoice",
        "patch",
        lambda w: f"{V1}/invoices/{w.draft.pk}/",
        200,
        BILLING,
        lambda w: {"notes": "Thanks"},
    ),
    Endpoint(
        "delete draft invoice", "delete", lambda w: f"{V1}/invoices/{w.draft.pk}/", 204, BILLING
    ),
    Endpoint("finalize", "post", lambda w: f"{V1}/invoices/{w.draft.pk}/finalize/", 200, BILLING),
    Endpoint(
        "void invoice",
        "post",
        lambda w: f"{V1}/invoices/{w.unpaid.pk}/void/",
        200,
        MONEY_BACK,
        lambda w: {"reason": "Issued twice"},
    ),
    Endpoint("list payments", "get", lambda w: f"{V1}/invoices/{w.open.pk}/payments/", 200, ALL),
    Endpoint("list all payments", "get", lambda w: f"{V1}/payments/", 200, ALL),
    Endpoint("get payment", "get", lambda w: f"{V1}/payments/{w.payment.pk}/", 200, ALL),
    Endpoint(
        "record payment",
        "post",
        lambda w: f"{V1}/invoices/{w.open.pk}/payments/",
        201,
        BILLING,
        lambda w: {"amount": "25.00", "method": w.cash.pk},
    ),
    Endpoint(
        "refund",
        "post",
        lambda w: f"{V1}/payments/{w.payment.pk}/refund/",
        201,
        MONEY_BACK,
        lambda w: {"amount": "10.00", "reason": "Overcharged"},
    ),
    Endpoint(
        "void payment", "post", lambda w: f"{V1}/payments/{w.payment.pk}/void/", 200, MONEY_BACK
    ),
    # Credit notes (issue 13): read with the invoices, issued by an Admin.
    Endpoint(
        "issue credit note",
        "post",
        lambda w: f"{V1}/invoices/{w.open.pk}/credit-notes/",
        201,
        ADMIN,
        lambda w: {"amount": "5.00", "reason": "Goodwill"},
    ),
    Endpoint("list credit notes", "get", lambda w: f"{V1}/credit-notes/", 200, ALL),
    Endpoint("get credit note", "get", lambda w: f"{V1}/credit-notes/{_credit_note(w)}/", 200, ALL),
    # Documents (issue 13): PDFs for whoever reads the record, sending for billing roles.
    Endpoint("invoice pdf", "get", lambda w: f"{V1}/invoices/{w.open.pk}/pdf/", 200, ALL),
    Endpoint(
        "send invoice",
        "post",
        lambda w: f"{V1}/invoices/{w.open.pk}/send/",
        201,
        BILLING,
        lambda w: {"to": "jo@example.com"},
    ),
    Endpoint(
        "receipt pdf", "get", lambda w: f"{V1}/payments/{w.payment.pk}/receipt/pdf/", 200, ALL
    ),
    Endpoint(
        "send receipt",
        "post",
        lambda w: f"{V1}/payments/{w.payment.pk}/receipt/send/",
        201,
        BILLING,
        lambda w: {"to": "jo@example.com"},
    ),
    Endpoint(
        "package statement pdf",
        "get",
        lambda w: f"{V1}/client-packages/{w.flexi.pk}/statement/pdf/",
        200,
        ALL,
    ),
    Endpoint(
        "send package statement",
        "post",
        lambda w: f"{V1}/client-packages/{w.flexi.pk}/statement/send/",
        201,
        BILLING,
        lambda w: {"to": "jo@example.com"},
    ),
    Endpoint(
        "client statement pdf",
        "get",
        lambda w: f"{V1}/clients/{w.client.pk}/statement/pdf/",
        200,
        ALL,
    ),
    Endpoint(
        "send client statement",
        "post",
        lambda w: f"{V1}/clients/{w.client.pk}/statement/send/",
        201,
        BILLING,
        lambda w: {"to": "jo@example.com"},
    ),
    Endpoint(
        "package liability",
        "get",
        lambda w: f"{V1}/reports/package-liability/?start=2026-03-01&end=2026-03-31",
        200,
        REPORTS,
    ),
    Endpoint(
        "revenue",
        "get",
        lambda w: f"{V1}/reports/revenue/?start=2026-03-01&end=2026-03-31&group_by=item",
        200,
        REPORTS,
    ),
    Endpoint(
        "expiring packages",
        "get",
        lambda w: f"{V1}/reports/expiring-packages/?within=60",
        200,
        REPORTS,
    ),
    Endpoint(
        "aged receivables",
        "get",
        lambda w: f"{V1}/reports/aged-receivables/?on=2026-03-31",
        200,
        REPORTS,
    ),
    Endpoint(
        "aged receivables invoices",
        "get",
        lambda w: f"{V1}/reports/aged-receivables/invoices/?on=2026-03-31",
        200,
        REPORTS,
    ),
    Endpoint(
        "package sales",
        "get",
        lambda w: f"{V1}/reports/package-sales/?start=2026-03-01&end=2026-03-31&group_by=seller",
        200,
        REPORTS,
    ),
    # Webhooks (issue 14): Admin only.
    Endpoint("list webhooks", "get", lambda w: f"{V1}/webhooks/", 200, ADMIN),
    Endpoint(
        "add webhook",
        "post",
        lambda w: f"{V1}/webhooks/",
        201,
        ADMIN,
        lambda w: {"url": "https://crm.example.com/in", "events": ["payment.recorded"]},
    ),
    Endpoint("get webhook", "get", lambda w: f"{V1}/webhooks/{w.webhook.pk}/", 200, ADMIN),
    Endpoint(
        "change webhook",
        "patch",
        lambda w: f"{V1}/webhooks/{w.webhook.pk}/",
        200,
        ADMIN,
        lambda w: {"active": False},
    ),
    Endpoint("delete webhook", "delete", lambda w: f"{V1}/webhooks/{w.webhook.pk}/", 204, ADMIN),
    Endpoint(
        "webhook deliveries",
        "get",
        lambda w: f"{V1}/webhooks/{w.webhook.pk}/deliveries/",
        200,
        ADMIN,
    ),
    Endpoint(
        "resend webhook delivery",
        "post",
        lambda w: f"{V1}/webhooks/{w.webhook.pk}/deliveries/{w.webhook_delivery.pk}/resend/",
        201,
        ADMIN,
    ),
]


def test_the_matrix_covers_every_operation_of_the_schema():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    operations = sum(
        1
        for methods in paths.values()
        for method in methods
        if method in {"get", "post", "patch", "delete"}
    )
    assert operations == len(ENDPOINTS)


@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_role_decides(endpoint, role, world, personas):
    client = api_client(personas[role])
    body = endpoint.body(world) if endpoint.body else None
    response = getattr(client, endpoint.method)(endpoint.path(world), body, format="json")
    if role == "anonymous":
        expected = 401
    elif role in endpoint.allowed:
        expected = endpoint.success
    else:
        expected = 403
    assert response.status_code == expected, response.content
    if expected in (401, 403):
        assert set(response.json()) >= {"detail", "code"}


class _AnyRow:
    """Stands in for the world when only the shape of a path matters."""

    pk = 1

    def __getattr__(self, name):
        return self


def _takes_an_id(endpoint: Endpoint) -> bool:
    path = endpoint.path(_AnyRow()).split("?")[0]
    return any(part.isdigit() for part in path.split("/"))


@pytest.mark.parametrize(
    "endpoint", [e for e in ENDPOINTS if _takes_an_id(e)], ids=lambda e: e.name
)
def test_unknown_ids_are_404_for_every_endpoint_that_takes_one(endpoint, world, admin_user):
    parts = endpoint.path(world).rstrip("/").split("/")
    parts[next(i for i, part in enumerate(parts) if part.isdigit())] = "999999"
    body = endpoint.body(world) if endpoint.body else None
    response = getattr(api_client(admin_user), endpoint.method)(
        "/".join(parts) + "/", body, format="json"
    )
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
