"""Clients, the practice's lists and the catalog through the API: each endpoint's
success and its refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from catalog.models import Package, PackageKind, Service, ServiceCategory
from clients.models import Client
from tests.factories import ClientFactory, ServiceFactory, TaxRateFactory

V1 = "/api/v1"


# ---------------------------------------------------------------------------- clients


def test_create_a_client(as_reception):
    response = as_reception.post(
        f"{V1}/clients/",
        {
            "first_name": "  Mia ",
            "last_name": "Nguyen",
            "email": "mia@example.com",
            "phone": "+61 400 123 456",
            "date_of_birth": "1990-04-01",
            "notes": "Prefers mornings",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": body["id"],
        "updated_at": body["updated_at"],
        "first_name": "Mia",
        "last_name": "Nguyen",
        "email": "mia@example.com",
        "email_opt_out": False,
        "phone": "+61 400 123 456",
        "date_of_birth": "1990-04-01",
        "notes": "Prefers mornings",
        "archived": False,
    }


def test_client_values_the_service_refuses_are_400_by_field(as_reception):
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = as_reception.post(
        f"{V1}/clients/", {"first_name": "A", "last_name": "B", "date_of_birth": tomorrow}
    )
    assert response.status_code == 400
    assert response.json() == {"date_of_birth": ["The date of birth can't be in the future."]}
    response = as_reception.post(
        f"{V1}/clients/", {"first_name": "A", "last_name": "B", "phone": "call me"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "phone": ["Enter a phone number using digits, spaces, +, - or brackets."]
    }


def test_search_clients_by_words_of_name_email_or_phone(as_reception):
    jo = ClientFactory(first_name="Jo", last_name="Citizen", email="jo@example.com")
    ClientFactory(first_name="Max", last_name="Power", phone="0400111222")
    archived = ClientFactory(first_name="Joanne", last_name="Citizen", archived=True)

    def found(**query):
        response = as_reception.get(f"{V1}/clients/", query)
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    assert found(search="jo cit") == {jo.pk, archived.pk}
    assert found(search="jo cit", archived="false") == {jo.pk}
    assert found(search="0400111") == {Client.objects.get(last_name="Power").pk}
    assert found(search="JO@EXAMPLE") == {jo.pk}


def test_change_archive_and_restore_a_client(as_reception, world):
    url = f"{V1}/clients/{world.client.pk}/"
    response = as_reception.patch(url, {"phone": "0400 999 999"})
    assert response.status_code == 200
    assert response.json()["phone"] == "0400 999 999"

    response = as_reception.patch(url, {"archived": True})
    assert response.json()["archived"] is True
    # An archived client is sold nothing (the service's rule).
    refused = as_reception.post(
        f"{V1}/client-packages/", {"client": world.client.pk, "package": world.practice.fixed.pk}
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "client_archived")

    response = as_reception.patch(url, {"archived": False})
    assert response.json()["archived"] is False


def test_change_an_unknown_client_is_404(as_reception):
    assert as_reception.patch(f"{V1}/clients/999999/", {"phone": "1"}).status_code == 404


def test_patch_rejects_invalid_fields(as_reception, world):
    response = as_reception.patch(f"{V1}/clients/{world.client.pk}/", {"email": "nope"})
    assert response.status_code == 400
    assert "email" in response.json()


# ---------------------------------------------------------------- the practice's lists


def test_admin_adds_to_the_practices_lists(as_admin):
    for path, body, field, value in [
        ("locations", {"name": "Annex", "address": "2 Side St"}, "address", "2 Side St"),
        ("practitioners", {"name": "Dr Lee", "colour": "#AABBCC"}, "colour", "#aabbcc"),
        ("tax-rates", {"name": "GST", "rate": "10.00"}, "rate", "10.00"),
        ("payment-methods", {"name": "Voucher"}, "name", "Voucher"),
        ("cancellation-reasons", {"name": "Weather"}, "name", "Weather"),
    ]:
        response = as_admin.post(f"{V1}/{path}/", body)
        assert response.status_code == 201, (path, response.json())
        assert response.json()[field] == value
        assert response.json()["archived"] is False
        listed = as_admin.get(f"{V1}/{path}/", {"search": body["name"][:3]}).json()
        assert response.json()["id"] in [row["id"] for row in listed["results"]]


def test_names_already_taken_are_refused(as_admin):
    for path in ("payment-methods", "cancellation-reasons"):
        assert as_admin.post(f"{V1}/{path}/", {"name": "Barter"}).status_code == 201
        response = as_admin.post(f"{V1}/{path}/", {"name": "barter"})
        assert (response.status_code, response.json()["code"]) == (409, "name_taken")


def test_invalid_reference_rows_are_400(as_admin):
    assert as_admin.post(f"{V1}/tax-rates/", {"name": "Odd", "rate": "101"}).status_code == 400
    assert as_admin.post(f"{V1}/locations/", {"name": ""}).status_code == 400
    assert as_admin.post(f"{V1}/practitioners/", {"name": "X", "colour": "red"}).status_code == 400


def test_reference_lists_filter_archived(as_reception):
    TaxRateFactory(name="Old", archived=True)
    TaxRateFactory(name="New")
    names = [
        row["name"]
        for row in as_reception.get(f"{V1}/tax-rates/", {"archived": "true"}).json()["results"]
    ]
    assert names == ["Old"]


def test_add_a_service_with_a_category_by_name(as_admin):
    tax = TaxRateFactory()
    body = {
        "name": "Pilates",
        "category": "Classes",
        "duration_minutes": 45,
        "price": "35.50",
        "tax_rate": tax.pk,
    }
    response = as_admin.post(f"{V1}/services/", body)
    assert response.status_code == 201
    assert response.json() | {"id": 0, "updated_at": ""} == {
        **body,
        "id": 0,
        "updated_at": "",
        "archived": False,
        "capacity": 1,
    }
    again = as_admin.post(f"{V1}/services/", {**body, "name": "Yoga", "category": "classes"})
    assert again.json()["category"] == "Classes"
    assert ServiceCategory.objects.filter(name__iexact="classes").count() == 1


def test_a_service_without_a_duration_gets_the_default_30_minutes(as_admin):
    response = as_admin.post(f"{V1}/services/", {"name": "Massage", "price": "80.00"})
    assert response.status_code == 201, response.content
    assert response.json()["duration_minutes"] == 30


def test_a_service_with_an_archived_tax_rate_is_refused(as_admin):
    tax = TaxRateFactory(archived=True)
    response = as_admin.post(
        f"{V1}/services/",
        {"name": "Pilates", "duration_minutes": 45, "price": "35.50", "tax_rate": tax.pk},
    )
    assert (response.status_code, response.json()["code"]) == (409, "tax_rate_archived")


def test_a_class_service_has_a_capacity(as_admin):
    response = as_admin.post(
        f"{V1}/services/", {"name": "Clinical pilates class", "price": "35.00", "capacity": 8}
    )
    assert response.status_code == 201, response.content
    assert response.json()["capacity"] == 8
    assert Service.objects.get(name="Clinical pilates class").is_class
    listed = as_admin.get(f"{V1}/services/").json()["results"]
    assert {s["name"]: s["capacity"] for s in listed}["Clinical pilates class"] == 8


@pytest.mark.parametrize("capacity", [0, -3, 1001, "eight"])
def test_a_capacity_below_one_is_refused(as_admin, capacity):
    response = as_admin.post(
        f"{V1}/services/", {"name": "Pilates", "price": "35.00", "capacity": capacity}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["capacity"]
    assert not Service.objects.filter(name="Pilates").exists()


def test_service_input_is_validated(as_admin):
    response = as_admin.post(
        f"{V1}/services/", {"name": "X", "duration_minutes": 2000, "price": "-1"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"duration_minutes", "price"}


# ------------------------------------------------------------------------- packages


def test_add_a_fixed_package(as_admin, practice):
    response = as_admin.post(
        f"{V1}/packages/",
        {
            "name": "Physio 5",
            "description": "Internal note",
            "kind": "fixed",
            "credits": 5,
            "price": "450.00",
            "expires_after": {"value": 6, "unit": "months"},
            "services": [
                {"service": practice.initial.pk, "allowance": 1},
                {"service": practice.follow_up.pk, "allowance": 4},
            ],
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "fixed"
    assert body["expires_after"] == {"value": 6, "unit": "months"}
    assert body["services"] == [
        {"service": practice.initial.pk, "allowance": 1},
        {"service": practice.follow_up.pk, "allowance": 4},
    ]
    package = Package.objects.get(pk=body["id"])
    assert package.expiry_label == "6 months"


def test_add_a_flexible_package_that_never_expires(as_admin, practice):
    response = as_admin.post(
        f"{V1}/packages/",
        {
            "name": "Any 10",
            "credits": 10,
            "price": "800.00",
            "services": [{"service": practice.initial.pk}, {"service": practice.massage.pk}],
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["expires_after"]) == ("flexible", None)
    assert [s["allowance"] for s in body["services"]] == [None, None]


def test_package_refusals(as_admin, practice):
    base = {"name": "P", "credits": 4, "price": "100.00"}
    mismatch = as_admin.post(
        f"{V1}/packages/",
        {**base, "kind": "fixed", "services": [{"service": practice.initial.pk, "allowance": 3}]},
    )
    assert mismatch.status_code == 400
    assert list(mismatch.json()) == ["services"]

    archived = ServiceFactory(archived=True)
    response = as_admin.post(f"{V1}/packages/", {**base, "services": [{"service": archived.pk}]})
    assert (response.status_code, response.json()["code"]) == (409, "service_archived")

    for services in (
        [],
        [{"service": practice.initial.pk, "allowance": 2}],  # flexible with an allowance
        [{"service": practice.initial.pk}, {"service": practice.initial.pk}],
        [{"service": 999999}],
    ):
        response = as_admin.post(f"{V1}/packages/", {**base, "services": services})
        assert response.status_code == 400, services
        assert "services" in response.json()
    assert not Package.objects.filter(name="P").exists()


def test_packages_filter_by_kind(as_reception, practice):
    kinds = {
        row["name"]: row["kind"]
        for row in as_reception.get(f"{V1}/packages/", {"kind": PackageKind.FIXED}).json()[
            "results"
        ]
    }
    assert kinds == {"Physio Starter Pack": "fixed"}
