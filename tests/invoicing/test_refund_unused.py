"""Issue 13, part 5: cancel a package and refund its unused part in one transaction."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from invoicing.models import InvoiceStatus, Refund
from invoicing.selectors import client_package_unused_value, invoice_totals
from invoicing.services import (
    client_package_cancel_with_refund,
    payment_record,
)
from packages.models import ClientPackage
from practice.models import PracticeSettings, RefundMethod
from reports.selectors import package_liability
from tests.factories import PackageFactory, TaxRateFactory
from tests.invoicing.helpers import cash, refused, sold_and_paid

pytestmark = pytest.mark.django_db


def on(day: int):
    """Noon in Sydney on that day of March 2026 (the tests' practice time zone)."""
    return time_machine.travel(dt.datetime(2026, 3, day, 1, 0, tzinfo=dt.UTC), tick=False)


@pytest.fixture
def ten_for_110(practice):
    """10 credits for 110.00 including 10% tax (net 100.00)."""
    return PackageFactory(
        name="Ten",
        credits=10,
        price=Decimal("110.00"),
        tax_rate=TaxRateFactory(rate=Decimal("10.00")),
        services=[practice.follow_up],
    )


def test_liability_method_is_unused_net_value_plus_its_tax(practice, ten_for_110, admin_user):
    sold, _ = sold_and_paid(practice, ten_for_110, by=admin_user, used=3)
    unused = client_package_unused_value(sold)
    # net P = 100.00; V(3) = 30.00; held 70.00 net + 7.00 tax.
    assert (unused.unused_credits, unused.net, unused.value) == (
        7,
        Decimal("70.00"),
        Decimal("77.00"),
    )
    assert unused.limit == Decimal("77.00")


def test_price_less_services_method(practice, ten_for_110, admin_user):
    practice.follow_up.price = Decimal("20.00")
    practice.follow_up.save()
    sold, _ = sold_and_paid(practice, ten_for_110, by=admin_user, used=3)
    unused = client_package_unused_value(sold, method=RefundMethod.PRICE_LESS_SERVICES)
    assert unused.value == Decimal("50.00")  # 110.00 - 3 x 20.00
    practice.follow_up.price = Decimal("50.00")
    practice.follow_up.save()
    assert client_package_unused_value(sold, method=RefundMethod.PRICE_LESS_SERVICES).value == 0


def test_practice_setting_chooses_the_method(practice, ten_for_110, admin_user):
    sold, _ = sold_and_paid(practice, ten_for_110, by=admin_user, used=3)
    settings = PracticeSettings.load()
    settings.refund_method = RefundMethod.PRICE_LESS_SERVICES
    settings.save()
    assert client_package_unused_value(sold).method == RefundMethod.PRICE_LESS_SERVICES


def test_refund_cancels_and_refunds_the_payment_in_one_step(practice, ten_for_110, admin_user):
    sold, invoice = sold_and_paid(practice, ten_for_110, by=admin_user, used=3)
    done = client_package_cancel_with_refund(
        client_package=sold, reason="Moving away", by=admin_user
    )
    assert done.amount == Decimal("77.00")
    sold.refresh_from_db()
    assert sold.canceled_at is not None and sold.cancel_reason == "Moving away"
    (refund,) = Refund.objects.filter(payment__invoice=invoice)
    assert refund.amount == Decimal("77.00")
    assert "7 unused of 10 credits" in refund.reason
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice_totals(invoice).balance == Decimal("77.00")


def test_amount_editable_down_never_up(practice, ten_for_110, admin_user):
    sold, _ = sold_and_paid(practice, ten_for_110, by=admin_user, used=3)
    with refused("refund_exceeds_unused", field="refund_amount"):
        client_package_cancel_with_refund(
            client_package=sold, reason="x", refund_amount="77.01", by=admin_user
        )
    assert ClientPackage.objects.get(pk=sold.pk).canceled_at is None
    with refused("invalid_amount"):
        client_package_cancel_with_refund(
            client_package=sold, reason="x", refund_amount="-1", by=admin_user
        )
    done = client_package_cancel_with_refund(
        client_package=sold, reason="x", refund_amount="50.00", by=admin_user
    )
    assert done.amount == Decimal("50.00")


def test_never_more_than_paid_and_split_over_payments(practice, ten_for_110, admin_user):
    sold, invoice = sold_and_paid(practice, ten_for_110, by=admin_user, used=3, paid="40.00")
    payment_record(invoice=invoice, amount="20.00", method=cash(), by=admin_user)
    assert client_package_unused_value(sold).limit == Decimal("60.00")
    with refused("refund_exceeds_paid", field="refund_amount"):
        client_package_cancel_with_refund(
            client_package=sold, reason="x", refund_amount="60.01", by=admin_user
        )
    done = client_package_cancel_with_refund(client_package=sold, reason="x", by=admin_user)
    assert sorted(r.amount for r in done.refunds) == [Decimal("20.00"), Decimal("40.00")]


def test_draft_invoice_is_reduced_instead(practice, ten_for_110, admin_user):
    sold, invoice = sold_and_paid(practice, ten_for_110, by=admin_user, used=3, finalize=False)
    done = client_package_cancel_with_refund(client_package=sold, reason="x", by=admin_user)
    assert done.credited_invoice == invoice and done.refunds == []
    assert invoice_totals(invoice).total == Decimal("33.00")  # 110.00 - 77.00
    assert "refunded on cancellation" in invoice.lines.get().description


def test_not_invoiced_cancels_with_nothing_to_refund(practice, ten_for_110, admin_user):
    sold = practice.sell(ten_for_110, by=admin_user)
    with refused("refund_exceeds_paid"):
        client_package_cancel_with_refund(
            client_package=sold, reason="x", refund_amount="1.00", by=admin_user
        )
    done = client_package_cancel_with_refund(client_package=sold, reason="x", by=admin_user)
    assert done.amount == 0 and done.refunds == []
    assert ClientPackage.objects.get(pk=sold.pk).canceled_at is not None


def test_second_submit_refunds_nothing_twice(practice, ten_for_110, admin_user):
    sold, _ = sold_and_paid(practice, ten_for_110, by=admin_user, used=3)
    client_package_cancel_with_refund(client_package=sold, reason="x", by=admin_user)
    with refused("package_canceled"):
        client_package_cancel_with_refund(client_package=sold, reason="x", by=admin_user)
    assert Refund.objects.count() == 1


@pytest.mark.parametrize("who", ["reception", "accountant", "practitioner_user"])
def test_admin_only(practice, ten_for_110, admin_user, who, request):
    sold, _ = sold_and_paid(practice, ten_for_110, by=admin_user, used=3)
    with refused("permission_denied"):
        client_package_cancel_with_refund(
            client_package=sold, reason="x", by=request.getfixturevalue(who)
        )


def test_reconciles_with_the_liability_report_and_ledger(practice, ten_for_110, admin_user):
    with on(2):
        sold, invoice = sold_and_paid(practice, ten_for_110, by=admin_user, used=0)
    with on(3):
        for _ in range(3):
            practice.book(by=admin_user, days=1, hour=9 + _, client_package=sold)
    with on(4):
        sold.refresh_from_db()
        done = client_package_cancel_with_refund(
            client_package=sold, reason="Moving away", by=admin_user
        )
    report = package_liability(dt.date(2026, 3, 4), dt.date(2026, 3, 4))
    # Canceled (held at cancellation) is the refund's net part: 7 credits, 70.00.
    assert (report.canceled.credits, report.canceled.value) == (7, done.unused.net)
    assert done.amount - done.unused.net == Decimal("7.00")  # the tax on it, refunded too
    assert report.closing.value == 0
    whole = package_liability(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert whole.sold.value == whole.redeemed.value + whole.canceled.value
    # The ledger: 10 granted, 3 consumed; nothing more was used by canceling.
    sold.refresh_from_db()
    assert (sold.credits, sold.consumed, sold.remaining) == (10, 3, 7)
    assert invoice_totals(invoice).amount_paid == Decimal("110.00") - done.amount
