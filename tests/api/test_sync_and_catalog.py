"""Syncing through the API (`updated_since`, date ranges, `updated_at` kept by the
database), the flat list of payments, and catalog items' detail and PATCH."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from calendar_app.models import Appointment, Location
from catalog.models import Package, Service
from clients.models import Client
from invoicing.models import Invoice, Payment
from invoicing.services import payment_refund
from packages.models import ClientPackage

V1 = "/api/v1"


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def _since(moment: dt.datetime) -> dict[str, str]:
    return {"updated_since": moment.isoformat()}


# ------------------------------------------------------------------ updated_at


@pytest.mark.parametrize(
    "model", [Client, Appointment, ClientPackage, Invoice, Payment, Service, Package, Location]
)
def test_updated_at_moves_on_a_queryset_update_and_on_raw_sql(world, model):
    row = model.objects.order_by("id").first()
    before = row.updated_at
    model.objects.filter(pk=row.pk).update(updated_at=before)  # no change: no new time
    assert model.objects.get(pk=row.pk).updated_at == before
    model.objects.filter(pk=row.pk).update(id=row.pk, **{_a_field(model): _other(model, row)})
    after_orm = model.objects.get(pk=row.pk).updated_at
    assert after_orm > before
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        # A raw write, as a data fix would be: the trigger still stamps it.
        cursor.execute(f"UPDATE {table} SET updated_at = %s WHERE id = %s", [before, row.pk])  # noqa: S608
    assert model.objects.get(pk=row.pk).updated_at > after_orm


def _a_field(model) -> str:
    return {
        Client: "notes",
        Appointment: "notes",
        ClientPackage: "cancel_reason",
        Invoice: "notes",
        Payment: "reference",
        Service: "name",
        Package: "description",
        Location: "address",
    }[model]


def _other(model, row) -> str:
    return f"{getattr(row, _a_field(model))} (changed)"


# --------------------------------------------------------------- updated_since


def test_updated_since_gives_only_what_changed(as_reception, world):
    mark = timezone.now()
    for path in ("clients", "appointments", "client-packages", "invoices", "payments"):
        assert _ids(as_reception.get(f"{V1}/{path}/", _since(mark))) == set(), path

    Client.objects.filter(pk=world.client.pk).update(phone="0400 111 222")
    Appointment.objects.filter(pk=world.appointment.pk).update(notes="Bring scans")
    assert _ids(as_reception.get(f"{V1}/clients/", _since(mark))) == {world.client.pk}
    assert _ids(as_reception.get(f"{V1}/appointments/", _since(mark))) == {world.appointment.pk}
    # Linking uses a credit: the client package changed.
    response = as_reception.post(
        f"{V1}/appointments/{world.appointment.pk}/link/", {"client_package": world.sold.pk}
    )
    assert response.status_code == 200, response.json()
    assert _ids(as_reception.get(f"{V1}/client-packages/", _since(mark))) == {world.sold.pk}
    # Everything before the mark is there without the filter.
    assert world.flexi.pk in _ids(as_reception.get(f"{V1}/client-packages/"))


def test_an_invoice_counts_as_changed_when_it_is_paid_or_refunded(as_admin, world):
    mark = timezone.now()
    response = as_admin.post(
        f"{V1}/invoices/{world.unpaid.pk}/payments/",
        {"amount": "20.00", "method": world.cash.pk},
    )
    assert response.status_code == 201
    assert _ids(as_admin.get(f"{V1}/invoices/", _since(mark))) == {world.unpaid.pk}
    assert _ids(as_admin.get(f"{V1}/payments/", _since(mark))) == {response.json()["id"]}

    later = timezone.now()
    payment_refund(payment=world.payment, amount=Decimal("5.00"), reason="Overcharged", by=None)
    assert _ids(as_admin.get(f"{V1}/invoices/", _since(later))) == {world.open.pk}
    assert _ids(as_admin.get(f"{V1}/payments/", _since(later))) == {world.payment.pk}


def test_reference_lists_and_the_catalog_take_updated_since(as_admin, world):
    mark = timezone.now()
    practice = world.practice
    Service.objects.filter(pk=practice.massage.pk).update(price=Decimal("99.00"))
    assert _ids(as_admin.get(f"{V1}/services/", _since(mark))) == {practice.massage.pk}
    assert _ids(as_admin.get(f"{V1}/packages/", _since(mark))) == set()
    assert _ids(as_admin.get(f"{V1}/locations/", _since(mark))) == set()


@pytest.mark.parametrize(
    "value",
    ["yesterday", "2026-13-01T00:00:00", "0001-01-01T00:00:00Z", "9999-12-31T23:00:00Z"],
)
def test_a_bad_updated_since_is_400_on_the_field(as_reception, world, value):
    response = as_reception.get(f"{V1}/appointments/", {"updated_since": value})
    assert response.status_code == 400
    assert "updated_since" in response.json()


@pytest.mark.parametrize("path", ["practitioners", "appointments", "clients", "invoices"])
def test_any_valid_offset_is_read(as_accountant, world, path):
    """ISO 8601 allows offsets PostgreSQL does not (beyond 15:59): read as UTC, not a 500."""
    query = {"updated_since": "2003-02-22T23:46:00-19:23"}
    if path == "appointments":
        query = {**query, "start": "2003-02-22T23:46:00+23:59"}
    assert as_accountant.get(f"{V1}/{path}/", query).status_code == 200


def test_date_ranges(as_accountant, world):
    today = timezone.localdate().isoformat()
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    assert _ids(as_accountant.get(f"{V1}/payments/", {"date_from": today, "date_to": today})) == {
        world.payment.pk
    }
    assert _ids(as_accountant.get(f"{V1}/payments/", {"date_from": tomorrow})) == set()
    issued = _ids(as_accountant.get(f"{V1}/invoices/", {"issued_after": today}))
    assert issued == {world.open.pk, world.unpaid.pk}  # the Draft has no issue date
    assert _ids(as_accountant.get(f"{V1}/invoices/", {"issued_before": "2000-01-01"})) == set()
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    appointments = _ids(
        as_accountant.get(
            f"{V1}/appointments/",
            {
                "start_after": start.isoformat(),
                "start_before": (start + dt.timedelta(days=2)).isoformat(),
            },
        )
    )
    assert appointments == {world.appointment.pk}
    assert _ids(as_accountant.get(f"{V1}/client-packages/", {"start_after": tomorrow})) == set()
    ledger = f"{V1}/client-packages/{world.sold.pk}/ledger/"
    assert _ids(as_accountant.get(ledger))  # granted, then used by `linked`
    assert _ids(as_accountant.get(ledger, _since(timezone.now()))) == set()


# -------------------------------------------------------------------- payments


def test_the_flat_list_of_payments_and_its_filters(as_accountant, world):
    response = as_accountant.get(f"{V1}/payments/")
    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body["results"]] == [world.payment.pk]
    assert body["results"][0] | {"updated_at": None} == {
        "id": world.payment.pk,
        "invoice": world.open.pk,
        "amount": "50.00",
        "method": world.cash.pk,
        "date": timezone.localdate().isoformat(),
        "reference": "",
        "status": "active",
        "refunded": "0.00",
        "refunds": [],
        "updated_at": None,
    }
    for query, expected in (
        ({"client": world.client.pk}, {world.payment.pk}),
        ({"invoice": world.open.pk}, {world.payment.pk}),
        ({"invoice": world.unpaid.pk}, set()),
        ({"method": world.cash.pk}, {world.payment.pk}),
        ({"status": "void"}, set()),
    ):
        assert _ids(as_accountant.get(f"{V1}/payments/", query)) == expected, query
    detail = as_accountant.get(f"{V1}/payments/{world.payment.pk}/")
    assert detail.json()["id"] == world.payment.pk
    assert as_accountant.get(f"{V1}/payments/999999/").status_code == 404
    assert as_accountant.get(f"{V1}/payments/", {"date_from": "soon"}).status_code == 400
    assert as_accountant.get(f"{V1}/payments/", {"client": 999999}).status_code == 400
    # The invoice's own payments take the same filters.
    own = f"{V1}/invoices/{world.open.pk}/payments/"
    assert _ids(as_accountant.get(own, {"status": "active"})) == {world.payment.pk}
    assert _ids(as_accountant.get(own, {"status": "void"})) == set()


def test_payments_are_read_only(as_admin, world):
    assert as_admin.post(f"{V1}/payments/", {"amount": "1.00"}).status_code == 405
    assert as_admin.patch(f"{V1}/payments/{world.payment.pk}/", {}).status_code == 405
    assert as_admin.delete(f"{V1}/payments/{world.payment.pk}/").status_code == 405


# --------------------------------------------------------------------- catalog


def test_get_and_change_a_service(as_admin, world):
    massage = world.practice.massage
    assert as_admin.get(f"{V1}/services/{massage.pk}/").json()["name"] == massage.name
    response = as_admin.patch(
        f"{V1}/services/{massage.pk}/", {"price": "99.00", "category": "Remedial"}
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["price"], body["category"], body["name"]) == ("99.00", "Remedial", massage.name)
    assert body["duration_minutes"] == massage.duration_minutes  # left alone


def test_a_service_change_is_checked_as_on_the_catalog_page(as_admin, world):
    massage = world.practice.massage
    response = as_admin.patch(f"{V1}/services/{massage.pk}/", {"price": "-5", "name": ""})
    assert response.status_code == 400
    assert set(response.json()) == {"price", "name"}
    capacity = as_admin.patch(f"{V1}/services/{massage.pk}/", {"capacity": 0})
    assert capacity.status_code == 400
    assert "capacity" in capacity.json()


def test_archive_and_restore_a_service_not_in_a_package(as_admin, world):
    service = as_admin.post(
        f"{V1}/services/", {"name": "Dry needling", "duration_minutes": 30, "price": "80.00"}
    ).json()
    response = as_admin.patch(f"{V1}/services/{service['id']}/", {"archived": True})
    assert response.json()["archived"] is True
    response = as_admin.patch(f"{V1}/services/{service['id']}/", {"archived": False})
    assert response.json()["archived"] is False


def test_get_and_change_a_catalog_package(as_admin, world):
    flexible = world.practice.flexible
    assert as_admin.get(f"{V1}/packages/{flexible.pk}/").json()["id"] == flexible.pk
    response = as_admin.patch(
        f"{V1}/packages/{flexible.pk}/",
        {"price": "470.00", "expires_after": {"value": 6, "unit": "months"}},
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["price"], body["expires_after"]) == ("470.00", {"value": 6, "unit": "months"})
    assert body["credits"] == flexible.credits
    # Sold before the change: keeps what was sold.
    assert ClientPackage.objects.get(pk=world.flexi.pk).price != Decimal("470.00")


def test_a_changed_service_list_needs_each_rows_service(as_admin, world):
    """A PATCH's `services` replaces the list, so each row still needs its service
    (found by the schema fuzzer: a row without one was a server error)."""
    flexible = world.practice.flexible
    before = as_admin.get(f"{V1}/packages/{flexible.pk}/").json()
    response = as_admin.patch(
        f"{V1}/packages/{flexible.pk}/",
        {"services": [{"service": world.practice.massage.pk}, {"allowance": None}]},
    )
    assert response.status_code == 400, response.content
    assert response.json()["services"] == [{}, {"service": ["This field is required."]}]
    assert as_admin.get(f"{V1}/packages/{flexible.pk}/").json() == before


def test_a_fixed_package_keeps_its_allowances_adding_up(as_admin, world):
    fixed = world.practice.fixed
    response = as_admin.patch(f"{V1}/packages/{fixed.pk}/", {"credits": fixed.credits + 1})
    assert response.status_code == 400, response.json()
    assert "services" in response.json()


def test_changing_the_catalog_is_for_admin(as_reception, world):
    massage = world.practice.massage
    response = as_reception.patch(f"{V1}/services/{massage.pk}/", {"price": "1.00"})
    assert response.status_code == 403
    assert as_reception.get(f"{V1}/services/{massage.pk}/").status_code == 200
