"""Client packages through the API: sell, list by status, match, extend, cancel,
adjust, invoice, ledger — each endpoint's success and its refusals."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.utils import timezone

from calendar_app.services import appointment_link
from invoicing.services import invoice_finalize, invoice_for_client_package, invoice_void
from packages.models import ClientPackage
from packages.services import client_package_cancel
from tests.factories import ClientFactory

V1 = "/api/v1"


def _url(client_package, action=""):
    return f"{V1}/client-packages/{client_package.pk}/{action}"


def test_sell_a_package_copies_what_was_sold(as_reception, practice):
    start = timezone.localdate() - dt.timedelta(days=3)
    response = as_reception.post(
        f"{V1}/client-packages/",
        {"client": practice.client.pk, "package": practice.fixed.pk, "start_date": str(start)},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Physio Starter Pack"
    assert (body["kind"], body["status"], body["price"]) == ("fixed", "active", "400.00")
    assert body["start_date"] == str(start)
    assert body["expires_on"] == str(practice.fixed.expiry_for(start))
    assert body["services"] == [
        {
            "service": practice.initial.pk,
            "name": "Physio initial consultation",
            "allowance": 1,
            "used": 0,
            "remaining": 1,
        },
        {
            "service": practice.follow_up.pk,
            "name": "Physio follow-up",
            "allowance": 3,
            "used": 0,
            "remaining": 3,
        },
    ]
    assert (body["appointments"], body["invoices"]) == ([], [])


def test_a_flexible_package_shows_each_services_use_but_no_allowance(as_reception, practice):
    sold = practice.sell(practice.flexible)
    for days in (1, 2):
        appointment_link(
            appointment=practice.book(by=None, days=days), client_package=sold, by=None
        )
    body = as_reception.get(_url(sold)).json()
    assert (body["credits"], body["consumed"], body["remaining"]) == (5, 2, 3)
    follow_up = next(s for s in body["services"] if s["service"] == practice.follow_up.pk)
    assert (follow_up["allowance"], follow_up["used"], follow_up["remaining"]) == (None, 2, None)


def test_an_archived_package_cannot_be_sold(as_reception, practice):
    practice.fixed.archived = True
    practice.fixed.save()
    response = as_reception.post(
        f"{V1}/client-packages/", {"client": practice.client.pk, "package": practice.fixed.pk}
    )
    assert (response.status_code, response.json()["code"]) == (409, "package_archived")
    assert not ClientPackage.objects.exists()


def test_filter_by_client_and_status(as_reception, practice):
    active = practice.sell(practice.fixed)
    canceled = practice.sell(practice.flexible)
    client_package_cancel(client_package=canceled, reason="Moved", by=None)
    expired = practice.sell(
        practice.fixed, start_date=timezone.localdate() - dt.timedelta(days=200)
    )
    other = practice.sell(practice.fixed, client=ClientFactory())

    def ids(**query):
        response = as_reception.get(f"{V1}/client-packages/", query)
        assert response.status_code == 200
        return {row["id"]: row["status"] for row in response.json()["results"]}

    assert ids(client=practice.client.pk) == {
        active.pk: "active",
        canceled.pk: "canceled",
        expired.pk: "expired",
    }
    assert ids(status="active") == {active.pk: "active", other.pk: "active"}
    assert ids(status="expired") == {expired.pk: "expired"}
    assert ids(status="canceled", client=practice.client.pk) == {canceled.pk: "canceled"}
    assert as_reception.get(f"{V1}/client-packages/", {"status": "lost"}).status_code == 400


def test_status_is_current_without_any_job(as_reception, practice):
    sold = practice.sell(practice.fixed)
    with time_machine.travel(sold.expires_on + dt.timedelta(days=1), tick=False):
        assert as_reception.get(_url(sold)).json()["status"] == "expired"
        listed = as_reception.get(f"{V1}/client-packages/", {"status": "expired"}).json()
        assert [row["id"] for row in listed["results"]] == [sold.pk]


def test_matches(as_reception, practice):
    fixed = practice.sell(practice.fixed)
    flexi = practice.sell(practice.flexible)
    client_package_cancel(client_package=practice.sell(practice.flexible), reason="x", by=None)
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()

    def matches(**query):
        response = as_reception.get(f"{V1}/client-packages/matches/", query)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert set(matches(client=practice.client.pk, date=tomorrow)) == {fixed.pk, flexi.pk}
    assert matches(client=practice.client.pk, date=tomorrow, service=practice.massage.pk) == []
    after_expiry = (fixed.expires_on + dt.timedelta(days=1)).isoformat()
    assert matches(client=practice.client.pk, date=after_expiry) == [flexi.pk]
    # The fixed package's one initial consultation used up: it no longer matches it.
    appointment_link(
        appointment=practice.book(by=None, service=practice.initial), client_package=fixed, by=None
    )
    assert matches(client=practice.client.pk, date=tomorrow, service=practice.initial.pk) == [
        flexi.pk
    ]


def test_matches_needs_a_client_and_a_date(as_reception, practice):
    response = as_reception.get(f"{V1}/client-packages/matches/")
    assert response.status_code == 400
    assert set(response.json()) == {"client", "date"}
    response = as_reception.get(
        f"{V1}/client-packages/matches/", {"client": 999999, "date": "someday"}
    )
    assert set(response.json()) == {"client", "date"}


def test_extend_the_expiry_date(as_admin, admin_user, practice):
    sold = practice.sell(practice.fixed)
    new_date = sold.expires_on + dt.timedelta(days=30)
    response = as_admin.patch(_url(sold), {"expires_on": str(new_date), "reason": "Away"})
    assert response.status_code == 200
    assert response.json()["expires_on"] == str(new_date)
    change = sold.expiry_changes.get()
    assert (change.reason, change.created_by) == ("Away", admin_user)


def test_expiry_refusals(as_admin, practice):
    sold = practice.sell(practice.fixed)
    before_start = sold.start_date - dt.timedelta(days=1)
    response = as_admin.patch(_url(sold), {"expires_on": str(before_start), "reason": "x"})
    assert (response.status_code, response.json()["code"]) == (409, "expiry_before_start")
    response = as_admin.patch(_url(sold), {"expires_on": str(sold.expires_on)})
    assert response.status_code == 400
    assert set(response.json()) == {"reason"}
    client_package_cancel(client_package=sold, reason="x", by=None)
    response = as_admin.patch(_url(sold), {"expires_on": str(sold.expires_on), "reason": "x"})
    assert (response.status_code, response.json()["code"]) == (409, "package_canceled")


def test_cancel(as_reception, practice):
    sold = practice.sell(practice.flexible)
    response = as_reception.post(_url(sold, "cancel/"), {"reason": "Moved away"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["cancel_reason"]) == (
        "canceled",
        "Moved away",
    )
    again = as_reception.post(_url(sold, "cancel/"), {"reason": "Moved away"})
    assert (again.status_code, again.json()["code"]) == (409, "package_canceled")
    assert as_reception.post(_url(sold, "cancel/"), {"reason": ""}).status_code == 400


def test_adjust_credits(as_admin, practice):
    flexi = practice.sell(practice.flexible)
    response = as_admin.post(_url(flexi, "adjust/"), {"quantity": 2, "reason": "Goodwill"})
    assert response.status_code == 200
    assert (response.json()["credits"], response.json()["remaining"]) == (7, 7)
    below = as_admin.post(_url(flexi, "adjust/"), {"quantity": -8, "reason": "Oops"})
    assert (below.status_code, below.json()["code"]) == (409, "adjust_below_consumed")
    assert as_admin.post(_url(flexi, "adjust/"), {"quantity": 0, "reason": "x"}).status_code == 400

    fixed = practice.sell(practice.fixed)
    no_service = as_admin.post(_url(fixed, "adjust/"), {"quantity": 1, "reason": "x"})
    assert no_service.status_code == 400
    assert no_service.json() == {"service": ["Choose which service's quantity to adjust."]}
    response = as_admin.post(
        _url(fixed, "adjust/"),
        {"quantity": 1, "reason": "Extra follow-up", "service": practice.follow_up.pk},
    )
    follow_up = next(
        s for s in response.json()["services"] if s["service"] == practice.follow_up.pk
    )
    assert (follow_up["allowance"], follow_up["remaining"]) == (4, 4)


def test_invoice_a_package_once(as_reception, practice):
    sold = practice.sell(practice.fixed)
    body = {"practitioner": practice.practitioner.pk, "location": practice.location.pk}
    response = as_reception.post(_url(sold, "invoice/"), body)
    assert response.status_code == 201
    invoice = response.json()
    assert (invoice["status"], invoice["total"], invoice["client"]) == (
        "draft",
        "400.00",
        practice.client.pk,
    )
    again = as_reception.post(_url(sold, "invoice/"), body)
    assert again.status_code == 409
    assert again.json()["code"] == "already_invoiced"
    assert again.json()["invoice"] == invoice["id"]
    assert as_reception.post(_url(sold, "invoice/"), {}).status_code == 400


def test_the_ledger(as_reception, practice, reception):
    sold = practice.sell(practice.flexible)
    appointment = practice.book(by=None)
    appointment_link(appointment=appointment, client_package=sold, by=reception)
    rows = as_reception.get(_url(sold, "ledger/")).json()["results"]
    assert [(r["kind"], r["quantity"], r["appointment"], r["created_by"]) for r in rows] == [
        ("grant", 5, None, None),
        ("consume", -1, appointment.pk, reception.username),
    ]
    assert as_reception.get(f"{V1}/client-packages/999999/ledger/").status_code == 404


def test_the_list_carries_each_packages_appointment_and_invoice_ids(as_reception, practice):
    sold = practice.sell(practice.flexible)
    later = practice.book(by=None, days=3)
    sooner = practice.book(by=None, days=1, hour=9)
    for appointment in (later, sooner):
        appointment_link(appointment=appointment, client_package=sold, by=None)
    first = invoice_for_client_package(
        client_package=sold, practitioner=practice.practitioner, location=practice.location, by=None
    )
    invoice_void(invoice=invoice_finalize(invoice=first, by=None), reason="Wrong price", by=None)
    second = invoice_for_client_package(
        client_package=sold, practitioner=practice.practitioner, location=practice.location, by=None
    )
    other = practice.sell(practice.fixed)

    rows = {row["id"]: row for row in as_reception.get(f"{V1}/client-packages/").json()["results"]}
    # Appointments by start time; invoices (void ones too) by id, each once.
    assert rows[sold.pk]["appointments"] == [sooner.pk, later.pk]
    assert rows[sold.pk]["invoices"] == sorted([first.pk, second.pk])
    assert (rows[other.pk]["appointments"], rows[other.pk]["invoices"]) == ([], [])
    follow_up = next(s for s in rows[sold.pk]["services"] if s["service"] == practice.follow_up.pk)
    assert follow_up["used"] == 2
