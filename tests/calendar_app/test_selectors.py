"""calendar_app.selectors: which actions an appointment allows now (the panel shows what
the services accept), and the one prefill precedence for practitioner and location."""

import datetime as dt

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from calendar_app import selectors, services
from calendar_app.models import Appointment
from kernel.errors import DomainError
from tests.factories import LocationFactory, PractitionerFactory

pytestmark = pytest.mark.django_db


def _call(action, appointment, practice, by):
    calls = {
        "edit": lambda: services.appointment_edit(appointment=appointment, notes="x", by=by),
        "arrive": lambda: services.appointment_mark_arrived(appointment=appointment, by=by),
        "miss": lambda: services.appointment_mark_missed(appointment=appointment, by=by),
        "cancel": lambda: services.appointment_cancel(
            appointment=appointment, reason=practice.reason, by=by
        ),
        "delete": lambda: services.appointment_delete(appointment=appointment, by=by),
        "link": lambda: services.appointment_link(
            appointment=appointment, client_package=practice.sell(practice.flexible), by=by
        ),
        "unlink": lambda: services.appointment_unlink(appointment=appointment, by=by),
    }
    return calls[action]


class _RollBack(Exception):
    pass


@pytest.mark.parametrize("moment", ["before", "during", "after"])
def test_the_panel_offers_exactly_what_the_services_accept(practice, reception, admin_user, moment):
    booked = practice.book(by=reception, days=1)
    linked = practice.book(by=reception, days=2, client_package=practice.sell())
    canceled = practice.book(by=reception, days=3)
    services.appointment_cancel(appointment=canceled, reason=practice.reason, by=reception)
    invoiced = practice.book(by=reception, days=4)
    from invoicing.services import invoice_for_appointment

    invoice_for_appointment(appointment=invoiced, by=admin_user)
    series = services.appointment_book_series(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        service=practice.follow_up,
        starts_at=booked.starts_at + dt.timedelta(days=10),
        every_weeks=1,
        weekdays=[timezone.localtime(booked.starts_at).weekday()],
        count=2,
        by=reception,
    )
    occurrence = series.appointments.first()
    when = {
        "before": timezone.now(),
        "during": booked.starts_at + dt.timedelta(minutes=5),
        "after": occurrence.starts_at + dt.timedelta(days=30),
    }[moment]
    with time_machine.travel(when, tick=False):
        for appointment in (booked, linked, canceled, invoiced, occurrence):
            fresh = Appointment.objects.get(pk=appointment.pk)
            offered = selectors.appointment_actions(fresh, admin_user)
            for action in ("edit", "arrive", "miss", "cancel", "delete", "link", "unlink"):
                refusal = selectors.appointment_refusal(fresh, action)
                try:
                    with transaction.atomic():
                        _call(action, Appointment.objects.get(pk=fresh.pk), practice, admin_user)()
                        raise _RollBack
                except _RollBack:
                    accepted, code = True, None
                except DomainError as exc:
                    accepted, code = False, exc.code
                assert accepted == (refusal is None), (moment, appointment.pk, action, code)
                if refusal is not None:
                    assert code == refusal.code
                shown = getattr(offered, action)
                if action == "arrive":
                    assert shown == (accepted and fresh.status != "arrived")
                elif action == "miss":
                    assert shown == (accepted and fresh.status != "missed")
                else:
                    assert shown == accepted, (moment, appointment.pk, action)


def test_permissions_hide_actions(practice, reception, accountant):
    appointment = practice.book(by=reception)
    offered = selectors.appointment_actions(appointment, accountant)
    assert not any(
        (offered.edit, offered.arrive, offered.miss, offered.cancel, offered.delete, offered.link)
    )


def test_prefill_precedence_asked_then_own_then_the_only_one(practice, reception):
    defaults = selectors.practitioner_and_location_defaults
    # The only active practitioner and location.
    assert defaults(reception) == {
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
    }
    other = PractitionerFactory()
    second_location = LocationFactory()
    assert defaults(reception) == {}
    own = PractitionerFactory(user=reception)
    assert defaults(reception) == {"practitioner": own.pk}
    asked = defaults(reception, practitioner_id=other.pk, location_id=second_location.pk)
    assert asked == {"practitioner": other.pk, "location": second_location.pk}
    # An archived one (or junk) is not asked for: the next rule applies.
    other.archived = True
    other.save()
    assert defaults(reception, practitioner_id=other.pk, location_id=99999) == {
        "practitioner": own.pk
    }


def test_calendar_appointments_read_a_name_missing_from_the_lists_given(practice, reception):
    """The calendar passes the names it read before (practitioners, locations); one added
    in between is read, never a missing name or an error."""
    appointment = practice.book(by=reception)
    start = appointment.starts_at - dt.timedelta(hours=1)
    end = appointment.ends_at + dt.timedelta(hours=1)
    rows = selectors.calendar_appointments(
        start=start, end=end, practitioner_names={}, location_names={}
    )
    assert [(row.pk, row.practitioner_name, row.location_name) for row in rows] == [
        (appointment.pk, practice.practitioner.name, practice.location.name)
    ]
    assert rows[0].client_name == appointment.client.full_name
    assert rows[0].service_name == appointment.service.name
