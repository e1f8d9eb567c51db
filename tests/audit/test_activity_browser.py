"""The Activity page and the client's and package's Activity tabs in Chromium, at 390,
768 and 1440 px wide: reached from the navigation and the tabs, readable, no horizontal
overflow of the page and no axe violation."""

from __future__ import annotations

import pghistory
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from calendar_app.services import appointment_cancel, appointment_link
from packages.services import client_package_cancel
from tests.factories import next_local

pytestmark = pytest.mark.browser

WIDTHS = (390, 768, 1440)


def _no_axe_violations(page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def _no_page_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{width}px wide"


def _shot(screenshot, page, name: str, width: int) -> None:
    """docs/screenshots/<name>.png at 1440 px (UPDATE_SCREENSHOTS=1); <name>-<width>.png
    in the test's folder otherwise."""
    screenshot(page, name if width == 1440 else f"{name}-{width}")


def _history(practice, rosa, jo):
    with pghistory.context(user=rosa.pk, ip="192.0.2.60"):
        sold = practice.sell(practice.flexible, by=rosa)
    with pghistory.context(user=rosa.pk, ip="192.0.2.60"):
        linked = practice.book(by=rosa, starts_at=next_local(hour=10, days=3))
    with pghistory.context(user=rosa.pk, ip="192.0.2.60"):
        appointment_link(appointment=linked, client_package=sold, by=rosa)
    with pghistory.context(user=rosa.pk, ip="192.0.2.60"):
        other = practice.book(by=rosa, starts_at=next_local(hour=8, days=2))
    with pghistory.context(user=rosa.pk, ip="192.0.2.60"):
        appointment_cancel(appointment=other, reason=practice.reason, by=rosa)
    with pghistory.context(user=jo.pk, ip="192.0.2.61"):
        client_package_cancel(client_package=sold, reason="Moved interstate", by=jo)
    return sold


@pytest.mark.parametrize("width", WIDTHS)
def test_activity_pages_at_each_width(
    live, sign_in, screenshot, practice, admin_user, reception, width
):
    admin_user.first_name, admin_user.last_name = "Jo", "Admin"
    admin_user.save()
    reception.first_name, reception.last_name = "Rosa", "Nguyen"
    reception.save()
    sold = _history(practice, reception, admin_user)

    page = sign_in(admin_user)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/")
    if width <= 1024:  # narrow screens fold the navigation into Menu
        page.get_by_role("button", name="Menu").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Activity").click()
    expect(page.get_by_role("heading", name="Activity", exact=True)).to_be_visible()
    expect(
        page.get_by_role("cell", name="Jo Admin canceled Flexi 5: Moved interstate")
    ).to_be_visible()
    expect(page.get_by_text("Packages · from 192.0.2.61").first).to_be_visible()
    _no_axe_violations(page)
    _no_page_overflow(page)
    _shot(screenshot, page, "activity", width)

    # Filter by person: only Rosa's changes remain.
    page.get_by_label("Person").select_option(label="Rosa Nguyen")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("cell", name="Rosa Nguyen sold Flexi 5 to Jo Citizen")).to_be_visible()
    expect(page.get_by_text("Jo Admin canceled Flexi 5")).to_have_count(0)
    _no_axe_violations(page)

    page.goto(f"{live.url}/clients/{practice.client.pk}/")
    page.get_by_role("navigation", name="Client").get_by_role("link", name="Activity").click()
    expect(
        page.get_by_role("cell", name="Jo Admin canceled Flexi 5: Moved interstate")
    ).to_be_visible()
    expect(page.get_by_text("Rosa Nguyen canceled the appointment of")).to_be_visible()
    _no_axe_violations(page)
    _no_page_overflow(page)
    _shot(screenshot, page, "client-activity", width)

    page.goto(f"{live.url}/packages/{sold.pk}/")
    page.get_by_role("navigation", name="Package").get_by_role("link", name="Activity").click()
    expect(
        page.get_by_role("cell", name="Jo Admin canceled Flexi 5: Moved interstate")
    ).to_be_visible()
    expect(page.get_by_text("Rosa Nguyen linked the appointment of")).to_be_visible()
    _no_axe_violations(page)
    _no_page_overflow(page)
    _shot(screenshot, page, "package-activity", width)


def test_reception_has_no_activity_link_and_is_refused(live, sign_in, reception):
    page = sign_in(reception)
    page.goto(f"{live.url}/")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Activity")
    ).to_have_count(0)
    response = page.goto(f"{live.url}/settings/activity/")
    assert response.status == 403
