"""The API keys page in a real browser: reached from the user menu, Create API key shows
the key once in the popup, Revoke asks first; at 390, 768 and 1440 px wide with no axe
violation."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from rest_framework.test import APIClient

from practice.api_keys import api_key_create
from practice.models import ApiKey

WIDTHS = (390, 768, 1440)


def _no_axe_violations(page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def _no_page_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{width}px wide"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_api_keys_page_at_each_width(live, sign_in, screenshot, admin_user, reception, width):
    api_key_create(user=reception, name="Rita's booking website", by=reception)
    mine = api_key_create(user=admin_user, name="Accounting export", by=admin_user)
    page = sign_in(admin_user)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/")
    if width <= 1024:  # narrow screens fold the top bar into Menu
        page.get_by_role("button", name="Menu").click()
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="Rita's booking website", exact=True)).to_be_visible()
    expect(page.get_by_text(f"csk_{mine.api_key.prefix}…")).to_be_visible()
    _no_axe_violations(page)
    _no_page_overflow(page)
    screenshot(page, f"api-keys-{width}")

    page.get_by_role("link", name="Create API key").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Create API key")).to_be_visible()
    _no_axe_violations(page)
    screenshot(page, f"api-keys-create-{width}", full_page=False)


def test_create_shows_the_key_once_and_revoke_asks_first(live, sign_in, screenshot, reception):
    page = sign_in(reception)
    page.goto(f"{live.url}/api-keys/")
    expect(page.get_by_text("No API keys yet")).to_be_visible()

    page.get_by_role("link", name="Create API key").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Create API key").click()
    expect(dialog.get_by_text("Give the key a name.")).to_be_visible()
    dialog.get_by_label("Name").fill("Booking website")
    dialog.get_by_role("button", name="Create API key").click()

    expect(dialog.get_by_role("heading", name="API key created")).to_be_visible()
    expect(dialog.get_by_text("you will not see it again")).to_be_visible()
    field = dialog.get_by_label("Booking website")
    key = field.input_value()
    assert key.startswith("csk_")
    _no_axe_violations(page)
    screenshot(page, "api-keys-created", full_page=False)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/clients/").status_code == 200

    # The list behind the popup already shows the new key.
    expect(
        page.locator("#api-key-list").get_by_role("cell", name="Booking website", exact=True)
    ).to_be_attached()
    dialog.get_by_role("link", name="I have copied the key").click()
    expect(dialog).to_be_hidden()  # a new page
    expect(page.get_by_role("cell", name="Booking website", exact=True)).to_be_visible()
    assert key.rsplit("_", 1)[1] not in page.content()

    page.get_by_role("link", name="Revoke Booking website").click()
    expect(dialog.get_by_role("heading", name="Revoke Booking website?")).to_be_visible()
    _no_axe_violations(page)
    dialog.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("API key Booking website revoked.")).to_be_visible()
    expect(page.get_by_text("Revoked by its owner")).to_be_visible()
    assert ApiKey.objects.get().revoked_at is not None
    assert api.get("/api/v1/clients/").status_code == 401
