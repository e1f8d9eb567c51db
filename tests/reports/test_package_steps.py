"""Issue 15, package liability at size: the steps read model (`reports.PackageStep`) is
kept by the database's triggers, whatever writes the events, so the report it feeds stays
exact (the property test and the worked examples check the figures themselves)."""

import datetime as dt
from decimal import Decimal

import psycopg
import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import DatabaseError, connection, transaction

from calendar_app.services import appointment_unlink
from catalog.services import tax_rate_update
from packages.models import CreditLedgerEntry, ExpiryChange
from packages.services import (
    client_package_adjust,
    client_package_cancel,
    client_package_extend_expiry,
)
from practice.models import PracticeSettings
from reports.models import PackageStep
from reports.selectors import package_liability
from tests.database import connection_params
from tests.factories import PackageFactory, TaxRateFactory

pytestmark = pytest.mark.django_db

COLUMNS = (
    "client_package_id, t, ord, src, kind, c, k, x, exp, c0, k0, x0, exp0, p_ex, p_in, nt,"
    " dn, dv_ex, dv_in"
)


def on(day: int):
    return time_machine.travel(dt.datetime(2026, 3, day, 1, 0, tzinfo=dt.UTC), tick=False)


def steps() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {COLUMNS} FROM reports_packagestep ORDER BY {COLUMNS}")  # noqa: S608
        return cursor.fetchall()


def rebuilt() -> list[tuple]:
    """The steps as rebuilt from scratch from every package's events."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reports_refresh_package_steps(ARRAY(SELECT id FROM packages_clientpackage))"
        )
    return steps()


def test_every_kind_of_event_keeps_the_steps_as_a_rebuild_would(practice, reception, admin_user):
    with on(2):
        fixed = practice.sell()  # a fixed package: one grant row per service, one statement
        flexi = practice.sell(practice.flexible)
        other = practice.sell(practice.flexible)
    with on(3):
        appointment = practice.book(by=reception, client_package=flexi)
        practice.book(by=reception, client_package=fixed, service=practice.initial, hour=12)
    with on(4):
        appointment_unlink(appointment=appointment, by=admin_user, reason="Wrongly linked")
        client_package_adjust(client_package=flexi, quantity=2, reason="Goodwill", by=admin_user)
    with on(5):
        client_package_extend_expiry(
            client_package=fixed, expires_on=dt.date(2026, 12, 31), reason="Ill", by=admin_user
        )
        client_package_cancel(client_package=other, reason="Refunded", by=admin_user)

    kept = steps()
    events = CreditLedgerEntry.objects.count() + ExpiryChange.objects.count() + 1  # 1 cancel
    assert len(kept) == events
    assert kept == rebuilt()
    # The fixed package's grants, then the extension with the dates around it.
    fixed_steps = PackageStep.objects.filter(client_package=fixed).order_by("t", "ord", "src")
    kinds = [s.kind for s in fixed_steps]
    assert kinds.count("grant") == 2 and kinds[-1] == "extend"
    last = fixed_steps.last()
    assert last is not None and last.exp == dt.date(2026, 12, 31) and last.nt is None
    assert last.exp0 == fixed.expires_on or last.exp0 != last.exp
    # The cancellation closes the package: after it, canceled; before it, not.
    cancel = PackageStep.objects.get(client_package=other, kind="cancel")
    assert cancel.x and not cancel.x0 and cancel.c == cancel.c0


def test_a_tax_rate_change_revalues_the_packages_that_use_it(practice, admin_user):
    settings = PracticeSettings.load()
    settings.prices_include_tax = True
    settings.save()
    rate = TaxRateFactory(rate=Decimal("10.00"))
    package = PackageFactory(
        credits=2, price=Decimal("110.00"), tax_rate=rate, services=[practice.follow_up]
    )
    with on(2):
        practice.sell(package)
    march = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert package_liability(*march).sold.value == Decimal("100.00")
    tax_rate_update(tax_rate=rate, name=rate.name, rate=Decimal("0.00"), by=admin_user)
    # The report values packages at their tax rate's current rate, as before the steps.
    assert package_liability(*march).sold.value == Decimal("110.00")
    assert steps() == rebuilt()


def test_a_changed_amount_or_expiry_written_directly_is_followed(practice):
    """Whatever changes a package's row (the admin, a data fix), its steps follow."""
    with on(2):
        sold = practice.sell(practice.flexible)
    packages = type(sold).objects.filter(pk=sold.pk)
    packages.update(price=Decimal("50.00"))
    assert steps() == rebuilt()
    packages.update(expires_on=dt.date(2026, 3, 10))
    assert steps() == rebuilt()
    report = package_liability(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert report.sold.value == Decimal("50.00")
    assert report.expired.value == Decimal("50.00") and report.closing.credits == 0


def _use_zone(name: str) -> None:
    """As the tables' owner (committed at once: undo it with another call)."""
    from reports.steps import ZONE_FUNCTION

    owner_role = django_settings.DATABASE_OWNER
    params = {**connection_params(), "user": owner_role["USER"]}
    params["password"] = owner_role["PASSWORD"] or None
    owner = psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=True)
    with owner:
        owner.execute(ZONE_FUNCTION.format(zone="'" + name.replace("'", "''") + "'"))


def _expired_then_released(practice, reception, admin_user):
    """A credit given back at 08:00 in Sydney on 11 March, the day after its package
    expired: it moves nothing. Judged in UTC (still 10 March) it would give a credit back."""
    with on(2):
        sold = practice.sell(practice.flexible)
        appointment = practice.book(by=reception, client_package=sold, days=5)
        client_package_extend_expiry(
            client_package=sold, expires_on=dt.date(2026, 3, 10), reason="Ends", by=admin_user
        )
    at = dt.datetime(2026, 3, 10, 21, 0, tzinfo=dt.UTC)  # 11 March 08:00 in Sydney
    with time_machine.travel(at, tick=False):
        appointment_unlink(appointment=appointment, by=admin_user, reason="Wrongly linked")
    return sold


MARCH = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def test_steps_judged_in_another_zone_are_worked_out_again(practice, reception, admin_user):
    """The report follows settings.TIME_ZONE, whatever zone the steps were built in."""
    sold = _expired_then_released(practice, reception, admin_user)
    expected = package_liability(*MARCH)
    assert expected.redeemed.credits == 1  # the release, after expiry, gave nothing back
    _use_zone("UTC")
    try:
        rebuilt()  # every step judged in UTC now: there, the release gives a credit back
        release = PackageStep.objects.get(client_package=sold, kind="release")
        assert release.dn == 1
        assert package_liability(*MARCH) == expected  # worked out again, in Sydney
    finally:
        _use_zone(django_settings.TIME_ZONE)
    rebuilt()
    assert PackageStep.objects.get(client_package=sold, kind="release").dn == 0


@pytest.mark.django_db(transaction=True)
def test_migrate_rebuilds_the_steps_when_the_zone_changed(practice, reception, admin_user):
    from kernel.database import as_owner
    from reports.steps import sync_step_zone

    sold = _expired_then_released(practice, reception, admin_user)
    expected = package_liability(*MARCH)
    _use_zone("UTC")
    try:
        with as_owner():
            rebuilt()
            assert PackageStep.objects.get(client_package=sold, kind="release").dn == 1
            assert sync_step_zone() is True  # what `migrate` runs after its migrations
            assert sync_step_zone() is False  # nothing to do the second time
    finally:
        _use_zone(django_settings.TIME_ZONE)
    assert PackageStep.objects.get(client_package=sold, kind="release").dn == 0
    assert package_liability(*MARCH) == expected


def test_the_app_role_may_only_read_the_steps(practice):
    with on(2):
        sold = practice.sell(practice.flexible)
    for sql in (
        "UPDATE reports_packagestep SET dv_in = 0",
        "DELETE FROM reports_packagestep",
        "INSERT INTO reports_packagestep (client_package_id, t, ord, src, kind, c, k, x,"
        f" c0, k0, x0, p_ex, p_in, dn, dv_ex, dv_in) VALUES ({sold.pk}, now(), 0, 0, 'grant',"
        " 9, 0, false, 0, 0, false, 100, 100, 9, 100, 100)",
        "TRUNCATE reports_packagestep",
    ):
        assert_refused_to_app(sql)


def assert_refused_to_app(sql: str) -> None:
    """The app's connection may not run `sql` (its role lacks the privilege)."""
    with (
        pytest.raises(DatabaseError, match="permission denied"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)


def test_a_packages_last_step_is_found_through_an_index_of_last_steps(practice, admin_user):
    """The ledger trigger's look-up of the package's last step (`client_package_id = …
    AND nt IS NULL`) has an index holding only last steps, one entry a package (issue 10:
    through the foreign key's index it read every step the package had had). A test
    database's few rows leave the planner's pick between the two indexes to chance (seen
    in fresh clones), so this checks the index and what it holds, not the plan."""
    package = practice.sell(practice.flexible)
    for _ in range(40):
        client_package_adjust(client_package=package, quantity=1, reason="Goodwill", by=admin_user)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes"
            " WHERE tablename = 'reports_packagestep' AND indexname = 'reports_step_last'"
        )
        (definition,) = cursor.fetchone() or ("",)
    assert definition.endswith("(client_package_id) WHERE (nt IS NULL)"), definition
    assert PackageStep.objects.filter(client_package=package).count() == 41
    assert PackageStep.objects.filter(client_package=package, nt__isnull=True).count() == 1
