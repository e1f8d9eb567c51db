"""Every main page and list endpoint makes the same number of queries on the demo
practice at two sizes (issue: Staff pages — "query count stays constant as the data
grows"). The larger practice has ten times the clients, and so more packages,
appointments and invoices; the busiest objects of each are opened."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.models import Client
from invoicing.models import Invoice
from packages.models import ClientPackage
from practice import roles
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SMALL, LARGE = 40, 400


def _seed(clients: int) -> None:
    from django.core.management import call_command

    call_command("seed_demo", clients=clients, stdout=open("/dev/null", "w"))  # noqa: SIM115


def _urls() -> dict[str, str]:
    """The pages to open: lists, and the busiest client, package and invoice."""
    client = Client.objects.annotate(n=Count("packages")).order_by("-n", "pk").first()
    package = ClientPackage.objects.annotate(n=Count("ledger")).order_by("-n", "pk").first()
    invoice = (
        Invoice.objects.exclude(status="draft")
        .annotate(n=Count("lines") + Count("payments"))
        .order_by("-n", "pk")
        .first()
    )
    today = timezone.localdate().isoformat()
    return {
        "calendar day": f"/calendar/?date={today}",
        "calendar week": f"/calendar/?view=week&date={today}",
        "clients": "/clients/",
        "client search": "/clients/?q=a",
        "client overview": f"/clients/{client.pk}/",
        "client appointments": f"/clients/{client.pk}/appointments/",
        "client invoices": f"/clients/{client.pk}/invoices/",
        "client package": f"/packages/{package.pk}/",
        "billing": "/billing/",
        "invoice": f"/billing/{invoice.pk}/",
        "invoice print": f"/billing/{invoice.pk}/print/",
        "catalog": "/catalog/",
        "catalog services": "/catalog/services/",
        "settings": "/settings/",
        "staff": "/settings/staff/",
        "api clients": "/api/v1/clients/?page_size=200",
        "api client packages": "/api/v1/client-packages/?page_size=200",
        "api appointments": "/api/v1/appointments/?page_size=200",
        "api invoices": "/api/v1/invoices/?page_size=200",
    }


def _counts(http) -> dict[str, int]:
    counts = {}
    for name, url in _urls().items():
        http.get(url)  # warm caches that are per process, not per data size
        with CaptureQueriesContext(connection) as queries:
            response = http.get(url)
        assert response.status_code == 200, (name, url, response.status_code)
        counts[name] = len(queries)
    return counts


def test_page_query_counts_do_not_grow_with_the_practice(client):
    admin = UserFactory(username="scale-admin", role=roles.ADMIN, is_staff=True)
    client.force_login(admin)

    savepoint = transaction.savepoint()
    _seed(SMALL)
    small = _counts(client)
    transaction.savepoint_rollback(savepoint)

    _seed(LARGE)
    assert Client.objects.count() >= LARGE
    large = _counts(client)

    grew = {name: (small[name], large[name]) for name in small if large[name] != small[name]}
    assert grew == {}, f"query counts that grew with the data (small, large): {grew}"
