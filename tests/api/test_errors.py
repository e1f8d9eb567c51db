"""Error responses keep API.md's shapes, and odd input never reaches the database:
400 `{"field": ["message"]}`, 409 `{"detail", "code"}`, 404, 415 — never a 500."""

from __future__ import annotations

import pytest

from clients.models import Client

V1 = "/api/v1"


def test_invalid_input_is_400_with_messages_per_field(as_reception):
    response = as_reception.post(f"{V1}/clients/", {"first_name": "", "email": "nope"})
    assert response.status_code == 400
    body = response.json()
    assert body["first_name"] == ["This field may not be blank."]
    assert body["last_name"] == ["This field is required."]
    assert body["email"] == ["Enter a valid email address."]


def test_a_refused_rule_is_409_with_its_code_and_message(as_reception, world):
    world.client.archived = True
    world.client.save()
    response = as_reception.post(
        f"{V1}/client-packages/", {"client": world.client.pk, "package": world.practice.fixed.pk}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "client_archived"
    assert "archived" in response.json()["detail"]


def test_unknown_ids_are_404_in_json(as_admin):
    for path in ("clients/999999/", "clients/abc/", "clients/1.5/", f"clients/{10**30}/"):
        response = as_admin.get(f"{V1}/{path}")
        assert response.status_code == 404, path
        assert response.json() == {
            "detail": "No Client matches the given query.",
            "code": "not_found",
        } or (response.json()["code"] == "not_found")


def test_unknown_urls_under_api_are_404_in_json(as_admin):
    response = as_admin.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_a_reference_to_an_unknown_row_is_400(as_reception):
    response = as_reception.post(
        f"{V1}/client-packages/", {"client": 10**30, "package": -1}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"client", "package"}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ('{"first_name": NaN}', "application/json"),
        ('{"first_name": Infinity}', "application/json"),
        ("[" * 100_000 + "]" * 100_000, "application/json"),
        ('{"n": ' + "9" * 5000 + "}", "application/json"),
    ],
    ids=["malformed", "nan", "infinity", "deeply-nested", "huge-int"],
)
def test_unreadable_json_is_400(as_reception, body, content_type):
    response = as_reception.generic("POST", f"{V1}/clients/", body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_other_media_types_are_415(as_reception):
    response = as_reception.post(
        f"{V1}/clients/", {"first_name": "A", "last_name": "B"}, format="multipart"
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_json_is_answered_whatever_accept_says(as_reception):
    response = as_reception.get(f"{V1}/clients/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_a_body_that_is_not_an_object_is_400(as_reception):
    response = as_reception.post(f"{V1}/clients/", [1, 2], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


@pytest.mark.parametrize("value", [r"Jo\u0000", r"\ud800"], ids=["nul-byte", "lone-surrogate"])
def test_strings_postgresql_cannot_store_are_400(as_reception, value):
    body = '{"first_name": "' + value + '", "last_name": "B"}'
    response = as_reception.generic("POST", f"{V1}/clients/", body, content_type="application/json")
    assert response.status_code == 400
    assert "first_name" in response.json()
    assert not Client.objects.exists()


def test_nul_bytes_in_query_parameters_are_400(as_reception):
    response = as_reception.get(f"{V1}/clients/", {"search": "a\x00b"})
    assert response.status_code == 400
    assert "search" in response.json()


@pytest.mark.parametrize(
    "amount",
    ["10.001", "NaN", "Infinity", "-Infinity", "1e400", "99999999999.00", "abc", ""],
)
def test_amounts_must_be_money(as_reception, world, amount):
    response = as_reception.post(
        f"{V1}/invoices/{world.open.pk}/payments/",
        {"amount": amount, "method": world.cash.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "amount" in response.json()


@pytest.mark.parametrize("quantity", [10**30, -(10**30), 1.5, "many", True])
def test_quantities_must_be_whole_numbers_in_range(as_admin, world, quantity):
    response = as_admin.post(
        f"{V1}/client-packages/{world.flexi.pk}/adjust/",
        {"quantity": quantity, "reason": "x"},
        format="json",
    )
    assert response.status_code == 400
    assert "quantity" in response.json()


@pytest.mark.parametrize(
    "start_date", ["9999-12-31", "0001-01-01", "2026-02-30", "12/01/2026", "10000-01-01"]
)
def test_dates_out_of_range_or_malformed_are_400(as_reception, world, start_date):
    response = as_reception.post(
        f"{V1}/client-packages/",
        {"client": world.client.pk, "package": world.practice.fixed.pk, "start_date": start_date},
        format="json",
    )
    assert response.status_code == 400
    assert "start_date" in response.json()


@pytest.mark.parametrize(
    "starts_at", ["9999-12-31T23:59:00+00:00", "0001-01-01T00:00:00+14:00", "tomorrow"]
)
def test_times_out_of_range_or_malformed_are_400(as_reception, world, starts_at):
    practice = world.practice
    response = as_reception.post(
        f"{V1}/appointments/",
        {
            "client": world.client.pk,
            "practitioner": practice.practitioner.pk,
            "location": practice.location.pk,
            "service": practice.follow_up.pk,
            "starts_at": starts_at,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "starts_at" in response.json()


@pytest.mark.parametrize(
    "query", ["start=2026-13-01", "end=yesterday", "start=0001-01-01", "status=lost"]
)
def test_invalid_filters_are_400(as_reception, query):
    response = as_reception.get(f"{V1}/appointments/?{query}")
    assert response.status_code == 400


@pytest.mark.parametrize("page", ["0", "999", "abc", str(10**30)])
def test_pages_that_do_not_exist_are_404(as_reception, world, page):
    response = as_reception.get(f"{V1}/clients/", {"page": page})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_page_size_is_at_most_200(as_reception, world):
    from tests.factories import ClientFactory

    ClientFactory.create_batch(205)
    response = as_reception.get(f"{V1}/clients/", {"page_size": 200})
    body = response.json()
    assert body["count"] == 206
    assert len(body["results"]) == 200
    assert body["next"] is not None
    # More is refused, not silently cut to 200 (tests/api/test_error_answers.py).
    response = as_reception.get(f"{V1}/clients/", {"page_size": 1000})
    assert response.status_code == 400


def test_a_database_error_is_still_a_clean_refusal(as_reception, world, monkeypatch, caplog):
    """The safety net: if validation ever misses something, the client gets 400, the
    transaction is rolled back and the log names the gap."""
    from django.db import DataError

    from clients import services

    def broken(**kwargs):
        Client.objects.create(first_name="Half", last_name="Written")
        raise DataError("value too long")

    monkeypatch.setattr(services, "client_create", broken)
    response = as_reception.post(f"{V1}/clients/", {"first_name": "A", "last_name": "B"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Client.objects.filter(first_name="Half").exists()
    assert "unvalidated" in caplog.text


def test_a_services_own_permission_check_is_403(world):
    """The API lets a user who may book through; the service still refuses to link a
    package for someone without the link permission (NotAllowed → 403)."""
    from django.contrib.auth.models import Permission

    from tests.api.conftest import api_client
    from tests.factories import UserFactory, next_local

    user = UserFactory(username="booker")
    user.user_permissions.add(
        Permission.objects.get(codename="add_appointment", content_type__app_label="calendar_app")
    )
    practice = world.practice
    response = api_client(user).post(
        f"{V1}/appointments/",
        {
            "client": world.client.pk,
            "practitioner": practice.practitioner.pk,
            "location": practice.location.pk,
            "service": practice.follow_up.pk,
            "starts_at": next_local(hour=16, days=4).isoformat(),
            "client_package": world.flexi.pk,
        },
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
