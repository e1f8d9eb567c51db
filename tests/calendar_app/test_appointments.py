"""DOMAIN.md: Appointments (fields, statuses, cancel, overlap, repeating series)."""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.db import IntegrityError, connection
from django.utils import timezone

from calendar_app.models import Appointment, AppointmentStatus
from calendar_app.services import (
    appointment_book,
    appointment_book_series,
    appointment_cancel,
    appointment_delete,
    appointment_edit,
    appointment_mark_arrived,
    appointment_mark_missed,
    series_occurrences,
)
from kernel.errors import NotAllowed
from tests.factories import (
    AppointmentFactory,
    CancellationReasonFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    PractitionerFactory,
    next_local,
)
from tests.refusals import refusal as _refusal

pytestmark = pytest.mark.django_db


def test_end_defaults_to_start_plus_service_duration(practice, reception):
    appointment = practice.book(by=reception, service=practice.initial)
    assert appointment.ends_at - appointment.starts_at == dt.timedelta(minutes=45)
    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.created_by == reception


@pytest.mark.parametrize(
    ("row", "code"),
    [
        ("client", "client_archived"),
        ("practitioner", "practitioner_archived"),
        ("location", "location_archived"),
        ("follow_up", "service_archived"),
    ],
)
def test_archived_client_practitioner_location_or_service_cannot_be_booked(
    practice, reception, row, code
):
    archived = getattr(practice, row)
    archived.archived = True
    archived.save()
    _refusal(lambda: practice.book(by=reception), code)
    assert not Appointment.objects.exists()


def test_end_before_start_is_refused(practice, reception):
    start = next_local()
    _refusal(
        lambda: practice.book(
            by=reception, starts_at=start, ends_at=start - dt.timedelta(minutes=5)
        ),
        "invalid_time",
    )
    assert not Appointment.objects.exists()


def test_practitioner_cannot_have_overlapping_appointments(practice, reception):
    first = practice.book(by=reception, hour=10)
    error = _refusal(
        lambda: practice.book(
            by=reception,
            starts_at=first.starts_at + dt.timedelta(minutes=15),
            client=practice.client,
        ),
        "overlap",
    )
    assert "Sam Physio already has an appointment at that time" in error.message
    assert Appointment.objects.count() == 1


def test_back_to_back_appointments_do_not_overlap(practice, reception):
    first = practice.book(by=reception, hour=10)
    second = practice.book(by=reception, starts_at=first.ends_at)
    assert second.starts_at == first.ends_at


def test_other_practitioner_may_book_the_same_time(practice, reception):
    first = practice.book(by=reception, hour=10)
    other = practice.book(
        by=reception, starts_at=first.starts_at, practitioner=PractitionerFactory()
    )
    assert other.pk


def test_canceled_appointment_frees_the_slot(practice, reception):
    first = practice.book(by=reception, hour=10)
    appointment_cancel(appointment=first, reason=practice.reason, by=reception)
    assert practice.book(by=reception, starts_at=first.starts_at).pk


def test_database_enforces_no_overlap_even_without_the_service(practice):
    first = AppointmentFactory(practitioner=practice.practitioner)
    with pytest.raises(IntegrityError) as exc:
        AppointmentFactory(
            practitioner=practice.practitioner,
            starts_at=first.starts_at + dt.timedelta(minutes=1),
            ends_at=first.ends_at + dt.timedelta(minutes=1),
        )
    assert "appointment_no_practitioner_overlap" in str(exc.value)


def test_cancel_needs_a_reason(practice, reception):
    appointment = practice.book(by=reception)
    _refusal(
        lambda: appointment_cancel(appointment=appointment, reason=None, by=reception),
        "reason_required",
    )
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_archived_cancellation_reason_is_refused(practice, reception):
    old = CancellationReasonFactory(name="Old reason", archived=True)
    _refusal(
        lambda: appointment_cancel(
            appointment=practice.book(by=reception), reason=old, by=reception
        ),
        "reason_archived",
    )


def test_past_appointment_cannot_be_canceled_mark_missed_instead(practice, reception):
    appointment = practice.book(by=reception)
    with time_machine.travel(appointment.starts_at + dt.timedelta(hours=1)):
        error = _refusal(
            lambda: appointment_cancel(
                appointment=appointment, reason=practice.reason, by=reception
            ),
            "past_appointment",
        )
        assert "mark it Missed" in error.message
        appointment_mark_missed(appointment=appointment, by=reception)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.MISSED


def test_cancel_records_reason_and_time(practice, reception):
    appointment = practice.book(by=reception)
    appointment_cancel(appointment=appointment, reason=practice.reason, by=reception)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELED
    assert appointment.cancellation_reason == practice.reason
    assert appointment.canceled_at is not None


def test_canceling_twice_is_refused(practice, reception):
    appointment = practice.book(by=reception)
    appointment_cancel(appointment=appointment, reason=practice.reason, by=reception)
    _refusal(
        lambda: appointment_cancel(appointment=appointment, reason=practice.reason, by=reception),
        "appointment_canceled",
    )


def test_missed_only_once_the_appointment_has_started(practice, reception):
    appointment = practice.book(by=reception)
    _refusal(lambda: appointment_mark_missed(appointment=appointment, by=reception), "not_yet")


def test_arrived_not_before_the_appointments_day(practice, reception):
    appointment = practice.book(by=reception, days=3)
    _refusal(lambda: appointment_mark_arrived(appointment=appointment, by=reception), "not_yet")
    with time_machine.travel(appointment.starts_at - dt.timedelta(minutes=10)):
        appointment_mark_arrived(appointment=appointment, by=reception)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.ARRIVED


def test_canceled_appointment_cannot_change_status(practice, reception):
    appointment = practice.book(by=reception, days=1, hour=23)
    appointment_cancel(appointment=appointment, reason=practice.reason, by=reception)
    _refusal(
        lambda: appointment_mark_arrived(appointment=appointment, by=reception),
        "appointment_canceled",
    )


def test_invoiced_appointment_cannot_be_deleted(practice, reception):
    appointment = practice.book(by=reception)
    InvoiceLineFactory(invoice=InvoiceFactory(client=practice.client), appointment=appointment)
    _refusal(
        lambda: appointment_delete(appointment=appointment, by=reception), "appointment_invoiced"
    )
    assert Appointment.objects.filter(pk=appointment.pk).exists()


def test_accountant_has_a_read_only_calendar(practice, accountant, reception):
    with pytest.raises(NotAllowed):
        practice.book(by=accountant)
    appointment = practice.book(by=reception)
    with pytest.raises(NotAllowed):
        appointment_cancel(appointment=appointment, reason=practice.reason, by=accountant)
    with pytest.raises(NotAllowed):
        appointment_edit(appointment=appointment, notes="x", by=accountant)


def test_edit_moves_the_appointment_and_keeps_its_duration(practice, reception):
    appointment = practice.book(by=reception, service=practice.initial)
    later = appointment.starts_at + dt.timedelta(hours=3)
    appointment_edit(appointment=appointment, starts_at=later, by=reception)
    appointment.refresh_from_db()
    assert appointment.starts_at == later
    assert appointment.ends_at - appointment.starts_at == dt.timedelta(minutes=45)


def test_edit_into_an_overlap_is_refused(practice, reception):
    first = practice.book(by=reception, hour=10)
    second = practice.book(by=reception, hour=12)
    _refusal(
        lambda: appointment_edit(appointment=second, starts_at=first.starts_at, by=reception),
        "overlap",
    )
    second.refresh_from_db()
    assert second.starts_at.hour != first.starts_at.hour or second.starts_at != first.starts_at


def test_unknown_edit_field_is_refused(practice, reception):
    appointment = practice.book(by=reception)
    _refusal(
        lambda: appointment_edit(appointment=appointment, client_package=None, by=reception),
        "invalid_field",
    )


# --- Repeating appointments -----------------------------------------------------------


def _series(practice, by, **kwargs):
    params = dict(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        service=practice.follow_up,
        starts_at=next_local(days=1),
        every_weeks=1,
        weekdays=[next_local(days=1).weekday()],
        count=4,
        by=by,
    )
    params.update(kwargs)
    return appointment_book_series(**params)


def test_series_repeats_every_n_weeks_on_chosen_weekdays():
    tz = zoneinfo.ZoneInfo("Australia/Sydney")
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=tz)  # a Monday
    occurrences = series_occurrences(starts_at=start, every_weeks=2, weekdays=[0, 3], count=5)
    local = [timezone.localtime(o).strftime("%a %d %b %H:%M") for o in occurrences]
    assert local == [
        "Mon 02 Mar 09:00",
        "Thu 05 Mar 09:00",
        "Mon 16 Mar 09:00",
        "Thu 19 Mar 09:00",
        "Mon 30 Mar 09:00",
    ]


def test_series_keeps_local_clock_time_across_daylight_saving(settings):
    tz = zoneinfo.ZoneInfo("Australia/Sydney")
    start = dt.datetime(2026, 3, 30, 9, 0, tzinfo=tz)  # DST ends on 5 April 2026
    occurrences = series_occurrences(starts_at=start, every_weeks=1, weekdays=[0], count=2)
    assert [timezone.localtime(o).hour for o in occurrences] == [9, 9]
    elapsed = occurrences[1].astimezone(dt.UTC) - occurrences[0].astimezone(dt.UTC)
    assert elapsed == dt.timedelta(days=7, hours=1)


def test_series_skips_weekdays_before_the_start_in_the_first_week():
    tz = zoneinfo.ZoneInfo("Australia/Sydney")
    start = dt.datetime(2026, 3, 4, 9, 0, tzinfo=tz)  # a Wednesday
    occurrences = series_occurrences(starts_at=start, every_weeks=1, weekdays=[0, 2], count=3)
    assert [o.astimezone(tz).date().isoformat() for o in occurrences] == [
        "2026-03-04",
        "2026-03-09",
        "2026-03-11",
    ]


def test_book_series_creates_every_occurrence(practice, reception):
    series = _series(practice, reception, count=4)
    appointments = list(series.appointments.order_by("starts_at"))
    assert len(appointments) == 4
    assert all(a.client_package_id is None for a in appointments)
    assert [
        (b.starts_at - a.starts_at).days
        for a, b in zip(appointments, appointments[1:], strict=False)
    ] == [7, 7, 7]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"every_weeks": 5}, "invalid_repeat"),
        ({"every_weeks": 0}, "invalid_repeat"),
        ({"weekdays": []}, "invalid_repeat"),
        ({"weekdays": [7]}, "invalid_repeat"),
        ({"count": 0}, "invalid_repeat"),
        ({"count": 105}, "invalid_repeat"),
    ],
)
def test_invalid_repeat_options_are_refused(practice, reception, kwargs, code):
    _refusal(lambda: _series(practice, reception, **kwargs), code)
    assert not Appointment.objects.exists()


def test_series_with_one_clash_books_nothing(practice, reception):
    practice.book(by=reception, starts_at=next_local(days=15))
    _refusal(
        lambda: _series(
            practice,
            reception,
            starts_at=next_local(days=1),
            weekdays=[next_local(days=1).weekday()],
            count=4,
        ),
        "overlap",
    )
    assert Appointment.objects.count() == 1


def test_each_occurrence_can_be_canceled_on_its_own(practice, reception):
    series = _series(practice, reception)
    second = series.appointments.order_by("starts_at")[1]
    appointment_cancel(appointment=second, reason=practice.reason, by=reception)
    statuses = list(series.appointments.order_by("starts_at").values_list("status", flat=True))
    assert statuses == ["booked", "canceled", "booked", "booked"]


def test_cancel_this_and_following(practice, reception):
    series = _series(practice, reception)
    second = series.appointments.order_by("starts_at")[1]
    appointment_cancel(appointment=second, reason=practice.reason, scope="following", by=reception)
    statuses = list(series.appointments.order_by("starts_at").values_list("status", flat=True))
    assert statuses == ["booked", "canceled", "canceled", "canceled"]


def test_edit_this_and_following_moves_them_by_the_same_offset(practice, reception):
    series = _series(practice, reception)
    occurrences = list(series.appointments.order_by("starts_at"))
    appointment_edit(
        appointment=occurrences[2],
        starts_at=occurrences[2].starts_at + dt.timedelta(hours=2),
        scope="following",
        by=reception,
    )
    hours = [
        timezone.localtime(a.starts_at).hour for a in series.appointments.order_by("starts_at")
    ]
    assert hours == [10, 10, 12, 12]


def test_edit_one_occurrence_leaves_the_others(practice, reception):
    series = _series(practice, reception)
    first = series.appointments.order_by("starts_at")[0]
    appointment_edit(appointment=first, notes="Bring shoes", by=reception)
    assert list(series.appointments.order_by("starts_at").values_list("notes", flat=True)) == [
        "Bring shoes",
        "",
        "",
        "",
    ]


def test_series_cannot_hold_a_package_even_in_the_database(practice, reception):
    series = _series(practice, reception)
    sold = practice.sell()
    with pytest.raises(IntegrityError), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE calendar_app_appointment SET client_package_id = %s WHERE series_id = %s",
            [sold.pk, series.pk],
        )


def test_appointment_book_refuses_naive_times(practice, reception):
    _refusal(
        lambda: appointment_book(
            client=practice.client,
            practitioner=practice.practitioner,
            location=practice.location,
            service=practice.follow_up,
            starts_at=dt.datetime(2030, 1, 1, 10),  # noqa: DTZ001
            by=reception,
        ),
        "invalid_time",
    )


def test_series_meeting_a_time_the_clocks_skip_is_refused(practice, reception):
    """02:30 on 3 Oct 2027 never happens in Sydney: refuse, never shift it to 03:30."""
    tz = zoneinfo.ZoneInfo("Australia/Sydney")
    start = dt.datetime(2027, 9, 26, 2, 30, tzinfo=tz)  # a Sunday; DST starts 3 Oct 2027
    error = _refusal(
        lambda: appointment_book_series(
            client=practice.client,
            practitioner=practice.practitioner,
            location=practice.location,
            service=practice.follow_up,
            starts_at=start,
            every_weeks=1,
            weekdays=[6],
            count=3,
            by=reception,
        ),
        "time_in_dst_gap",
    )
    assert error.message.startswith("The repeat reaches 02:30 on Sun 3 Oct 2027, a time that")
    assert error.context["field"] == "starts_at"
    assert not Appointment.objects.filter(practitioner=practice.practitioner).exists()
    # The occurrence before the change is fine.
    occurrences = series_occurrences(starts_at=start, every_weeks=1, weekdays=[6], count=1)
    assert [timezone.localtime(o).strftime("%H:%M") for o in occurrences] == ["02:30"]


def test_an_occurrence_spanning_the_clock_change_keeps_its_length(practice, reception):
    """01:45 for 75 minutes on the night the clocks go forward ends at 04:00 local."""
    tz = zoneinfo.ZoneInfo("Australia/Sydney")
    start = dt.datetime(2027, 9, 26, 1, 45, tzinfo=tz)
    series = appointment_book_series(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        service=practice.follow_up,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=75),
        every_weeks=1,
        weekdays=[6],
        count=2,
        by=reception,
    )
    second = series.appointments.order_by("starts_at")[1]
    assert second.ends_at - second.starts_at == dt.timedelta(minutes=75)
    assert timezone.localtime(second.ends_at).strftime("%H:%M") == "04:00"


def test_a_series_is_refused_a_package_before_anything_is_booked(practice, reception):
    from calendar_app.models import AppointmentSeries
    from calendar_app.services import appointment_book_series

    sold = practice.sell(practice.flexible)
    start = next_local(hour=9, days=7)
    _refusal(
        lambda: appointment_book_series(
            client=practice.client,
            practitioner=practice.practitioner,
            location=practice.location,
            service=practice.follow_up,
            starts_at=start,
            every_weeks=1,
            weekdays=[start.weekday()],
            count=3,
            client_package=sold,
            by=reception,
        ),
        "repeating_appointment",
    )
    assert not AppointmentSeries.objects.exists()
    sold.refresh_from_db()
    assert sold.remaining == sold.credits
