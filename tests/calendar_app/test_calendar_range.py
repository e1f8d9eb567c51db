"""The calendar reads its visible range by start time, bounded below by the longest an
appointment may last (a day): an appointment that began the evening before still shows,
and the database itself refuses one longer than a day (issue 10)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import Appointment
from kernel.errors import DomainError


@pytest.fixture
def staff(client, reception):
    client.force_login(reception)
    return client


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def test_an_appointment_begun_the_evening_before_shows_on_the_day(staff, practice, reception):
    day = timezone.localdate() + dt.timedelta(days=3)
    long_one = practice.book(
        by=reception,
        starts_at=_at(day - dt.timedelta(days=1), 9, 30),
        ends_at=_at(day - dt.timedelta(days=1), 9, 30) + dt.timedelta(hours=24),
    )
    page = staff.get(reverse("calendar_app:calendar"), {"date": day.isoformat()})
    html = page.content.decode()
    assert reverse("calendar_app:detail", args=[long_one.pk]) in html
    assert "List of appointments (1)" in html
    week = staff.get(
        reverse("calendar_app:calendar"),
        {"view": "week", "date": day.isoformat(), "practitioner": practice.practitioner.pk},
    )
    assert reverse("calendar_app:detail", args=[long_one.pk]) in week.content.decode()
    # A day later it has ended: not shown.
    after = staff.get(
        reverse("calendar_app:calendar"), {"date": (day + dt.timedelta(days=1)).isoformat()}
    )
    assert reverse("calendar_app:detail", args=[long_one.pk]) not in after.content.decode()


def test_an_appointment_longer_than_a_day_is_refused_by_the_service_and_the_database(
    practice, reception
):
    start = _at(timezone.localdate() + dt.timedelta(days=3), 9)
    with pytest.raises(DomainError, match="more than 24 hours"):
        practice.book(by=reception, starts_at=start, ends_at=start + dt.timedelta(hours=25))
    booked = practice.book(by=reception, starts_at=start)
    with pytest.raises(IntegrityError, match="appointment_at_most_a_day"), transaction.atomic():
        Appointment.objects.filter(pk=booked.pk).update(
            ends_at=start + dt.timedelta(days=1, minutes=1)
        )
