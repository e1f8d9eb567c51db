"""Issue 11: moving an appointment on the calendar (drag, resize, Undo) goes through
`appointment_edit` with its rules; working hours (Settings) shade the grid, fill in the
location of a clicked slot, and make a booking outside them ask first."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendar_app.grid import build_grid
from calendar_app.models import Appointment, WorkingHours
from calendar_app.selectors import outside_working_hours, working_hours_of
from calendar_app.services import appointment_edit, working_hours_set
from kernel.errors import DomainError
from tests.factories import ClientFactory, LocationFactory, PractitionerFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
T = dt.time


def _monday(weeks: int = 1) -> dt.date:
    today = timezone.localdate()
    return today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=weeks)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, T(hour, minute)))


def _wall(day: dt.date, hour: int, minute: int = 0) -> str:
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}"


@pytest.fixture
def staff(client, reception):
    client.force_login(reception)
    return client


def _nine_to_five(practice, *, days=range(5), location=None):
    return working_hours_set(
        practitioner=practice.practitioner,
        hours=[(d, location or practice.location, T(9), T(17)) for d in days],
        by=None,
    )


def _move(staff, appointment, **data):
    return staff.post(reverse("calendar_app:move", args=[appointment.pk]), data, **HTMX)


def _triggers(response) -> dict:
    raw = response.headers.get("HX-Trigger")
    return json.loads(raw) if raw and raw.startswith("{") else {raw: None} if raw else {}


# ------------------------------------------------------------------ moves: the service


def test_a_move_keeps_the_duration_and_a_resize_changes_only_the_end(practice, reception):
    monday = _monday()
    appointment = practice.book(by=reception, starts_at=_at(monday, 10))
    appointment_edit(
        appointment=appointment, starts_at=_at(monday + dt.timedelta(days=1), 14), by=reception
    )
    appointment.refresh_from_db()
    assert appointment.starts_at == _at(monday + dt.timedelta(days=1), 14)
    assert appointment.ends_at - appointment.starts_at == dt.timedelta(minutes=30)


def test_a_move_onto_another_booking_is_refused(practice, reception):
    monday = _monday()
    practice.book(by=reception, starts_at=_at(monday, 11), client=ClientFactory())
    appointment = practice.book(by=reception, starts_at=_at(monday, 10))
    with pytest.raises(DomainError) as refused:
        appointment_edit(appointment=appointment, starts_at=_at(monday, 11, 15), by=reception)
    assert refused.value.code == "overlap"
    appointment.refresh_from_db()
    assert appointment.starts_at == _at(monday, 10)


def test_a_move_past_the_linked_package_expiry_is_refused_with_its_reason(practice, reception):
    package = practice.sell()
    appointment = practice.book(by=reception, client_package=package)
    later = appointment.starts_at + dt.timedelta(days=200)
    with pytest.raises(DomainError) as refused:
        appointment_edit(appointment=appointment, starts_at=later, by=reception)
    assert refused.value.code == "unlink_first"
    assert package.name in refused.value.message


# ------------------------------------------------------------------ moves: the page


def test_dragging_moves_the_appointment_and_offers_undo(staff, practice, reception):
    monday = _monday()
    appointment = practice.book(by=reception, starts_at=_at(monday, 10))
    other = PractitionerFactory(name="Ana Osteo")
    response = _move(staff, appointment, start=_wall(monday, 13, 15), practitioner=other.pk)
    assert response.status_code == 200
    assert "calendarChanged" in _triggers(response)
    page = response.content.decode()
    assert "Moved Jo Citizen&#x27;s appointment to" in page and "with Ana Osteo" in page
    assert 'name="undo" value="1"' in page
    appointment.refresh_from_db()
    assert appointment.starts_at == _at(monday, 13, 15)
    assert appointment.ends_at == _at(monday, 13, 45)
    assert appointment.practitioner == other

    # Undo: the values the confirmation carries move it back through the same view.
    undo = _move(
        staff,
        appointment,
        start=_wall(monday, 10),
        end=_wall(monday, 10, 30),
        practitioner=practice.practitioner.pk,
        undo="1",
    )
    assert undo.status_code == 200
    assert "Move undone." in undo.content.decode()
    assert 'name="undo"' not in undo.content.decode()
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.practitioner) == (
        _at(monday, 10),
        practice.practitioner,
    )


def test_resizing_changes_the_end(staff, practice, reception):
    monday = _monday()
    appointment = practice.book(by=reception, starts_at=_at(monday, 10))
    response = _move(staff, appointment, start=_wall(monday, 10), end=_wall(monday, 11, 15))
    assert response.status_code == 200
    assert "now ends at 11:15" in response.content.decode()
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.ends_at) == (_at(monday, 10), _at(monday, 11, 15))


def test_a_refused_move_says_why_and_the_calendar_snaps_back(staff, practice, reception):
    monday = _monday()
    practice.book(by=reception, starts_at=_at(monday, 11), client=ClientFactory())
    appointment = practice.book(by=reception, starts_at=_at(monday, 10))
    response = _move(staff, appointment, start=_wall(monday, 11))
    assert response.status_code == 409
    assert "already has an appointment at that time" in response.content.decode()
    assert "calendarChanged" in _triggers(response)  # the grid redraws it where it is
    appointment.refresh_from_db()
    assert appointment.starts_at == _at(monday, 10)


def test_a_move_that_would_unmatch_the_package_is_refused_with_its_reason(
    staff, practice, reception
):
    package = practice.sell()
    appointment = practice.book(by=reception, client_package=package)
    later = timezone.localdate(appointment.starts_at) + dt.timedelta(days=200)
    response = _move(staff, appointment, start=_wall(later, 10), outside_ok="1")
    assert response.status_code == 409
    page = response.content.decode()
    assert package.name in page and "Unlink the package first" in page
    appointment.refresh_from_db()
    assert appointment.client_package == package


def test_a_move_to_a_time_the_clocks_skip_is_refused(staff, practice, reception, settings):
    settings.TIME_ZONE = "Australia/Sydney"
    appointment = practice.book(by=reception)
    response = _move(staff, appointment, start="2031-10-05T02:30")  # clocks go 02:00 → 03:00
    assert response.status_code == 400
    assert "does not exist" in response.content.decode()
    assert Appointment.objects.get(pk=appointment.pk).starts_at == appointment.starts_at


def test_junk_from_the_grid_is_a_400_never_a_500(staff, practice, reception):
    appointment = practice.book(by=reception)
    for data in ({"start": "soon"}, {}, {"start": _wall(_monday(), 10), "practitioner": "x"}):
        assert _move(staff, appointment, **data).status_code == 400


def test_the_accountant_cannot_move_appointments(client, accountant, practice, reception):
    appointment = practice.book(by=reception)
    client.force_login(accountant)
    response = _move(client, appointment, start=_wall(_monday(), 12))
    assert response.status_code == 403
    assert Appointment.objects.get(pk=appointment.pk).starts_at == appointment.starts_at


def test_a_move_outside_working_hours_asks_first(staff, practice, reception):
    _nine_to_five(practice)
    monday = _monday()
    appointment = practice.book(by=reception, starts_at=_at(monday, 10))
    asked = _move(staff, appointment, start=_wall(monday, 18))
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "outside Sam Physio&#x27;s working hours (Monday: 09:00–17:00 at Main Street)" in page
    assert "Move anyway" in page and 'name="outside_ok" value="1"' in page
    assert "calendarChanged" not in _triggers(asked)  # the block stays where it was dropped
    assert Appointment.objects.get(pk=appointment.pk).starts_at == _at(monday, 10)

    confirmed = _move(staff, appointment, start=_wall(monday, 18), outside_ok="1")
    assert confirmed.status_code == 200
    assert Appointment.objects.get(pk=appointment.pk).starts_at == _at(monday, 18)


# ------------------------------------------------------------------ working hours


def test_working_hours_are_saved_and_replaced_keeping_unchanged_stretches(practice, admin_user):
    _nine_to_five(practice, days=[0, 1])
    kept = WorkingHours.objects.get(practitioner=practice.practitioner, weekday=0)
    north = LocationFactory(name="North")
    hours = working_hours_set(
        practitioner=practice.practitioner,
        hours=[
            (0, practice.location, T(9), T(17)),
            (2, practice.location, T(8), T(12)),
            (2, north, T(13), T(18)),
        ],
        by=admin_user,
    )
    assert [(h.weekday, h.location.name, h.starts, h.ends) for h in hours] == [
        (0, "Main Street", T(9), T(17)),
        (2, "Main Street", T(8), T(12)),
        (2, "North", T(13), T(18)),
    ]
    assert WorkingHours.objects.filter(pk=kept.pk).exists()  # unchanged: not rewritten


@pytest.mark.parametrize(
    "hours, code",
    [
        ([(0, T(12), T(9))], "invalid_hours"),
        ([(0, T(9), T(13)), (0, T(12), T(17))], "hours_overlap"),
        ([(7, T(9), T(17))], "invalid_hours"),
    ],
)
def test_bad_working_hours_are_refused_and_nothing_changes(practice, admin_user, hours, code):
    _nine_to_five(practice, days=[4])
    with pytest.raises(DomainError) as refused:
        working_hours_set(
            practitioner=practice.practitioner,
            hours=[(d, practice.location, s, e) for d, s, e in hours],
            by=admin_user,
        )
    assert refused.value.code == code
    assert list(WorkingHours.objects.values_list("weekday", flat=True)) == [4]


def test_only_an_admin_sets_working_hours(practice, reception):
    with pytest.raises(DomainError) as refused:
        working_hours_set(practitioner=practice.practitioner, hours=[], by=reception)
    assert refused.value.code == "permission_denied"


def test_outside_working_hours_in_words(practice):
    monday = _monday()
    who = practice.practitioner
    assert (
        outside_working_hours(
            practitioner=who, location=None, starts_at=_at(monday, 20), ends_at=_at(monday, 21)
        )
        is None
    ), "without working hours nothing is outside"
    _nine_to_five(practice)
    north = LocationFactory(name="North")

    def outside(start, end, location=practice.location, day=monday):
        return outside_working_hours(
            practitioner=who, location=location, starts_at=_at(day, *start), ends_at=_at(day, *end)
        )

    assert outside((9, 0), (17, 0)) is None
    assert outside((16, 45), (17, 15)).startswith("This is outside Sam Physio's working hours")
    assert outside((8, 30), (9, 30)) is not None
    assert outside((10, 0), (11, 0), location=north) is not None
    saturday = monday + dt.timedelta(days=5)
    assert outside((10, 0), (11, 0), day=saturday) == "Sam Physio doesn't work on Saturdays."


def test_the_grid_shades_closed_hours_and_slots_carry_the_location(practice):
    north = LocationFactory(name="North")
    working_hours_set(
        practitioner=practice.practitioner,
        hours=[(0, practice.location, T(9), T(12)), (0, north, T(13), T(17))],
        by=None,
    )
    monday = _monday()
    grid = build_grid(
        days=[monday],
        practitioners=[practice.practitioner],
        appointments=[],
        by_day=False,
        today=timezone.localdate(),
        working_hours=working_hours_of([practice.practitioner.pk]),
    )
    cells = {cell.time: cell for cell in grid.columns[0].cells}
    assert cells["08:45"].closed and cells["12:00"].closed and cells["17:00"].closed
    assert not cells["09:00"].closed and not cells["13:00"].closed
    assert f"location={practice.location.pk}" in cells["09:00"].query
    assert f"location={north.pk}" in cells["16:45"].query
    assert "location=" not in cells["12:30"].query  # closed: staff choose


def test_clicking_a_slot_in_all_locations_fills_in_the_location(staff, practice):
    _nine_to_five(practice)
    page = staff.get(reverse("calendar_app:calendar"), {"date": _monday().isoformat()})
    html = page.content.decode()
    expected = f"practitioner={practice.practitioner.pk}&amp;location={practice.location.pk}&amp;start={_monday().isoformat()}T10:00"
    assert expected in html
    assert "cal__slot--closed" in html
    form = staff.get(
        reverse("calendar_app:create"),
        {
            "practitioner": practice.practitioner.pk,
            "location": practice.location.pk,
            "start": _wall(_monday(), 10),
        },
    )
    assert f'<option value="{practice.location.pk}" selected>' in form.content.decode()


def _booking(practice, day, time):
    return {
        "client": practice.client.pk,
        "service": practice.follow_up.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "date": day.isoformat(),
        "start_time": time,
        "end_time": "",
        "notes": "",
    }


def test_booking_outside_working_hours_asks_then_books(staff, practice):
    _nine_to_five(practice)
    data = _booking(practice, _monday(), "18:00")
    asked = staff.post(reverse("calendar_app:create"), data, **HTMX)
    assert asked.status_code == 409
    page = asked.content.decode()
    assert "outside Sam Physio&#x27;s working hours" in page and "Book anyway" in page
    assert not Appointment.objects.exists()
    booked = staff.post(reverse("calendar_app:create"), {**data, "outside_hours_ok": "1"}, **HTMX)
    assert booked.status_code == 200
    assert Appointment.objects.get().starts_at == _at(_monday(), 18)


def test_booking_inside_working_hours_does_not_ask(staff, practice):
    _nine_to_five(practice)
    response = staff.post(
        reverse("calendar_app:create"), _booking(practice, _monday(), "10:00"), **HTMX
    )
    assert response.status_code == 200
    assert Appointment.objects.count() == 1


# ------------------------------------------------------------------ colours, now, queries


def test_blocks_use_the_practitioner_colour_from_settings(staff, practice, reception):
    practice.practitioner.colour = "#aa3377"
    practice.practitioner.save()
    practice.book(by=reception, days=0, hour=12)
    page = staff.get(reverse("calendar_app:calendar")).content.decode()
    assert f"cal__appt cal__appt--booked cal-p{practice.practitioner.pk}" in page
    assert "Main Street" in page  # the location on the block
    css = staff.get(reverse("calendar_app:colours"))
    assert css["Content-Type"].startswith("text/css")
    assert f".cal-p{practice.practitioner.pk} {{ --cal-colour: #aa3377; }}" in css.content.decode()


def test_the_current_time_line_is_on_today(client, reception, practice, settings):
    import time_machine

    settings.TIME_ZONE = "Australia/Sydney"
    day = dt.date(2030, 3, 4)
    with time_machine.travel(timezone.make_aware(dt.datetime(2030, 3, 4, 10, 40)), tick=False):
        client.force_login(reception)
        page = client.get(reverse("calendar_app:calendar"), {"date": day.isoformat()})
        later = client.get(reverse("calendar_app:calendar"), {"date": "2030-03-05"})
    # 07:00 is row 1: 10:30 is row 15, and 10:40 is 10 minutes into it.
    assert 'class="cal__now cal-r15 cal__now--o10"' in page.content.decode()
    assert "cal-today-tag" in page.content.decode()
    assert "cal__now" not in later.content.decode()  # another day: no line


def test_calendar_queries_do_not_grow_with_appointments_or_working_hours(
    staff, practice, reception
):
    url = reverse("calendar_app:calendar")
    others = [PractitionerFactory() for _ in range(3)]
    for person in [practice.practitioner, *others]:
        working_hours_set(
            practitioner=person,
            hours=[(d, practice.location, T(9), T(17)) for d in range(5)],
            by=None,
        )
    day = timezone.localdate() + dt.timedelta(days=1)

    def fill(count, first=0):
        for index in range(first, first + count):
            practice.book(
                by=reception,
                starts_at=_at(day, 7) + dt.timedelta(minutes=15 * index),
                practitioner=[practice.practitioner, *others][index % 4],
                client=ClientFactory(),
            )

    fill(4)
    params = {"date": day.isoformat()}
    staff.get(url, params)
    with CaptureQueriesContext(connection) as few:
        assert staff.get(url, params).status_code == 200
    fill(36, first=4)
    with CaptureQueriesContext(connection) as many:
        assert staff.get(url, params).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


# ------------------------------------------------------------------ the Settings page


def test_settings_page_saves_working_hours(client, admin_user, practice):
    client.force_login(admin_user)
    url = reverse("settings:practitioner_hours", args=[practice.practitioner.pk])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "d0_1_location": practice.location.pk,
            "d0_1_starts": "09:00",
            "d0_1_ends": "17:00",
            "d2_1_starts": "08:00",  # one location: it is the one
            "d2_1_ends": "12:00",
        },
    )
    assert response.status_code == 302
    assert list(
        WorkingHours.objects.order_by("weekday").values_list("weekday", "location", "starts")
    ) == [(0, practice.location.pk, T(9)), (2, practice.location.pk, T(8))]


def test_settings_page_shows_a_refusal_beside_the_day(client, admin_user, practice):
    client.force_login(admin_user)
    LocationFactory(name="North")
    url = reverse("settings:practitioner_hours", args=[practice.practitioner.pk])
    response = client.post(
        url,
        {
            "d1_1_location": practice.location.pk,
            "d1_1_starts": "09:00",
            "d1_1_ends": "13:00",
            "d1_2_location": practice.location.pk,
            "d1_2_starts": "12:00",
            "d1_2_ends": "17:00",
            "d3_1_starts": "09:00",  # two locations: where?
        },
    )
    assert response.status_code in (400, 409)
    page = response.content.decode()
    assert "Choose where." in page or "overlap" in page
    assert not WorkingHours.objects.exists()
    response = client.post(
        url,
        {
            "d1_1_location": practice.location.pk,
            "d1_1_starts": "09:00",
            "d1_1_ends": "13:00",
            "d1_2_location": practice.location.pk,
            "d1_2_starts": "12:00",
            "d1_2_ends": "17:00",
        },
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "Tuesday: 09:00–13:00 and 12:00–17:00 overlap." in page
    assert 'aria-invalid="true"' in page


def test_reception_cannot_open_working_hours(client, reception, practice):
    client.force_login(reception)
    url = reverse("settings:practitioner_hours", args=[practice.practitioner.pk])
    assert client.get(url).status_code in (302, 403)
