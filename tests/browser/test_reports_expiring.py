"""In Chromium: the Expiring soon report at 390, 768 and 1440 px wide, with no axe
violation and no sideways scrolling. An Admin extends an expired package from the
report's Extend expiry popup and comes back to the report, where it has moved to the
expiring list. The 1440 px shot is docs/screenshots/report-expiring.png
(UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from packages.services import client_package_extend_expiry
from tests.browser.test_reports import _no_axe_violations, _no_page_overflow
from tests.factories import ClientFactory, PackageFactory

WIDTHS = (390, 768, 1440)


def _sell(practice, admin_user, package, offset, **client):
    today = timezone.localdate()
    sold = practice.sell(
        package, client=ClientFactory(**client), start_date=today - dt.timedelta(days=40)
    )
    return client_package_extend_expiry(
        client_package=sold, expires_on=today + dt.timedelta(days=offset), reason="T", by=admin_user
    )


@pytest.fixture
def expiring(practice, admin_user):
    three = PackageFactory(
        name="Physio 3 pack", credits=3, price=Decimal("100.00"), services=[practice.follow_up]
    )
    ten = PackageFactory(
        name="Massage 10 pack", credits=10, price=Decimal("850.00"), services=[practice.massage]
    )
    _sell(practice, admin_user, three, 2, first_name="Ann", last_name="Able", phone="0400 111 222")
    _sell(practice, admin_user, ten, 6, first_name="Bob", last_name="Baker", phone="0400 333 444")
    _sell(practice, admin_user, three, 26, first_name="Cat", last_name="Cole", phone="")
    return _sell(
        practice, admin_user, ten, -4, first_name="Dan", last_name="Dee", phone="0400 555 666"
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_admin_reads_expiring_soon_and_extends(
    live, sign_in, screenshot, admin_user, expiring, width
):
    page = sign_in(admin_user)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/reports/expiring/")
    expect(page.get_by_role("heading", name="Expiring soon", exact=True)).to_be_visible()
    soon = page.locator('[data-section="expiring"]')
    expired = page.locator('[data-section="expired"]')
    expect(soon.get_by_role("row")).to_have_count(4)  # header and three packages
    expect(soon.get_by_role("row").filter(has_text="Bob Baker")).to_contain_text("$850.00")
    expect(expired.get_by_role("row").filter(has_text="Dan Dee")).to_contain_text("10")
    expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
    _no_axe_violations(page)
    _no_page_overflow(page)
    screenshot(page, "report-expiring" if width == 1440 else f"report-expiring-{width}")

    # 7 days: Cat Cole's package (26 days) drops out.
    page.get_by_label("Expiring within").select_option("7")
    page.get_by_role("button", name="Show").click()
    expect(soon.get_by_role("row")).to_have_count(3)
    expect(page.get_by_role("heading", name="Expiring in the next 7 days")).to_be_visible()

    # Extend the expired package in the popup; back on the report it is expiring.
    expired.get_by_role("link", name="Extend expiry: Massage 10 pack, Dan Dee").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Extend expiry")).to_be_visible()
    new_date = timezone.localdate() + dt.timedelta(days=5)
    dialog.get_by_label("New expiry date").fill(new_date.isoformat())
    dialog.get_by_label("Reason").fill("Client was overseas")
    _no_axe_violations(page)
    dialog.get_by_role("button", name="Change expiry").click()
    expect(page.get_by_text("Expiry date changed.")).to_be_visible()
    expect(page).to_have_url(f"{live.url}/reports/expiring/?within=7&location=&practitioner=")
    expect(soon.get_by_role("row").filter(has_text="Dan Dee")).to_be_visible()
    expect(expired).to_contain_text("No packages expired in the last 30 days with credits left.")
    _no_axe_violations(page)
    _no_page_overflow(page)
