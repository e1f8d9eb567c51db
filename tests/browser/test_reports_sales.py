"""In Chromium: an Accountant opens Package sales, picks this month and reads the sales by
package, by month and by who sold them; at 390, 768 and 1440 px wide with no axe
violation and no sideways scrolling. The 1440 px shot is
docs/screenshots/report-package-sales.png (UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from packages.services import client_package_cancel
from practice.models import PracticeSettings
from tests.browser.test_reports import WIDTHS, _no_axe_violations, _no_page_overflow
from tests.factories import ClientFactory, PackageFactory


@pytest.mark.parametrize("width", WIDTHS)
def test_accountant_reads_package_sales(
    live, sign_in, screenshot, practice, accountant, admin_user, reception, width
):
    settings = PracticeSettings.load()
    settings.prices_include_tax = False
    settings.save()
    admin_user.first_name, admin_user.last_name = "Alice", "Manager"
    admin_user.save()
    reception.first_name, reception.last_name = "Rita", "Front Desk"
    reception.save()
    ten = PackageFactory(
        name="Massage 10-pack", credits=10, price=Decimal("850.00"), services=[practice.massage]
    )
    three = PackageFactory(
        name="Physio 3 follow-ups",
        credits=3,
        price=Decimal("240.00"),
        services=[practice.follow_up],
    )
    for package, by in [
        (ten, admin_user),
        (ten, reception),
        (three, reception),
        (three, reception),
        (three, None),
        (practice.fixed, admin_user),
    ]:
        practice.sell(package, by=by, client=ClientFactory())
    canceled = practice.sell(three, by=admin_user, client=ClientFactory())
    client_package_cancel(client_package=canceled, reason="Changed plans", by=admin_user)
    today = timezone.localdate()

    page = sign_in(accountant)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/reports/package-sales/")
    expect(page.get_by_role("heading", name="Package sales", exact=True)).to_be_visible()
    page.get_by_label("Start").fill(today.replace(day=1).isoformat())
    page.get_by_label("End").fill(today.isoformat())
    page.get_by_role("button", name="Show").click()

    rows = page.locator("tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("Massage 10-pack")
    expect(rows.first).to_contain_text("$1,700.00")
    # The canceled package still counts as sold: 4 of the 3-credit package.
    expect(rows.nth(1)).to_contain_text("Physio 3 follow-ups")
    expect(rows.nth(1)).to_contain_text("$960.00")
    expect(page.locator('[data-row="total"]')).to_contain_text("$3,060.00")
    expect(page.get_by_role("columnheader", name="Revenue (net of tax)")).to_be_visible()
    _no_axe_violations(page)
    _no_page_overflow(page)
    if width == 1440:
        screenshot(page, "report-package-sales")

    page.get_by_label("Group by").select_option("seller")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("columnheader", name="Sold by")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Unknown")).to_contain_text("$240.00")
    expect(page.get_by_role("row").filter(has_text="Rita Front Desk")).to_contain_text("$1,330.00")
    page.get_by_label("Group by").select_option("month")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("row").filter(has_text=f"{today:%B %Y}")).to_contain_text("$3,060.00")
    expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
    _no_axe_violations(page)
    _no_page_overflow(page)

    # A bad period is refused beside the field.
    page.get_by_label("End").fill(today.replace(year=today.year - 1).isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#id_end_error")).to_contain_text("before the start date")
    _no_axe_violations(page)
    _no_page_overflow(page)
