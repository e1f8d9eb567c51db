"""Appointment emails (issue 14): a confirmation at booking and a reminder a set time
before, with the practice's details and an .ics file, to a real SMTP server; clients
marked "No email" get none, canceled appointments no reminder, and each sending is
recorded on the appointment. Reminder timing at the window's edges and across the
daylight-saving changes of the practice's zone (Australia/Sydney)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import icalendar
import pytest
import time_machine

from calendar_app.services import appointment_cancel, appointment_edit
from documents.calendar_file import CalendarEvent, calendar_file
from documents.models import AppointmentEmail, AppointmentEmailKind, AppointmentEmailStatus
from documents.selectors import REMINDER_MAX_ATTEMPTS, reminders_due
from documents.services import appointment_confirmation_send, appointment_reminders_send
from practice.models import PracticeSettings
from practice.services import email_settings_update

SYDNEY = zoneinfo.ZoneInfo("Australia/Sydney")
CONFIRMATION, REMINDER = AppointmentEmailKind.CONFIRMATION, AppointmentEmailKind.REMINDER
SENT = AppointmentEmailStatus.SENT


@pytest.fixture
def clinic(practice, settings):
    """The practice with its details, a location with an address and a client with an
    email address; times in Sydney."""
    settings.TIME_ZONE = "Australia/Sydney"
    details = PracticeSettings.load()
    details.name = "Harbour Physio"
    details.address = "12 Wharf Street\nSydney NSW 2000"
    details.phone = "02 9000 1234"
    details.email = "hello@harbour.example"
    details.save()
    practice.location.address = "Level 2, 5 Main Street\nNewtown NSW 2042"
    practice.location.save(update_fields=["address"])
    practice.client.email = "jo@example.com"
    practice.client.save(update_fields=["email"])
    return practice


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SYDNEY)


def book_at(clinic, starts_at: dt.datetime, *, booked_at: dt.datetime | None = None, **kwargs):
    """Book for `starts_at`, the booking made at `booked_at` (default: a week before)."""
    with time_machine.travel(booked_at or starts_at - dt.timedelta(days=7), tick=False):
        return clinic.book(by=None, starts_at=starts_at, **kwargs)


def calendar_of(message) -> icalendar.Calendar:
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert part.get_filename() == "appointment.ics"
    return icalendar.Calendar.from_ical(part.get_content())


# ---------------------------------------------------------------- the confirmation


def test_the_confirmation_reaches_the_client_with_the_practice_and_a_calendar_file(clinic, smtp):
    appointment = book_at(clinic, local(2027, 3, 1, 10, 0), booked_at=local(2027, 2, 20, 9, 0))
    with time_machine.travel(local(2027, 2, 20, 9, 1), tick=False):
        [record] = appointment_confirmation_send(appointment_ids=[appointment.pk])

    assert (record.status, record.kind, record.to) == (SENT, CONFIRMATION, "jo@example.com")
    assert record.starts_at == appointment.starts_at
    [(recipients, message)] = smtp.messages
    assert recipients == ["jo@example.com"]
    assert message["Subject"].strip() == (
        "Appointment confirmed: Physio follow-up, Mon 1 Mar, 10:00 a.m. – Harbour Physio"
    )
    assert message["Reply-To"] == "hello@harbour.example"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    for words in (
        "Dear Jo,",
        "Your appointment with Harbour Physio is confirmed.",
        "Service: Physio follow-up",
        "With: Sam Physio",
        "When: Monday 1 March 2027, 10:00 a.m. – 10:30 a.m. AEDT",
        "Where: Main Street, Level 2, 5 Main Street, Newtown NSW 2042",
        "please call us on 02 9000 1234",
        "12 Wharf Street\nSydney NSW 2000",
        "Email: hello@harbour.example",
    ):
        assert words in text
    html = message.get_body(("html",)).get_content()
    assert "<h1" in html and "Appointment confirmed" in html and "02 9000 1234" in html

    calendar = calendar_of(message)
    assert calendar["METHOD"] == "PUBLISH"
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"appointment-{appointment.pk}@caspen"
    assert event.decoded("DTSTART") == dt.datetime(2027, 2, 28, 23, 0, tzinfo=dt.UTC)
    assert event.decoded("DTEND") == dt.datetime(2027, 2, 28, 23, 30, tzinfo=dt.UTC)
    assert str(event["SUMMARY"]) == "Physio follow-up with Sam Physio (Harbour Physio)"
    assert str(event["LOCATION"]) == "Main Street, Level 2, 5 Main Street, Newtown NSW 2042"
    assert "call 02 9000 1234" in str(event["DESCRIPTION"])


def test_a_retried_confirmation_is_not_sent_twice(clinic, smtp):
    appointment = clinic.book(by=None, days=3)
    appointment_confirmation_send(appointment_ids=[appointment.pk])
    assert appointment_confirmation_send(appointment_ids=[appointment.pk]) == []
    assert len(smtp.messages) == 1


def test_a_client_marked_no_email_gets_nothing_and_the_skip_is_recorded(clinic, smtp):
    clinic.client.email_opt_out = True
    clinic.client.save(update_fields=["email_opt_out"])
    appointment = clinic.book(by=None, days=3)
    [record] = appointment_confirmation_send(appointment_ids=[appointment.pk])
    assert record.status == AppointmentEmailStatus.SKIPPED
    assert record.error == "The client is marked “No email”."
    assert smtp.messages == []


def test_a_client_without_an_address_is_recorded_as_skipped(clinic, smtp):
    clinic.client.email = ""
    clinic.client.save(update_fields=["email"])
    appointment = clinic.book(by=None, days=3)
    [record] = appointment_confirmation_send(appointment_ids=[appointment.pk])
    assert (record.status, record.error) == ("skipped", "The client has no email address.")
    assert smtp.messages == []


def test_confirmations_turned_off_send_and_record_nothing(clinic, smtp):
    email_settings_update(confirmation_emails=False, reminder_hours=24, by=None)
    appointment = clinic.book(by=None, days=3)
    assert appointment_confirmation_send(appointment_ids=[appointment.pk]) == []
    assert smtp.messages == [] and not AppointmentEmail.objects.exists()


def test_a_canceled_appointment_is_not_confirmed(clinic, smtp):
    appointment = clinic.book(by=None, days=3)
    appointment_cancel(appointment=appointment, reason=clinic.reason, by=None)
    assert appointment_confirmation_send(appointment_ids=[appointment.pk]) == []
    assert smtp.messages == []


def test_a_refusing_mail_server_is_recorded_as_a_failure(clinic, refusing_smtp):
    appointment = clinic.book(by=None, days=3)
    [record] = appointment_confirmation_send(appointment_ids=[appointment.pk])
    assert record.status == AppointmentEmailStatus.FAILED
    assert "550" in record.error and "Mailbox unavailable" in record.error


def test_a_server_that_cannot_be_reached_is_recorded_as_a_failure(clinic, smtp_down):
    appointment = clinic.book(by=None, days=3)
    [failed] = appointment_confirmation_send(appointment_ids=[appointment.pk])
    assert failed.status == "failed" and "could not be reached" in failed.error


# ---------------------------------------------------------------- the .ics file


def test_the_calendar_file_folds_long_lines_and_escapes_text():
    description = "Bring: shorts, a towel; and your referral\\letter.\nÜbung – " + "é" * 80
    data = calendar_file(
        [
            CalendarEvent(
                uid="appointment-7@caspen",
                sequence=3,
                starts_at=local(2027, 4, 4, 10, 0),
                ends_at=local(2027, 4, 4, 10, 45),
                summary="Physio, follow-up; with Sam",
                location="Room 2, 5 Main St",
                description=description,
            )
        ],
        stamp=dt.datetime(2027, 4, 1, tzinfo=dt.UTC),
    )
    lines = data.split(b"\r\n")
    assert lines[-1] == b"" and all(len(line) <= 75 for line in lines)
    assert any(line.startswith(b" ") for line in lines)  # folded
    for line in lines:
        line.decode("utf-8")  # never split inside a character
    assert b"SUMMARY:Physio\\, follow-up\\; with Sam" in data
    [event] = icalendar.Calendar.from_ical(data).walk("VEVENT")
    assert str(event["DESCRIPTION"]) == description
    assert str(event["SUMMARY"]) == "Physio, follow-up; with Sam"
    assert event.decoded("DTSTART") == dt.datetime(2027, 4, 4, 0, 0, tzinfo=dt.UTC)
    assert int(event["SEQUENCE"]) == 3


# ---------------------------------------------------------------- reminders


def test_the_reminder_goes_within_the_lead_time_and_not_before(clinic, smtp):
    starts = local(2027, 3, 10, 14, 0)
    appointment = book_at(clinic, starts)
    lead = dt.timedelta(hours=24)

    assert appointment_reminders_send(now=starts - lead - dt.timedelta(seconds=1)) == []
    assert smtp.messages == []
    [record] = appointment_reminders_send(now=starts - lead)
    assert (record.kind, record.status, record.appointment) == (REMINDER, SENT, appointment)
    [(_, message)] = smtp.messages
    assert (
        message["Subject"].strip().startswith("Appointment reminder: Physio follow-up, Wed 10 Mar")
    )
    assert "This is a reminder of your appointment" in message.get_body(("plain",)).get_content()
    [event] = calendar_of(message).walk("VEVENT")
    assert str(event["UID"]) == f"appointment-{appointment.pk}@caspen"


def test_an_appointment_already_started_gets_no_reminder(clinic, smtp):
    starts = local(2027, 3, 10, 14, 0)
    book_at(clinic, starts)
    assert appointment_reminders_send(now=starts) == []
    assert smtp.messages == []


def test_the_lead_time_is_a_practice_setting_and_zero_turns_reminders_off(clinic, smtp):
    starts = local(2027, 3, 10, 14, 0)
    book_at(clinic, starts)
    email_settings_update(confirmation_emails=True, reminder_hours=2, by=None)
    assert appointment_reminders_send(now=starts - dt.timedelta(hours=3)) == []
    email_settings_update(confirmation_emails=True, reminder_hours=0, by=None)
    assert appointment_reminders_send(now=starts - dt.timedelta(hours=1)) == []
    email_settings_update(confirmation_emails=True, reminder_hours=2, by=None)
    assert len(appointment_reminders_send(now=starts - dt.timedelta(hours=1))) == 1


def test_two_runs_do_not_send_the_reminder_twice(clinic, smtp):
    starts = local(2027, 3, 10, 14, 0)
    book_at(clinic, starts)
    assert len(appointment_reminders_send(now=starts - dt.timedelta(hours=20))) == 1
    assert appointment_reminders_send(now=starts - dt.timedelta(hours=10)) == []
    assert len(smtp.messages) == 1


def test_canceled_appointments_and_clients_marked_no_email_get_no_reminder(clinic, smtp):
    from tests.factories import ClientFactory

    starts = local(2027, 3, 10, 14, 0)
    canceled = book_at(clinic, starts)
    with time_machine.travel(starts - dt.timedelta(days=3), tick=False):
        appointment_cancel(appointment=canceled, reason=clinic.reason, by=None)
    quiet = ClientFactory(email="quiet@example.com", email_opt_out=True)
    book_at(clinic, starts + dt.timedelta(hours=1), client=quiet)
    nobody = ClientFactory(email="")
    book_at(clinic, starts + dt.timedelta(hours=2), client=nobody)

    assert appointment_reminders_send(now=starts - dt.timedelta(hours=12)) == []
    assert smtp.messages == [] and not AppointmentEmail.objects.exists()


def test_a_booking_made_inside_the_window_gets_no_reminder(clinic, smtp):
    starts = local(2027, 3, 10, 14, 0)
    book_at(clinic, starts, booked_at=starts - dt.timedelta(hours=5))
    assert appointment_reminders_send(now=starts - dt.timedelta(hours=4)) == []


def test_an_appointment_moved_after_its_reminder_is_reminded_of_the_new_time(clinic, smtp):
    starts = local(2027, 3, 10, 14, 0)
    appointment = book_at(clinic, starts)
    appointment_reminders_send(now=starts - dt.timedelta(hours=20))
    later = starts + dt.timedelta(days=2)
    with time_machine.travel(starts - dt.timedelta(hours=19), tick=False):
        appointment_edit(appointment=appointment, starts_at=later, by=None)
    assert appointment_reminders_send(now=starts - dt.timedelta(hours=18)) == []
    [second] = appointment_reminders_send(now=later - dt.timedelta(hours=20))
    assert second.starts_at == later
    assert len(smtp.messages) == 2
    assert (
        "Friday 12 March 2027, 2:00 p.m." in smtp.messages[1][1].get_body(("plain",)).get_content()
    )


def test_a_failed_reminder_is_tried_again_then_given_up(clinic, smtp_down):
    starts = local(2027, 3, 10, 14, 0)
    appointment = book_at(clinic, starts)
    for minute in range(REMINDER_MAX_ATTEMPTS):
        [failed] = appointment_reminders_send(now=starts - dt.timedelta(hours=10, minutes=-minute))
        assert failed.status == "failed"
    assert appointment_reminders_send(now=starts - dt.timedelta(hours=9)) == []
    assert appointment.emails.filter(status="failed").count() == REMINDER_MAX_ATTEMPTS


# ---------------------------------------------------------------- daylight saving


@pytest.mark.parametrize(
    ("starts", "not_yet", "due", "zone_name"),
    [
        # Sydney leaves daylight saving at 3 am on Sunday 4 April 2027 (back to 2 am): 24
        # real hours before 10 am AEST is 11 am AEDT the day before, not 10 am.
        (local(2027, 4, 4, 10, 0), local(2027, 4, 3, 10, 30), local(2027, 4, 3, 11, 0), "AEST"),
        # It enters daylight saving at 2 am on Sunday 3 October 2027 (on to 3 am): 24 real
        # hours before 10 am AEDT is 9 am AEST the day before.
        (local(2027, 10, 3, 10, 0), local(2027, 10, 2, 8, 59), local(2027, 10, 2, 9, 0), "AEDT"),
    ],
)
def test_the_lead_time_is_real_hours_across_a_daylight_saving_change(
    clinic, smtp, starts, not_yet, due, zone_name
):
    book_at(clinic, starts)
    # Elapsed time: Python subtracts two datetimes of one zone by their wall clocks.
    assert starts.astimezone(dt.UTC) - due.astimezone(dt.UTC) == dt.timedelta(hours=24)
    assert due.replace(tzinfo=None) != (starts - dt.timedelta(days=1)).replace(tzinfo=None)
    assert appointment_reminders_send(now=not_yet) == []
    assert reminders_due(now=not_yet, lead_hours=24).count() == 0
    assert len(appointment_reminders_send(now=due)) == 1
    text = smtp.messages[0][1].get_body(("plain",)).get_content()
    assert f"10:00 a.m. – 10:30 a.m. {zone_name}" in text


# ---------------------------------------------------------------- pages


def test_the_appointment_panel_lists_its_emails(clinic, smtp, client, reception):
    from django.urls import reverse

    appointment = clinic.book(by=None, days=3)
    appointment_confirmation_send(appointment_ids=[appointment.pk])
    client.force_login(reception)
    page = client.get(reverse("calendar_app:detail", args=[appointment.pk])).content.decode()
    assert "<dt>Emails</dt>" in page and "Confirmation · Sent" in page
