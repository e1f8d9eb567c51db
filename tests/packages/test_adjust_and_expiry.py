"""DOMAIN.md: manual adjustments (ledger rows) and expiry extensions (recorded, permission)."""

import datetime as dt

import pytest
from django.utils import timezone

from kernel.errors import NotAllowed
from packages.models import CreditLedgerEntry, ExpiryChange, LedgerKind
from packages.selectors import ledger_discrepancies
from packages.services import client_package_adjust, client_package_extend_expiry
from tests.factories import next_local
from tests.refusals import refusal as _refusal

pytestmark = pytest.mark.django_db


def test_adjust_adds_credits_as_a_ledger_row_with_reason(practice, admin_user):
    sold = practice.sell(practice.flexible)
    client_package_adjust(client_package=sold, quantity=2, reason="Goodwill", by=admin_user)
    sold.refresh_from_db()
    assert (sold.credits, sold.remaining) == (7, 7)
    row = CreditLedgerEntry.objects.get(client_package=sold, kind=LedgerKind.ADJUST)
    assert (row.quantity, row.reason, row.created_by) == (2, "Goodwill", admin_user)


def test_adjust_fixed_changes_that_services_allowance(practice, admin_user):
    sold = practice.sell()
    client_package_adjust(
        client_package=sold, quantity=-1, service=practice.follow_up, reason="Error", by=admin_user
    )
    assert sold.services.get(service=practice.follow_up).usage_label == "0 of 2 used"
    assert ledger_discrepancies([sold.pk]) == []


def test_adjust_fixed_needs_a_service(practice, admin_user):
    _refusal(
        lambda: client_package_adjust(
            client_package=practice.sell(), quantity=1, reason="x", by=admin_user
        ),
        "service_required",
    )


def test_remaining_never_goes_below_zero(practice, admin_user, reception):
    sold = practice.sell(practice.flexible)
    practice.book(by=reception, client_package=sold)
    _refusal(
        lambda: client_package_adjust(client_package=sold, quantity=-5, reason="x", by=admin_user),
        "adjust_below_consumed",
    )
    sold.refresh_from_db()
    assert (sold.credits, sold.consumed) == (5, 1)


def test_adjust_needs_a_reason_and_a_nonzero_whole_number(practice, admin_user):
    sold = practice.sell(practice.flexible)
    _refusal(
        lambda: client_package_adjust(client_package=sold, quantity=1, reason="", by=admin_user),
        "reason_required",
    )
    _refusal(
        lambda: client_package_adjust(client_package=sold, quantity=0, reason="x", by=admin_user),
        "invalid_quantity",
    )
    _refusal(
        lambda: client_package_adjust(client_package=sold, quantity=1.5, reason="x", by=admin_user),
        "invalid_quantity",
    )
    assert not CreditLedgerEntry.objects.filter(kind=LedgerKind.ADJUST).exists()


def test_only_admin_may_adjust_credits(practice, reception, accountant):
    sold = practice.sell(practice.flexible)
    for user in (reception, accountant):
        with pytest.raises(NotAllowed):
            client_package_adjust(client_package=sold, quantity=1, reason="x", by=user)


def test_extend_expiry_is_recorded_with_reason(practice, admin_user):
    sold = practice.sell()
    old = sold.expires_on
    new = old + dt.timedelta(days=30)
    client_package_extend_expiry(
        client_package=sold, expires_on=new, reason="Injury break", by=admin_user
    )
    sold.refresh_from_db()
    assert sold.expires_on == new
    change = ExpiryChange.objects.get(client_package=sold)
    assert (change.old_expires_on, change.new_expires_on, change.reason, change.created_by) == (
        old,
        new,
        "Injury break",
        admin_user,
    )


def test_extension_makes_an_expired_package_usable_again(practice, admin_user, reception):
    sold = practice.sell(start_date=timezone.localdate() - dt.timedelta(days=120))
    assert sold.status == "expired"
    client_package_extend_expiry(
        client_package=sold,
        expires_on=timezone.localdate() + dt.timedelta(days=10),
        reason="x",
        by=admin_user,
    )
    sold.refresh_from_db()
    assert sold.status == "active"
    assert practice.book(by=reception, client_package=sold).client_package_id == sold.pk


def test_expiry_before_start_is_refused(practice, admin_user):
    sold = practice.sell()
    _refusal(
        lambda: client_package_extend_expiry(
            client_package=sold,
            expires_on=sold.start_date - dt.timedelta(days=1),
            reason="x",
            by=admin_user,
        ),
        "expiry_before_start",
    )


def test_expiry_cannot_move_before_a_linked_appointment(practice, admin_user, reception):
    sold = practice.sell()
    practice.book(by=reception, starts_at=next_local(days=20), client_package=sold)
    _refusal(
        lambda: client_package_extend_expiry(
            client_package=sold,
            expires_on=timezone.localdate() + dt.timedelta(days=5),
            reason="x",
            by=admin_user,
        ),
        "expiry_before_linked_appointment",
    )


def test_only_admin_may_change_expiry(practice, reception):
    sold = practice.sell()
    with pytest.raises(NotAllowed):
        client_package_extend_expiry(
            client_package=sold,
            expires_on=sold.expires_on + dt.timedelta(days=1),
            reason="x",
            by=reception,
        )


def test_expiry_change_needs_a_reason(practice, admin_user):
    sold = practice.sell()
    _refusal(
        lambda: client_package_extend_expiry(
            client_package=sold,
            expires_on=sold.expires_on + dt.timedelta(days=1),
            reason=" ",
            by=admin_user,
        ),
        "reason_required",
    )
    assert not ExpiryChange.objects.exists()
