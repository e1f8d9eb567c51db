"""Issue 9, finding 7: a time that happens twice on the night the clocks go back
(Australia/Sydney, first Sunday of April, 02:00-03:00) is refused until staff say which
one (pages), or accepted only with its UTC offset (API); never silently the first."""

import datetime as dt
import re
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from calendar_app.models import Appointment
from kernel.time import ambiguous_local_time, ambiguous_occurrences, missing_local_time

SYDNEY = zoneinfo.ZoneInfo("Australia/Sydney")
UTC = dt.UTC


def _fall_back_day() -> dt.date:
    """The next day (after tomorrow) on which 02:30 happens twice in Sydney."""
    day = timezone.localdate() + dt.timedelta(days=2)
    while ambiguous_occurrences(dt.datetime.combine(day, dt.time(2, 30)), SYDNEY) is None:
        day += dt.timedelta(days=1)
    return day


def _moment(day: dt.date, hour: int, minute: int, offset_hours: int) -> dt.datetime:
    wall = dt.datetime.combine(day, dt.time(hour, minute))
    return (wall - dt.timedelta(hours=offset_hours)).replace(tzinfo=UTC)


def test_the_hour_the_clocks_repeat_is_named_with_both_zones():
    assert ambiguous_local_time(dt.datetime(2026, 4, 5, 2, 30), SYDNEY) == (
        "02:30 happens twice on 5 Apr 2026 (clocks go back). "
        "Choose 02:30 AEDT (first) or 02:30 AEST (second)."
    )
    first, second = ambiguous_occurrences(dt.datetime(2026, 4, 5, 2, 0), SYDNEY)
    assert second.astimezone(UTC) - first.astimezone(UTC) == dt.timedelta(hours=1)
    for once in (dt.datetime(2026, 4, 5, 1, 59), dt.datetime(2026, 4, 5, 3, 0)):
        assert ambiguous_local_time(once, SYDNEY) is None
    # The hour the clocks skip is the other problem, not this one.
    gap = dt.datetime(2026, 10, 4, 2, 30)
    assert ambiguous_local_time(gap, SYDNEY) is None
    assert missing_local_time(gap, SYDNEY) is not None


# ------------------------------------------------------------------ Create appointment


def _create_data(practice, day, start, **extra):
    return {
        "client": practice.client.pk,
        "service": practice.follow_up.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "date": day.isoformat(),
        "start_time": start,
        "every_weeks": "1",
        "count": "2",
        **extra,
    }


@pytest.mark.django_db
def test_create_appointment_asks_which_one_then_books_the_one_chosen(client, practice, reception):
    day = _fall_back_day()
    client.force_login(reception)
    url = reverse("calendar_app:create")
    asked = client.post(url, _create_data(practice, day, "02:30"))
    assert asked.status_code == 400
    html = asked.content.decode()
    assert "02:30 happens twice on" in html and "(clocks go back)" in html
    assert "02:30 AEDT (first)" in html and "02:30 AEST (second)" in html
    assert 'name="start_occurrence"' in html
    assert not Appointment.objects.exists()

    assert client.post(url, _create_data(practice, day, "02:30", start_occurrence="second"))
    second = Appointment.objects.get()
    assert second.starts_at == _moment(day, 2, 30, 10)  # AEST, +10:00
    assert second.ends_at == second.starts_at + dt.timedelta(minutes=30)
    second.delete()

    client.post(url, _create_data(practice, day, "02:30", start_occurrence="first"))
    assert Appointment.objects.get().starts_at == _moment(day, 2, 30, 11)  # AEDT, +11:00


@pytest.mark.django_db
def test_an_end_time_that_happens_twice_is_asked_too(client, practice, reception):
    day = _fall_back_day()
    client.force_login(reception)
    url = reverse("calendar_app:create")
    data = _create_data(practice, day, "01:45", end_time="02:15")
    asked = client.post(url, data)
    assert asked.status_code == 400
    assert "02:15 happens twice on" in asked.content.decode()
    assert 'name="end_occurrence"' in asked.content.decode()
    client.post(url, {**data, "end_occurrence": "second"})
    booked = Appointment.objects.get()
    assert booked.ends_at - booked.starts_at == dt.timedelta(minutes=90)


@pytest.mark.django_db
def test_a_repeat_that_reaches_the_repeated_hour_is_refused(client, practice, reception):
    fall_back = _fall_back_day()
    week_before = fall_back - dt.timedelta(days=7)
    if week_before <= timezone.localdate():
        pytest.skip("the week before the clocks go back is already past")
    client.force_login(reception)
    data = _create_data(
        practice, week_before, "02:30", repeat="on", weekdays=[str(week_before.weekday())]
    )
    refused = client.post(reverse("calendar_app:create"), data)
    assert refused.status_code == 409
    assert "a time that happens twice: the clocks go back that night" in refused.content.decode()
    assert not Appointment.objects.exists()


# ------------------------------------------------------------------ Edit details


@pytest.mark.django_db
def test_edit_details_keeps_the_second_occurrence_and_asks_when_moved_into_it(
    client, practice, reception
):
    day = _fall_back_day()
    appointment = practice.book(by=reception, starts_at=_moment(day, 2, 30, 10))
    client.force_login(reception)
    url = reverse("calendar_app:edit", args=[appointment.pk])
    shown = client.get(url).content.decode()
    assert re.search(r'name="start_occurrence" value="second"[^>]*checked', shown)
    assert "02:30 AEST (second)" in shown
    base = {
        "service": practice.follow_up.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "date": day.isoformat(),
        "start_time": "02:30",
        "end_time": "03:00",
    }
    # Only the notes change: the appointment stays at the second 02:30.
    saved = client.post(url, {**base, "notes": "Quiet room", "start_occurrence": "second"})
    assert saved.status_code == 302
    appointment.refresh_from_db()
    assert (appointment.notes, appointment.starts_at) == ("Quiet room", _moment(day, 2, 30, 10))
    # Moved to another time that happens twice, without saying which: asked, not moved.
    asked = client.post(url, {**base, "start_time": "02:10", "end_time": "02:40"})
    assert asked.status_code == 400
    assert "02:10 happens twice on" in asked.content.decode()
    appointment.refresh_from_db()
    assert appointment.starts_at == _moment(day, 2, 30, 10)


# ------------------------------------------------------------------ the API


@pytest.mark.django_db
def test_the_api_refuses_a_naive_time_that_happens_twice_and_takes_an_offset(practice, reception):
    day = _fall_back_day()
    api = APIClient()
    api.force_authenticate(reception)
    body = {
        "client": practice.client.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "service": practice.follow_up.pk,
    }
    naive = api.post("/api/v1/appointments/", {**body, "starts_at": f"{day}T02:30:00"})
    assert naive.status_code == 400
    message = str(naive.json())
    assert "happens twice" in message
    assert f"{day}T02:30:00+11:00 (first)" in message
    assert f"{day}T02:30:00+10:00 (second)" in message
    assert not Appointment.objects.exists()
    booked = api.post("/api/v1/appointments/", {**body, "starts_at": f"{day}T02:30:00+10:00"})
    assert booked.status_code == 201, booked.json()
    assert Appointment.objects.get().starts_at == _moment(day, 2, 30, 10)
    moved = api.patch(
        f"/api/v1/appointments/{booked.json()['id']}/", {"starts_at": f"{day}T02:45:00"}
    )
    assert moved.status_code == 400
    assert Appointment.objects.get().starts_at == _moment(day, 2, 30, 10)
