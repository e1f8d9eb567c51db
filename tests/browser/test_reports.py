"""In Chromium: an Accountant opens Reports from the main navigation, then Package
liability, filters a period and sees the roll-forward; at 390, 768 and 1440 px wide with
no axe violation and no sideways scrolling. The 1440 px shot is
docs/screenshots/package-liability.png (UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import PackageFactory

WIDTHS = (390, 768, 1440)


def _no_axe_violations(page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def _no_page_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{width}px wide"


@pytest.mark.parametrize("width", WIDTHS)
def test_accountant_reads_package_liability(
    live, sign_in, screenshot, practice, accountant, reception, width
):
    three = PackageFactory(
        name="Three", credits=3, price=Decimal("100.00"), services=[practice.follow_up]
    )
    practice.sell(three)
    practice.sell(practice.flexible)
    practice.book(by=reception, client_package=practice.client.packages.get(package=three))
    today = timezone.localdate()

    page = sign_in(accountant)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/")
    if width <= 1024:  # narrow screens fold the navigation into Menu
        page.get_by_role("button", name="Menu").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    _no_axe_violations(page)
    _no_page_overflow(page)
    page.get_by_role("link", name="Package liability", exact=True).first.click()
    expect(page.get_by_role("heading", name="Package liability", exact=True)).to_be_visible()

    page.get_by_label("Start").fill(today.replace(day=1).isoformat())
    page.get_by_label("End").fill(today.isoformat())
    page.get_by_role("button", name="Show").click()
    sold = page.get_by_role("row").filter(has_text="Sold")
    expect(sold).to_contain_text("8")
    redeemed = page.get_by_role("row").filter(has_text="Redeemed")
    expect(redeemed).to_contain_text("$33.33")
    expect(page.get_by_role("row").filter(has_text="Closing balance")).to_contain_text("7")
    expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
    _no_axe_violations(page)
    _no_page_overflow(page)
    screenshot(page, "package-liability" if width == 1440 else f"package-liability-{width}")

    # The lines behind a figure.
    page.get_by_role("link", name="Redeemed").click()
    expect(page.get_by_role("heading", name="Redeemed", exact=True)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Three")).to_contain_text("$33.33")
    expect(page.get_by_role("link", name="Download all 1 lines (CSV)")).to_be_visible()
    _no_axe_violations(page)
    _no_page_overflow(page)
    page.go_back()

    # A bad period is refused beside the field.
    page.get_by_label("End").fill(today.replace(day=1).replace(year=today.year - 1).isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#id_end_error")).to_contain_text("before the start date")
    _no_axe_violations(page)
    _no_page_overflow(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_dashboard_charts(live, sign_in, screenshot, practice, admin_user, reception, width):
    """The landing page of Reports: four SVG charts, each a link to its report."""
    three = PackageFactory(
        name="Three", credits=3, price=Decimal("100.00"), services=[practice.follow_up]
    )
    sold = practice.sell(three)
    practice.book(by=reception, client_package=sold)
    page = sign_in(admin_user)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/reports/")
    charts = page.get_by_role("img")
    expect(charts).to_have_count(4)
    expect(
        page.get_by_role("img", name="Package liability this month, from opening to today")
    ).to_be_visible()
    expect(page.locator(".dashboard__figure").first).to_contain_text("$66.67")
    _no_axe_violations(page)
    _no_page_overflow(page)
    if width == 1440:
        screenshot(page, "report-dashboard")
    page.get_by_role("link", name="Aged receivables", exact=True).first.click()
    expect(page.get_by_role("heading", name="Aged receivables", exact=True)).to_be_visible()
