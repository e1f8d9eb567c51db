"""Issue 15, report 3 (selector): package sales by package, by month and by seller, with
worked numbers, and equal to package liability's Sold for the same period and filters."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invoicing.services import invoice_finalize, invoice_for_client_package, invoice_void
from packages.services import client_package_adjust, client_package_cancel
from practice.models import PracticeSettings
from reports.selectors.liability import package_liability
from reports.selectors.sales import package_sales
from tests.factories import (
    ClientFactory,
    LocationFactory,
    PackageFactory,
    PractitionerFactory,
    TaxRateFactory,
)

pytestmark = pytest.mark.django_db

MARCH = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def at(moment: str):
    """Travel to a local time in Sydney (UTC+11 in March, UTC+10 from 5 April 2026)."""
    local = dt.datetime.fromisoformat(moment)
    offset = 11 if local < dt.datetime(2026, 4, 5, 3) else 10
    utc = local.replace(tzinfo=dt.UTC) - dt.timedelta(hours=offset)
    return time_machine.travel(utc, tick=False)


def set_prices_include_tax(value: bool) -> None:
    settings = PracticeSettings.load()
    settings.prices_include_tax = value
    settings.save()


@pytest.fixture
def sales(practice, admin_user, reception):
    """Prices exclude tax. Sales around March 2026 (Sydney):
    - 28 Feb 23:30: Three (3 credits, 100.00), by Alice: February
    - 2 Mar 09:00: Three, by Alice
    - 5 Mar 10:00: Ten (10 credits, 220.00 with a 10% tax rate), by Rita; canceled 6 Mar
    - 9 Mar 11:00: the Physio Starter Pack (fixed: 1 + 3 credits, two grant rows,
      400.00), seller not recorded; 2 credits added on 10 Mar (not a sale)
    - 31 Mar 23:30: Ten, by Rita (still March)
    - 1 Apr 00:30: Three, by Alice: April
    """
    three = PackageFactory(
        name="Three", credits=3, price=Decimal("100.00"), services=[practice.follow_up]
    )
    set_prices_include_tax(False)
    ten = PackageFactory(
        name="Ten",
        credits=10,
        price=Decimal("220.00"),
        tax_rate=TaxRateFactory(rate=Decimal("10.00")),
        services=[practice.follow_up],
    )
    sold = {}
    with at("2026-02-28 23:30"):
        sold["feb"] = practice.sell(three, by=admin_user, client=ClientFactory())
    with at("2026-03-02 09:00"):
        sold["three"] = practice.sell(three, by=admin_user, client=ClientFactory())
    with at("2026-03-05 10:00"):
        sold["ten"] = practice.sell(ten, by=reception, client=ClientFactory())
    with at("2026-03-06 10:00"):
        client_package_cancel(client_package=sold["ten"], reason="Moved away", by=admin_user)
    with at("2026-03-09 11:00"):
        sold["fixed"] = practice.sell(practice.fixed, by=None, client=ClientFactory())
    with at("2026-03-10 11:00"):
        client_package_adjust(
            client_package=sold["fixed"],
            quantity=2,
            reason="Goodwill",
            service=practice.follow_up,
            by=admin_user,
        )
    with at("2026-03-31 23:30"):
        sold["late"] = practice.sell(ten, by=reception, client=ClientFactory())
    with at("2026-04-01 00:30"):
        sold["april"] = practice.sell(three, by=admin_user, client=ClientFactory())
    sold["three_package"], sold["ten_package"] = three, ten
    return sold


def table(report) -> list[tuple]:
    return [(r.label, r.count, r.credits, str(r.revenue)) for r in report.rows]


def test_by_package_with_worked_numbers(practice, sales):
    report = package_sales(*MARCH, group_by="package")
    # Ten: 2 sold (one canceled: still sold), 20 credits, 2 × 220.00 (prices exclude tax).
    assert table(report) == [
        ("Ten", 2, 20, "440.00"),
        ("Physio Starter Pack", 1, 4, "400.00"),  # both grant rows; the +2 is not a sale
        ("Three", 1, 3, "100.00"),
    ]
    assert [r.key for r in report.rows] == [
        sales["ten_package"].pk,
        practice.fixed.pk,
        sales["three_package"].pk,
    ]
    assert (report.total.count, report.total.credits, str(report.total.revenue)) == (
        4,
        27,
        "940.00",
    )
    assert report.currency == "AUD" and report.group_by == "package"


def test_revenue_is_net_of_tax_when_prices_include_tax(practice, sales):
    set_prices_include_tax(True)
    report = package_sales(*MARCH, group_by="package")
    # 220.00 incl. 10% tax: 220 − round(220 × 10 ÷ 110, 2) = 200.00 each.
    assert table(report)[0] == ("Physio Starter Pack", 1, 4, "400.00")
    assert ("Ten", 2, 20, "400.00") in table(report)
    assert str(report.total.revenue) == "900.00"


def test_by_month_counts_each_sale_on_its_local_day(sales):
    report = package_sales(dt.date(2026, 2, 15), dt.date(2026, 4, 30), group_by="month")
    assert table(report) == [
        ("February 2026", 1, 3, "100.00"),
        ("March 2026", 4, 27, "940.00"),
        ("April 2026", 1, 3, "100.00"),
    ]
    assert [r.key for r in report.rows] == [
        dt.date(2026, 2, 1),
        dt.date(2026, 3, 1),
        dt.date(2026, 4, 1),
    ]
    # The period's edges are days in the practice's time zone, not UTC.
    assert (
        package_sales(dt.date(2026, 3, 31), dt.date(2026, 3, 31), group_by="month").total.count == 1
    )
    assert (
        package_sales(dt.date(2026, 4, 1), dt.date(2026, 4, 1), group_by="month").total.count == 1
    )


def test_by_month_lists_months_without_sales(sales):
    report = package_sales(dt.date(2025, 12, 20), dt.date(2026, 2, 28), group_by="month")
    assert table(report) == [
        ("December 2025", 0, 0, "0.00"),
        ("January 2026", 0, 0, "0.00"),
        ("February 2026", 1, 3, "100.00"),
    ]


def test_by_seller_with_unknown(sales, admin_user, reception):
    reception.first_name, reception.last_name = "Rita", "Desk"
    reception.save()
    report = package_sales(*MARCH, group_by="seller")
    assert table(report) == [
        ("Rita Desk", 2, 20, "440.00"),
        ("Unknown", 1, 4, "400.00"),
        ("alice", 1, 3, "100.00"),  # no name: the username
    ]
    assert [r.key for r in report.rows] == [reception.pk, None, admin_user.pk]


def test_no_sales(db):
    for group_by in ("package", "seller"):
        report = package_sales(*MARCH, group_by=group_by)
        assert report.rows == [] and (report.total.count, report.total.revenue) == (0, 0)
    assert table(package_sales(*MARCH, group_by="month")) == [("March 2026", 0, 0, "0.00")]


def test_refuses_a_bad_period_or_group(db):
    with pytest.raises(ValueError):
        package_sales(dt.date(2026, 3, 2), dt.date(2026, 3, 1), group_by="month")
    with pytest.raises(ValueError):
        package_sales(*MARCH, group_by="client")


def test_filters_take_the_current_non_void_invoice(practice, admin_user, sales):
    elsewhere, other = LocationFactory(), PractitionerFactory()
    invoice_for_client_package(
        client_package=sales["three"],
        practitioner=practice.practitioner,
        location=practice.location,
        by=admin_user,
    )
    voided = invoice_for_client_package(
        client_package=sales["ten"],
        practitioner=practice.practitioner,
        location=practice.location,
        by=admin_user,
    )
    invoice_finalize(invoice=voided, by=admin_user)
    invoice_void(invoice=voided, reason="Wrong place", by=admin_user)
    invoice_for_client_package(
        client_package=sales["ten"], practitioner=other, location=elsewhere, by=admin_user
    )

    def labels(**filters):
        return table(package_sales(*MARCH, group_by="package", **filters))

    assert labels(location=practice.location) == [("Three", 1, 3, "100.00")]
    assert labels(practitioner=other.pk) == [("Ten", 1, 10, "220.00")]
    assert labels(location=elsewhere, practitioner=practice.practitioner) == []


@pytest.mark.parametrize("include_tax", [False, True])
def test_totals_equal_the_liability_sold_line(practice, admin_user, sales, include_tax):
    set_prices_include_tax(include_tax)
    invoice_for_client_package(
        client_package=sales["ten"],
        practitioner=practice.practitioner,
        location=practice.location,
        by=admin_user,
    )
    periods = [
        MARCH,
        (dt.date(2026, 2, 1), dt.date(2026, 4, 30)),
        (dt.date(2026, 3, 31), dt.date(2026, 4, 1)),
        (dt.date(2026, 3, 6), dt.date(2026, 3, 9)),
        (dt.date(2026, 5, 1), dt.date(2026, 5, 31)),
    ]
    for start, end in periods:
        for filters in (
            {},
            {"location": practice.location},
            {"practitioner": practice.practitioner},
        ):
            sold = package_liability(start, end, **filters).sold
            for group_by in ("package", "month", "seller"):
                total = package_sales(start, end, group_by=group_by, **filters).total
                assert (total.credits, total.revenue) == (sold.credits, sold.value), (
                    start,
                    end,
                    filters,
                    group_by,
                )
    assert package_liability(*MARCH).sold.credits == 27


def test_a_sale_already_past_its_expiry_is_a_sale_but_never_liability(practice, admin_user):
    """A backdated start whose expiry has already passed: money taken for credits that
    can never be used. It is a sale (count, credits, revenue) but the liability report
    never holds it (Sold 0), as its docstring says."""
    with at("2026-03-10 10:00"):
        practice.sell(practice.fixed, by=admin_user, start_date=dt.date(2025, 6, 1))
    total = package_sales(*MARCH, group_by="package").total
    assert (total.count, total.credits, str(total.revenue)) == (1, 4, "400.00")
    assert package_liability(*MARCH).sold.credits == 0


def test_one_query_whatever_the_data(practice, admin_user, reception):
    three = PackageFactory(credits=3, price=Decimal("90.00"), services=[practice.follow_up])

    def count(group_by) -> int:
        with CaptureQueriesContext(connection) as ctx:
            package_sales(*MARCH, group_by=group_by)
        return len(ctx)

    with at("2026-03-03 10:00"):
        practice.sell(three, by=admin_user)
    few = {g: count(g) for g in ("package", "month", "seller")}
    for day in range(4, 20):
        with at(f"2026-03-{day:02d} 10:00"):
            seller = admin_user if day % 2 else reception
            practice.sell(
                PackageFactory(services=[practice.follow_up]), by=seller, client=ClientFactory()
            )
    assert {g: count(g) for g in few} == few
    assert set(few.values()) == {2}  # the practice's settings, then one GROUP BY
