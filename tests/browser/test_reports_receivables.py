"""In Chromium: an Accountant opens Aged receivables, ages the open invoices on a day and
sees the totals by age and the invoices, most overdue first; at 390, 768 and 1440 px wide
with no axe violation and no sideways scrolling. The 1440 px shot is
docs/screenshots/report-aged-receivables.png (UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from invoicing.services import payment_record
from tests.browser.test_reports import WIDTHS, _no_axe_violations, _no_page_overflow
from tests.factories import ClientFactory, PaymentMethodFactory
from tests.reports.test_receivables_and_expiring import ON, invoice


@pytest.mark.parametrize("width", WIDTHS)
def test_accountant_reads_aged_receivables(
    live, sign_in, screenshot, practice, accountant, admin_user, width
):
    made = {}
    for days, amount, first, last in [
        (-12, "85.00", "Amelia", "Hart"),
        (3, "120.00", "Noah", "Fitzgerald"),
        (18, "240.00", "Priya", "Raman"),
        (44, "95.00", "Oliver", "Chen"),
        (67, "310.00", "Grace", "O'Connell"),
        (130, "150.00", "Lucas", "Moretti"),
    ]:
        client = ClientFactory(first_name=first, last_name=last)
        made[days] = invoice(practice, admin_user, amount, days, client=client)
    payment_record(invoice=made[18], amount="100.00", method=PaymentMethodFactory(), by=admin_user)

    page = sign_in(accountant)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/reports/aged-receivables/")
    expect(page.get_by_role("heading", name="Aged receivables", exact=True)).to_be_visible()

    page.get_by_label("As of").fill(ON.isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.locator('[data-bucket="total"]')).to_contain_text("$900.00")
    expect(page.locator('[data-bucket="total"]')).to_contain_text("6 invoices")
    expect(page.locator('[data-bucket="d1_30"]')).to_contain_text("$260.00")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(6)
    expect(rows.first).to_contain_text("Lucas Moretti")
    expect(rows.first).to_contain_text("Over 90 days")
    expect(rows.last).to_contain_text("Current")
    expect(page.get_by_role("link", name="Download CSV (all 6 invoices)")).to_be_visible()
    _no_axe_violations(page)
    _no_page_overflow(page)
    if width == 1440:
        screenshot(page, "report-aged-receivables")

    # The invoice number opens the invoice.
    rows.first.get_by_role("link", name=made[130].number).click()
    expect(page).to_have_url(f"{live.url}/billing/{made[130].pk}/")

    # A bad date is refused beside the field.
    page.goto(f"{live.url}/reports/aged-receivables/?on=1800-01-01")
    expect(page.locator("#id_on_error")).to_contain_text("Enter a date between 1900")
    _no_axe_violations(page)
    _no_page_overflow(page)
