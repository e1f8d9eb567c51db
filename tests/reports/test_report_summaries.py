"""Issue 10 (fast reports): the summaries the database keeps for the package reports
(`reports.LiabilityDay`, `reports.ExpiryDay`) stay equal to a rebuild from scratch after
every kind of write, and the reports read from them agree with the exact computations
(the liability from the package steps, expiring soon from the packages' rows), for both
tax settings, in another zone, and as days pass without any write."""

import datetime as dt
from decimal import Decimal

import psycopg
import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection

from calendar_app.services import appointment_cancel, appointment_unlink
from catalog.models import PeriodUnit
from catalog.services import tax_rate_update
from packages.models import ClientPackage
from packages.services import (
    client_package_adjust,
    client_package_cancel,
    client_package_extend_expiry,
)
from practice.models import PracticeSettings
from reports.selectors.dashboard import expiring_by_week
from reports.selectors.expiring import (
    expiring_packages,
    expiring_totals,
    expiry_page,
    package_totals,
    recently_expired_packages,
    recently_expired_totals,
)
from reports.selectors.liability import package_liability, package_liability_exact
from tests.database import connection_params
from tests.factories import ClientFactory, PackageFactory, TaxRateFactory
from tests.reports.test_package_steps import assert_refused_to_app

pytestmark = pytest.mark.django_db


def at(day: int, month: int = 3, hour: int = 1):
    return time_machine.travel(dt.datetime(2026, month, day, hour, 0, tzinfo=dt.UTC), tick=False)


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def summaries() -> tuple[list[tuple], list[tuple]]:
    """Both summaries with their slots added up (rows that add up to nothing left out)."""
    days = _rows(
        "SELECT day, kind, SUM(n), SUM(v_ex), SUM(v_in) FROM reports_liabilityday"
        " GROUP BY day, kind HAVING SUM(n) <> 0 OR SUM(v_ex) <> 0 OR SUM(v_in) <> 0"
        " ORDER BY day, kind"
    )
    expiry = _rows(
        "SELECT day, SUM(n), SUM(credits), SUM(v_ex), SUM(v_in) FROM reports_expiryday"
        " GROUP BY day HAVING SUM(n) <> 0 OR SUM(credits) <> 0 OR SUM(v_ex) <> 0"
        " OR SUM(v_in) <> 0 ORDER BY day"
    )
    return days, expiry


def rebuilt() -> tuple[list[tuple], list[tuple]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reports_rebuild_summaries()")
    return summaries()


def set_include_tax(include: bool) -> None:
    settings = PracticeSettings.load()
    settings.prices_include_tax = include
    settings.save()


PERIODS = [
    (dt.date(2026, 3, 1), dt.date(2026, 3, 31)),
    (dt.date(2026, 3, 2), dt.date(2026, 3, 2)),
    (dt.date(2026, 3, 3), dt.date(2026, 3, 9)),
    (dt.date(2026, 3, 8), dt.date(2026, 3, 12)),
    (dt.date(2026, 3, 10), dt.date(2026, 4, 30)),
    (dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
    (dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
]


def assert_reports_agree(today: dt.date) -> None:
    """Every report read from a summary equals its exact computation, for both tax
    settings."""
    for include in (False, True):
        set_include_tax(include)
        for start, end in PERIODS:
            assert package_liability(start, end) == package_liability_exact(start, end), (
                include,
                start,
                end,
            )
        for within in (7, 30, 60):
            rows = expiring_packages(today, within)
            assert expiring_totals(today, within) == package_totals(rows)
            page = expiry_page(
                today,
                today + dt.timedelta(days=within),
                offset=0,
                limit=100,
                prices_include_tax=include,
            )
            assert [
                (r.pk, r.client_name, r.remaining_credits, r.remaining_value, r.expires_on)
                for r in page
            ] == [
                (r.pk, r.client_name, r.remaining_credits, r.remaining_value, r.expires_on)
                for r in rows
            ]
        expired = recently_expired_packages(today)
        assert recently_expired_totals(today) == package_totals(expired)
        slices = expiring_by_week(today)
        assert sum(s.count for s in slices) == package_totals(expiring_packages(today, 30)).count
        assert sum(s.value for s in slices) == package_totals(expiring_packages(today, 30)).value


@pytest.fixture
def history(practice, reception, admin_user):
    """Sales, bookings, cancellations of appointments, unlinks, adjustments, extensions,
    package cancellations and expiries, over ten days of March."""
    rate = TaxRateFactory(rate=Decimal("10.00"))
    short = PackageFactory(
        credits=3,
        price=Decimal("110.00"),
        tax_rate=rate,
        expires_after_value=4,
        expires_after_unit=PeriodUnit.DAYS,
        services=[practice.follow_up],
    )
    odd = PackageFactory(
        credits=7, price=Decimal("100.00"), tax_rate=rate, services=[practice.follow_up]
    )
    other = ClientFactory()
    with at(2):
        a = practice.sell(short)
        b = practice.sell(odd)
        c = practice.sell(practice.fixed)
        d = practice.sell(short, client=other)
    with at(3):
        booked = practice.book(by=reception, client_package=a)
        practice.book(by=reception, client_package=b, hour=11)
        practice.book(by=reception, client_package=b, hour=12)
        practice.book(by=reception, client_package=c, service=practice.initial, hour=13)
        kept = practice.book(by=reception, client_package=d, hour=14, client=other, days=2)
    with at(4):
        appointment_unlink(appointment=booked, by=admin_user, reason="Wrongly linked")
        client_package_adjust(client_package=b, quantity=2, reason="Goodwill", by=admin_user)
    with at(5):
        appointment_cancel(appointment=kept, reason=practice.reason, by=admin_user)
        client_package_adjust(client_package=b, quantity=-1, reason="Fix", by=admin_user)
    with at(8):  # a's expiry (6 March) has passed: extended, back to life
        client_package_extend_expiry(
            client_package=a, expires_on=dt.date(2026, 3, 20), reason="Ill", by=admin_user
        )
        client_package_cancel(client_package=c, reason="Refunded", by=admin_user)
    with at(9):
        client_package_extend_expiry(
            client_package=b, expires_on=dt.date(2026, 3, 12), reason="Ends", by=admin_user
        )
    return {"rate": rate, "packages": [a, b, c, d]}


def test_the_summaries_follow_every_kind_of_write(history, admin_user):
    assert summaries() == rebuilt()
    assert summaries()[0] and summaries()[1]
    assert_reports_agree(dt.date(2026, 3, 10))


def test_a_rate_an_amount_or_an_expiry_written_directly_is_followed(history, admin_user):
    rate = history["rate"]
    tax_rate_update(tax_rate=rate, name=rate.name, rate=Decimal("15.00"), by=admin_user)
    assert summaries() == rebuilt()
    a, b, *_ = history["packages"]
    ClientPackage.objects.filter(pk=a.pk).update(price=Decimal("57.35"))
    ClientPackage.objects.filter(pk=b.pk).update(expires_on=dt.date(2026, 3, 25))
    assert summaries() == rebuilt()
    assert_reports_agree(dt.date(2026, 3, 10))


def test_the_liability_today_follows_midnight_without_any_write(practice):
    """The closing balance of a day counts what expired at its start, with no write in
    between: the expiry's row is there before the day comes."""
    short = PackageFactory(
        credits=2,
        price=Decimal("50.00"),
        expires_after_value=3,
        expires_after_unit=PeriodUnit.DAYS,
        services=[practice.follow_up],
    )
    with at(2):
        sold = practice.sell(short, start_date=dt.date(2026, 3, 2))
    assert sold.expires_on == dt.date(2026, 3, 5)
    for day, held in ((4, Decimal("50.00")), (5, Decimal("50.00")), (6, Decimal("0.00"))):
        with at(day, hour=13):
            today = dt.date(2026, 3, day)
            report = package_liability(today.replace(day=1), today)
            assert report == package_liability_exact(today.replace(day=1), today)
            assert report.closing.value == held
            expected = Decimal("50.00") if day == 6 else Decimal("0.00")
            assert report.expired.value == expected


def test_another_zone_takes_the_exact_path(history):
    """The day summary's days are the steps' zone's: under another settings.TIME_ZONE the
    report works its figures out from the steps."""
    from reports.selectors import liability

    expected = [package_liability_exact(*period) for period in PERIODS]
    assert liability._from_days(PracticeSettings.load(), *PERIODS[0]) is not None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(django_settings, "TIME_ZONE", "UTC")
        assert liability._from_days(PracticeSettings.load(), *PERIODS[0]) is None
    assert [package_liability(*period) for period in PERIODS] == expected


def test_the_app_role_may_only_read_the_summaries():
    for sql in (
        "UPDATE reports_liabilityday SET n = 0",
        "DELETE FROM reports_expiryday",
        "INSERT INTO reports_liabilityday (day, kind, slot, n, v_ex, v_in)"
        " VALUES ('2026-03-01', 'grant', 99, 1, 1, 1)",
        "TRUNCATE reports_expiryday",
    ):
        assert_refused_to_app(sql)


def test_concurrent_writers_write_into_slots_of_their_own():
    """A transaction holds its slot until it ends: another one takes the next."""
    params = {k: v for k, v in connection_params().items() if v is not None}
    first, second = psycopg.connect(**params), psycopg.connect(**params)
    try:
        with first.transaction(), second.transaction():
            one = first.execute("SELECT reports_summary_slot()").fetchone()[0]
            assert first.execute("SELECT reports_summary_slot()").fetchone()[0] == one
            two = second.execute("SELECT reports_summary_slot()").fetchone()[0]
            assert two != one
        # Both ended: the first slot is free again.
        with second.transaction():
            assert second.execute("SELECT reports_summary_slot()").fetchone()[0] == min(one, two)
    finally:
        first.close()
        second.close()
