"""Classes on the calendar pages (issue 12): one block per session with "N of M", the
class panel with its attendees, Add attendee (the Create appointment form for the
session), "All arrived" and Arrived per person, "This class is full"."""

from __future__ import annotations

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import Appointment, AppointmentStatus
from calendar_app.services import appointment_cancel
from tests.factories import ClientFactory, PackageFactory, ServiceFactory
from tests.pages.test_calendar import HTMX, _booking, _day, _text

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, reception):
    client.force_login(reception)
    return client


@pytest.fixture
def pilates(practice):
    return ServiceFactory(name="Clinical pilates class", duration_minutes=60, capacity=3)


def _attend(practice, pilates, client=None, **kwargs):
    return practice.book(
        by=None, service=pilates, client=client or ClientFactory(), hour=9, **kwargs
    )


def _calendar(staff):
    return staff.get(reverse("calendar_app:calendar"), {"date": _day().isoformat()})


def test_a_class_is_one_block_with_its_places(staff, practice, pilates):
    first = _attend(practice, pilates)
    _attend(practice, pilates)
    page = _calendar(staff).content.decode()
    session_url = reverse("calendar_app:class_session", args=[first.class_session_id])
    assert page.count(f'data-class-session="{first.class_session_id}"') == 1
    assert "2 of 3 booked" in page
    assert f'href="{session_url}"' in page
    # the attendees have no block of their own (the list below the grid names them)
    assert page.count('class="cal__appt ') == 1


def test_the_calendar_query_count_does_not_grow_with_attendees(staff, practice, pilates):
    _attend(practice, pilates)
    # Warm before each count: a process keeps the calendar's lists between requests.
    _calendar(staff)
    with CaptureQueriesContext(connection) as one:
        _calendar(staff)
    _attend(practice, pilates)
    _attend(practice, pilates)
    _calendar(staff)
    with CaptureQueriesContext(connection) as three:
        _calendar(staff)
    assert len(three) == len(one)


def test_the_panel_lists_attendees_with_their_packages(staff, practice, pilates):
    pass_ = PackageFactory(name="Pilates 10-class pass", credits=10, services=[pilates])
    ann = ClientFactory(first_name="Ann", last_name="Able")
    bob = ClientFactory(first_name="Bob", last_name="Baker")
    first = _attend(practice, pilates, client=ann, client_package=practice.sell(pass_, client=ann))
    second = _attend(practice, pilates, client=bob)
    appointment_cancel(appointment=second, reason=practice.reason, by=None)
    url = reverse("calendar_app:class_session", args=[first.class_session_id])
    response = staff.get(url, **HTMX)
    text = _text(response)
    assert response.status_code == 200
    assert "Clinical pilates class" in text and "1 of 3 booked" in text
    assert "Ann Able Linked to package: Pilates 10-class pass Booked" in text
    assert "Bob Baker Client request Canceled" in text
    assert reverse("calendar_app:detail", args=[first.pk]) in response.content.decode()
    # the attendee's own panel leads back to the class
    panel = _text(staff.get(reverse("calendar_app:detail", args=[first.pk]), **HTMX))
    assert "1 of 3 booked — View class" in panel
    # without JavaScript the panel is a page
    assert "<html" in staff.get(url).content.decode()


def test_add_attendee_opens_create_appointment_for_the_session(staff, practice, pilates):
    first = _attend(practice, pilates)
    panel = staff.get(reverse("calendar_app:class_session", args=[first.class_session_id]))
    page = panel.content.decode()
    assert "Add attendee" in page
    local = timezone.localtime(first.starts_at)
    form = staff.get(
        reverse("calendar_app:create"),
        {
            "practitioner": practice.practitioner.pk,
            "location": practice.location.pk,
            "service": pilates.pk,
            "start": local.strftime("%Y-%m-%dT%H:%M"),
            "end": timezone.localtime(first.ends_at).strftime("%Y-%m-%dT%H:%M"),
        },
    ).content.decode()
    assert f'<option value="{pilates.pk}" selected>' in form
    assert 'value="09:00"' in form and 'value="10:00"' in form
    # booked through the form: the new client joins the session
    response = staff.post(
        reverse("calendar_app:create"),
        _booking(practice, service=pilates, time="09:00", client=ClientFactory().pk),
    )
    assert response.status_code == 302
    assert Appointment.objects.filter(class_session_id=first.class_session_id).count() == 2


def test_a_full_class_is_refused_in_the_form_and_offers_no_add(staff, practice, pilates):
    first = _attend(practice, pilates)
    _attend(practice, pilates)
    _attend(practice, pilates)
    panel = _text(staff.get(reverse("calendar_app:class_session", args=[first.class_session_id])))
    assert "Add attendee" not in panel and "This class is full (3 of 3)." in panel
    response = staff.post(
        reverse("calendar_app:create"),
        _booking(practice, service=pilates, time="09:00", client=ClientFactory().pk),
        **HTMX,
    )
    assert response.status_code == 409
    assert "This class is full (3 of 3)." in _text(response)
    assert Appointment.objects.count() == 3


def test_all_arrived_and_arrived_per_person(staff, practice, pilates, reception):
    attendees = [_attend(practice, pilates, days=0) for _ in range(3)]
    url = reverse("calendar_app:class_arrived", args=[attendees[0].class_session_id])
    with time_machine.travel(attendees[0].starts_at, tick=False):
        # Signed in at the class's time: a sign-in hours before it would have timed out.
        staff.force_login(reception)
        panel = staff.get(
            reverse("calendar_app:class_session", args=[attendees[0].class_session_id])
        )
        assert "All arrived" in _text(panel)
        one = staff.post(url, {"attendee": attendees[0].pk}, **HTMX)
        assert one.status_code == 200
        assert Appointment.objects.get(pk=attendees[0].pk).status == AppointmentStatus.ARRIVED
        everyone = staff.post(url, **HTMX)
    assert everyone.status_code == 200
    assert set(Appointment.objects.values_list("status", flat=True)) == {AppointmentStatus.ARRIVED}
    assert "All arrived" not in _text(everyone)


def test_all_arrived_before_the_day_says_why(staff, practice, pilates):
    attendees = [_attend(practice, pilates, days=3) for _ in range(2)]
    url = reverse("calendar_app:class_arrived", args=[attendees[0].class_session_id])
    response = staff.post(url, **HTMX)
    assert response.status_code == 409
    assert "can't be marked Arrived before the appointment's day" in _text(response)
    other = practice.book(by=None, hour=15)
    # an appointment outside the session is not found through it
    assert staff.post(url, {"attendee": other.pk}, **HTMX).status_code == 404


def test_read_only_roles_see_no_actions(client, practice, pilates, accountant):
    first = _attend(practice, pilates, days=0)
    url = reverse("calendar_app:class_session", args=[first.class_session_id])
    with time_machine.travel(first.starts_at, tick=False):
        # Signed in at the class's time: a sign-in hours before it would have timed out.
        client.force_login(accountant)
        text = _text(client.get(url))
        assert "Add attendee" not in text and "All arrived" not in text and "Arrived:" not in text
        arrived = reverse("calendar_app:class_arrived", args=[first.class_session_id])
        assert client.post(arrived).status_code == 403
    assert Appointment.objects.get().status == AppointmentStatus.BOOKED


def test_unknown_session_is_404(staff):
    assert staff.get(reverse("calendar_app:class_session", args=[999999])).status_code == 404


def test_the_class_block_is_built_escaped(staff, practice):
    """The block is built in Python (calendar_app.grid, issue 10): every name escaped."""
    tricky = ServiceFactory(name="Pilates <b>& stretch</b>", duration_minutes=60, capacity=8)
    first = _attend(practice, tricky)
    page = _calendar(staff).content.decode()
    session_url = reverse("calendar_app:class_session", args=[first.class_session_id])
    assert "<b>&" not in page
    assert (
        f'href="{session_url}" hx-get="{session_url}" data-row="9" data-span="4" '
        f'data-class-session="{first.class_session_id}" '
        'title="09:00–10:00 Pilates &lt;b&gt;&amp; stretch&lt;/b&gt;: 1 of 8 booked, Main Street">'
        '<span class="cal__appt-line"><span class="cal__appt-time">09:00</span> '
        '<span class="cal__appt-client">Pilates &lt;b&gt;&amp; stretch&lt;/b&gt;</span></span> '
        '<span class="cal__appt-service cal__appt-places">1 of 8 booked</span> '
        '<span class="cal__appt-loc">Main Street</span></a>'
    ) in page
