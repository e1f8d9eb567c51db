"""In Chromium (issue 14): the appointment panel lists the emails sent; an Admin sets the
reminder lead time on the Settings page; a receptionist marks a client "No email". Each
at phone, tablet and desktop widths, passing axe."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from clients.models import Client
from documents.services import appointment_confirmation_send
from practice.models import PracticeSettings
from tests.browser.test_every_page import WIDTH_PROBLEMS, _serious_axe_violations

WIDTHS = [390, 768, 1440]
SHOTS = Path(os.environ.get("SHOTS_DIR", "/tmp/shots_h2"))


def _fits_and_passes_axe(page) -> None:
    assert page.evaluate(WIDTH_PROBLEMS) == []
    assert _serious_axe_violations(page) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_the_panel_lists_the_appointments_emails(live, sign_in, practice, reception, smtp, width):
    practice.client.email = "jo@example.com"
    practice.client.save(update_fields=["email"])
    appointment = practice.book(by=None, days=3)
    appointment_confirmation_send(appointment_ids=[appointment.pk])
    page = sign_in(reception)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/calendar/{appointment.pk}/")
    emails = page.locator(".appt-emails")
    expect(emails).to_contain_text("Confirmation · Sent")
    _fits_and_passes_axe(page)
    page.screenshot(path=str(SHOTS / f"panel_{width}.png"), full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_an_admin_sets_the_reminder_lead_time(live, sign_in, admin_user, width):
    page = sign_in(admin_user)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/settings/")
    card = page.locator("#email-card")
    card.get_by_label("Reminder emails (hours before)").fill("400")
    card.get_by_role("button", name="Save appointment email settings").click()
    expect(page.locator("#email-card")).to_contain_text("Ensure this value is less than")
    page.locator("#email-card").get_by_label("Reminder emails (hours before)").fill("48")
    page.locator("#email-card").get_by_role(
        "button", name="Save appointment email settings"
    ).click()
    expect(page.get_by_text("Appointment email settings saved.")).to_be_visible()
    assert PracticeSettings.load().reminder_hours == 48
    _fits_and_passes_axe(page)
    page.locator("#email-card").screenshot(path=str(SHOTS / f"settings_{width}.png"))


def test_reception_marks_a_client_no_email(live, sign_in, practice, reception):
    page = sign_in(reception)
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{live.url}/clients/{practice.client.pk}/edit/")
    page.get_by_label("No email").check()
    _fits_and_passes_axe(page)
    page.screenshot(path=str(SHOTS / "client_form_390.png"), full_page=True)
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("(no email)")).to_be_visible()
    assert Client.objects.get(pk=practice.client.pk).email_opt_out is True


@pytest.mark.parametrize("width", [390, 1000])
def test_the_emails_html_reads_on_a_phone_and_a_desktop(page, practice, settings, width):
    from documents.appointment_mail import appointment_message

    settings.TIME_ZONE = "Australia/Sydney"
    details = PracticeSettings.load()
    details.name, details.phone = "Harbour Physio", "02 9000 1234"
    details.address, details.email = "12 Wharf Street\nSydney NSW 2000", "hello@harbour.example"
    details.save()
    appointment = practice.book(by=None, days=3)
    message = appointment_message([appointment], kind="confirmation")
    page.set_viewport_size({"width": width, "height": 900})
    page.set_content(message.html)
    expect(page.get_by_role("heading", name="Appointment confirmed")).to_be_visible()
    _fits_and_passes_axe(page)
    page.screenshot(path=str(SHOTS / f"email_{width}.png"), full_page=True)
