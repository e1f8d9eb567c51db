"""Issue 10: the calendar keeps its practitioners, locations and working hours per process
under the settings version, which a trigger bumps in the same transaction as any change of
them: a calendar reads none of them, and never shows a stale one."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import Location, Practitioner, WorkingHours
from tests.factories import LocationFactory

pytestmark = pytest.mark.django_db

TABLES = ('"calendar_app_practitioner"', '"calendar_app_location"', '"calendar_app_workinghours"')


@pytest.fixture
def staff(client, reception):
    client.force_login(reception)
    return client


def _day(staff) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = staff.get(reverse("calendar_app:calendar"))
    assert response.status_code == 200
    return response.content.decode(), [q["sql"] for q in queries.captured_queries]


def _reads_kept_tables(sql: list[str]) -> list[str]:
    return [s for s in sql if any(f"FROM {table}" in s for table in TABLES)]


def test_a_calendar_reads_no_practitioner_location_or_hours_once_kept(staff, practice):
    _day(staff)
    html, sql = _day(staff)
    assert "Sam Physio" in html and "Main Street" in html
    assert not _reads_kept_tables(sql), sql


def test_a_change_of_practitioner_location_or_hours_shows_on_the_next_request(staff, practice):
    _day(staff)
    Practitioner.objects.filter(pk=practice.practitioner.pk).update(name="Sam Renamed")
    html, sql = _day(staff)
    assert "Sam Renamed" in html and "Sam Physio" not in html
    assert _reads_kept_tables(sql)

    LocationFactory(name="North Annex")
    html, _ = _day(staff)
    assert "North Annex" in html
    Location.objects.filter(name="North Annex").update(archived=True)
    html, _ = _day(staff)
    assert "North Annex" not in html

    assert "cal__slot--closed" not in _day(staff)[0]
    hours = WorkingHours.objects.create(
        practitioner=practice.practitioner,
        location=practice.location,
        weekday=timezone.localdate().weekday(),
        starts=dt.time(9),
        ends=dt.time(12),
    )
    assert "cal__slot--closed" in _day(staff)[0]
    hours.delete()
    assert "cal__slot--closed" not in _day(staff)[0]

    Practitioner.objects.filter(pk=practice.practitioner.pk).update(archived=True)
    html, _ = _day(staff)
    assert f'data-practitioner="{practice.practitioner.pk}"' not in html


def test_what_a_rolled_back_change_showed_is_not_kept(staff, practice):
    _day(staff)
    with pytest.raises(RuntimeError), transaction.atomic():
        Practitioner.objects.filter(pk=practice.practitioner.pk).update(name="Sam Uncommitted")
        assert "Sam Uncommitted" in _day(staff)[0]  # its own transaction sees it
        raise RuntimeError("roll back")
    html, _ = _day(staff)
    assert "Sam Physio" in html and "Sam Uncommitted" not in html
