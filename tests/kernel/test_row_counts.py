"""The row counts the database keeps (kernel.rowcount): `client_count` and
`client_package_count` equal a real count after every kind of write (one row, a bulk
insert, a delete, a rolled-back insert), and the API's unfiltered lists report them."""

from __future__ import annotations

import pytest
from django.db import transaction

from clients.models import Client
from clients.selectors import client_count
from packages.models import ClientPackage
from packages.selectors import client_package_count
from tests.api.conftest import api_client
from tests.factories import ClientFactory, ClientPackageFactory

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
