"""Issue 14's "Done when", end to end with real parts: an integrator registers a webhook,
books an appointment through the API, receives the signed `appointment.booked` event on
their own HTTP server, and the client receives the confirmation email with its `.ics`
file on a real SMTP server. The job worker is the real one (tests/jobs.py)."""

from __future__ import annotations

import datetime as dt

import icalendar

from tests.api.conftest import api_client
from tests.factories import next_local
from tests.integrations.conftest import receiver, verify  # noqa: F401 (fixture)

V1 = "/api/v1"


def test_an_integrator_gets_the_signed_event_and_the_client_the_confirmation(
    jobs,
    practice,
    admin_user,
    reception,
    receiver,  # noqa: F811 (the fixture imported above)
    smtp,
):
    practice.client.email = "jo@example.com"
    practice.client.save(update_fields=["email"])

    registered = api_client(admin_user).post(
        f"{V1}/webhooks/",
        {"url": receiver.url, "events": ["appointment.booked"]},
        format="json",
    )
    assert registered.status_code == 201, registered.content
    secret = registered.json()["secret"]

    starts = next_local(hour=10, days=3)
    booked = api_client(reception).post(
        f"{V1}/appointments/",
        {
            "client": practice.client.pk,
            "practitioner": practice.practitioner.pk,
            "location": practice.location.pk,
            "service": practice.follow_up.pk,
            "starts_at": starts.isoformat(),
        },
        format="json",
    )
    assert booked.status_code == 201, booked.content
    appointment_id = booked.json()["id"]

    jobs.run_jobs()

    [request] = receiver.requests
    assert verify(secret, request["headers"]["Caspen-Signature"], request["body"])
    [event] = receiver.events()
    assert event["type"] == "appointment.booked"
    assert event["data"]["id"] == appointment_id

    [(recipients, message)] = smtp.messages
    assert recipients == ["jo@example.com"]
    assert message["Subject"].strip().startswith("Appointment confirmed: Physio follow-up")
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert part.get_filename() == "appointment.ics"
    [vevent] = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")
    assert vevent.decoded("DTSTART") == starts.astimezone(dt.UTC)
    assert str(vevent["UID"]) == f"appointment-{appointment_id}@caspen"
