"""Issue 13, part 5: cancel a package and refund its unused part in one transaction."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from invoicing.models import Invoice, InvoiceStatus, Refund
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
    # RF6: a credit note takes 77.00 off the invoice, and the 77.00 paid beyond what it
    # then asks for (33.00) goes back against the payment.
    note = done.credit_note
    assert (note.number, note.invoice, note.client_package) == ("CN-0001", invoice, sold)
    assert (note.net_amount, note.tax_amount, note.total_amount) == (
        Decimal("70.00"),
        Decimal("7.00"),
        Decimal("77.00"),
    )
    assert note.lines.get().invoice_line == invoice.lines.get()
    (refund,) = Refund.objects.filter(payment__invoice=invoice)
    assert refund.amount == Decimal("77.00") == done.refunded
    assert "7 unused of 10 credits" in refund.reason
    # RF7: covered by what is paid and credited, the invoice is Paid, nothing owing.
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    totals = invoice_totals(invoice)
    assert (totals.total, totals.amount_paid, totals.credited, totals.balance) == (
        Decimal("110.00"),
        Decimal("33.00"),
        Decimal("77.00"),
        Decimal("0.00"),
    )


def test_unpaid_invoice_is_credited_with_a_credit_note(practice, ten_for_110, admin_user):
    sold, invoice = sold_and_paid(practice, ten_for_110, by=admin_user, used=3, paid="0")
    assert client_package_unused_value(sold).limit == Decimal("77.00")
    done = client_package_cancel_with_refund(client_package=sold, reason="x", by=admin_user)
    assert done.refunds == [] and done.credit_note.total_amount == Decimal("77.00")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice_totals(invoice).balance == Decimal("33.00")  # the 3 credits used


def test_lowered_amount_within_what_is_owing_refunds_nothing(practice, ten_for_110, admin_user):
    sold, invoice = sold_and_paid(practice, ten_for_110, by=admin_user, used=3, paid="60.00")
    done = client_package_cancel_with_refund(
        client_package=sold, reason="x", refund_amount="30.00", by=admin_user
    )
    assert done.refunds == [] and done.credit_note.total_amount == Decimal("30.00")
    assert invoice_totals(invoice).balance == Decimal("20.00")  # 110 - 60 - 30


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


def test_part_paid_credits_all_and_refunds_beyond_what_was_owing(practice, ten_for_110, admin_user):
    sold, invoice = sold_and_paid(practice, ten_for_110, by=admin_user, used=3, paid="40.00")
    payment_record(invoice=invoice, amount="20.00", method=cash(), by=admin_user)
    unused = client_package_unused_value(sold)
    assert (unused.limit, unused.owing, unused.paid) == (
        Decimal("77.00"),
        Decimal("50.00"),
        Decimal("60.00"),
    )
    with refused("refund_exceeds_unused", field="refund_amount"):
        client_package_cancel_with_refund(
            client_package=sold, reason="x", refund_amount="77.01", by=admin_user
        )
    done = client_package_cancel_with_refund(client_package=sold, reason="x", by=admin_user)
    # Credit 77.00: 50.00 was owing, so 27.00 paid goes back, newest payment first.
    assert done.credit_note.total_amount == Decimal("77.00")
    assert [r.amount for r in done.refunds] == [Decimal("20.00"), Decimal("7.00")]
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice_totals(invoice).balance == 0


def test_never_more_than_the_invoice_still_bills(practice, ten_for_110, admin_user):
    from invoicing.services import credit_note_issue

    sold, invoice = sold_and_paid(practice, ten_for_110, by=admin_user, used=3, paid="0")
    credit_note_issue(invoice=invoice, amount="100.00", reason="Goodwill", by=admin_user)
    assert client_package_unused_value(sold).limit == Decimal("10.00")
    with refused("refund_exceeds_paid", field="refund_amount"):
        client_package_cancel_with_refund(
            client_package=sold, reason="x", refund_amount="10.01", by=admin_user
        )


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
    assert done.credit_note.net_amount == done.unused.net  # the credit note's net part


def test_reconciles_with_receivables_and_the_billing_summary(practice, ten_for_110, admin_user):
    """After canceling with a refund, the liability released (the credit note's net part),
    the receivables (what is still owing) and the billing list's day totals agree."""
    from invoicing.models import InvoiceDayTotal
    from invoicing.selectors import invoices_summary
    from reports.selectors import aged_receivables

    with on(2):
        sold, invoice = sold_and_paid(practice, ten_for_110, by=admin_user, used=0, paid="50.00")
    with on(3):
        for hour in range(3):
            practice.book(by=admin_user, days=1, hour=9 + hour, client_package=sold)
    with on(4):
        sold.refresh_from_db()
        before = aged_receivables(dt.date(2026, 3, 4)).total
        done = client_package_cancel_with_refund(client_package=sold, reason="x", by=admin_user)
    # 110.00 billed, 50.00 paid: 60.00 owing; credited 77.00, so 17.00 paid goes back and
    # nothing is owing: the 3 credits used (33.00) are what the client paid for.
    assert before.balance == Decimal("60.00")
    assert (done.credit_note.total_amount, done.refunded) == (Decimal("77.00"), Decimal("17.00"))
    after = aged_receivables(dt.date(2026, 3, 4)).total
    assert (after.count, after.balance) == (0, 0)
    report = package_liability(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert report.canceled.value == done.credit_note.net_amount
    # Billed less credited equals what the client keeps paid for: 110 - 77 = 50 - 17.
    totals = invoice_totals(invoice)
    assert totals.total - totals.credited == totals.amount_paid == Decimal("33.00")
    day = InvoiceDayTotal.objects.get(issue_date=invoice.issue_date)
    sums = invoices_summary(Invoice.objects.filter(issue_date=invoice.issue_date))
    assert (day.paid_total, day.paid_balance, day.open_balance) == (sums.total, 0, 0)
