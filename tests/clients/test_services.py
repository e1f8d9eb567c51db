"""clients.services: create, update, archive, restore — roles, rules and the audit trail."""

import datetime as dt

import pghistory
import pytest
from django.utils import timezone
from pghistory.models import Events

from clients.models import Client
from clients.services import client_archive, client_create, client_restore, client_update
from kernel.errors import DomainError, NotAllowed
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def test_create_saves_the_client_and_the_audit_records_who_added_them(reception):
    with pghistory.context(user=reception.pk):
        client = client_create(
            first_name="  Jo ",
            last_name="Citizen",
            email="jo@example.com",
            phone="0400 000 000",
            date_of_birth=dt.date(1990, 5, 1),
            notes="Left knee",
            by=reception,
        )
    client.refresh_from_db()
    assert (client.first_name, client.last_name, client.email) == (
        "Jo",
        "Citizen",
        "jo@example.com",
    )
    assert client.date_of_birth == dt.date(1990, 5, 1)
    assert not client.archived
    event = Events.objects.tracks(client).get(pgh_label="insert")
    assert event.pgh_context["user"] == reception.pk


def test_create_by_the_system_needs_no_user(db):
    assert client_create(first_name="Jo", last_name="Citizen", by=None).pk


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"first_name": " "}, "name_required"),
        ({"last_name": ""}, "name_required"),
        ({"email": "not-an-email"}, "invalid_email"),
        ({"phone": "call me"}, "invalid_phone"),
        ({"first_name": "x" * 101}, "value_too_long"),
        ({"date_of_birth": "1990-01-01"}, "invalid_date_of_birth"),
        ({"date_of_birth": dt.date(1850, 1, 1)}, "invalid_date_of_birth"),
    ],
)
def test_create_refuses_invalid_values_and_saves_nothing(reception, values, code):
    with pytest.raises(DomainError) as refused:
        client_create(**{"first_name": "Jo", "last_name": "Citizen", **values}, by=reception)
    assert refused.value.code == code
    assert not Client.objects.exists()


def test_create_refuses_a_date_of_birth_in_the_future(reception):
    with pytest.raises(DomainError) as refused:
        client_create(
            first_name="Jo",
            last_name="Citizen",
            date_of_birth=timezone.localdate() + dt.timedelta(days=1),
            by=reception,
        )
    assert refused.value.code == "invalid_date_of_birth"


def test_accountant_may_not_add_or_change_clients(accountant):
    with pytest.raises(NotAllowed):
        client_create(first_name="Jo", last_name="Citizen", by=accountant)
    client = ClientFactory()
    for act in (client_archive, client_restore):
        with pytest.raises(NotAllowed):
            act(client=client, by=accountant)
    with pytest.raises(NotAllowed):
        client_update(client=client, phone="0411 111 111", by=accountant)


def test_practitioner_may_add_and_change_clients(practitioner_user):
    client = client_create(first_name="Jo", last_name="Citizen", by=practitioner_user)
    client_update(client=client, notes="Runner", by=practitioner_user)
    assert Client.objects.get(pk=client.pk).notes == "Runner"


def test_update_changes_only_the_given_fields(reception):
    client = ClientFactory(first_name="Jo", last_name="Citizen", phone="0400 000 000")
    client_update(client=client, phone="0411 111 111", date_of_birth=None, by=reception)
    client.refresh_from_db()
    assert client.phone == "0411 111 111"
    assert (client.first_name, client.last_name) == ("Jo", "Citizen")
    update = Events.objects.tracks(client).get(pgh_label="update")
    assert set(update.pgh_diff) - {"updated_at"} == {"phone"}


def test_update_without_changes_writes_nothing(reception):
    client = ClientFactory(first_name="Jo")
    client_update(client=client, first_name="Jo", by=reception)
    assert not Events.objects.tracks(client).filter(pgh_label="update").exists()


def test_update_refusal_leaves_the_client_unchanged(reception):
    client = ClientFactory(first_name="Jo", email="jo@example.com")
    with pytest.raises(DomainError):
        client_update(client=client, first_name="Joanne", email="broken", by=reception)
    client.refresh_from_db()
    assert (client.first_name, client.email) == ("Jo", "jo@example.com")


def test_archive_then_restore(reception):
    client = ClientFactory()
    client_archive(client=client, by=reception)
    assert client.archived and Client.objects.get(pk=client.pk).archived
    client_restore(client=client, by=reception)
    assert not client.archived and not Client.objects.get(pk=client.pk).archived


def test_archiving_twice_or_restoring_a_current_client_is_refused(reception):
    client = ClientFactory()
    with pytest.raises(DomainError) as refused:
        client_restore(client=client, by=reception)
    assert refused.value.code == "client_not_archived"
    client_archive(client=client, by=reception)
    with pytest.raises(DomainError) as refused:
        client_archive(client=client, by=reception)
    assert refused.value.code == "client_archived"


def test_archived_client_cannot_be_sold_a_package_until_restored(practice, reception):
    from packages.services import client_package_assign

    client_archive(client=practice.client, by=reception)
    with pytest.raises(DomainError) as refused:
        client_package_assign(client=practice.client, package=practice.fixed, by=reception)
    assert refused.value.code == "client_archived"
    client_restore(client=practice.client, by=reception)
    assert client_package_assign(client=practice.client, package=practice.fixed, by=reception)
