"""In Chromium: an Accountant opens the Revenue report, sees the last 12 full months with
a total row, groups by practitioner and by service or package; at 390, 768 and 1440 px
wide with no axe violation and no sideways scrolling. The 1440 px shot is
docs/screenshots/report-revenue.png (UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from invoicing.services import invoice_create, invoice_finalize, payment_record, payment_refund
from tests.factories import (
    LocationFactory,
    PaymentMethodFactory,
    PractitionerFactory,
    TaxRateFactory,
)

WIDTHS = (390, 768, 1440)


def _no_axe_violations(page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def _no_page_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{width}px wide"


def _months_ago(today: dt.date, months: int, day: int) -> dt.date:
    index = today.year * 12 + today.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, day)


def _history(practice, admin_user) -> None:
    """Six months of invoices (two practitioners, two locations, package, service and typed
    lines), most paid in the month after, one refund."""
    today = timezone.localdate()
    cash = PaymentMethodFactory()
    kim = PractitionerFactory(name="Kim Osteo")
    harbour = LocationFactory(name="Harbour Rd")
    gst = TaxRateFactory(name="GST", rate=Decimal("10.00"))
    flexi = practice.sell(practice.flexible, by=admin_user)
    for months in range(1, 7):
        issued = _months_ago(today, months, 8)
        at_harbour = months % 2 == 0
        lines = [
            {
                "description": "Consultation",
                "quantity": 1,
                "unit_price": Decimal(120 + 15 * months),
                "tax_rate": gst,
            }
        ]
        if months == 6:
            lines.append(
                {
                    "description": "Flexi 5",
                    "quantity": 1,
                    "unit_price": Decimal("450.00"),
                    "client_package": flexi,
                }
            )
        invoice = invoice_finalize(
            invoice=invoice_create(
                client=practice.client,
                practitioner=kim if at_harbour else practice.practitioner,
                location=harbour if at_harbour else practice.location,
                issue_date=issued,
                lines=lines,
                by=admin_user,
            ),
            by=admin_user,
        )
        if months > 1:
            paid = payment_record(
                invoice=invoice,
                amount="100.00",
                method=cash,
                date=_months_ago(today, months - 1, 3),
                by=admin_user,
            )
            if months == 4:
                payment_refund(
                    payment=paid,
                    amount="25.00",
                    reason="Goodwill",
                    date=_months_ago(today, 2, 12),
                    by=admin_user,
                )


@pytest.mark.parametrize("width", WIDTHS)
def test_accountant_reads_revenue(
    live, sign_in, screenshot, practice, accountant, admin_user, width
):
    _history(practice, admin_user)
    page = sign_in(accountant)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/reports/revenue/")
    expect(page.get_by_role("heading", name="Revenue", exact=True)).to_be_visible()
    table = page.get_by_role("table")
    # 12 months, a header row and the total.
    expect(table.get_by_role("row")).to_have_count(14)
    total = table.get_by_role("row").filter(has_text="Total")
    expect(total).to_contain_text("$1,485.00")  # 6 consultations (1,035.00) + Flexi 5 450.00
    expect(total).to_contain_text("$1,390.91")  # the GST inside the consultations: 94.09
    expect(total).to_contain_text("$94.09")
    expect(total).to_contain_text("$500.00")
    expect(total).to_contain_text("$25.00")
    expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
    _no_axe_violations(page)
    _no_page_overflow(page)
    if width == 1440:
        screenshot(page, "report-revenue")

    page.get_by_label("Group by").select_option("practitioner")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("row").filter(has_text="Kim Osteo")).to_contain_text("$25.00")
    expect(page.get_by_role("columnheader", name="Practitioner")).to_be_visible()

    page.get_by_label("Group by").select_option("item")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("row").filter(has_text="Flexi 5")).to_contain_text("$450.00")
    expect(page.get_by_text("Payments are not split by item")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Paid")).to_have_count(0)
    _no_axe_violations(page)
    _no_page_overflow(page)

    # A bad period is refused beside the field.
    page.get_by_label("End").fill("1999-01-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#id_end_error")).to_contain_text("before the start date")
    _no_axe_violations(page)
    _no_page_overflow(page)
