"""Issue 9 in a real browser: Edit details asks an Admin for the reason before giving back
the credit of a Missed appointment; Create appointment asks which of a time that happens
twice; at 390, 768 and 1440 px wide with no axe violation and no sideways scrolling."""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from calendar_app.models import Appointment, AppointmentStatus
from kernel.time import ambiguous_occurrences
from packages.models import CreditLedgerEntry, LedgerKind

WIDTHS = (390, 768, 1440)
SHOTS = os.environ.get("H5_SHOTS")  # a folder to keep the screenshots in, to look at


def _check(page, name: str, width: int) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    scrolled = page.evaluate("document.documentElement.scrollWidth")
    assert scrolled <= width, f"{scrolled}px wide"
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_edit_details_asks_an_admin_why(live, sign_in, practice, admin_user, width):
    sold = practice.sell(practice.flexible, by=admin_user)
    appointment = practice.book(by=admin_user, client_package=sold)
    Appointment.objects.filter(pk=appointment.pk).update(status=AppointmentStatus.MISSED)
    page = sign_in(admin_user)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/calendar/{appointment.pk}/edit/")
    page.get_by_role("button", name="Remove the link to Flexi 5").click()
    reason = page.get_by_label("Reason for giving the credit back")
    expect(reason).to_be_visible()
    _check(page, "unlink-reason", width)
    page.get_by_role("button", name="Update appointment").click()
    expect(page.locator("#appt_unlink_reason_error")).to_contain_text("Give a reason")
    page.get_by_label("Reason for giving the credit back").fill("Booked under the wrong client")
    page.get_by_role("button", name="Update appointment").click()
    expect(page.get_by_text("Appointment updated.")).to_be_visible()
    release = CreditLedgerEntry.objects.get(appointment_id=appointment.pk, kind=LedgerKind.RELEASE)
    assert release.reason.endswith("Booked under the wrong client")


@pytest.mark.parametrize("width", WIDTHS)
def test_create_appointment_asks_which_time(live, sign_in, practice, reception, width):
    sydney = zoneinfo.ZoneInfo("Australia/Sydney")
    day = timezone.localdate() + dt.timedelta(days=2)
    while ambiguous_occurrences(dt.datetime.combine(day, dt.time(2, 30)), sydney) is None:
        day += dt.timedelta(days=1)
    page = sign_in(reception)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(
        f"{live.url}/calendar/new/?client={practice.client.pk}&service={practice.follow_up.pk}"
        f"&practitioner={practice.practitioner.pk}&location={practice.location.pk}"
        f"&start={day.isoformat()}T02:30"
    )
    page.get_by_role("button", name="Create appointment").click()
    expect(page.locator("#appt_start_time_error")).to_contain_text("happens twice")
    second = page.get_by_label("02:30 AEST (second)")
    expect(second).to_be_visible()
    _check(page, "dst-choice", width)
    second.check()
    page.get_by_role("button", name="Create appointment").click()
    expect(page.get_by_text("Appointment created.")).to_be_visible()
    booked = Appointment.objects.get()
    assert booked.starts_at.utcoffset() is not None
    assert timezone.localtime(booked.starts_at).tzname() == "AEST"
