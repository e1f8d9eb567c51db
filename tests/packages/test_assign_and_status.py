"""DOMAIN.md: Client package (snapshot), status order, usage, expiry date."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from calendar_app.services import appointment_link
from catalog.models import PackageKind, PeriodUnit, add_period
from kernel.errors import DomainError, NotAllowed
from packages.models import ClientPackage, ClientPackageStatus, CreditLedgerEntry, LedgerKind
from packages.selectors import client_packages_with_status, status_condition
from packages.services import client_package_adjust, client_package_cancel
from tests.factories import ClientFactory, PackageFactory

pytestmark = pytest.mark.django_db


def test_assign_copies_what_was_sold_so_catalog_edits_never_change_it(practice, reception):
    sold = practice.sell(by=reception)
    practice.fixed.name = "Renamed pack"
    practice.fixed.price = Decimal("1.00")
    practice.fixed.save()
    practice.fixed.package_services.filter(service=practice.follow_up).update(allowance=9)

    sold.refresh_from_db()
    assert sold.name == "Physio Starter Pack"
    assert sold.price == Decimal("400.00")
    assert sold.kind == PackageKind.FIXED
    assert sold.credits == 4
    assert {s.name: s.allowance for s in sold.services.all()} == {
        "Physio initial consultation": 1,
        "Physio follow-up": 3,
    }


def test_assign_grants_credits_through_the_ledger(practice, reception):
    fixed = practice.sell(by=reception)
    flexible = practice.sell(practice.flexible, by=reception)
    fixed_grants = CreditLedgerEntry.objects.filter(client_package=fixed, kind=LedgerKind.GRANT)
    assert sorted((e.service_id, e.quantity) for e in fixed_grants) == sorted(
        [(practice.initial.pk, 1), (practice.follow_up.pk, 3)]
    )
    flex_grants = CreditLedgerEntry.objects.filter(client_package=flexible)
    assert [(e.service_id, e.quantity, e.created_by) for e in flex_grants] == [(None, 5, reception)]


def test_expiry_date_is_start_plus_period(practice):
    sold = practice.sell(start_date=dt.date(2026, 1, 31))
    assert sold.expires_on == dt.date(2026, 4, 30)  # 3 months, clamped to the month's end
    assert practice.sell(practice.flexible).expires_on is None


@pytest.mark.parametrize(
    ("start", "value", "unit", "expected"),
    [
        (dt.date(2026, 1, 1), 10, PeriodUnit.DAYS, dt.date(2026, 1, 11)),
        (dt.date(2026, 1, 1), 2, PeriodUnit.WEEKS, dt.date(2026, 1, 15)),
        (dt.date(2026, 1, 31), 1, PeriodUnit.MONTHS, dt.date(2026, 2, 28)),
        (dt.date(2028, 1, 31), 1, PeriodUnit.MONTHS, dt.date(2028, 2, 29)),
        (dt.date(2026, 11, 15), 3, PeriodUnit.MONTHS, dt.date(2027, 2, 15)),
        (dt.date(2028, 2, 29), 1, PeriodUnit.YEARS, dt.date(2029, 2, 28)),
    ],
)
def test_add_period(start, value, unit, expected):
    assert add_period(start, value, unit) == expected


def test_archived_package_cannot_be_sold(practice):
    practice.fixed.archived = True
    practice.fixed.save()
    with pytest.raises(DomainError) as exc:
        practice.sell()
    assert exc.value.code == "package_archived"
    assert not ClientPackage.objects.exists()


def test_archived_package_already_sold_keeps_working(practice, reception):
    sold = practice.sell(by=reception)
    practice.fixed.archived = True
    practice.fixed.save()
    appointment = practice.book(by=reception)
    appointment_link(appointment=appointment, client_package=sold, by=reception)
    sold.refresh_from_db()
    assert sold.remaining == 3


def test_archived_client_gets_no_new_packages(practice):
    practice.client.archived = True
    practice.client.save()
    with pytest.raises(DomainError) as exc:
        practice.sell()
    assert exc.value.code == "client_archived"


def test_fixed_package_whose_quantities_do_not_add_up_is_refused(practice):
    broken = PackageFactory(
        kind=PackageKind.FIXED, allowances={practice.initial: 2, practice.follow_up: 2}
    )
    broken.credits = 5
    broken.save()
    with pytest.raises(DomainError) as exc:
        practice.sell(broken)
    assert exc.value.code == "package_misconfigured"


def test_accountant_cannot_assign_packages(practice, accountant):
    with pytest.raises(NotAllowed):
        practice.sell(by=accountant)


def test_status_active_when_credits_left_and_not_expired(practice):
    assert practice.sell().status == ClientPackageStatus.ACTIVE


def test_status_completed_when_no_credits_remain(practice, admin_user):
    sold = practice.sell(practice.flexible)
    client_package_adjust(client_package=sold, quantity=-5, reason="Test", by=admin_user)
    sold.refresh_from_db()
    assert sold.remaining == 0
    assert sold.status == ClientPackageStatus.COMPLETED


def test_status_expired_after_expiry_date_in_practice_time_zone(practice, settings):
    sold = practice.sell(start_date=dt.date(2026, 1, 1))
    assert sold.expires_on == dt.date(2026, 4, 1)
    # 1 April 23:30 in Sydney is still the last valid day: 12:30 UTC.
    with time_machine.travel(dt.datetime(2026, 4, 1, 12, 30, tzinfo=dt.UTC), tick=False):
        assert sold.status == ClientPackageStatus.ACTIVE
    # 2 April 00:30 in Sydney is after it, though UTC still says 1 April.
    with time_machine.travel(dt.datetime(2026, 4, 1, 13, 30, tzinfo=dt.UTC), tick=False):
        assert sold.status == ClientPackageStatus.EXPIRED


def test_status_canceled_wins_over_completed_and_expired(practice, admin_user):
    sold = practice.sell(practice.fixed, start_date=dt.date(2020, 1, 1))
    client_package_adjust(
        client_package=sold, quantity=-1, reason="x", service=practice.initial, by=admin_user
    )
    client_package_adjust(
        client_package=sold, quantity=-3, reason="x", service=practice.follow_up, by=admin_user
    )
    sold.refresh_from_db()
    assert sold.status == ClientPackageStatus.COMPLETED  # completed wins over expired
    client_package_cancel(client_package=sold, reason="Moved away", by=admin_user)
    sold.refresh_from_db()
    assert sold.status == ClientPackageStatus.CANCELED


def test_status_annotation_agrees_with_the_python_rule(practice, admin_user):
    today = dt.date(2026, 6, 1)
    active = practice.sell(practice.flexible, start_date=dt.date(2026, 5, 1))
    expired = practice.sell(practice.fixed, start_date=dt.date(2026, 1, 1))
    completed = practice.sell(practice.flexible)
    client_package_adjust(client_package=completed, quantity=-5, reason="x", by=admin_user)
    canceled = practice.sell(practice.flexible)
    client_package_cancel(client_package=canceled, reason="x", by=admin_user)
    rows = {cp.pk: cp for cp in client_packages_with_status(today=today)}
    for cp in (active, expired, completed, canceled):
        cp.refresh_from_db()
        assert rows[cp.pk].status_value == cp.status_on(today)
    assert rows[active.pk].status_value == "active"
    assert rows[expired.pk].status_value == "expired"
    assert rows[completed.pk].status_value == "completed"
    assert rows[canceled.pk].status_value == "canceled"


def test_status_order_holds_in_queries_for_packages_in_several_states(practice, admin_user):
    """Canceled, Completed, Expired, Active, in that order, also when a package is in
    several states at once, both in Python and in the SQL lists filter on."""
    today = dt.date(2026, 6, 1)
    old = dt.date(2026, 1, 1)  # the fixed package expired on 1 April

    def use_up(sold):
        for service, quantity in ((practice.initial, 1), (practice.follow_up, 3)):
            client_package_adjust(
                client_package=sold, quantity=-quantity, reason="x", service=service, by=admin_user
            )

    completed_and_expired = practice.sell(start_date=old)
    use_up(completed_and_expired)
    canceled_and_expired = practice.sell(start_date=old)
    client_package_cancel(client_package=canceled_and_expired, reason="x", by=admin_user)
    canceled_and_completed = practice.sell(start_date=old)
    use_up(canceled_and_completed)
    client_package_cancel(client_package=canceled_and_completed, reason="x", by=admin_user)
    expected = {
        completed_and_expired.pk: ClientPackageStatus.COMPLETED,
        canceled_and_expired.pk: ClientPackageStatus.CANCELED,
        canceled_and_completed.pk: ClientPackageStatus.CANCELED,
    }
    annotated = {cp.pk: cp.status_value for cp in client_packages_with_status(today=today)}
    for pk, status in expected.items():
        assert ClientPackage.objects.get(pk=pk).status_on(today) == status
        assert annotated[pk] == status
        matching = {
            s
            for s in ClientPackageStatus.values
            if ClientPackage.objects.filter(status_condition(s, today), pk=pk).exists()
        }
        assert matching == {status}


def test_usage_shows_u_of_n_used_per_service_for_fixed_packages(practice, reception):
    sold = practice.sell(by=reception)
    appointment = practice.book(by=reception)
    appointment_link(appointment=appointment, client_package=sold, by=reception)
    labels = {s.name: s.usage_label for s in sold.services.all()}
    assert labels == {
        "Physio initial consultation": "0 of 1 used",
        "Physio follow-up": "1 of 3 used",
    }
    sold.refresh_from_db()
    assert (sold.credits, sold.consumed, sold.remaining) == (4, 1, 3)


def test_package_without_services_cannot_be_sold(db):
    empty = PackageFactory(services=[])
    empty.package_services.all().delete()
    with pytest.raises(DomainError) as exc:
        from packages.services import client_package_assign

        client_package_assign(client=ClientFactory(), package=empty, by=None)
    assert exc.value.code == "package_has_no_services"


def test_cancel_needs_a_reason_and_changes_nothing_without_one(practice, reception):
    sold = practice.sell()
    with pytest.raises(DomainError) as exc:
        client_package_cancel(client_package=sold, reason="  ", by=reception)
    assert exc.value.code == "reason_required"
    sold.refresh_from_db()
    assert sold.canceled_at is None


def test_cancel_twice_is_refused(practice, reception):
    sold = practice.sell()
    client_package_cancel(client_package=sold, reason="Moved", by=reception)
    with pytest.raises(DomainError) as exc:
        client_package_cancel(client_package=sold, reason="Again", by=reception)
    assert exc.value.code == "package_canceled"


def test_practitioner_cannot_cancel_packages(practice, practitioner_user):
    with pytest.raises(NotAllowed):
        client_package_cancel(client_package=practice.sell(), reason="x", by=practitioner_user)


def test_a_package_archived_meanwhile_cannot_be_sold_from_a_stale_copy(practice):
    from catalog.models import Package

    stale = Package.objects.get(pk=practice.fixed.pk)
    Package.objects.filter(pk=stale.pk).update(archived=True)
    assert stale.archived is False
    with pytest.raises(DomainError) as exc:
        practice.sell(stale)
    assert exc.value.code == "package_archived"
