"""DOMAIN.md: Matching a package when booking; Linking and unlinking; the ledger."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from calendar_app.models import AppointmentStatus
from calendar_app.services import (
    appointment_book_series,
    appointment_cancel,
    appointment_delete,
    appointment_edit,
    appointment_link,
    appointment_mark_missed,
    appointment_unlink,
)
from kernel.errors import NotAllowed
from packages.models import ClientPackageStatus, CreditLedgerEntry, LedgerKind
from packages.selectors import client_package_matches, ledger_discrepancies
from packages.services import client_package_adjust, client_package_cancel
from tests.factories import ClientFactory, next_local
from tests.refusals import refusal as _refusal

pytestmark = pytest.mark.django_db


# --- Matching -----------------------------------------------------------------------


def test_matches_are_the_clients_active_packages_with_credit(practice, admin_user):
    fixed = practice.sell()
    flexible = practice.sell(practice.flexible)
    other_client = practice.sell(client=ClientFactory())
    canceled = practice.sell(practice.flexible)
    client_package_cancel(client_package=canceled, reason="x", by=admin_user)
    completed = practice.sell(practice.flexible)
    client_package_adjust(client_package=completed, quantity=-5, reason="x", by=admin_user)
    expired = practice.sell(start_date=timezone.localdate() - dt.timedelta(days=200))

    matches = set(client_package_matches(client=practice.client, on_date=timezone.localdate()))
    assert matches == {fixed, flexible}
    assert other_client not in matches and expired not in matches


def test_matches_exclude_packages_expiring_before_the_appointment_date(practice):
    sold = practice.sell()  # expires in 3 months
    assert list(client_package_matches(client=practice.client, on_date=sold.expires_on)) == [sold]
    later = sold.expires_on + dt.timedelta(days=1)
    assert list(client_package_matches(client=practice.client, on_date=later)) == []


def test_matches_with_a_service_need_cover_and_allowance_left(practice, reception):
    fixed = practice.sell()
    today = timezone.localdate()
    assert (
        list(
            client_package_matches(client=practice.client, on_date=today, service=practice.massage)
        )
        == []
    )
    assert list(
        client_package_matches(client=practice.client, on_date=today, service=practice.initial)
    ) == [fixed]
    appointment = practice.book(by=reception, service=practice.initial)
    appointment_link(appointment=appointment, client_package=fixed, by=reception)
    # The one initial consultation is used; follow-ups still match.
    assert (
        list(
            client_package_matches(client=practice.client, on_date=today, service=practice.initial)
        )
        == []
    )
    assert list(
        client_package_matches(client=practice.client, on_date=today, service=practice.follow_up)
    ) == [fixed]


# --- Linking --------------------------------------------------------------------------


def test_link_consumes_one_credit_in_the_ledger(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception)
    appointment_link(appointment=appointment, client_package=sold, by=reception)
    sold.refresh_from_db()
    appointment.refresh_from_db()
    assert appointment.client_package == sold
    assert (sold.consumed, sold.remaining) == (1, 3)
    row = CreditLedgerEntry.objects.get(client_package=sold, kind=LedgerKind.CONSUME)
    assert (row.quantity, row.appointment_id, row.service, row.created_by) == (
        -1,
        appointment.pk,
        practice.follow_up,
        reception,
    )


def test_booking_with_a_package_links_in_the_same_transaction(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception, client_package=sold)
    sold.refresh_from_db()
    assert appointment.client_package_id == sold.pk
    assert sold.consumed == 1


def test_booking_with_a_package_that_does_not_match_books_nothing(practice, reception):
    sold = practice.sell()
    _refusal(
        lambda: practice.book(by=reception, service=practice.massage, client_package=sold),
        "service_not_covered",
    )
    assert not practice.client.appointments.exists()
    sold.refresh_from_db()
    assert sold.consumed == 0


def test_flexible_package_draws_from_one_shared_pool(practice, reception):
    sold = practice.sell(practice.flexible)
    for day, service in enumerate(
        [practice.initial, practice.follow_up, practice.follow_up], start=1
    ):
        appointment_link(
            appointment=practice.book(by=reception, days=day, service=service),
            client_package=sold,
            by=reception,
        )
    sold.refresh_from_db()
    assert sold.remaining == 2
    assert all(s.allowance is None for s in sold.services.all())


def test_fixed_allowance_used_up_is_refused_with_the_service_named(practice, reception):
    sold = practice.sell()
    appointment_link(
        appointment=practice.book(by=reception, service=practice.initial),
        client_package=sold,
        by=reception,
    )
    second = practice.book(by=reception, days=2, service=practice.initial)
    error = _refusal(
        lambda: appointment_link(appointment=second, client_package=sold, by=reception),
        "no_credits_left",
    )
    assert (
        error.message == "No credits left for Physio initial consultation in Physio Starter Pack."
    )
    second.refresh_from_db()
    assert second.client_package is None


def test_link_refused_when_package_completed(practice, reception):
    sold = practice.sell(practice.flexible)
    for day in range(1, 6):
        appointment_link(
            appointment=practice.book(by=reception, days=day), client_package=sold, by=reception
        )
    sold.refresh_from_db()
    assert sold.status == ClientPackageStatus.COMPLETED
    _refusal(
        lambda: appointment_link(
            appointment=practice.book(by=reception, days=6), client_package=sold, by=reception
        ),
        "no_credits_left",
    )


def test_link_refused_when_package_canceled(practice, reception):
    sold = practice.sell()
    client_package_cancel(client_package=sold, reason="x", by=reception)
    _refusal(
        lambda: appointment_link(
            appointment=practice.book(by=reception), client_package=sold, by=reception
        ),
        "package_not_eligible",
    )


def test_link_refused_when_appointment_is_after_expiry(practice, reception):
    sold = practice.sell()
    late = practice.book(
        by=reception, starts_at=next_local(days=(sold.expires_on - timezone.localdate()).days + 1)
    )
    error = _refusal(
        lambda: appointment_link(appointment=late, client_package=sold, by=reception),
        "package_expired",
    )
    assert "before this appointment" in error.message


def test_expiry_date_is_the_last_day_an_appointment_may_use_the_package(practice, reception):
    """DOMAIN.md: the expiry date is the last day on which an appointment may use the
    package, counted in the practice's time zone (07:00 the next day is still the expiry
    date in UTC, and must be refused)."""
    sold = practice.sell()
    days = (sold.expires_on - timezone.localdate()).days
    last_day = practice.book(by=reception, starts_at=next_local(hour=23, days=days))
    appointment_link(appointment=last_day, client_package=sold, by=reception)
    assert list(client_package_matches(client=practice.client, on_date=sold.expires_on)) == [sold]
    day_after = practice.book(by=reception, starts_at=next_local(hour=7, days=days + 1))
    _refusal(
        lambda: appointment_link(appointment=day_after, client_package=sold, by=reception),
        "package_expired",
    )
    sold.refresh_from_db()
    assert sold.consumed == 1


def test_link_refused_when_package_already_expired(practice, reception):
    sold = practice.sell(start_date=timezone.localdate() - dt.timedelta(days=120))
    assert sold.status == ClientPackageStatus.EXPIRED
    _refusal(
        lambda: appointment_link(
            appointment=practice.book(by=reception), client_package=sold, by=reception
        ),
        "package_expired",
    )


def test_link_refused_when_package_expired_today_even_for_an_earlier_appointment(
    practice, reception
):
    """Matching needs the package Active today: once Expired, its remaining credits can't
    be used, not even by an appointment dated before the expiry date."""
    sold = practice.sell(start_date=timezone.localdate() - dt.timedelta(days=120))
    assert sold.status == ClientPackageStatus.EXPIRED
    earlier = practice.book(
        by=reception,
        starts_at=next_local(days=(sold.expires_on - timezone.localdate()).days - 5),
    )
    day = timezone.localdate(earlier.starts_at)
    assert list(client_package_matches(client=practice.client, on_date=day)) == []
    _refusal(
        lambda: appointment_link(appointment=earlier, client_package=sold, by=reception),
        "package_expired",
    )
    sold.refresh_from_db()
    assert sold.consumed == 0


def test_link_refused_when_service_not_covered(practice, reception):
    sold = practice.sell()
    _refusal(
        lambda: appointment_link(
            appointment=practice.book(by=reception, service=practice.massage),
            client_package=sold,
            by=reception,
        ),
        "service_not_covered",
    )


def test_link_refused_for_another_clients_package(practice, reception):
    theirs = practice.sell(client=ClientFactory())
    _refusal(
        lambda: appointment_link(
            appointment=practice.book(by=reception), client_package=theirs, by=reception
        ),
        "package_other_client",
    )


def test_link_refused_for_a_repeating_appointment(practice, reception):
    sold = practice.sell()
    series = appointment_book_series(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        service=practice.follow_up,
        starts_at=next_local(days=1),
        every_weeks=1,
        weekdays=[next_local(days=1).weekday()],
        count=3,
        by=reception,
    )
    occurrence = series.appointments.first()
    _refusal(
        lambda: appointment_link(appointment=occurrence, client_package=sold, by=reception),
        "repeating_appointment",
    )
    sold.refresh_from_db()
    assert sold.consumed == 0


def test_link_refused_for_a_canceled_appointment(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception)
    appointment_cancel(appointment=appointment, reason=practice.reason, by=reception)
    _refusal(
        lambda: appointment_link(appointment=appointment, client_package=sold, by=reception),
        "appointment_canceled",
    )


def test_an_appointment_links_to_at_most_one_package(practice, reception):
    first, second = practice.sell(), practice.sell(practice.flexible)
    appointment = practice.book(by=reception)
    appointment_link(appointment=appointment, client_package=first, by=reception)
    _refusal(
        lambda: appointment_link(appointment=appointment, client_package=second, by=reception),
        "already_linked",
    )
    _refusal(
        lambda: appointment_link(appointment=appointment, client_package=first, by=reception),
        "already_linked",
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.consumed, second.consumed) == (1, 0)


def test_link_with_a_chosen_service_books_that_service(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception, service=practice.follow_up)
    appointment_link(
        appointment=appointment, client_package=sold, service=practice.initial, by=reception
    )
    appointment.refresh_from_db()
    assert appointment.service == practice.initial
    assert sold.services.get(service=practice.initial).used == 1


def test_accountant_cannot_link(practice, accountant, reception):
    appointment = practice.book(by=reception)
    with pytest.raises(NotAllowed):
        appointment_link(appointment=appointment, client_package=practice.sell(), by=accountant)


# --- Unlinking ------------------------------------------------------------------------


def test_unlink_releases_the_credit(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception, client_package=sold)
    appointment_unlink(appointment=appointment, by=reception)
    sold.refresh_from_db()
    appointment.refresh_from_db()
    assert appointment.client_package is None
    assert sold.remaining == 4
    assert sold.services.get(service=practice.follow_up).used == 0
    kinds = list(
        CreditLedgerEntry.objects.filter(client_package=sold).values_list("kind", "quantity")
    )
    assert kinds[-2:] == [(LedgerKind.CONSUME, -1), (LedgerKind.RELEASE, 1)]


def test_unlinking_twice_is_refused(practice, reception):
    appointment = practice.book(by=reception, client_package=practice.sell())
    appointment_unlink(appointment=appointment, by=reception)
    _refusal(lambda: appointment_unlink(appointment=appointment, by=reception), "not_linked")


def test_unlink_makes_a_completed_package_active_again(practice, reception):
    sold = practice.sell(practice.flexible)
    appointments = [practice.book(by=reception, days=d, client_package=sold) for d in range(1, 6)]
    sold.refresh_from_db()
    assert sold.status == ClientPackageStatus.COMPLETED
    appointment_unlink(appointment=appointments[0], by=reception)
    sold.refresh_from_db()
    assert sold.status == ClientPackageStatus.ACTIVE


def test_unlink_of_a_canceled_completed_package_stays_canceled(practice, reception):
    sold = practice.sell(practice.flexible)
    appointments = [practice.book(by=reception, days=d, client_package=sold) for d in range(1, 6)]
    client_package_cancel(client_package=sold, reason="x", by=reception)
    appointment_unlink(appointment=appointments[0], by=reception)
    sold.refresh_from_db()
    assert sold.status == ClientPackageStatus.CANCELED


def test_unlink_after_expiry_leaves_a_completed_package_expired(practice, reception):
    """A Completed package becomes Active again only if it has not expired."""
    sold = practice.sell()  # 1 initial + 3 follow-ups, expires in 3 months
    services = [practice.initial, practice.follow_up, practice.follow_up, practice.follow_up]
    appointments = [
        practice.book(by=reception, days=day, service=service, client_package=sold)
        for day, service in enumerate(services, start=1)
    ]
    sold.refresh_from_db()
    assert sold.status == ClientPackageStatus.COMPLETED
    after_expiry = timezone.make_aware(
        dt.datetime.combine(sold.expires_on + dt.timedelta(days=2), dt.time(12))
    )
    with time_machine.travel(after_expiry, tick=False):
        appointment_unlink(appointment=appointments[0], by=reception)
        sold.refresh_from_db()
        assert sold.remaining == 1
        assert sold.status == ClientPackageStatus.EXPIRED


def test_deleting_a_linked_appointment_releases_its_credit(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception, client_package=sold)
    appointment_pk = appointment.pk
    appointment_delete(appointment=appointment, by=reception)
    sold.refresh_from_db()
    assert sold.remaining == 4
    release = CreditLedgerEntry.objects.get(client_package=sold, kind=LedgerKind.RELEASE)
    assert release.appointment_id == appointment_pk  # the ledger keeps the reference


def test_after_unlink_a_different_package_can_be_linked(practice, reception):
    first, second = practice.sell(), practice.sell(practice.flexible)
    appointment = practice.book(by=reception, client_package=first)
    appointment_unlink(appointment=appointment, by=reception)
    appointment_link(appointment=appointment, client_package=second, by=reception)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.consumed, second.consumed) == (0, 1)


# --- Editing a linked appointment -----------------------------------------------------


def test_edit_linked_to_other_client_is_refused(practice, reception):
    appointment = practice.book(by=reception, client_package=practice.sell())
    _refusal(
        lambda: appointment_edit(appointment=appointment, client=ClientFactory(), by=reception),
        "unlink_first",
    )
    appointment.refresh_from_db()
    assert appointment.client == practice.client


def test_edit_linked_to_uncovered_service_is_refused(practice, reception):
    appointment = practice.book(by=reception, client_package=practice.sell())
    _refusal(
        lambda: appointment_edit(appointment=appointment, service=practice.massage, by=reception),
        "unlink_first",
    )


def test_edit_linked_to_a_date_after_expiry_is_refused(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception, client_package=sold)
    late = next_local(days=(sold.expires_on - timezone.localdate()).days + 2)
    _refusal(
        lambda: appointment_edit(appointment=appointment, starts_at=late, by=reception),
        "unlink_first",
    )


def test_edit_linked_service_moves_the_credit_between_allowances(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception, service=practice.follow_up, client_package=sold)
    appointment_edit(appointment=appointment, service=practice.initial, by=reception)
    used = {s.service_id: s.used for s in sold.services.all()}
    assert used == {practice.initial.pk: 1, practice.follow_up.pk: 0}
    assert ledger_discrepancies([sold.pk]) == []


def test_edit_linked_within_the_rules_is_allowed(practice, reception):
    appointment = practice.book(by=reception, client_package=practice.sell())
    later = appointment.starts_at + dt.timedelta(days=7)
    appointment_edit(appointment=appointment, starts_at=later, notes="Moved", by=reception)
    appointment.refresh_from_db()
    assert appointment.starts_at == later and appointment.notes == "Moved"


# --- Cancel and missed ----------------------------------------------------------------


def test_cancel_linked_appointment_releases_the_credit(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception, client_package=sold)
    appointment_cancel(appointment=appointment, reason=practice.reason, by=reception)
    sold.refresh_from_db()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELED
    assert appointment.client_package is None
    assert sold.remaining == 4


def test_late_cancellation_keeps_the_package_credit(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception, client_package=sold)
    appointment_cancel(
        appointment=appointment, reason=practice.reason, keep_credit=True, by=reception
    )
    sold.refresh_from_db()
    appointment.refresh_from_db()
    assert appointment.kept_credit is True
    assert appointment.client_package == sold
    assert sold.remaining == 3


def test_marking_missed_keeps_the_credit_consumed(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception, client_package=sold)
    with time_machine.travel(appointment.starts_at + dt.timedelta(minutes=5)):
        appointment_mark_missed(appointment=appointment, by=reception)
    sold.refresh_from_db()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.MISSED
    assert sold.remaining == 3


def test_every_ledger_row_records_package_quantity_appointment_service_who_when_and_why(
    practice, reception, admin_user
):
    """DOMAIN.md, The credit ledger: every consume, release and manual adjustment is a row
    with the client package, quantity, the appointment and service it concerns, who did
    it, when, and why."""
    started = timezone.now()
    sold = practice.sell(by=reception)
    appointment = practice.book(by=reception, client_package=sold)
    appointment_unlink(appointment=appointment, by=reception)
    client_package_adjust(
        client_package=sold,
        quantity=1,
        service=practice.follow_up,
        reason="Goodwill",
        by=admin_user,
    )
    rows = list(CreditLedgerEntry.objects.filter(client_package=sold).order_by("id"))
    initial, follow_up, visit = practice.initial.pk, practice.follow_up.pk, appointment.pk
    assert [
        (r.kind, r.quantity, r.appointment_id, r.service_id, r.created_by, r.reason) for r in rows
    ] == [
        (LedgerKind.GRANT, 1, None, initial, reception, "Package sold"),
        (LedgerKind.GRANT, 3, None, follow_up, reception, "Package sold"),
        (LedgerKind.CONSUME, -1, visit, follow_up, reception, "Appointment linked"),
        (LedgerKind.RELEASE, 1, visit, follow_up, reception, "Appointment unlinked"),
        (LedgerKind.ADJUST, 1, None, follow_up, admin_user, "Goodwill"),
    ]
    assert all(started <= r.created_at <= timezone.now() for r in rows)


def test_ledger_and_counters_agree_after_every_kind_of_move(practice, reception, admin_user):
    sold = practice.sell()
    a = practice.book(by=reception, days=1, client_package=sold)
    b = practice.book(by=reception, days=2, service=practice.initial, client_package=sold)
    appointment_unlink(appointment=a, by=reception)
    appointment_cancel(appointment=b, reason=practice.reason, by=reception)
    client_package_adjust(
        client_package=sold,
        quantity=2,
        service=practice.follow_up,
        reason="Goodwill",
        by=admin_user,
    )
    c = practice.book(by=reception, days=3, client_package=sold)
    appointment_delete(appointment=c, by=reception)
    sold.refresh_from_db()
    assert (sold.credits, sold.consumed) == (6, 0)
    assert ledger_discrepancies() == []


def test_a_counter_that_disagrees_with_the_ledger_is_reported(practice):
    from packages.models import ClientPackage

    sold = practice.sell()
    ClientPackage.objects.filter(pk=sold.pk).update(consumed=1)
    found = ledger_discrepancies()
    assert [(d.client_package_id, d.what, d.cached, d.ledger) for d in found] == [
        (sold.pk, "Consumed", 1, 0)
    ]


def test_book_refuses_archived_client(practice, reception):
    practice.client.archived = True
    practice.client.save()
    _refusal(lambda: practice.book(by=reception), "client_archived")
