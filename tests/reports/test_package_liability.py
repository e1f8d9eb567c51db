"""Issue 15, report 1: package liability, worked examples with known numbers."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calendar_app.services import appointment_unlink
from catalog.models import PeriodUnit
from packages.services import (
    client_package_adjust,
    client_package_cancel,
    client_package_extend_expiry,
)
from practice.models import PracticeSettings
from reports.selectors import package_liability
from tests.factories import PackageFactory, TaxRateFactory

pytestmark = pytest.mark.django_db

FIELDS = ("opening", "sold", "redeemed", "expired", "canceled", "adjusted", "closing")


def on(day: int, month: int = 3):
    """Noon in Sydney on that day of 2026 (the tests' practice time zone)."""
    return time_machine.travel(dt.datetime(2026, month, day, 1, 0, tzinfo=dt.UTC), tick=False)


def d(day: int, month: int = 3) -> dt.date:
    return dt.date(2026, month, day)


def figures(start, end, **filters) -> dict[str, tuple[int, str]]:
    report = package_liability(start, end, **filters)
    out = {f: (getattr(report, f).credits, str(getattr(report, f).value)) for f in FIELDS}
    o, s, r, e, c, a, z = (getattr(report, f) for f in FIELDS)
    assert o.value + s.value - r.value - e.value - c.value + a.value == z.value
    assert o.credits + s.credits - r.credits - e.credits - c.credits + a.credits == z.credits
    return out


def row(
    opening=(0, "0.00"),
    sold=(0, "0.00"),
    redeemed=(0, "0.00"),
    expired=(0, "0.00"),
    canceled=(0, "0.00"),
    adjusted=(0, "0.00"),
    closing=(0, "0.00"),
):
    return dict(
        zip(FIELDS, (opening, sold, redeemed, expired, canceled, adjusted, closing), strict=True)
    )


@pytest.fixture
def three_for_100(practice):
    return PackageFactory(
        name="Three", credits=3, price=Decimal("100.00"), services=[practice.follow_up]
    )


def test_three_credits_for_100_redeem_3333_3334_3333(practice, three_for_100, reception):
    with on(2):
        sold = practice.sell(three_for_100)
    for day in (3, 4, 5):
        with on(day):
            practice.book(by=reception, client_package=sold)
    assert figures(d(2), d(2)) == row(sold=(3, "100.00"), closing=(3, "100.00"))
    assert figures(d(3), d(3)) == row(
        opening=(3, "100.00"), redeemed=(1, "33.33"), closing=(2, "66.67")
    )
    assert figures(d(4), d(4)) == row(
        opening=(2, "66.67"), redeemed=(1, "33.34"), closing=(1, "33.33")
    )
    assert figures(d(5), d(5)) == row(opening=(1, "33.33"), redeemed=(1, "33.33"))
    assert figures(d(1), d(31)) == row(sold=(3, "100.00"), redeemed=(3, "100.00"))
    assert package_liability(d(1), d(1)).currency == PracticeSettings.load().currency


def test_unlink_gives_value_back_so_redeemed_is_net(practice, three_for_100, reception):
    with on(2):
        sold = practice.sell(three_for_100)
        appt = practice.book(by=reception, client_package=sold)
    with on(3):
        appointment_unlink(appointment=appt, by=reception)
    assert figures(d(3), d(3)) == row(
        opening=(2, "66.67"), redeemed=(-1, "-33.33"), closing=(3, "100.00")
    )
    assert figures(d(2), d(3)) == row(sold=(3, "100.00"), closing=(3, "100.00"))


@pytest.mark.parametrize(("include_tax", "net"), [(True, "100.00"), (False, "110.00")])
def test_values_are_net_of_tax(practice, reception, include_tax, net):
    settings = PracticeSettings.load()
    settings.prices_include_tax = include_tax
    settings.save()
    package = PackageFactory(
        credits=3,
        price=Decimal("110.00"),
        tax_rate=TaxRateFactory(rate=Decimal("10.00")),
        services=[practice.follow_up],
    )
    with on(2):
        practice.sell(package)
    assert figures(d(2), d(2)) == row(sold=(3, net), closing=(3, net))


def test_adjust_up_and_down_revalues_the_credits_left(
    practice, three_for_100, reception, admin_user
):
    with on(2):
        sold = practice.sell(three_for_100)
        practice.book(by=reception, client_package=sold)  # holds 2 credits, 66.67
    with on(3):
        client_package_adjust(client_package=sold, quantity=1, reason="Goodwill", by=admin_user)
    # C=4, k=1: holds 100 - 25.00 = 75.00
    assert figures(d(3), d(3)) == row(
        opening=(2, "66.67"), adjusted=(1, "8.33"), closing=(3, "75.00")
    )
    with on(4):
        client_package_adjust(client_package=sold, quantity=-3, reason="Error", by=admin_user)
    # C=1, k=1: holds nothing
    assert figures(d(4), d(4)) == row(opening=(3, "75.00"), adjusted=(-3, "-75.00"))


def test_cancel_with_credits_left(practice, three_for_100, reception, admin_user):
    with on(2):
        sold = practice.sell(three_for_100)
        appt = practice.book(by=reception, client_package=sold)
    with on(3):
        client_package_cancel(client_package=sold, reason="Moved away", by=admin_user)
    assert figures(d(3), d(3)) == row(opening=(2, "66.67"), canceled=(2, "66.67"))
    with on(4):  # a credit given back to a canceled package brings nothing back
        appointment_unlink(appointment=appt, by=reception)
    assert figures(d(4), d(4)) == row()


def test_expiry_then_release_then_extension_is_a_negative_expired(practice, reception, admin_user):
    package = PackageFactory(
        credits=3,
        price=Decimal("100.00"),
        expires_after_value=5,
        expires_after_unit=PeriodUnit.DAYS,
        services=[practice.follow_up],
    )
    with on(2):
        sold = practice.sell(package)
        appt = practice.book(by=reception, client_package=sold)
    expires_on = sold.expires_on
    assert expires_on is not None
    day_after = expires_on + dt.timedelta(days=1)
    # On its expiry date it still holds 2 credits; it expires at midnight.
    assert figures(expires_on, expires_on)["closing"] == (2, "66.67")
    assert figures(day_after, day_after) == row(opening=(2, "66.67"), expired=(2, "66.67"))
    with on(day_after.day + 1):
        appointment_unlink(appointment=appt, by=admin_user, reason="Wrongly linked")
    release_day = day_after + dt.timedelta(days=1)
    assert figures(release_day, release_day) == row()  # expired: holds nothing
    with on(day_after.day + 2):
        client_package_extend_expiry(
            client_package=sold, expires_on=d(30), reason="Goodwill", by=admin_user
        )
    extend_day = release_day + dt.timedelta(days=1)
    assert figures(extend_day, extend_day) == row(expired=(-3, "-100.00"), closing=(3, "100.00"))
    # Up to the new expiry date: redeemed 33.33 (the release came while expired),
    # expired 66.67 then 100.00 back.
    assert figures(d(1), d(30)) == row(
        sold=(3, "100.00"), redeemed=(1, "33.33"), expired=(-1, "-33.33"), closing=(3, "100.00")
    )
    # It expires again after 30 March.
    assert figures(d(31), d(31)) == row(opening=(3, "100.00"), expired=(3, "100.00"))


def test_sale_with_a_future_start_counts_on_the_day_it_was_recorded(practice, three_for_100):
    with on(2):
        practice.sell(three_for_100, start_date=d(20))
    assert figures(d(2), d(2)) == row(sold=(3, "100.00"), closing=(3, "100.00"))
    assert figures(d(20), d(20)) == row(opening=(3, "100.00"), closing=(3, "100.00"))


def test_periods_chain(practice, three_for_100, reception):
    with on(2):
        sold = practice.sell(three_for_100)
    with on(4):
        practice.book(by=reception, client_package=sold)
    assert figures(d(1), d(3))["closing"] == figures(d(4), d(9))["opening"] == (3, "100.00")
    assert figures(d(4), d(9))["closing"] == figures(d(10), d(10))["opening"] == (2, "66.67")


def test_query_count_does_not_grow_with_the_data(practice, three_for_100, reception):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            package_liability(d(1), d(31))
        return len(ctx.captured_queries)

    with on(2):
        practice.sell(three_for_100)
    few = count()
    with on(3):
        for hour in range(9, 14):
            sold = practice.sell(three_for_100)
            practice.book(by=reception, client_package=sold, hour=hour)
    # settings, set_config, the statement, and the savepoint pair of its transaction
    assert count() == few <= 5


def test_filters_take_whole_packages_by_their_current_invoice(
    practice, three_for_100, reception, admin_user
):
    from invoicing.services import invoice_finalize, invoice_for_client_package, invoice_void
    from tests.factories import LocationFactory, PractitionerFactory

    other_location, other_practitioner = LocationFactory(), PractitionerFactory()
    with on(2):
        here = practice.sell(three_for_100)
        there = practice.sell(three_for_100)
        practice.sell(three_for_100)  # never invoiced: only in the unfiltered report
        invoice_for_client_package(
            client_package=here,
            practitioner=practice.practitioner,
            location=practice.location,
            by=admin_user,
        )
        voided = invoice_for_client_package(
            client_package=there,
            practitioner=practice.practitioner,
            location=practice.location,
            by=admin_user,
        )
        invoice_finalize(invoice=voided, by=admin_user)
        invoice_void(invoice=voided, reason="Wrong place", by=admin_user)
        invoice_for_client_package(
            client_package=there,
            practitioner=other_practitioner,
            location=other_location,
            by=admin_user,
        )
    with on(3):
        practice.book(by=reception, client_package=here)
    one_redeemed = row(sold=(3, "100.00"), redeemed=(1, "33.33"), closing=(2, "66.67"))
    assert figures(d(1), d(31), location=practice.location) == one_redeemed
    assert figures(d(1), d(31), practitioner=practice.practitioner) == one_redeemed
    assert (
        figures(d(1), d(31), location=practice.location, practitioner=other_practitioner) == row()
    )
    untouched = row(sold=(3, "100.00"), closing=(3, "100.00"))
    assert figures(d(1), d(31), location=other_location.pk) == untouched
    assert figures(d(1), d(31)) == row(
        sold=(9, "300.00"), redeemed=(1, "33.33"), closing=(8, "266.67")
    )
