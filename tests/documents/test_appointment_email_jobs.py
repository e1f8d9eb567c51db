"""Appointment emails on the job queue (issue 14): the confirmation is deferred in the
booking's transaction and sent by a real worker to a real SMTP server; a rolled-back
booking sends nothing; a mail server failure is recorded and retried; the periodic
reminder job sends each reminder once, even with two workers at the same time."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import icalendar
import pytest
from django.db import connection, transaction

from calendar_app.models import Appointment
from calendar_app.services import appointment_book_series
from documents.models import AppointmentEmail, AppointmentEmailStatus
from documents.services import appointment_reminders_send
from documents.tasks import appointment_reminders
from tests.documents.conftest import Inbox, _serve
from tests.documents.test_appointment_emails import book_at, local

pytestmark = pytest.mark.usefixtures("emailing")
CONFIRMATION_TASK = "documents.appointment_confirmation"


@pytest.fixture
def emailing(practice, settings):
    settings.TIME_ZONE = "Australia/Sydney"
    practice.client.email = "jo@example.com"
    practice.client.save(update_fields=["email"])


def only_calendar(message) -> icalendar.Calendar:
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    return icalendar.Calendar.from_ical(part.get_content())


class Refused(Exception):
    pass


def test_a_booking_by_staff_is_confirmed_by_the_worker(jobs, practice, reception, smtp):
    appointment = practice.book(by=reception, days=3)
    [row] = jobs.job_rows(CONFIRMATION_TASK)
    assert json.loads(row["args"]) == {"appointment_ids": [appointment.pk]}
    assert smtp.messages == []  # nothing is sent by the request itself

    jobs.run_jobs()
    [(recipients, message)] = smtp.messages
    assert recipients == ["jo@example.com"]
    assert message["Subject"].strip().startswith("Appointment confirmed: Physio follow-up")
    [event] = only_calendar(message).walk("VEVENT")
    assert event.decoded("DTSTART") == appointment.starts_at
    assert appointment.emails.get().status == AppointmentEmailStatus.SENT
    assert jobs.job_rows(CONFIRMATION_TASK)[0]["status"] == "succeeded"


def test_a_rolled_back_booking_sends_nothing(jobs, practice, reception, smtp):
    with pytest.raises(Refused), transaction.atomic():
        practice.book(by=reception, days=3)
        assert len(jobs.job_rows(CONFIRMATION_TASK)) == 1
        raise Refused
    assert jobs.job_rows(CONFIRMATION_TASK) == []
    jobs.run_jobs()
    assert smtp.messages == [] and not Appointment.objects.exists()


def test_bookings_by_the_system_are_not_confirmed(jobs, practice, smtp):
    practice.book(by=None, days=3)
    assert jobs.job_rows(CONFIRMATION_TASK) == []


def test_a_repeating_booking_is_confirmed_in_one_email_with_every_date(
    jobs, practice, reception, smtp
):
    series = appointment_book_series(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        service=practice.follow_up,
        starts_at=local(2027, 3, 1, 9, 0),
        every_weeks=1,
        weekdays=[0],
        count=3,
        by=reception,
    )
    assert len(jobs.job_rows(CONFIRMATION_TASK)) == 3  # one per appointment, one lock
    jobs.run_jobs()
    [(_, message)] = smtp.messages
    assert "(and 2 more)" in message["Subject"]
    events = only_calendar(message).walk("VEVENT")
    assert len(events) == 3
    assert AppointmentEmail.objects.filter(appointment__series=series, status="sent").count() == 3


def test_an_unreachable_mail_server_is_recorded_and_the_job_retried(
    jobs, practice, reception, smtp_down, settings
):
    appointment = practice.book(by=reception, days=3)
    jobs.run_jobs()
    [failed] = appointment.emails.all()
    assert failed.status == "failed" and "could not be reached" in failed.error
    [row] = jobs.job_rows(CONFIRMATION_TASK)
    assert (row["status"], row["attempts"]) == ("todo", 1)  # waiting for its retry

    inbox = Inbox()
    controller = _serve(inbox, settings)  # the mail server is back
    try:
        jobs.make_due()
        jobs.run_jobs()
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    assert [e.status for e in appointment.emails.order_by("id")] == ["failed", "sent"]
    assert jobs.job_rows(CONFIRMATION_TASK)[0]["status"] == "succeeded"


def test_the_periodic_job_sends_the_reminders_due(jobs, practice, smtp):
    starts = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=20)
    appointment = book_at(practice, starts)
    appointment_reminders.defer(timestamp=0)
    jobs.run_jobs()
    [(_, message)] = smtp.messages
    assert message["Subject"].strip().startswith("Appointment reminder")
    assert appointment.emails.get().kind == "reminder"
    appointment_reminders.defer(timestamp=60)
    jobs.run_jobs()
    assert len(smtp.messages) == 1


class SlowInbox(Inbox):
    """A mail server that takes its time, so two workers overlap."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.3)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_reminder_once(practice, settings):
    from tests.factories import ClientFactory

    starts = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=10)
    for n in range(4):
        client = ClientFactory(email=f"client{n}@example.com")
        book_at(practice, starts + dt.timedelta(hours=n), client=client)
    inbox = SlowInbox()
    controller = _serve(inbox, settings)
    barrier = threading.Barrier(2)

    def worker():
        try:
            barrier.wait(timeout=10)
            return appointment_reminders_send()
        finally:
            connection.close()

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda _: worker(), range(2)))
    finally:
        controller.stop()
    assert sum(len(r) for r in results) == 4
    assert len(inbox.messages) == 4
    assert sorted(rcpt[0] for rcpt, _ in inbox.messages) == [
        f"client{n}@example.com" for n in range(4)
    ]
    assert AppointmentEmail.objects.filter(kind="reminder", status="sent").count() == 4
