"""Appointments through the API: book (with a package, or a series), list, edit,
delete, link, unlink, cancel, arrived, missed, invoice — success and refusals."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from calendar_app.models import Appointment, AppointmentSeries
from calendar_app.services import appointment_link
from packages.models import ClientPackage
from tests.factories import ClientFactory, next_local

V1 = "/api/v1"


def _booking(practice, **extra):
    return {
        "client": practice.client.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "service": practice.follow_up.pk,
        "starts_at": next_local(hour=10, days=3).isoformat(),
        **extra,
    }


def _url(appointment, action=""):
    return f"{V1}/appointments/{appointment.pk}/{action}"


def _remaining(client_package):
    client_package.refresh_from_db()
    return client_package.remaining


def test_book_in_the_practices_time_zone(as_reception, practice):
    response = as_reception.post(
        f"{V1}/appointments/",
        _booking(practice, starts_at=next_local(hour=10, days=3).replace(tzinfo=None).isoformat()),
    )
    assert response.status_code == 201
    body = response.json()
    local = timezone.localtime(next_local(hour=10, days=3))
    assert body["starts_at"] == local.isoformat()
    assert body["ends_at"] == (local + dt.timedelta(minutes=30)).isoformat()
    assert (body["status"], body["client_package"], body["series"]) == ("booked", None, None)


def test_book_with_a_package_consumes_a_credit(as_reception, practice):
    sold = practice.sell(practice.fixed)
    response = as_reception.post(f"{V1}/appointments/", _booking(practice, client_package=sold.pk))
    assert response.status_code == 201
    assert response.json()["client_package"] == sold.pk
    assert _remaining(sold) == 3


def test_booking_refusals(as_reception, practice):
    sold = practice.sell(practice.fixed)
    massage = as_reception.post(
        f"{V1}/appointments/",
        _booking(practice, service=practice.massage.pk, client_package=sold.pk),
    )
    assert (massage.status_code, massage.json()["code"]) == (409, "service_not_covered")
    late = as_reception.post(
        f"{V1}/appointments/",
        _booking(
            practice,
            client_package=sold.pk,
            starts_at=timezone.make_aware(
                dt.datetime.combine(sold.expires_on + dt.timedelta(days=1), dt.time(10))
            ).isoformat(),
        ),
    )
    assert (late.status_code, late.json()["code"]) == (409, "package_expired")
    first = as_reception.post(f"{V1}/appointments/", _booking(practice))
    assert first.status_code == 201
    clash = as_reception.post(f"{V1}/appointments/", _booking(practice))
    assert (clash.status_code, clash.json()["code"]) == (409, "overlap")
    assert Appointment.objects.count() == 1
    assert _remaining(sold) == 4


def test_no_credits_left(as_reception, practice):
    sold = practice.sell(practice.fixed)
    initial = {"service": practice.initial.pk, "client_package": sold.pk}
    assert (
        as_reception.post(f"{V1}/appointments/", _booking(practice, **initial)).status_code == 201
    )
    response = as_reception.post(
        f"{V1}/appointments/",
        _booking(practice, **initial, starts_at=next_local(hour=14, days=3).isoformat()),
    )
    assert (response.status_code, response.json()["code"]) == (409, "no_credits_left")


def test_book_a_series(as_reception, practice):
    start = next_local(hour=9, days=7)
    response = as_reception.post(
        f"{V1}/appointments/",
        _booking(
            practice,
            starts_at=start.isoformat(),
            repeat={"every_weeks": 1, "weekdays": [start.weekday()], "count": 4},
        ),
    )
    assert response.status_code == 201
    body = response.json()
    series = AppointmentSeries.objects.get(pk=body["series"])
    assert series.appointments.count() == 4
    assert body["id"] == series.appointments.order_by("starts_at").first().pk


def test_a_series_cannot_use_a_package(as_reception, practice):
    sold = practice.sell(practice.flexible)
    start = next_local(hour=9, days=7)
    response = as_reception.post(
        f"{V1}/appointments/",
        _booking(
            practice,
            starts_at=start.isoformat(),
            client_package=sold.pk,
            repeat={"every_weeks": 1, "weekdays": [start.weekday()], "count": 4},
        ),
    )
    assert (response.status_code, response.json()["code"]) == (409, "repeating_appointment")
    assert not Appointment.objects.exists()
    assert not AppointmentSeries.objects.exists()
    assert _remaining(sold) == 5


def test_a_series_reaching_a_time_the_clocks_skip_is_refused(as_reception, practice):
    response = as_reception.post(
        f"{V1}/appointments/",
        _booking(
            practice,
            starts_at="2027-09-26T02:30:00+10:00",  # Sydney skips 02:30 on 3 Oct 2027
            repeat={"every_weeks": 1, "weekdays": [6], "count": 3},
        ),
    )
    body = response.json()
    assert (response.status_code, body["code"]) == (409, "time_in_dst_gap")
    assert "Sun 3 Oct 2027" in body["detail"]
    assert not Appointment.objects.exists()


def test_a_series_must_repeat_sensibly(as_reception, practice):
    for repeat in (
        {"every_weeks": 5, "weekdays": [0], "count": 2},
        {"every_weeks": 1, "weekdays": [], "count": 2},
        {"every_weeks": 1, "weekdays": [7], "count": 2},
        {"every_weeks": 1, "weekdays": [0], "count": 105},
    ):
        response = as_reception.post(f"{V1}/appointments/", _booking(practice, repeat=repeat))
        assert response.status_code == 400, repeat
        assert "repeat" in response.json()


def test_list_filters(as_reception, practice):
    tomorrow = practice.book(by=None, days=1)
    later = practice.book(by=None, days=5)
    other = practice.book(by=None, days=5, hour=15, client=ClientFactory())

    def ids(**query):
        response = as_reception.get(f"{V1}/appointments/", query)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    day = timezone.localdate()
    assert ids() == [tomorrow.pk, later.pk, other.pk]
    assert ids(client=practice.client.pk) == [tomorrow.pk, later.pk]
    assert ids(start=str(day + dt.timedelta(days=2))) == [later.pk, other.pk]
    assert ids(end=str(day + dt.timedelta(days=1))) == [tomorrow.pk]
    assert ids(start=next_local(hour=12, days=5).isoformat()) == [other.pk]
    assert ids(status="canceled") == []
    assert ids(ordering="-starts_at") == [other.pk, later.pk, tomorrow.pk]


def test_edit_details(as_reception, practice):
    appointment = practice.book(by=None)
    response = as_reception.patch(
        _url(appointment), {"notes": "Bring scans", "service": practice.initial.pk}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["notes"], body["service"]) == ("Bring scans", practice.initial.pk)
    expected_end = timezone.localtime(appointment.starts_at + dt.timedelta(minutes=45))
    assert body["ends_at"] == expected_end.isoformat()


def test_edit_refusals(as_reception, practice):
    sold = practice.sell(practice.fixed)
    linked = practice.book(by=None)
    appointment_link(appointment=linked, client_package=sold, by=None)
    response = as_reception.patch(_url(linked), {"client_package": None, "status": "missed"})
    assert response.status_code == 400
    assert set(response.json()) == {"client_package", "status"}
    response = as_reception.patch(_url(linked), {"service": practice.massage.pk})
    assert (response.status_code, response.json()["code"]) == (409, "unlink_first")
    other = practice.book(by=None, days=4)
    response = as_reception.patch(_url(other), {"starts_at": linked.starts_at.isoformat()})
    assert (response.status_code, response.json()["code"]) == (409, "overlap")


def test_delete_gives_the_credit_back(as_reception, practice):
    sold = practice.sell(practice.fixed)
    linked = practice.book(by=None)
    appointment_link(appointment=linked, client_package=sold, by=None)
    assert as_reception.delete(_url(linked)).status_code == 204
    assert not Appointment.objects.filter(pk=linked.pk).exists()
    assert _remaining(sold) == 4
    assert as_reception.delete(_url(linked)).status_code == 404


def test_an_invoiced_appointment_cannot_be_deleted(as_reception, practice):
    appointment = practice.book(by=None)
    assert as_reception.post(_url(appointment, "invoice/")).status_code == 201
    response = as_reception.delete(_url(appointment))
    assert (response.status_code, response.json()["code"]) == (409, "appointment_invoiced")


def test_link_and_unlink(as_practitioner, practice):
    sold = practice.sell(practice.fixed)
    appointment = practice.book(by=None)
    response = as_practitioner.post(
        _url(appointment, "link/"),
        {"client_package": sold.pk, "service": practice.initial.pk},
    )
    assert response.status_code == 200
    assert (response.json()["client_package"], response.json()["service"]) == (
        sold.pk,
        practice.initial.pk,
    )
    again = as_practitioner.post(_url(appointment, "link/"), {"client_package": sold.pk})
    assert (again.status_code, again.json()["code"]) == (409, "already_linked")

    response = as_practitioner.post(_url(appointment, "unlink/"))
    assert response.status_code == 200
    assert response.json()["client_package"] is None
    assert _remaining(sold) == 4
    again = as_practitioner.post(_url(appointment, "unlink/"))
    assert (again.status_code, again.json()["code"]) == (409, "not_linked")


def test_link_refusals(as_reception, practice, reception):
    sold = practice.sell(practice.flexible)
    start = next_local(hour=9, days=7)
    response = as_reception.post(
        f"{V1}/appointments/",
        _booking(
            practice,
            starts_at=start.isoformat(),
            repeat={"every_weeks": 1, "weekdays": [start.weekday()], "count": 2},
        ),
    )
    occurrence = Appointment.objects.get(pk=response.json()["id"])
    refused = as_reception.post(_url(occurrence, "link/"), {"client_package": sold.pk})
    assert (refused.status_code, refused.json()["code"]) == (409, "repeating_appointment")

    someone_else = practice.book(by=None, client=ClientFactory(), days=2)
    refused = as_reception.post(_url(someone_else, "link/"), {"client_package": sold.pk})
    assert (refused.status_code, refused.json()["code"]) == (409, "package_other_client")

    assert as_reception.post(_url(someone_else, "link/"), {}).status_code == 400
    assert _remaining(sold) == 5
    assert ClientPackage.objects.get(pk=sold.pk).consumed == 0


def test_cancel_releases_the_credit_unless_kept(as_reception, practice):
    sold = practice.sell(practice.flexible)
    first = practice.book(by=None, days=1)
    second = practice.book(by=None, days=2)
    for appointment in (first, second):
        appointment_link(appointment=appointment, client_package=sold, by=None)

    response = as_reception.post(_url(first, "cancel/"), {"reason": practice.reason.pk})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["client_package"]) == ("canceled", None)
    assert _remaining(sold) == 4

    response = as_reception.post(
        _url(second, "cancel/"), {"reason": practice.reason.pk, "keep_credit": True}
    )
    assert (response.json()["client_package"], response.json()["kept_credit"]) == (sold.pk, True)
    assert _remaining(sold) == 4

    again = as_reception.post(_url(first, "cancel/"), {"reason": practice.reason.pk})
    assert (again.status_code, again.json()["code"]) == (409, "appointment_canceled")
    assert as_reception.post(_url(first, "cancel/"), {}).status_code == 400


def test_a_past_appointment_is_missed_not_canceled(as_reception, practice):
    past = practice.book(by=None, days=-1)
    refused = as_reception.post(_url(past, "cancel/"), {"reason": practice.reason.pk})
    assert (refused.status_code, refused.json()["code"]) == (409, "past_appointment")
    response = as_reception.post(_url(past, "missed/"))
    assert (response.status_code, response.json()["status"]) == (200, "missed")


def test_arrived_and_missed_wait_for_the_appointment(as_reception, practice):
    future = practice.book(by=None, days=2)
    for action in ("arrived/", "missed/"):
        response = as_reception.post(_url(future, action))
        assert (response.status_code, response.json()["code"]) == (409, "not_yet")
    past = practice.book(by=None, days=-1)
    response = as_reception.post(_url(past, "arrived/"))
    assert (response.status_code, response.json()["status"]) == (200, "arrived")


def test_invoice_a_linked_appointment_is_covered_by_the_package(as_reception, practice):
    sold = practice.sell(practice.fixed)
    appointment = practice.book(by=None)
    appointment_link(appointment=appointment, client_package=sold, by=None)
    response = as_reception.post(_url(appointment, "invoice/"))
    assert response.status_code == 201
    line = response.json()["lines"][0]
    assert line["description"] == "Physio follow-up — Covered by package: Physio Starter Pack"
    assert (line["unit_price"], line["appointment"]) == ("0.00", appointment.pk)
    again = as_reception.post(_url(appointment, "invoice/"))
    assert (again.status_code, again.json()["code"]) == (409, "already_invoiced")


def test_a_canceled_appointment_is_not_invoiced(as_reception, practice):
    appointment = practice.book(by=None)
    as_reception.post(_url(appointment, "cancel/"), {"reason": practice.reason.pk})
    response = as_reception.post(_url(appointment, "invoice/"))
    assert (response.status_code, response.json()["code"]) == (409, "appointment_canceled")


def test_unlink_and_edit_in_one_step(as_practitioner, practice):
    sold = practice.sell(practice.fixed)
    appointment = practice.book(by=None)
    appointment_link(appointment=appointment, client_package=sold, by=None)
    other = ClientFactory()
    response = as_practitioner.post(
        _url(appointment, "unlink-and-edit/"),
        {"client": other.pk, "service": practice.massage.pk, "notes": "Paid at the desk"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["client_package"], body["client"], body["service"], body["notes"]) == (
        None,
        other.pk,
        practice.massage.pk,
        "Paid at the desk",
    )
    assert _remaining(sold) == 4


def test_unlink_and_edit_refusals_change_nothing(as_reception, practice):
    sold = practice.sell(practice.fixed)
    appointment = practice.book(by=None)
    appointment_link(appointment=appointment, client_package=sold, by=None)
    busy = practice.book(by=None, days=2)
    response = as_reception.post(
        _url(appointment, "unlink-and-edit/"), {"starts_at": busy.starts_at.isoformat()}
    )
    assert (response.status_code, response.json()["code"]) == (409, "overlap")
    appointment.refresh_from_db()
    assert appointment.client_package_id == sold.pk
    assert _remaining(sold) == 3

    refused = as_reception.post(_url(busy, "unlink-and-edit/"), {"notes": "x"})
    assert (refused.status_code, refused.json()["code"]) == (409, "not_linked")
    busy.refresh_from_db()
    assert busy.notes == ""

    bad = as_reception.post(_url(appointment, "unlink-and-edit/"), {"status": "missed"})
    assert bad.status_code == 400
    appointment.refresh_from_db()
    assert appointment.client_package_id == sold.pk


def test_unlink_and_edit_needs_the_edit_permission(as_accountant, practice):
    sold = practice.sell(practice.fixed)
    appointment = practice.book(by=None)
    appointment_link(appointment=appointment, client_package=sold, by=None)
    response = as_accountant.post(_url(appointment, "unlink-and-edit/"), {"notes": "x"})
    assert response.status_code == 403
    assert _remaining(sold) == 3
