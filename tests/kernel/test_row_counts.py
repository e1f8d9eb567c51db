"""The row counts the database keeps (kernel.rowcount): `client_count`,
`client_package_count` and the invoices' count equal a real count after every kind of
write (one row, a bulk insert, a delete, a rolled-back insert), and the API's unfiltered
lists report them."""

from __future__ import annotations

import pytest
from django.db import transaction

from clients.models import Client
from clients.selectors import client_count
from invoicing.models import Invoice, InvoiceCount
from invoicing.services import invoice_delete, invoice_void
from kernel.rowcount import kept_count
from packages.models import ClientPackage
from packages.selectors import client_package_count
from tests.api.conftest import api_client
from tests.factories import ClientFactory, ClientPackageFactory
from tests.invoicing.helpers import draft, open_invoice

V1 = "/api/v1"


def test_client_count_follows_inserts_deletes_and_rollbacks(db):
    assert client_count() == Client.objects.count()
    ClientFactory()
    Client.objects.bulk_create(ClientFactory.build_batch(7))
    assert client_count() == Client.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        ClientFactory.create_batch(3)
        raise RuntimeError  # rolled back: the count's change too
    assert client_count() == Client.objects.count()
    Client.objects.filter(pk__in=list(Client.objects.values_list("pk", flat=True)[:4])).delete()
    assert client_count() == Client.objects.count()


def test_client_package_count_follows_inserts(db):
    # (The app's role may not delete a sold package: its steps are the database's own.)
    first = ClientPackageFactory()
    ClientPackage.objects.bulk_create(
        ClientPackageFactory.build_batch(2, client=first.client, package=first.package)
    )
    assert client_package_count() == ClientPackage.objects.count() >= 3


def test_unfiltered_lists_report_the_kept_counts(db, admin_user):
    ClientFactory.create_batch(3, archived=True)
    ClientFactory.create_batch(2)
    ClientPackageFactory.create_batch(2)
    api = api_client(admin_user)
    assert api.get(f"{V1}/clients/").json()["count"] == Client.objects.count()
    assert api.get(f"{V1}/clients/", {"page_size": 2, "page": 2}).json()["count"] == (
        Client.objects.count()
    )
    # A filter counts its matches.
    assert api.get(f"{V1}/clients/", {"archived": "true"}).json()["count"] == 3
    listed = api.get(f"{V1}/client-packages/").json()
    assert listed["count"] == ClientPackage.objects.count() == len(listed["results"])


def test_invoice_count_follows_inserts_deletes_and_rollbacks(db, admin_user):
    def kept() -> int:
        return kept_count(InvoiceCount)

    assert kept() == Invoice.objects.count()
    first, second = draft("10.00"), draft("20.00")
    voided = open_invoice("30.00")
    invoice_void(invoice=voided, reason="Wrong client", by=admin_user)
    assert kept() == Invoice.objects.count() == 3
    with pytest.raises(RuntimeError), transaction.atomic():
        draft("40.00")
        invoice_delete(invoice=first, by=admin_user)
        raise RuntimeError  # rolled back: the count's changes too
    assert kept() == Invoice.objects.count() == 3
    invoice_delete(invoice=second, by=admin_user)
    assert kept() == Invoice.objects.count() == 2
    api = api_client(admin_user)
    listed = api.get(f"{V1}/invoices/").json()
    assert listed["count"] == Invoice.objects.count() == len(listed["results"])
    assert api.get(f"{V1}/invoices/", {"page_size": 1, "page": 2}).json()["count"] == 2
    # A filter counts its matches.
    assert api.get(f"{V1}/invoices/", {"status": "void"}).json()["count"] == 1
