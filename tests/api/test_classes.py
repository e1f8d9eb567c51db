"""Classes through the API (issue 12): attendees are booked with POST appointments/, the
session's attendees are listed with ?class_session=, each attendee has the actions of
any appointment, and a full class answers 409 class_full."""

from __future__ import annotations

import time_machine
import yaml

from calendar_app.models import Appointment
from tests.factories import ClientFactory, PackageFactory, ServiceFactory, next_local

V1 = "/api/v1"


def _attendee(practice, service, client, **extra):
    return {
        "client": client.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "service": service.pk,
        "starts_at": next_local(hour=9, days=2).isoformat(),
        **extra,
    }


def test_book_attendees_list_them_and_refuse_a_full_class(as_reception, practice):
    pilates = ServiceFactory(name="Clinical pilates class", duration_minutes=60, capacity=2)
    pass_ = PackageFactory(name="Pilates 10-class pass", credits=10, services=[pilates])
    ann, bob = ClientFactory(), ClientFactory()
    sold = practice.sell(pass_, client=ann)
    first = as_reception.post(
        f"{V1}/appointments/", _attendee(practice, pilates, ann, client_package=sold.pk)
    )
    second = as_reception.post(f"{V1}/appointments/", _attendee(practice, pilates, bob))
    assert (first.status_code, second.status_code) == (201, 201)
    session = first.json()["class_session"]
    assert session is not None and second.json()["class_session"] == session
    assert first.json()["client_package"] == sold.pk

    full = as_reception.post(f"{V1}/appointments/", _attendee(practice, pilates, ClientFactory()))
    assert full.status_code == 409
    assert full.json() == {"detail": "This class is full (2 of 2).", "code": "class_full"}

    again = as_reception.post(f"{V1}/appointments/", _attendee(practice, pilates, bob))
    assert (again.status_code, again.json()["code"]) == (409, "already_attending")

    listed = as_reception.get(f"{V1}/appointments/", {"class_session": session}).json()
    assert {a["client"] for a in listed["results"]} == {ann.pk, bob.pk}
    ordinary = practice.book(by=None, hour=15)
    assert ordinary.class_session_id is None
    assert as_reception.get(f"{V1}/appointments/{ordinary.pk}/").json()["class_session"] is None


def test_each_attendee_has_its_own_actions(as_reception, practice):
    pilates = ServiceFactory(name="Clinical pilates class", duration_minutes=60, capacity=3)
    pass_ = PackageFactory(name="Pilates 10-class pass", credits=10, services=[pilates])
    clients = [ClientFactory() for _ in range(3)]
    ids = [
        as_reception.post(f"{V1}/appointments/", _attendee(practice, pilates, c)).json()["id"]
        for c in clients
    ]
    sold = practice.sell(pass_, client=clients[0])
    linked = as_reception.post(f"{V1}/appointments/{ids[0]}/link/", {"client_package": sold.pk})
    assert linked.json()["client_package"] == sold.pk
    # someone else's package is refused for an attendee as for any appointment
    other = as_reception.post(f"{V1}/appointments/{ids[1]}/link/", {"client_package": sold.pk})
    assert (other.status_code, other.json()["code"]) == (409, "package_other_client")
    assert as_reception.post(f"{V1}/appointments/{ids[0]}/unlink/").status_code == 200
    as_reception.post(f"{V1}/appointments/{ids[0]}/link/", {"client_package": sold.pk})

    canceled = as_reception.post(
        f"{V1}/appointments/{ids[2]}/cancel/", {"reason": practice.reason.pk}
    )
    assert canceled.json()["status"] == "canceled"
    # the canceled place is free again
    joined = as_reception.post(f"{V1}/appointments/", _attendee(practice, pilates, ClientFactory()))
    assert joined.status_code == 201

    starts = Appointment.objects.get(pk=ids[0]).starts_at
    with time_machine.travel(starts, tick=False):
        arrived = as_reception.post(f"{V1}/appointments/{ids[0]}/arrived/")
        missed = as_reception.post(f"{V1}/appointments/{ids[1]}/missed/")
    assert (arrived.json()["status"], missed.json()["status"]) == ("arrived", "missed")

    invoice = as_reception.post(f"{V1}/appointments/{ids[1]}/invoice/")
    assert invoice.status_code == 201
    line = invoice.json()["lines"][0]
    assert (line["description"], line["unit_price"]) == ("Clinical pilates class", "90.00")
    covered = as_reception.post(f"{V1}/appointments/{ids[0]}/invoice/").json()["lines"][0]
    assert covered["description"] == (
        "Clinical pilates class — Covered by package: Pilates 10-class pass"
    )
    sold.refresh_from_db()
    assert (sold.consumed, sold.remaining) == (1, 9)


def test_the_schema_documents_capacity_and_the_session_filter(as_reception):
    schema = yaml.safe_load(as_reception.get("/api/schema/").content)
    appointments = schema["paths"]["/api/v1/appointments/"]
    filters = {p["name"] for p in appointments["get"]["parameters"]}
    assert "class_session" in filters
    assert "class_full" in appointments["post"]["description"]
    components = schema["components"]["schemas"]
    assert "class_session" in components["AppointmentOut"]["properties"]
    assert "capacity" in components["ServiceOut"]["properties"]
    assert "capacity" in components["ServiceInRequest"]["properties"]
