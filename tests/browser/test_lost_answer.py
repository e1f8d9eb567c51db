"""A payment saved by the server whose answer never reaches the browser (issue 9): the
popup stays open with the server's honest message, and sending the same form again
replays the first answer instead of paying twice. Real Chromium, real server; only the
answer on its way back is replaced by the 503 the server gives when a connection dies
between COMMIT and answer (tests/trust/exactly_once/ proves that 503 with real faults)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.template.loader import render_to_string
from playwright.sync_api import expect

from invoicing.models import Payment
from invoicing.services import invoice_finalize, invoice_for_client_package
from kernel.middleware import DatabaseUnavailableMiddleware as Unavailable
from kernel.web import ALREADY_SENT


@pytest.mark.parametrize("width", [390, 768, 1440])
def test_record_payment_resent_after_a_lost_answer_pays_once(
    live, sign_in, reception, practice, screenshot, width
):
    invoice = invoice_finalize(
        invoice=invoice_for_client_package(
            client_package=practice.sell(),
            practitioner=practice.practitioner,
            location=practice.location,
            by=None,
        ),
        by=None,
    )
    lost = render_to_string(
        "503.html", {"message": Unavailable.UNKNOWN_PAGE_KEYED, "code": "outcome_unknown"}
    )
    page = sign_in(reception)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/billing/{invoice.pk}/")
    page.get_by_role("link", name="Pay invoice").click()
    dialog = page.locator("#modal")
    dialog.get_by_label("Amount").fill("100")
    dialog.get_by_label("Payment method").select_option(label="Cash")

    def lose_the_answer(route):
        route.fetch()  # the server records the payment and answers...
        route.fulfill(status=503, body=lost, content_type="text/html")  # ...which is lost

    pay_url = f"{live.url}/billing/{invoice.pk}/pay/"
    page.route(pay_url, lose_the_answer)
    dialog.get_by_role("button", name="Record payment").click()
    # Said in the open popup (the page behind it is inert), beside the form to send again.
    alert = dialog.get_by_role("alert")
    expect(alert).to_contain_text("whether it was saved is unknown")
    expect(alert).to_contain_text("Sending the same form again is safe")
    expect(alert).not_to_contain_text("Nothing was saved")
    expect(dialog.get_by_role("button", name="Record payment")).to_be_enabled()
    screenshot(page, f"lost-answer-{width}")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert Payment.objects.filter(invoice=invoice).count() == 1

    page.unroute(pay_url)
    dialog.get_by_role("button", name="Record payment").click()
    expect(page.locator("#messages")).to_contain_text(ALREADY_SENT)
    assert list(Payment.objects.filter(invoice=invoice).values_list("amount", flat=True)) == [
        Decimal("100.00")
    ]
