"""In Chromium: the calendar's day and week views, navigation and filters, the
appointment panel's actions (Arrived, Cancel, Delete), and the Accountant's read-only
calendar."""

from __future__ import annotations

import datetime as dt
import re

import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from calendar_app.models import Appointment, AppointmentStatus
from calendar_app.services import (
    appointment_cancel,
    appointment_mark_arrived,
    appointment_mark_missed,
)
from tests.factories import ClientFactory, PractitionerFactory

PEOPLE = [
    ("Amelia", "Wright"),
    ("Noah", "Tran"),
    ("Olivia", "Kowalski"),
    ("Liam", "Papadopoulos"),
    ("Isla", "Nguyen"),
    ("Mia", "Fernandes"),
    ("Oscar", "Reid"),
    ("Ruby", "Hughes"),
]


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _busy_day(practice, day: dt.date):
    """A morning already seen (Arrived, Missed), an afternoon ahead (Booked, one using a
    package, one Canceled), over three practitioners."""
    alex = PractitionerFactory(name="Alex Osteo")
    priya = PractitionerFactory(name="Priya Nair")
    clients = [ClientFactory(first_name=first, last_name=last) for first, last in PEOPLE]
    package = practice.sell()
    book = practice.book
    arrived = [
        book(by=None, starts_at=_at(day, 8), client=clients[0]),
        book(
            by=None,
            starts_at=_at(day, 9, 30),
            client=clients[1],
            practitioner=alex,
            service=practice.massage,
        ),
        book(by=None, starts_at=_at(day, 10, 15), client=clients[2], practitioner=priya),
    ]
    for appointment in arrived:
        appointment_mark_arrived(appointment=appointment, by=None)
    missed = book(by=None, starts_at=_at(day, 11), client=clients[3], practitioner=alex)
    appointment_mark_missed(appointment=missed, by=None)
    book(by=None, starts_at=_at(day, 13, 30), client_package=package)
    book(
        by=None,
        starts_at=_at(day, 14),
        client=clients[4],
        practitioner=alex,
        service=practice.initial,
    )
    book(
        by=None,
        starts_at=_at(day, 15),
        client=clients[5],
        practitioner=priya,
        service=practice.massage,
    )
    book(by=None, starts_at=_at(day, 16, 30), client=clients[6])
    canceled = book(by=None, starts_at=_at(day, 17), client=clients[7], practitioner=priya)
    appointment_cancel(appointment=canceled, reason=practice.reason, by=None)
    return alex, priya, clients


def test_day_and_week_views(live, sign_in, screenshot, practice, reception):
    today = timezone.localdate()
    with time_machine.travel(_at(today, 12, 30), tick=True):
        alex, priya, clients = _busy_day(practice, today)
        monday = today - dt.timedelta(days=today.weekday())
        for offset, (hour, client) in enumerate(zip((8, 10, 15, 9, 13), clients[:5], strict=True)):
            day = monday + dt.timedelta(days=offset)
            if day != today:
                practice.book(by=None, starts_at=_at(day, hour), practitioner=alex, client=client)

        page = sign_in(reception)
        page.goto(f"{live.url}/calendar/?canceled=on")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            re.compile(timezone.localdate().strftime("%-d %b %Y"))
        )
        columns = page.locator(".cal__col")
        expect(columns).to_have_count(3)
        expect(page.locator(".cal__col .cal__head")).to_have_text(
            ["Alex Osteo", "Priya Nair", "Sam Physio"]
        )
        for status, count in (("arrived", 3), ("missed", 1), ("booked", 4), ("canceled", 1)):
            expect(page.locator(f".cal__appt--{status}")).to_have_count(count)
        jo = page.locator(".cal__appt", has_text="Jo Citizen")
        expect(jo).to_contain_text("13:30")
        expect(jo).to_contain_text("package")
        # Blocks sit on their rows: 13:30 starts 26 quarter-hours after 07:00.
        assert "cal-r27" in jo.get_attribute("class")
        screenshot(page, "calendar-day")

        # Canceled appointments hide when the toggle is off (filters apply on change).
        page.get_by_label("Show canceled").uncheck()
        expect(page).not_to_have_url(re.compile("canceled=on"))
        expect(page.locator(".cal__appt--canceled")).to_have_count(0)

        # One practitioner only.
        page.get_by_label("Practitioner").select_option(label="Priya Nair")
        expect(columns).to_have_count(1)
        expect(page.locator(".cal__head").nth(1)).to_have_text("Priya Nair")

        # Week view: days as columns, for the first practitioner by default.
        page.goto(f"{live.url}/calendar/?view=week")
        expect(columns).to_have_count(7)
        expect(page.get_by_label("Practitioner")).to_have_value(str(alex.pk))
        week = Appointment.objects.filter(practitioner=alex).count()
        assert week >= 7
        expect(page.locator(".cal__appt")).to_have_count(week)
        expect(page.locator(".cal__col--today .cal__head")).to_contain_text(
            timezone.localdate().strftime("%a")
        )
        screenshot(page, "calendar-week")

        # Previous / Next / Today.
        title = page.get_by_role("heading", level=1)
        this_week = title.inner_text()
        page.get_by_role("link", name="Next week").click()
        expect(title).not_to_have_text(this_week)
        expect(page.locator(".cal__appt")).to_have_count(0)
        expect(page.locator(".cal-note")).to_contain_text("No appointments this week")
        page.get_by_role("link", name="Today").click()
        expect(title).to_have_text(this_week)


def test_panel_actions_arrived_cancel_delete(live, sign_in, practice, reception):
    package = practice.sell()
    started = practice.book(by=None, starts_at=timezone.now() - dt.timedelta(hours=1))
    started_day = timezone.localdate(started.starts_at)
    page = sign_in(reception)
    page.goto(f"{live.url}/calendar/?date={started_day.isoformat()}")

    page.locator(".cal__appt", has_text="Jo Citizen").click()
    dialog = page.locator("#modal")
    expect(dialog.locator(".badge")).to_have_text("Booked")
    dialog.get_by_role("button", name="Arrived").click()
    expect(dialog.locator(".badge")).to_have_text("Arrived")
    expect(page.locator("#messages")).to_contain_text("Marked as Arrived.")
    # The calendar behind the popup follows.
    expect(page.locator(".cal__appt--arrived")).to_have_count(1)
    started.refresh_from_db()
    assert started.status == AppointmentStatus.ARRIVED
    dialog.get_by_role("button", name="Close").click()

    # Cancel a linked appointment, keeping the credit (late cancellation).
    later = practice.book(by=None, days=2, hour=9, client_package=package)
    page.goto(f"{live.url}/calendar/?date={timezone.localdate(later.starts_at).isoformat()}")
    page.locator(".cal__appt", has_text="Jo Citizen").click()
    dialog.get_by_role("link", name="Cancel appointment").click()
    expect(dialog.get_by_role("heading", name="Cancel appointment")).to_be_visible()
    dialog.get_by_role("button", name="Cancel appointment").click()
    expect(dialog.locator("#appt_reason_error")).to_have_text("Choose a cancellation reason.")
    dialog.get_by_label("Cancellation reason").select_option(label="Client request")
    dialog.get_by_label("Keep the package credit (late cancellation)").check()
    dialog.get_by_role("button", name="Cancel appointment").click()
    expect(dialog.locator(".badge")).to_have_text("Canceled")
    expect(dialog).to_contain_text("Canceled late: the package credit stays used.")
    later.refresh_from_db()
    assert later.kept_credit and later.client_package_id == package.pk
    package.refresh_from_db()
    assert package.consumed == 1

    # Delete asks first, then the popup closes and the block is gone.
    mistake = practice.book(by=None, days=2, hour=11)
    page.goto(f"{live.url}/calendar/?date={timezone.localdate(mistake.starts_at).isoformat()}")
    page.locator(".cal__appt", has_text="11:00").click()
    dialog.get_by_role("link", name="Delete").click()
    expect(dialog.get_by_role("heading", name="Delete appointment?")).to_be_visible()
    dialog.get_by_role("button", name="Delete appointment").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#messages")).to_contain_text("Appointment deleted.")
    expect(page.locator(".cal__appt", has_text="11:00")).to_have_count(0)
    assert not Appointment.objects.filter(pk=mistake.pk).exists()


def test_accountant_sees_the_calendar_read_only(live, sign_in, practice, reception, accountant):
    practice.book(by=None, days=0, hour=9)
    page = sign_in(accountant)
    page.goto(f"{live.url}/calendar/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Create appointment")).to_have_count(0)
    expect(page.locator("a.cal__slot")).to_have_count(0)
    page.locator(".cal__appt", has_text="Jo Citizen").click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Appointment")).to_be_visible()
    expect(dialog).to_contain_text("Sam Physio")
    for action in ("Edit details", "Cancel appointment", "Delete"):
        expect(dialog.get_by_role("link", name=action)).to_have_count(0)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
