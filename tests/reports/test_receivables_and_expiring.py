"""Issue 15, reports 4 and 2 (selectors only): aged receivables, expiring packages."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from invoicing.models import Invoice
from invoicing.services import (
    invoice_create,
    invoice_finalize,
    invoice_void,
    payment_record,
    payment_refund,
)
from kernel.money import ZERO
from packages.services import client_package_cancel, client_package_extend_expiry
from practice.models import PracticeSettings
from reports.selectors import (
    aged_receivables,
    expiring_packages,
    package_liability,
    recently_expired_packages,
)
from tests.factories import ClientFactory, PackageFactory, PaymentMethodFactory, TaxRateFactory

pytestmark = pytest.mark.django_db

ON = dt.date(2026, 3, 31)


def invoice(practice, by, amount, overdue=None, *, finalize=True, client=None):
    """An invoice of `amount` (no tax), finalized and due `overdue` days before ON."""
    inv = invoice_create(
        client=client or practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        lines=[{"description": "Consult", "quantity": 1, "unit_price": Decimal(amount)}],
        by=by,
    )
    if not finalize:
        return inv
    inv = invoice_finalize(invoice=inv, by=by)
    if overdue is not None:
        due = ON - dt.timedelta(days=overdue)
        Invoice.objects.filter(pk=inv.pk).update(issue_date=due, due_date=due)
        inv.refresh_from_db()
    return inv


def test_buckets_at_each_boundary_with_part_paid_and_refunded(practice, admin_user):
    cash = PaymentMethodFactory()
    expected = {}
    # days overdue -> (amount, bucket)
    for days, amount, bucket in [
        (-5, "1.00", "current"),
        (0, "2.00", "current"),  # due today: not yet overdue
        (1, "4.00", "d1_30"),
        (30, "8.00", "d1_30"),
        (31, "16.00", "d31_60"),
        (60, "32.00", "d31_60"),
        (61, "64.00", "d61_90"),
        (90, "128.00", "d61_90"),
        (91, "256.00", "d90_plus"),
    ]:
        inv = invoice(practice, admin_user, amount, days)
        expected[inv.number] = (days, Decimal(amount), bucket)
    part = invoice(practice, admin_user, "100.00", 10)
    payment_record(invoice=part, amount="40.00", method=cash, by=admin_user)
    expected[part.number] = (10, Decimal("60.00"), "d1_30")
    refunded = invoice(practice, admin_user, "50.00", 45)
    paid = payment_record(invoice=refunded, amount="50.00", method=cash, by=admin_user)
    payment_refund(payment=paid, amount="20.00", reason="Overcharged", by=admin_user)
    expected[refunded.number] = (45, Decimal("20.00"), "d31_60")
    # Left out: fully paid, void, draft.
    settled = invoice(practice, admin_user, "70.00", 40)
    payment_record(invoice=settled, amount="70.00", method=cash, by=admin_user)
    invoice_void(invoice=invoice(practice, admin_user, "90.00", 40), reason="Error", by=admin_user)
    invoice(practice, admin_user, "99.00", finalize=False)

    report = aged_receivables(ON)
    got = {r.number: (r.days_overdue, r.balance, r.bucket) for r in report.rows}
    assert got == expected
    row = next(r for r in report.rows if r.number == part.number)
    assert row.client_name == "Jo Citizen" and row.due_date == ON - dt.timedelta(days=10)
    money = {k: (t.count, str(t.balance)) for k, t in report.buckets.items()}
    assert money == {
        "current": (2, "3.00"),
        "d1_30": (3, "72.00"),
        "d31_60": (3, "68.00"),
        "d61_90": (2, "192.00"),
        "d90_plus": (1, "256.00"),
    }
    assert (report.total.count, str(report.total.balance)) == (11, "591.00")
    assert report.currency == PracticeSettings.load().currency
    # Most overdue first.
    assert [r.days_overdue for r in report.rows][:2] == [91, 90]


def test_receivables_filters_and_constant_queries(practice, admin_user):
    from tests.factories import LocationFactory

    def count(**filters):
        with CaptureQueriesContext(connection) as ctx:
            report = aged_receivables(ON, **filters)
            page = Paginator(report.rows, 2).page(1)
            list(page)
        return len(ctx.captured_queries), report

    invoice(practice, admin_user, "10.00", 5)
    few, _ = count()
    for days in range(20):
        invoice(practice, admin_user, "10.00", days * 7, client=ClientFactory())
    many, report = count()
    # settings, totals, page rows: the page's count is the totals' (no query)
    assert few == many == 3
    assert report.total.count == 21
    _, elsewhere = count(location=LocationFactory())
    assert elsewhere.total.count == 0 and str(elsewhere.total.balance) == "0.00"
    _, here = count(location=practice.location, practitioner=practice.practitioner)
    assert here.total.count == 21


def test_rows_count_is_the_totals_and_equals_the_rows(practice, admin_user):
    cash = PaymentMethodFactory()
    for days in (-3, 5, 40, 100):
        invoice(practice, admin_user, "25.00", days, client=ClientFactory())
    settled = invoice(practice, admin_user, "70.00", 40)
    payment_record(invoice=settled, amount="70.00", method=cash, by=admin_user)
    report = aged_receivables(ON)
    with CaptureQueriesContext(connection) as ctx:
        assert report.rows.count() == report.total.count == 4
    assert len(ctx) == 0
    assert len(list(report.rows)) == 4
    # A queryset made from the rows counts itself.
    later = report.rows.filter(due_date__lt=ON)
    with CaptureQueriesContext(connection) as ctx:
        assert later.count() == 3
    assert len(ctx) == 1
    assert Paginator(report.rows, 3).num_pages == 2
    # The totals are the rows' balances added up, to the cent.
    assert report.total.balance == sum(r.balance for r in report.rows) == Decimal("100.00")
    for key, total in report.buckets.items():
        rows = [r for r in report.rows if r.bucket == key]
        assert (total.count, total.balance) == (len(rows), sum((r.balance for r in rows), ZERO))


def test_later_pages_read_in_two_steps_give_the_same_rows(practice, admin_user, monkeypatch):
    from reports.selectors import receivables

    cash = PaymentMethodFactory()
    for days in (-3, 5, 5, 40, 100, 7, 61):
        invoice(practice, admin_user, "25.00", days, client=ClientFactory())
    settled = invoice(practice, admin_user, "70.00", 6)
    payment_record(invoice=settled, amount="70.00", method=cash, by=admin_user)
    part = invoice(practice, admin_user, "90.00", 6)
    payment_record(invoice=part, amount="30.00", method=cash, by=admin_user)
    report = aged_receivables(ON)

    def shown(rows) -> list[tuple]:
        return [(r.pk, r.client_name, r.days_overdue, r.bucket, r.balance) for r in rows]

    expected = shown(report.rows.all())  # a copy: `report.rows` stays unread
    assert len(expected) == 8 and settled.pk not in {row[0] for row in expected}
    # Pages from the third row on are read in two steps (ids first), one query each.
    monkeypatch.setattr(receivables, "WALK_ROWS", 2)
    paginator = Paginator(report.rows, 3)
    got = []
    for number in paginator.page_range:
        with CaptureQueriesContext(connection) as ctx:
            got += shown(paginator.page(number))
        assert len(ctx) == 1
        # One step: the query ends with its LIMIT; two: the LIMIT is in its subquery.
        sql = ctx.captured_queries[0]["sql"]
        one_step = re.search(r"LIMIT \d+( OFFSET \d+)?$", sql.strip()) is not None
        assert one_step == (number == 1) and ("LIMIT" in sql)
    assert got == expected
    # Every row at once (the CSV): the same rows, balances grouped once, one query.
    with CaptureQueriesContext(connection) as ctx:
        assert shown(report.every_row) == expected
    assert len(ctx) == 1


# ------------------------------------------------------------------- expiring soon


@pytest.fixture
def three_for_100(practice):
    return PackageFactory(
        name="Three", credits=3, price=Decimal("100.00"), services=[practice.follow_up]
    )


def sell_expiring(practice, by, package, offset, *, client=None):
    """Sold 40 days ago, expiring `offset` days from today."""
    today = timezone.localdate()
    sold = practice.sell(package, client=client, start_date=today - dt.timedelta(days=40))
    return client_package_extend_expiry(
        client_package=sold,
        expires_on=today + dt.timedelta(days=offset),
        reason="Test",
        by=by,
    )


def test_expiring_within_7_30_60_at_the_boundaries(practice, admin_user, three_for_100):
    today = timezone.localdate()
    by_offset = {}
    for offset in (-31, -30, -1, 0, 7, 8, 30, 31, 60, 61):
        client = ClientFactory(first_name=f"C{offset}", phone=f"04{offset:+04d}")
        by_offset[offset] = sell_expiring(
            practice, admin_user, three_for_100, offset, client=client
        )
    canceled = sell_expiring(practice, admin_user, three_for_100, 3)
    client_package_cancel(client_package=canceled, reason="Left", by=admin_user)

    def offsets(qs):
        return [(r.expires_on - today).days for r in qs]

    assert offsets(expiring_packages(today, 7)) == [0, 7]
    assert offsets(expiring_packages(today, 30)) == [0, 7, 8, 30]
    assert offsets(expiring_packages(today, 60)) == [0, 7, 8, 30, 31, 60]
    assert offsets(recently_expired_packages(today)) == [-30, -1]
    row = expiring_packages(today, 7)[1]
    assert (row.client_name, row.client_phone) == (
        by_offset[7].client.full_name,
        by_offset[7].client.phone,
    )
    assert (row.remaining_credits, str(row.remaining_value)) == (3, "100.00")
    with pytest.raises(ValueError):
        expiring_packages(today, 14)


@pytest.mark.parametrize(("include_tax", "value"), [(True, "66.67"), (False, "73.33")])
def test_value_equals_package_liability_closing(
    practice, admin_user, reception, include_tax, value
):
    settings = PracticeSettings.load()
    settings.prices_include_tax = include_tax
    settings.save()
    package = PackageFactory(
        credits=3,
        price=Decimal("110.00"),
        tax_rate=TaxRateFactory(rate=Decimal("10.00")),
        services=[practice.follow_up],
    )
    today = timezone.localdate()
    sold = practice.sell(package)
    practice.book(by=reception, client_package=sold)  # one of three credits used
    client_package_extend_expiry(
        client_package=sold, expires_on=today + dt.timedelta(days=7), reason="Test", by=admin_user
    )
    (row,) = expiring_packages(today, 7)
    closing = package_liability(today, today).closing
    assert (row.remaining_credits, str(row.remaining_value)) == (2, value)
    assert (closing.credits, closing.value) == (row.remaining_credits, row.remaining_value)


def test_fully_used_packages_are_left_out_and_queries_are_constant(
    practice, admin_user, reception, three_for_100
):
    today = timezone.localdate()

    def count():
        with CaptureQueriesContext(connection) as ctx:
            rows = list(expiring_packages(today, 60)) + list(recently_expired_packages(today))
        return len(ctx.captured_queries), rows

    one = PackageFactory(credits=1, price=Decimal("10.00"), services=[practice.follow_up])
    used = practice.sell(one)
    practice.book(by=reception, client_package=used)
    client_package_extend_expiry(
        client_package=used, expires_on=today + dt.timedelta(days=5), reason="T", by=admin_user
    )
    few, rows = count()
    assert rows == []
    for offset in range(-20, 50, 5):
        sell_expiring(practice, admin_user, three_for_100, offset, client=ClientFactory())
    many, rows = count()
    assert few == many == 4  # settings and rows, for each list
    assert len(rows) == 14


def test_value_rounds_half_up_like_package_liability(practice, admin_user, reception):
    package = PackageFactory(credits=3, price=Decimal("100.00"), services=[practice.follow_up])
    today = timezone.localdate()
    sold = practice.sell(package)
    practice.book(by=reception, client_package=sold, hour=9)
    practice.book(by=reception, client_package=sold, hour=11)
    client_package_extend_expiry(
        client_package=sold, expires_on=today + dt.timedelta(days=30), reason="T", by=admin_user
    )
    (row,) = expiring_packages(today, 30)
    # V(2) = 66.67 (66.666... rounded half up), so the last credit holds 33.33.
    assert (row.remaining_credits, str(row.remaining_value)) == (1, "33.33")
    assert package_liability(today, today).closing.value == row.remaining_value


def test_expiring_filters_take_the_current_non_void_invoice(practice, admin_user, three_for_100):
    from invoicing.services import invoice_for_client_package
    from tests.factories import LocationFactory, PractitionerFactory

    other_location, other_practitioner = LocationFactory(), PractitionerFactory()
    here = sell_expiring(practice, admin_user, three_for_100, 5)
    moved = sell_expiring(practice, admin_user, three_for_100, 6)
    sell_expiring(practice, admin_user, three_for_100, 7)  # never invoiced
    invoice_for_client_package(
        client_package=here,
        practitioner=practice.practitioner,
        location=practice.location,
        by=admin_user,
    )
    voided = invoice_for_client_package(
        client_package=moved,
        practitioner=practice.practitioner,
        location=practice.location,
        by=admin_user,
    )
    invoice_finalize(invoice=voided, by=admin_user)
    invoice_void(invoice=voided, reason="Wrong place", by=admin_user)
    invoice_for_client_package(
        client_package=moved,
        practitioner=other_practitioner,
        location=other_location,
        by=admin_user,
    )
    today = timezone.localdate()

    def ids(**filters):
        return [r.pk for r in expiring_packages(today, 7, **filters)]

    assert ids(location=practice.location) == [here.pk]
    assert ids(practitioner=practice.practitioner) == [here.pk]
    assert ids(location=other_location.pk, practitioner=other_practitioner) == [moved.pk]
    assert ids(location=practice.location, practitioner=other_practitioner) == []
    assert len(ids()) == 3
