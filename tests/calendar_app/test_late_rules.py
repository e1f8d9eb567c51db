"""Issue 13, part 6: cancellation and no-show rules (notice window, keep, release, fee)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from calendar_app.models import AppointmentStatus
from calendar_app.selectors import cancellation_outcome, missed_outcome
from invoicing.models import Invoice, InvoiceStatus
from invoicing.services import appointment_cancel_by_rules, appointment_missed_by_rules
from packages.models import ClientPackage, CreditLedgerEntry, LedgerKind
from practice.models import FeeKind, LateAction, PracticeSettings
from tests import refusals
from tests.factories import CancellationReasonFactory

pytestmark = pytest.mark.django_db

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def late(db):
    return CancellationReasonFactory(
        name="Late notice", notice_hours=24, late_action=LateAction.KEEP
    )


def linked(practice, by):
    sold = practice.sell(practice.flexible, by=by)
    return practice.book(by=by, days=3, client_package=sold), sold


@pytest.mark.parametrize(
    ("before", "inside"),
    [
        (dt.timedelta(hours=24) + MINUTE, False),
        (dt.timedelta(hours=24), False),  # "less than 24 hours": exactly 24 is outside
        (dt.timedelta(hours=24) - MINUTE, True),
    ],
)
def test_window_edges(practice, reception, late, before, inside):
    appointment, sold = linked(practice, reception)
    with time_machine.travel(appointment.starts_at - before, tick=False):
        outcome = cancellation_outcome(appointment, late)
        assert outcome.rule == ("inside_window" if inside else "outside_window")
        done = appointment_cancel_by_rules(appointment=appointment, reason=late, by=reception)
    assert done.kept_credit is inside
    sold.refresh_from_db()
    assert sold.consumed == (1 if inside else 0)


def test_why_is_said_before_confirming(practice, reception, late):
    appointment, _ = linked(practice, reception)
    with time_machine.travel(appointment.starts_at - dt.timedelta(hours=3), tick=False):
        why = cancellation_outcome(appointment, late).why
    assert why == (
        "Canceled 3 hours before the start: inside the 24-hour window, so the credit of "
        "Flexi 5 is kept."
    )
    with time_machine.travel(appointment.starts_at - dt.timedelta(hours=23, minutes=59)):
        assert "23 hours 59 minutes" in cancellation_outcome(appointment, late).why


def test_reason_without_a_window_releases(practice, reception):
    appointment, sold = linked(practice, reception)
    with time_machine.travel(appointment.starts_at - dt.timedelta(hours=1), tick=False):
        done = appointment_cancel_by_rules(
            appointment=appointment, reason=practice.reason, by=reception
        )
    assert done.rule == "no_window" and not done.kept_credit
    assert "credit goes back to Flexi 5" in done.why
    sold.refresh_from_db()
    assert sold.consumed == 0


def test_release_inside_the_window(practice, reception):
    reason = CancellationReasonFactory(
        name="Illness", notice_hours=48, late_action=LateAction.RELEASE
    )
    appointment, sold = linked(practice, reception)
    with time_machine.travel(appointment.starts_at - dt.timedelta(hours=2), tick=False):
        done = appointment_cancel_by_rules(appointment=appointment, reason=reason, by=reception)
    assert done.rule == "inside_window" and not done.kept_credit and done.fee is None
    assert Invoice.objects.count() == 0


@pytest.mark.parametrize(
    ("kind", "value", "fee"),
    [(FeeKind.FIXED, "25.00", "25.00"), (FeeKind.PERCENT, "50.00", "45.00")],
)
def test_fee_inside_the_window_is_a_draft_line(practice, reception, kind, value, fee):
    reason = CancellationReasonFactory(
        name="No notice",
        notice_hours=24,
        late_action=LateAction.FEE,
        fee_kind=kind,
        fee_value=Decimal(value),
    )
    appointment, sold = linked(practice, reception)  # follow-up at 90.00
    with time_machine.travel(appointment.starts_at - dt.timedelta(hours=2), tick=False):
        done = appointment_cancel_by_rules(appointment=appointment, reason=reason, by=reception)
    assert done.fee == Decimal(fee)
    invoice = done.invoice
    assert invoice.status == InvoiceStatus.DRAFT and invoice.client == practice.client
    (line,) = invoice.lines.all()
    assert line.unit_price == Decimal(fee)
    assert line.description.startswith("Late cancellation fee: Physio follow-up")
    sold.refresh_from_db()
    assert sold.consumed == 0  # the fee replaces the credit
    assert f"a fee of ${fee} is charged" in done.why


def test_staff_may_override_keep_and_waive_fee(practice, reception, late):
    appointment, sold = linked(practice, reception)
    with time_machine.travel(appointment.starts_at - dt.timedelta(hours=2), tick=False):
        done = appointment_cancel_by_rules(
            appointment=appointment, reason=late, keep_credit=False, by=reception
        )
    assert not done.kept_credit and "staff gave the credit back" in done.why
    sold.refresh_from_db()
    assert sold.consumed == 0


def test_practitioner_cannot_waive_a_fee(practice, reception, practitioner_user):
    reason = CancellationReasonFactory(
        name="No notice", notice_hours=24, late_action=LateAction.FEE, fee_value=Decimal("10")
    )
    appointment, _ = linked(practice, reception)
    with refusals.refused("permission_denied"):
        appointment_cancel_by_rules(
            appointment=appointment, reason=reason, charge_fee=False, by=practitioner_user
        )
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_cancel_twice_charges_once(practice, reception):
    reason = CancellationReasonFactory(
        name="No notice", notice_hours=24, late_action=LateAction.FEE, fee_value=Decimal("10")
    )
    appointment, _ = linked(practice, reception)
    with time_machine.travel(appointment.starts_at - dt.timedelta(hours=2), tick=False):
        appointment_cancel_by_rules(appointment=appointment, reason=reason, by=reception)
        with refusals.refused("appointment_canceled"):
            appointment_cancel_by_rules(appointment=appointment, reason=reason, by=reception)
    assert Invoice.objects.count() == 1


def test_missed_keeps_the_credit_by_default(practice, reception):
    appointment, sold = linked(practice, reception)
    with time_machine.travel(appointment.starts_at + MINUTE, tick=False):
        assert (
            "credit of Flexi 5 is kept" in missed_outcome(appointment, PracticeSettings.load()).why
        )
        done = appointment_missed_by_rules(appointment=appointment, by=reception)
    assert done.kept_credit and done.fee is None
    sold.refresh_from_db()
    assert sold.consumed == 1


def missed_fee(kind=FeeKind.FIXED, value="30.00"):
    settings = PracticeSettings.load()
    settings.missed_action = LateAction.FEE
    settings.missed_fee_kind = kind
    settings.missed_fee_value = Decimal(value)
    settings.save()


def test_missed_fee_charges_and_releases(practice, reception):
    missed_fee()
    appointment, sold = linked(practice, reception)
    with time_machine.travel(appointment.starts_at + MINUTE, tick=False):
        done = appointment_missed_by_rules(appointment=appointment, by=reception)
        again = appointment_missed_by_rules(appointment=appointment, by=reception)
    assert done.fee == Decimal("30.00") and done.invoice.lines.get().unit_price == Decimal("30.00")
    assert again.fee is None and again.rule == "already_missed"
    assert Invoice.objects.count() == 1
    sold = ClientPackage.objects.get(pk=sold.pk)
    assert sold.consumed == 0
    release = CreditLedgerEntry.objects.filter(kind=LedgerKind.RELEASE).get()
    assert "no-show fee" in release.reason
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.MISSED


def test_missed_fee_waived_keeps_the_credit(practice, reception):
    missed_fee(FeeKind.PERCENT, "100")
    appointment, sold = linked(practice, reception)
    with time_machine.travel(appointment.starts_at + MINUTE, tick=False):
        assert missed_outcome(appointment, PracticeSettings.load()).fee == Decimal("90.00")
        done = appointment_missed_by_rules(appointment=appointment, charge_fee=False, by=reception)
    assert done.kept_credit and done.fee is None and "waived" in done.why
    sold.refresh_from_db()
    assert sold.consumed == 1


def test_missed_before_the_start_is_refused_and_charges_nothing(practice, reception):
    missed_fee()
    appointment, sold = linked(practice, reception)
    with (
        time_machine.travel(appointment.starts_at - MINUTE, tick=False),
        refusals.refused("not_yet"),
    ):
        appointment_missed_by_rules(appointment=appointment, by=reception)
    assert Invoice.objects.count() == 0
    sold.refresh_from_db()
    assert sold.consumed == 1


def test_this_and_following_charges_only_the_occurrences_inside_the_window(practice, reception):
    from calendar_app.services import appointment_book_series
    from tests.factories import next_local

    reason = CancellationReasonFactory(
        name="No notice", notice_hours=24, late_action=LateAction.FEE, fee_value=Decimal("15")
    )
    start = next_local(hour=10, days=2)
    series = appointment_book_series(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        service=practice.follow_up,
        starts_at=start,
        every_weeks=1,
        weekdays=[start.weekday()],
        count=3,
        by=reception,
    )
    first = series.appointments.order_by("starts_at").first()
    with time_machine.travel(first.starts_at - dt.timedelta(hours=2), tick=False):
        done = appointment_cancel_by_rules(
            appointment=first, reason=reason, scope="following", by=reception
        )
    assert series.appointments.filter(status=AppointmentStatus.CANCELED).count() == 3
    # Only the first is inside its window; the next two are a week or more away.
    assert done.fee == Decimal("15.00")
    assert done.invoice.lines.count() == 1
