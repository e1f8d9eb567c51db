"""The billing list's summary from the maintained day totals (`InvoiceDayTotal`, kept by
triggers): always equal to summing the listed invoices, after every kind of change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from invoicing import day_totals
from invoicing.models import Invoice, InvoiceDayTotal, InvoiceLine, InvoiceStatus
from invoicing.selectors import (
    DISPLAY_STATUSES,
    invoices_for_list,
    invoices_list_count,
    invoices_list_summary,
    invoices_summary,
)
from invoicing.services import (
    invoice_delete,
    invoice_finalize,
    invoice_line_add,
    invoice_void,
    payment_record,
    payment_refund,
    payment_void,
)
from tests.invoicing.helpers import cash, draft, line, open_invoice

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 15)


def _expected(**filters) -> tuple[Decimal, Decimal]:
    listed = invoices_for_list(**filters, today=TODAY)
    sums = invoices_summary(Invoice.objects.filter(pk__in=listed.values("pk")))
    return sums.total, sums.balance


def assert_day_totals_rebuild() -> None:
    """The kept rows equal the table computed from scratch (`invoicing.day_totals`, what a
    bulk load refills it with), rows of zeros aside."""
    some = " OR ".join(f"{name.strip()} <> 0" for name in day_totals.COLUMNS.split(",")[1:])

    def rows(select: str) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT * FROM ({select}) AS t({day_totals.COLUMNS}) WHERE {some}"  # noqa: S608
            )
            return sorted(cursor.fetchall(), key=repr)

    kept = rows(f"SELECT {day_totals.COLUMNS} FROM {day_totals.TABLE}")  # noqa: S608
    assert kept == rows(day_totals.SELECT)


def _assert_summaries_agree() -> None:
    assert_day_totals_rebuild()
    dates = [None, TODAY - dt.timedelta(days=3), TODAY]
    for status in ["", *DISPLAY_STATUSES, "junk"]:
        for issued_from in dates:
            for issued_to in dates:
                filters = {"status": status, "issued_from": issued_from, "issued_to": issued_to}
                got = invoices_list_summary(**filters, today=TODAY)
                assert (got.total, got.balance) == _expected(**filters), filters
                count = invoices_list_count(**filters, today=TODAY)
                assert count == invoices_for_list(**filters, today=TODAY).count(), filters
    got = invoices_list_summary(search="Item", today=TODAY)
    assert (got.total, got.balance) == _expected(search="Item")
    assert invoices_list_count(search="Item 2", today=TODAY) == (
        invoices_for_list(search="Item 2", today=TODAY).count()
    )
    # The rows themselves: one a day, equal to the invoices of that day by status.
    for status in (InvoiceStatus.OPEN, InvoiceStatus.PAID):
        for day in InvoiceDayTotal.objects.all():
            invoices = Invoice.objects.filter(issue_date=day.issue_date, status=status)
            sums = invoices_summary(invoices)
            assert getattr(day, f"{status}_invoices") == invoices.count()
            assert getattr(day, f"{status}_total") == sums.total
            assert getattr(day, f"{status}_balance") == sums.balance


def test_day_totals_follow_every_change():
    earlier = TODAY - dt.timedelta(days=5)
    recent = TODAY - dt.timedelta(days=3)
    a = open_invoice("100.00", "50.00", issue_date=earlier)
    b = open_invoice("80.00", issue_date=recent)
    c = open_invoice("40.00", issue_date=TODAY)
    d = draft("500.00")
    draft("7.00")  # stays a Draft: listed and counted, not summed
    _assert_summaries_agree()

    kept = payment_record(invoice=a, amount=Decimal("60.00"), method=cash(), by=None)
    _assert_summaries_agree()
    payment_refund(payment=kept, amount=Decimal("15.50"), reason="Overcharged", by=None)
    _assert_summaries_agree()
    payment_record(invoice=b, amount=Decimal("80.00"), method=cash(), by=None)  # Paid
    _assert_summaries_agree()
    mistake = payment_record(invoice=c, amount=Decimal("40.00"), method=cash(), by=None)
    _assert_summaries_agree()
    payment_void(payment=mistake, by=None)  # back to Open
    _assert_summaries_agree()

    invoice_line_add(invoice=d, **line("20.00"), by=None)
    _assert_summaries_agree()
    invoice_finalize(invoice=d, by=None)
    _assert_summaries_agree()
    invoice_void(invoice=c, reason="Wrong client", by=None)
    _assert_summaries_agree()
    invoice_delete(invoice=draft("9.00"), by=None)
    _assert_summaries_agree()

    # A write that bypasses the services (a bulk load, the admin) is counted too.
    InvoiceLine.objects.filter(invoice=a).update(total_amount=Decimal("1.00"))
    _assert_summaries_agree()
    totals = InvoiceDayTotal.objects.aggregate(invoices=Sum("open_invoices") + Sum("paid_invoices"))
    assert (
        totals["invoices"]
        == Invoice.objects.filter(status__in=[InvoiceStatus.OPEN, InvoiceStatus.PAID]).count()
    )


@pytest.mark.parametrize("size", [2, 8])
def test_unfiltered_summary_reads_day_rows_not_invoices(size):
    for n in range(size):
        open_invoice("10.00", issue_date=TODAY - dt.timedelta(days=n % 3))
    with CaptureQueriesContext(connection) as queries:
        summary = invoices_list_summary(today=TODAY)
    assert summary.total == Decimal("10.00") * size
    assert len(queries) == 1
    assert 'invoicing_invoice"' not in queries[0]["sql"].replace("invoicedaytotal", "")
