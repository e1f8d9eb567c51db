"""Issue 9, finding 5: reading a client's record through the API or the Django admin is
access-logged like a viewing on the staff pages (who, when, from where, through what)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import ClientAccess
from tests.api.conftest import api_client
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def test_getting_a_client_through_the_api_is_logged(practice, reception):
    response = api_client(reception).get(
        f"/api/v1/clients/{practice.client.pk}/", REMOTE_ADDR="198.51.100.30"
    )
    assert response.status_code == 200
    access = ClientAccess.objects.get(client=practice.client)
    assert (access.user, access.ip, access.via) == (reception, "198.51.100.30", "api")
    assert access.path == f"/api/v1/clients/{practice.client.pk}/"


def test_each_client_on_a_page_of_the_api_list_is_logged_once(practice, reception):
    others = [ClientFactory() for _ in range(3)]
    response = api_client(reception).get("/api/v1/clients/?page_size=100")
    assert response.status_code == 200
    returned = {row["id"] for row in response.json()["results"]}
    logged = set(ClientAccess.objects.filter(via="api").values_list("client_id", flat=True))
    assert logged == returned >= {practice.client.pk, *(c.pk for c in others)}
    assert ClientAccess.objects.count() == len(returned)


def test_the_api_list_logs_in_one_query_whatever_the_page_size(
    practice, reception, django_assert_max_num_queries
):
    api = api_client(reception)
    api.get("/api/v1/clients/")  # warm up (permissions, API key last use)
    with django_assert_max_num_queries(50) as few:
        api.get("/api/v1/clients/")
    for _ in range(20):
        ClientFactory()
    with django_assert_max_num_queries(len(few.captured_queries)):
        api.get("/api/v1/clients/")


def test_an_appointment_read_through_the_api_logs_its_client(practice, reception):
    appointment = practice.book(by=reception)
    api = api_client(reception)
    assert api.get(f"/api/v1/appointments/{appointment.pk}/").status_code == 200
    assert api.get(f"/api/v1/appointments/?client={practice.client.pk}").status_code == 200
    assert list(ClientAccess.objects.filter(client=practice.client).values_list("via", "path")) == [
        ("api", f"/api/v1/appointments/?client={practice.client.pk}"),
        ("api", f"/api/v1/appointments/{appointment.pk}/"),
    ]


def test_a_client_package_read_through_the_api_logs_its_client(practice, reception):
    sold = practice.sell()
    api = api_client(reception)
    assert api.get(f"/api/v1/client-packages/{sold.pk}/").status_code == 200
    assert api.get(f"/api/v1/client-packages/?client={practice.client.pk}").status_code == 200
    assert list(ClientAccess.objects.filter(client=practice.client).values_list("via", "path")) == [
        ("api", f"/api/v1/client-packages/?client={practice.client.pk}"),
        ("api", f"/api/v1/client-packages/{sold.pk}/"),
    ]


def test_a_refused_api_read_is_not_logged(practice):
    from tests.factories import UserFactory

    nobody = UserFactory(username="norole")
    response = api_client(nobody).get(f"/api/v1/clients/{practice.client.pk}/")
    assert response.status_code == 403
    assert not ClientAccess.objects.exists()


def test_opening_a_client_in_the_django_admin_is_logged(client, admin_user, practice):
    client.force_login(admin_user)
    url = reverse("admin:clients_client_change", args=[practice.client.pk])
    assert client.get(url, REMOTE_ADDR="198.51.100.31").status_code == 200
    access = ClientAccess.objects.get(client=practice.client)
    assert (access.user, access.ip, access.via, access.path) == (
        admin_user,
        "198.51.100.31",
        "admin",
        url,
    )


def test_the_staff_pages_still_log_as_page(client, reception, practice):
    client.force_login(reception)
    assert client.get(reverse("clients:detail", args=[practice.client.pk])).status_code == 200
    assert ClientAccess.objects.get(client=practice.client).via == "page"


def test_the_access_log_is_listed_read_only_in_the_admin(client, admin_user, practice):
    client.force_login(admin_user)
    client.get(reverse("admin:clients_client_change", args=[practice.client.pk]))
    response = client.get(reverse("admin:clients_clientaccess_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Jo Citizen" in html and "Django admin" in html
    access = ClientAccess.objects.get()
    assert (
        client.get(reverse("admin:clients_clientaccess_change", args=[access.pk])).status_code
        == 200
    )
    assert (
        client.post(reverse("admin:clients_clientaccess_delete", args=[access.pk])).status_code
        == 403
    )


def test_a_change_through_the_api_shows_its_key_on_the_activity_page(client, admin_user, reception):
    from practice.api_keys import api_key_create

    created = api_key_create(user=reception, name="Website", by=reception)
    api = api_client()
    api.credentials(HTTP_AUTHORIZATION=f"Token {created.key}")
    response = api.post(
        "/api/v1/clients/", {"first_name": "Ana", "last_name": "Ruiz"}, format="json"
    )
    assert response.status_code == 201
    client.force_login(admin_user)
    html = client.get(reverse("settings:activity")).content.decode()
    assert f"API key {created.api_key.prefix}…" in html
