"""Issue 10: the day view of a large practice shows its practitioners a page of columns at
a time (a practice of hundreds was one page of hundreds of columns), and loads only the
appointments of the page's practitioners; the practitioner list is built in Python."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendar_app.forms import CalendarFilterForm
from calendar_app.models import Practitioner
from calendar_app.views import ColumnPages
from kernel.web import QuickSelect
from tests.factories import ClientFactory, PractitionerFactory

pytestmark = pytest.mark.django_db

PER_PAGE = ColumnPages.size


@pytest.fixture
def staff(client, reception):
    client.force_login(reception)
    return client


def _columns(html: str) -> list[str]:
    """The practitioner ids of the grid's columns, in order."""
    return re.findall(r'data-cal-col data-day="[^"]+" data-practitioner="(\d+)"', html)


def _book_each(practice, reception, practitioners) -> dict[int, str]:
    """One appointment today at 10:00 for each practitioner; practitioner pk -> client name."""
    names = {}
    start = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(10)))
    for index, practitioner in enumerate(practitioners):
        client = ClientFactory(first_name=f"Columnclient{index:02d}")
        practice.book(by=reception, starts_at=start, practitioner=practitioner, client=client)
        names[practitioner.pk] = client.full_name
    return names


def test_a_small_practice_shows_every_practitioner_without_pages(staff, practice):
    PractitionerFactory.create_batch(PER_PAGE - 1)
    html = staff.get(reverse("calendar_app:calendar")).content.decode()
    assert len(_columns(html)) == PER_PAGE
    assert "Next practitioners" not in html
    assert "Practitioners 1–" not in html


def test_a_large_practice_pages_its_columns_by_name(staff, practice, reception):
    PractitionerFactory.create_batch(PER_PAGE + 3)  # with the practice's own: PER_PAGE + 4
    everyone = sorted(Practitioner.objects.all(), key=lambda p: (p.name.lower(), p.pk))
    names = _book_each(practice, reception, everyone)
    url = reverse("calendar_app:calendar")

    first = staff.get(url).content.decode()
    assert _columns(first) == [str(p.pk) for p in everyone[:PER_PAGE]]
    assert f"Practitioners 1–{PER_PAGE} of {PER_PAGE + 4}" in first
    assert "Next practitioners ›" in first and "Previous practitioners" not in first
    # Only the page's appointments: in the grid and in the List of appointments.
    assert f"List of appointments ({PER_PAGE})" in first
    assert names[everyone[0].pk] in first
    assert names[everyone[-1].pk] not in first

    second = staff.get(url, {"page": 2}).content.decode()
    assert _columns(second) == [str(p.pk) for p in everyone[PER_PAGE:]]
    assert f"Practitioners {PER_PAGE + 1}–{PER_PAGE + 4} of {PER_PAGE + 4}" in second
    assert "‹ Previous practitioners" in second and "Next practitioners" not in second
    assert names[everyone[-1].pk] in second
    assert names[everyone[0].pk] not in second
    # Today and the previous/next day keep the practitioners shown.
    for link in ("Today", "‹ Previous", "Next ›"):
        href = re.search(rf'href="([^"]*)"[^>]*>{link}<', second)
        assert href is not None and "page=2" in href.group(1), link

    # Junk or out-of-range pages: the nearest page, never an error.
    assert _columns(staff.get(url, {"page": "x"}).content.decode()) == _columns(first)
    assert _columns(staff.get(url, {"page": "-3"}).content.decode()) == _columns(first)
    assert _columns(staff.get(url, {"page": "99"}).content.decode()) == _columns(second)


def test_a_chosen_practitioner_or_the_week_is_not_paged(staff, practice, reception):
    PractitionerFactory.create_batch(PER_PAGE + 3)
    url = reverse("calendar_app:calendar")
    chosen = practice.practitioner.pk
    day = staff.get(url, {"practitioner": chosen, "page": 2}).content.decode()
    assert _columns(day) == [str(chosen)]
    week = staff.get(url, {"view": "week", "practitioner": chosen}).content.decode()
    assert _columns(week) == [str(chosen)] * 7
    assert "Next practitioners" not in day + week


def test_an_archived_practitioner_with_an_appointment_keeps_a_column(staff, practice, reception):
    gone = PractitionerFactory(name="Aaron Archived")
    idle = PractitionerFactory(name="Abby Archived")
    _book_each(practice, reception, [gone])
    Practitioner.objects.filter(pk__in=[gone.pk, idle.pk]).update(archived=True)
    html = staff.get(reverse("calendar_app:calendar")).content.decode()
    assert str(gone.pk) in _columns(html)
    assert str(idle.pk) not in _columns(html)
    # Not offered as a filter (archived), but shown. (Its id may be a location's too:
    # only the practitioner filter's options are looked at.)
    practitioners = re.search(r'<select[^>]*name="practitioner".*?</select>', html, re.S)
    assert practitioners is not None
    assert f'<option value="{gone.pk}"' not in practitioners.group(0)
    assert f'<option value="{practice.practitioner.pk}"' in practitioners.group(0)


def test_day_view_queries_do_not_grow_with_practitioners_or_pages(staff, practice, reception):
    url = reverse("calendar_app:calendar")
    staff.get(url)  # warm up (session, content types)
    with CaptureQueriesContext(connection) as few:
        assert staff.get(url).status_code == 200
    _book_each(practice, reception, PractitionerFactory.create_batch(3 * PER_PAGE))
    # (New practitioners are read once, then kept: calendar_app.selectors._kept.)
    staff.get(url)
    for page in (1, 2, 3):
        with CaptureQueriesContext(connection) as many:
            assert staff.get(url, {"page": page}).status_code == 200
        assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_quick_select_renders_what_django_select_does(practice):
    PractitionerFactory(name='Dr <b>"Quotes"</b> & Co')
    chosen = practice.practitioner.pk

    def options(widget_class) -> list[tuple[str, str, bool]]:
        form = CalendarFilterForm(initial={"practitioner": chosen})
        field = form.fields["practitioner"]
        field.widget = widget_class()
        field.widget.choices = field.choices
        html = str(form["practitioner"])
        assert 'name="practitioner"' in html and 'id="cal_practitioner"' in html
        return re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', html)

    assert options(QuickSelect) == options(forms.Select)
    assert any(selected for _, selected, _ in options(QuickSelect))
    labels = [label for _, _, label in options(QuickSelect)]
    assert "Dr &lt;b&gt;&quot;Quotes&quot;&lt;/b&gt; &amp; Co" in labels
