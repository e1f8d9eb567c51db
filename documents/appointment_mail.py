"""The words of an appointment email (confirmation or reminder): subject, plain text and
HTML from `templates/emails/appointment.{txt,html}`, and the `.ics` file attached.

Times are shown in the practice's time zone (settings.TIME_ZONE, where the calendar
shows them) with the zone's abbreviation, so a client travelling reads them right; the
`.ics` file carries them in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateformat import format as date_format

from calendar_app.models import Appointment
from documents.calendar_file import CalendarEvent, calendar_file
from documents.models import AppointmentEmailKind
from practice.models import PracticeSettings

TEMPLATE = "emails/appointment"
ICS_FILENAME = "appointment.ics"


def appointment_uid(appointment: Appointment) -> str:
    """The calendar event's UID: the same for every email of the appointment, so a
    reminder or a moved time updates the event the confirmation added."""
    return f"appointment-{appointment.pk}@caspen"


def _sequence(appointment: Appointment) -> int:
    # RFC 5545 wants a higher SEQUENCE for each revision: seconds from booking to the last
    # change grow with every edit and need no column of their own.
    return max(0, int((appointment.updated_at - appointment.created_at).total_seconds()))


def _local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value, timezone.get_default_timezone())


def when_text(appointment: Appointment) -> str:
    """ "Monday 7 December 2026, 10:00 am – 10:45 am AEDT" in the practice's zone."""
    start, end = _local(appointment.starts_at), _local(appointment.ends_at)
    day = date_format(start, "l j F Y")
    if start.date() == end.date():
        return f"{day}, {date_format(start, 'g:i a')} – {date_format(end, 'g:i a T')}"
    return f"{day}, {date_format(start, 'g:i a T')} – {date_format(end, 'l j F Y, g:i a T')}"


def where_text(appointment: Appointment) -> str:
    location = appointment.location
    address = ", ".join(line.strip() for line in location.address.splitlines() if line.strip())
    return f"{location.name}, {address}" if address else location.name


@dataclass(frozen=True)
class AppointmentMessage:
    subject: str
    text: str
    html: str
    ics: bytes


def appointment_message(
    appointments: Sequence[Appointment], *, kind: str, practice: PracticeSettings | None = None
) -> AppointmentMessage:
    """The email telling one client about `appointments` (several for a repeating
    booking's confirmation, all the same client), of `kind` confirmation or reminder."""
    practice = practice or PracticeSettings.load()
    first = appointments[0]
    client = first.client
    rows = [
        {
            "service": a.service.name,
            "practitioner": a.practitioner.name,
            "when": when_text(a),
            "where": where_text(a),
        }
        for a in appointments
    ]
    label = (
        "Appointment confirmed"
        if kind == AppointmentEmailKind.CONFIRMATION
        else ("Appointment reminder")
    )
    short = date_format(_local(first.starts_at), "D j M, g:i a")
    more = f" (and {len(appointments) - 1} more)" if len(appointments) > 1 else ""
    subject = f"{label}: {first.service.name}, {short}{more} – {practice.name}"
    context = {
        "heading": label,
        "kind": kind,
        "is_reminder": kind == AppointmentEmailKind.REMINDER,
        "name": client.first_name or client.full_name,
        "appointments": rows,
        "practice": practice,
        "practice_address": [line for line in practice.address.splitlines() if line.strip()],
    }
    events = [
        CalendarEvent(
            uid=appointment_uid(a),
            sequence=_sequence(a),
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            summary=f"{a.service.name} with {a.practitioner.name} ({practice.name})",
            location=where_text(a),
            description=_event_description(a, practice),
        )
        for a in appointments
    ]
    return AppointmentMessage(
        subject=subject[:300],
        text=render_to_string(f"{TEMPLATE}.txt", context),
        html=render_to_string(f"{TEMPLATE}.html", context),
        ics=calendar_file(events, stamp=timezone.now()),
    )


def _event_description(appointment: Appointment, practice: PracticeSettings) -> str:
    lines = [f"{appointment.service.name} with {appointment.practitioner.name}.", practice.name]
    if practice.phone:
        lines.append(f"To cancel or change, call {practice.phone}.")
    return "\n".join(lines)


def email_message(message: AppointmentMessage, *, to: str, practice: PracticeSettings):
    """The multipart email (plain text, HTML, the `.ics` file) from the project's sender,
    replies going to the practice."""
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        reply_to=[practice.email] if practice.email else None,
    )
    email.attach_alternative(message.html, "text/html")
    email.attach(ICS_FILENAME, message.ics, "text/calendar; method=PUBLISH; charset=utf-8")
    return email
