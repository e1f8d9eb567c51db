"""DOMAIN.md: Classes (group sessions). A service with capacity > 1 is a class; each
attendee is an appointment of the session (same practitioner, location, service, times)."""

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from calendar_app.models import Appointment, AppointmentStatus, ClassSession
from calendar_app.services import (
    appointment_book_series,
    appointment_cancel,
    appointment_delete,
    appointment_edit,
    appointment_link,
    appointment_mark_arrived,
    class_session_mark_arrived,
)
from packages.selectors import ledger_discrepancies
from tests.factories import ClientFactory, PackageFactory, ServiceFactory, next_local
from tests.refusals import refusal, refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def pilates(practice):
    return ServiceFactory(name="Clinical pilates class", duration_minutes=60, capacity=3)


def _join(practice, pilates, reception, client=None, **kwargs):
    return practice.book(
        by=reception,
        service=pilates,
        client=client or ClientFactory(),
        starts_at=kwargs.pop("starts_at", next_local(hour=8)),
        **kwargs,
    )


def _set_capacity(pilates, capacity, by):
    """The class's capacity changed in Catalog after people booked."""
    from catalog.services import service_update

    service_update(
        service=pilates,
        name=pilates.name,
        category=None,
        duration_minutes=60,
        price=pilates.price,
        capacity=capacity,
        by=by,
    )


def _raw(practice, service, starts_at, ends_at, session=None) -> Appointment:
    """An appointment row written straight to the database, past the services."""
    return Appointment.objects.create(
        client=ClientFactory(),
        practitioner=practice.practitioner,
        location=practice.location,
        service=service,
        starts_at=starts_at,
        ends_at=ends_at,
        class_session=session,
    )


def test_attendees_of_one_session_share_it_and_do_not_overlap(practice, pilates, reception):
    first = _join(practice, pilates, reception)
    second = _join(practice, pilates, reception)
    assert first.class_session_id is not None
    assert first.class_session_id == second.class_session_id
    assert ClassSession.objects.count() == 1


def test_an_ordinary_service_has_no_session(practice, reception):
    appointment = practice.book(by=reception)
    assert appointment.class_session_id is None
    assert practice.follow_up.capacity == 1
    assert not practice.follow_up.is_class


def test_a_full_class_refuses_the_next_attendee(practice, pilates, reception):
    for _ in range(3):
        _join(practice, pilates, reception)
    refusal(
        lambda: _join(practice, pilates, reception),
        "class_full",
        message="This class is full (3 of 3).",
    )
    assert Appointment.objects.count() == 3


def test_a_canceled_attendee_frees_the_place(practice, pilates, reception):
    attendees = [_join(practice, pilates, reception) for _ in range(3)]
    appointment_cancel(appointment=attendees[0], reason=practice.reason, by=reception)
    fourth = _join(practice, pilates, reception)
    assert fourth.class_session_id == attendees[0].class_session_id


def test_a_deleted_attendee_frees_the_place(practice, pilates, reception, admin_user):
    attendees = [_join(practice, pilates, reception) for _ in range(3)]
    appointment_delete(appointment=attendees[0], by=admin_user)
    _join(practice, pilates, reception)


def test_a_client_attends_a_session_once(practice, pilates, reception):
    client = ClientFactory()
    _join(practice, pilates, reception, client=client)
    refusal(lambda: _join(practice, pilates, reception, client=client), "already_attending")


def test_a_session_may_not_overlap_another_appointment_of_the_practitioner(
    practice, pilates, reception
):
    _join(practice, pilates, reception)
    # an ordinary appointment during the class
    refusal(
        lambda: practice.book(
            by=reception, starts_at=next_local(hour=8) + dt.timedelta(minutes=30)
        ),
        "overlap",
    )
    # another session of the class that overlaps (a different start)
    refusal(
        lambda: _join(
            practice, pilates, reception, starts_at=next_local(hour=8) + dt.timedelta(minutes=15)
        ),
        "overlap",
    )


def test_a_class_cannot_be_booked_over_an_appointment(practice, pilates, reception):
    practice.book(by=reception, starts_at=next_local(hour=8))
    refusal(lambda: _join(practice, pilates, reception), "overlap")


def test_joining_a_session_names_the_clash_found_by_the_constraint(practice, pilates, reception):
    """Booking has no overlap pre-check (issue 10): the exclusion constraint refuses and
    the message names the other appointment, never the session's own attendees."""
    first = _join(practice, pilates, reception)
    _join(practice, pilates, reception)
    for attendee in Appointment.objects.filter(class_session_id=first.class_session_id):
        appointment_cancel(appointment=attendee, reason=practice.reason, by=reception)
    ordinary = practice.book(by=reception, starts_at=next_local(hour=8) + dt.timedelta(minutes=30))
    with refused("overlap") as refusal_info:
        _join(practice, pilates, reception)
    at = timezone.localtime(ordinary.starts_at).strftime("%H:%M")
    assert refusal_info.value.message.endswith(f", {at}).")
    # the session's attendees still join one another without an overlap
    joined = [_join(practice, pilates, reception, starts_at=next_local(hour=11)) for _ in range(3)]
    assert len({a.class_session_id for a in joined}) == 1
    refusal(
        lambda: _join(practice, pilates, reception, starts_at=next_local(hour=11)),
        "class_full",
        message="This class is full (3 of 3).",
    )


def test_the_database_refuses_an_overlapping_session(practice, pilates, reception):
    """The exclusion constraint, not only the service's pre-check."""
    first = _join(practice, pilates, reception)
    other = ClassSession.objects.create(
        practitioner=practice.practitioner,
        location=practice.location,
        service=pilates,
        starts_at=first.starts_at + dt.timedelta(minutes=30),
        ends_at=first.ends_at + dt.timedelta(minutes=30),
    )
    with (
        pytest.raises(IntegrityError, match="appointment_no_practitioner_overlap"),
        transaction.atomic(),
    ):
        _raw(practice, pilates, other.starts_at, other.ends_at, other)
    # ... nor an ordinary row in the session's time
    with (
        pytest.raises(IntegrityError, match="appointment_no_practitioner_overlap"),
        transaction.atomic(),
    ):
        _raw(practice, practice.follow_up, first.starts_at, first.ends_at)


def test_the_database_refuses_an_attendee_beyond_the_capacity(practice, pilates, reception):
    """The capacity trigger: even a write that skips the services cannot overbook."""
    attendees = [_join(practice, pilates, reception) for _ in range(3)]
    session = attendees[0].class_session
    with (
        pytest.raises(IntegrityError, match="class_session_capacity|is full"),
        transaction.atomic(),
    ):
        _raw(practice, pilates, session.starts_at, session.ends_at, session)
    # nor by bringing a canceled attendee back
    appointment_cancel(appointment=attendees[0], reason=practice.reason, by=reception)
    _join(practice, pilates, reception)
    with pytest.raises(IntegrityError, match="is full"), transaction.atomic():
        Appointment.objects.filter(pk=attendees[0].pk).update(
            status=AppointmentStatus.BOOKED, cancellation_reason=None, canceled_at=None
        )


def test_the_database_keeps_an_attendee_on_its_session_details(practice, pilates, reception):
    attendee = _join(practice, pilates, reception)
    with (
        pytest.raises(IntegrityError, match="appointment_matches_class_session"),
        transaction.atomic(),
    ):
        Appointment.objects.filter(pk=attendee.pk).update(
            ends_at=attendee.ends_at + dt.timedelta(minutes=5)
        )


def test_each_attendee_uses_their_own_package(practice, pilates, reception):
    pass_ = PackageFactory(name="Pilates 10-class pass", credits=10, services=[pilates])
    ann, bob, cat = ClientFactory(), ClientFactory(), ClientFactory()
    ann_pass = practice.sell(pass_, client=ann)
    bob_pass = practice.sell(pass_, client=bob)
    a = _join(practice, pilates, reception, client=ann, client_package=ann_pass)
    b = _join(practice, pilates, reception, client=bob)
    appointment_link(appointment=b, client_package=bob_pass, by=reception)
    c = _join(practice, pilates, reception, client=cat)
    # every linking rule holds per attendee: not someone else's package
    refusal(
        lambda: appointment_link(appointment=c, client_package=ann_pass, by=reception),
        "package_other_client",
    )
    for sold in (ann_pass, bob_pass):
        sold.refresh_from_db()
        assert (sold.consumed, sold.remaining) == (1, 9)
    # a late cancellation keeps the credit; the place is free again
    appointment_cancel(appointment=a, reason=practice.reason, keep_credit=True, by=reception)
    ann_pass.refresh_from_db()
    assert ann_pass.consumed == 1
    # canceling normally releases it
    appointment_cancel(appointment=b, reason=practice.reason, by=reception)
    bob_pass.refresh_from_db()
    assert bob_pass.consumed == 0
    assert ledger_discrepancies() == []


def test_arrived_for_all_and_per_person(practice, pilates, reception):
    attendees = [_join(practice, pilates, reception) for _ in range(3)]
    appointment_cancel(appointment=attendees[2], reason=practice.reason, by=reception)
    with time_machine.travel(attendees[0].starts_at, tick=False):
        appointment_mark_arrived(appointment=attendees[0], by=reception)
        marked = class_session_mark_arrived(session=attendees[0].class_session, by=reception)
    assert [a.pk for a in marked] == [attendees[1].pk]
    statuses = dict(Appointment.objects.values_list("pk", "status"))
    assert statuses == {
        attendees[0].pk: AppointmentStatus.ARRIVED,
        attendees[1].pk: AppointmentStatus.ARRIVED,
        attendees[2].pk: AppointmentStatus.CANCELED,
    }


def test_all_arrived_is_refused_before_the_day(practice, pilates, reception):
    attendee = _join(practice, pilates, reception, starts_at=next_local(hour=8, days=3))
    refusal(
        lambda: class_session_mark_arrived(session=attendee.class_session, by=reception),
        "not_yet",
    )
    attendee.refresh_from_db()
    assert attendee.status == AppointmentStatus.BOOKED


def test_moving_an_attendee_changes_their_session(practice, pilates, reception):
    attendee = _join(practice, pilates, reception)
    old_session = attendee.class_session_id
    later = next_local(hour=11)
    moved = appointment_edit(appointment=attendee, starts_at=later, by=reception)
    assert moved.class_session_id != old_session
    assert moved.class_session.starts_at == later


def test_moving_into_a_full_session_is_refused(practice, pilates, reception):
    for _ in range(3):
        _join(practice, pilates, reception, starts_at=next_local(hour=11))
    attendee = _join(practice, pilates, reception)
    refusal(
        lambda: appointment_edit(appointment=attendee, starts_at=next_local(hour=11), by=reception),
        "class_full",
    )


def test_editing_an_attendee_in_an_overfull_session_keeps_their_place(
    practice, pilates, reception, admin_user
):
    """The capacity lowered after booking: those booked stay and can be edited."""
    attendees = [_join(practice, pilates, reception) for _ in range(3)]
    _set_capacity(pilates, 2, by=admin_user)
    appointment_edit(appointment=attendees[0], notes="Bring a towel", by=reception)
    refusal(
        lambda: _join(practice, pilates, reception),
        "class_full",
        message="This class is full (3 of 2).",
    )


def test_a_repeating_class_books_each_occurrence_into_its_session(practice, pilates, reception):
    monday = next_local(hour=8, days=7 - timezone.localdate().weekday())
    series = appointment_book_series(
        client=ClientFactory(),
        practitioner=practice.practitioner,
        location=practice.location,
        service=pilates,
        starts_at=monday,
        every_weeks=1,
        weekdays=[0],
        count=3,
        by=reception,
    )
    sessions = {a.class_session_id for a in series.appointments.all()}
    assert len(sessions) == 3 and None not in sessions
    # a second client joins the second occurrence only
    second = series.appointments.order_by("starts_at")[1]
    joined = _join(practice, pilates, reception, starts_at=second.starts_at)
    assert joined.class_session_id == second.class_session_id
    # all or nothing: a series meeting a full occurrence books nothing
    for _ in range(1):
        _join(practice, pilates, reception, starts_at=second.starts_at)
    before = Appointment.objects.count()
    refusal(
        lambda: appointment_book_series(
            client=ClientFactory(),
            practitioner=practice.practitioner,
            location=practice.location,
            service=pilates,
            starts_at=monday,
            every_weeks=1,
            weekdays=[0],
            count=3,
            by=reception,
        ),
        "class_full",
    )
    assert Appointment.objects.count() == before


def test_a_repeating_class_uses_no_package(practice, pilates, reception):
    pass_ = PackageFactory(name="Pilates 10-class pass", credits=10, services=[pilates])
    client = ClientFactory()
    sold = practice.sell(pass_, client=client)
    refusal(
        lambda: appointment_book_series(
            client=client,
            practitioner=practice.practitioner,
            location=practice.location,
            service=pilates,
            starts_at=next_local(hour=8),
            every_weeks=1,
            weekdays=[0],
            count=2,
            client_package=sold,
            by=reception,
        ),
        "repeating_appointment",
    )


def test_a_class_counts_in_the_ledger_like_any_appointment(practice, pilates, reception):
    """Each linked attendee consumed one credit of their own package; the ledger agrees."""
    pass_ = PackageFactory(name="Pilates 10-class pass", credits=10, services=[pilates])
    for _ in range(3):
        client = ClientFactory()
        _join(
            practice,
            pilates,
            reception,
            client=client,
            client_package=practice.sell(pass_, client=client),
        )
    assert ledger_discrepancies() == []
    assert (
        sum(a.client_package.consumed for a in Appointment.objects.select_related("client_package"))
        == 3
    )


def test_this_and_following_of_a_repeating_attendee(practice, pilates, reception):
    """A client on a repeating class: canceling this and following frees their place in
    each later session; moving this and following moves them to the sessions then."""
    monday = next_local(hour=8, days=7 - timezone.localdate().weekday())
    series = appointment_book_series(
        client=ClientFactory(),
        practitioner=practice.practitioner,
        location=practice.location,
        service=pilates,
        starts_at=monday,
        every_weeks=1,
        weekdays=[0],
        count=4,
        by=reception,
    )
    occurrences = list(series.appointments.order_by("starts_at"))
    for occurrence in occurrences:  # two more per session: full
        _join(practice, pilates, reception, starts_at=occurrence.starts_at)
        _join(practice, pilates, reception, starts_at=occurrence.starts_at)
    moved = appointment_edit(
        appointment=occurrences[2],
        starts_at=occurrences[2].starts_at + dt.timedelta(hours=2),
        scope="following",
        by=reception,
    )
    later = Appointment.objects.filter(series=series).order_by("starts_at")
    assert [
        a.class_session_id == o.class_session_id for a, o in zip(later, occurrences, strict=True)
    ] == [
        True,
        True,
        False,
        False,
    ]
    assert moved.class_session.starts_at == moved.starts_at
    appointment_cancel(
        appointment=occurrences[1], reason=practice.reason, scope="following", by=reception
    )
    for occurrence in occurrences[1:]:  # the old sessions have a place again
        _join(practice, pilates, reception, starts_at=occurrence.starts_at)
    refusal(
        lambda: _join(practice, pilates, reception, starts_at=occurrences[0].starts_at),
        "class_full",
    )


def test_a_class_made_ordinary_keeps_its_sessions(practice, pilates, reception, admin_user):
    """Capacity lowered to 1 with attendees booked: they stay and can be edited; nobody
    joins; a new time is an ordinary appointment."""
    attendees = [_join(practice, pilates, reception) for _ in range(2)]
    _set_capacity(pilates, 1, by=admin_user)
    edited = appointment_edit(appointment=attendees[1], notes="Knee brace", by=reception)
    assert edited.class_session_id == attendees[0].class_session_id
    refusal(
        lambda: _join(practice, pilates, reception),
        "class_full",
        message="This class is full (2 of 1).",
    )
    later = _join(practice, pilates, reception, starts_at=next_local(hour=14))
    assert later.class_session_id is None
