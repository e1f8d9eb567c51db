"""Settings > Webhooks in a real browser: reached from the Settings navigation, Add shows
the signing secret once, the endpoint's deliveries with Resend, Disable asks first; at
390, 768 and 1440 px wide with no axe violation and nothing wider than the screen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

WIDTHS = (390, 768, 1440)
SHOTS = Path(os.environ.get("WEBHOOK_SHOTS", "")) if os.environ.get("WEBHOOK_SHOTS") else None


def _no_axe_violations(page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def _no_page_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{width}px wide"


def _shot(screenshot, page, name, full_page=True):
    screenshot(page, name, full_page=full_page)
    if SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _endpoint_with_deliveries() -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.create(
        url="https://books.example.com/caspen/webhooks/a-rather-long-path-for-the-accounting-sync",
        description="Accounting sync",
        events=["invoice.finalized", "payment.recorded", "payment.refunded"],
    )
    for n, (status, code, error) in enumerate(
        [
            ("succeeded", 200, ""),
            ("failed", 500, "HTTP 500"),
            ("pending", None, "No answer within 10 seconds."),
        ]
    ):
        event = WebhookEvent.objects.create(
            type="payment.recorded", object_type="payment", object_id=4410 + n, payload={}
        )
        WebhookDelivery.objects.create(
            event=event,
            endpoint=endpoint,
            status=status,
            attempts=1 if status != "failed" else 10,
            response_status=code,
            error=error,
        )
    return endpoint


@pytest.mark.parametrize("width", WIDTHS)
def test_the_webhooks_pages_at_each_width(live, sign_in, screenshot, admin_user, width):
    endpoint = _endpoint_with_deliveries()
    page = sign_in(admin_user)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/settings/")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    expect(page.get_by_text(endpoint.url, exact=True)).to_be_visible()
    _no_axe_violations(page)
    _no_page_overflow(page)
    _shot(screenshot, page, f"webhooks-{width}")

    page.get_by_role("link", name=f"Deliveries to {endpoint.url}").click()
    expect(page.get_by_role("heading", name="Deliveries")).to_be_visible()
    expect(page.get_by_role("button", name="Resend").first).to_be_visible()
    _no_axe_violations(page)
    _no_page_overflow(page)
    _shot(screenshot, page, f"webhook-{width}")

    page.goto(f"{live.url}/settings/webhooks/")
    page.get_by_role("link", name="Add a webhook").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Add a webhook")).to_be_visible()
    _no_axe_violations(page)
    _shot(screenshot, page, f"webhook-add-{width}", full_page=False)


def test_add_shows_the_secret_once_then_resend_and_disable(live, sign_in, screenshot, admin_user):
    page = sign_in(admin_user)
    page.goto(f"{live.url}/settings/webhooks/")
    expect(page.get_by_text("No webhooks yet")).to_be_visible()
    page.get_by_role("link", name="Add a webhook").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("URL").fill("ftp://crm.example.com/in")
    dialog.get_by_role("button", name="Add webhook").click()
    expect(dialog.get_by_text("Choose at least one event.")).to_be_visible()
    expect(dialog.get_by_text("Enter an http:// or https:// address")).to_have_count(0)
    dialog.get_by_label("appointment.booked").check()
    dialog.get_by_role("button", name="Add webhook").click()
    expect(dialog.get_by_text("Enter an http:// or https:// address")).to_be_visible()
    dialog.get_by_label("URL").fill("https://crm.example.com/in")
    dialog.get_by_role("button", name="Add webhook").click()

    expect(dialog.get_by_role("heading", name="Webhook added")).to_be_visible()
    expect(dialog.get_by_text("you will not see it again")).to_be_visible()
    secret = dialog.get_by_label("Signing secret for https://crm.example.com/in").input_value()
    endpoint = WebhookEndpoint.objects.get()
    assert secret == endpoint.secret
    _no_axe_violations(page)
    _shot(screenshot, page, "webhook-created", full_page=False)
    dialog.get_by_role("link", name="I have copied the secret").click()
    expect(page.get_by_role("heading", name="https://crm.example.com/in")).to_be_visible()
    assert secret not in page.content()

    event = WebhookEvent.objects.create(
        type="appointment.booked", object_type="appointment", object_id=1, payload={}
    )
    WebhookDelivery.objects.create(event=event, endpoint=endpoint, status="failed", attempts=10)
    page.reload()
    page.get_by_role("button", name="Resend").click()
    expect(page.get_by_text("appointment.booked will be sent again.")).to_be_visible()
    assert WebhookDelivery.objects.filter(status="pending", endpoint=endpoint).count() == 1

    page.get_by_role("link", name="Disable").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Disable this webhook?")).to_be_visible()
    dialog.get_by_role("button", name="Disable").click()
    expect(page.get_by_text("Webhook disabled.")).to_be_visible()
    endpoint.refresh_from_db()
    assert not endpoint.active
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_text("Webhook enabled")).to_be_visible()
