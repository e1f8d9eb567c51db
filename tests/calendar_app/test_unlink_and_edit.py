""" "Edit details with the X": unlink the package and edit the appointment, both or neither
(`calendar_app.services.appointment_unlink_and_edit`, offered by the page and the API)."""

import datetime as dt

import pytest
from django.utils import timezone

from calendar_app.services import appointment_cancel, appointment_unlink_and_edit
from kernel.errors import DomainError, NotAllowed
from packages.models import CreditLedgerEntry, LedgerKind
from tests.factories import ClientFactory, PractitionerFactory, next_local

pytestmark = pytest.mark.django_db


def _refusal(call, code):
    with pytest.raises(DomainError) as exc:
        call()
    assert exc.value.code == code, exc.value.message
    return exc.value


def test_unlinks_gives_the_credit_back_and_edits_in_one_step(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception, client_package=sold)
    other = ClientFactory()
    # Each change alone would be refused while linked (another client, uncovered service).
    edited = appointment_unlink_and_edit(
        appointment=appointment, client=other, service=practice.massage, by=reception
    )
    appointment.refresh_from_db()
    sold.refresh_from_db()
    assert edited.pk == appointment.pk
    assert (appointment.client_package_id, appointment.client, appointment.service) == (
        None,
        other,
        practice.massage,
    )
    assert (sold.consumed, sold.remaining) == (0, 4)
    release = CreditLedgerEntry.objects.filter(client_package=sold).order_by("-id").first()
    assert (release.kind, release.appointment_id, release.reason) == (
        LedgerKind.RELEASE,
        appointment.pk,
        "Appointment unlinked",
    )


def test_without_changes_it_only_unlinks(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception, client_package=sold)
    appointment_unlink_and_edit(appointment=appointment, by=reception)
    appointment.refresh_from_db()
    sold.refresh_from_db()
    assert appointment.client_package_id is None and sold.remaining == 4


def test_a_refused_edit_leaves_the_appointment_linked_and_the_credit_used(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception, client_package=sold)
    busy = practice.book(by=reception, days=2)
    rows = CreditLedgerEntry.objects.count()
    _refusal(
        lambda: appointment_unlink_and_edit(
            appointment=appointment, starts_at=busy.starts_at, by=reception
        ),
        "overlap",
    )
    appointment.refresh_from_db()
    sold.refresh_from_db()
    assert appointment.client_package_id == sold.pk
    assert (sold.consumed, CreditLedgerEntry.objects.count()) == (1, rows)


def test_an_unlinked_appointment_is_refused_and_not_edited(practice, reception):
    appointment = practice.book(by=reception)
    _refusal(
        lambda: appointment_unlink_and_edit(appointment=appointment, notes="x", by=reception),
        "not_linked",
    )
    appointment.refresh_from_db()
    assert appointment.notes == ""


def test_a_canceled_appointment_that_kept_its_credit_is_refused(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception, client_package=sold)
    appointment_cancel(
        appointment=appointment, reason=practice.reason, keep_credit=True, by=reception
    )
    _refusal(
        lambda: appointment_unlink_and_edit(appointment=appointment, by=reception),
        "appointment_canceled",
    )
    sold.refresh_from_db()
    assert sold.consumed == 1


def test_it_needs_both_edit_and_link_permissions(practice, reception, accountant):
    appointment = practice.book(by=reception, client_package=practice.sell())
    with pytest.raises(NotAllowed):
        appointment_unlink_and_edit(appointment=appointment, notes="x", by=accountant)
    appointment.refresh_from_db()
    assert appointment.client_package_id is not None


def test_the_edit_may_move_to_another_practitioner_and_time(practice, reception):
    appointment = practice.book(by=reception, client_package=practice.sell())
    later = next_local(hour=15, days=9)
    someone = PractitionerFactory()
    appointment_unlink_and_edit(
        appointment=appointment, practitioner=someone, starts_at=later, by=reception
    )
    appointment.refresh_from_db()
    assert (appointment.practitioner, appointment.starts_at) == (someone, later)
    assert appointment.ends_at - appointment.starts_at == dt.timedelta(minutes=30)
    assert timezone.localdate(appointment.starts_at) == later.date()
