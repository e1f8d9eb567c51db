"""Issue 13, done when: a receptionist sells a package and takes a deposit in one popup
(Create package → the package → Practitioner, Location → Create invoice and take payment
→ Deposit, the practice's default payment method → Create), at a phone's width and a
desktop's; the client's Overview then shows the money at a glance."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from invoicing.models import Invoice, InvoiceStatus, Payment, PaymentMethod
from invoicing.services import payment_method_set_default
from packages.models import ClientPackage

# Screenshots to look at: SALE_SHOTS=/some/folder keeps them there.
SHOTS = os.environ.get("SALE_SHOTS")


def _no_axe_violations(page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def _shot(page, screenshot, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)
    screenshot(page, name)


@pytest.mark.parametrize("width", [390, 1440])
def test_receptionist_sells_a_package_and_takes_a_deposit_in_one_popup(
    live, sign_in, screenshot, practice, reception, admin_user, width
):
    eftpos = PaymentMethod.objects.get(name="EFTPOS")
    payment_method_set_default(method=eftpos, by=admin_user)
    page = sign_in(reception)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/clients/{practice.client.pk}/")
    page.locator("#client-packages .card__header").get_by_role(
        "link", name="Create package"
    ).click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Create package")).to_be_visible()
    invoice_part = dialog.get_by_role("group", name="Create invoice for package")
    # Before a package is chosen, only the catalog.
    expect(invoice_part).to_be_hidden()

    dialog.locator("label.choice", has_text="Physio Starter Pack").click()
    expect(invoice_part).to_be_visible()
    # The only practitioner and location, and Invoice later, are preselected.
    expect(dialog.get_by_label("Practitioner")).to_have_value(str(practice.practitioner.pk))
    expect(dialog.get_by_label("Location")).to_have_value(str(practice.location.pk))
    expect(dialog.get_by_role("radio", name="Invoice later")).to_be_checked()
    expect(dialog.get_by_label("Payment method")).to_be_hidden()

    dialog.get_by_role("radio", name="Create invoice and take payment").check()
    method = dialog.get_by_label("Payment method")
    expect(method).to_be_visible()
    expect(method).to_have_value(str(eftpos.pk))  # the practice's default
    expect(dialog.get_by_role("radio", name="Full amount")).to_be_checked()
    deposit = dialog.get_by_label("Deposit amount")
    expect(deposit).to_be_hidden()
    dialog.get_by_role("radio", name="Deposit", exact=True).check()
    expect(deposit).to_be_visible()

    # Too much: the popup shows why beside the amount, and nothing was written.
    deposit.fill("450")
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(dialog).to_contain_text("The amount is more than the balance of $400.00.")
    assert not ClientPackage.objects.exists() and not Invoice.objects.exists()
    expect(dialog.get_by_role("radio", name="Deposit", exact=True)).to_be_checked()
    deposit = dialog.get_by_label("Deposit amount")
    expect(deposit).to_have_attribute("aria-invalid", "true")

    deposit.fill("100")
    _no_axe_violations(page)
    _shot(page, screenshot, f"sale-popup-{width}")
    dialog.get_by_role("button", name="Create", exact=True).click()

    messages = page.locator("#messages")
    expect(messages).to_contain_text(
        "Package created: Physio Starter Pack. Invoice INV-0001 finalized, "
        "$100.00 paid by EFTPOS; $300.00 owing."
    )
    expect(page).to_have_url(f"{live.url}/clients/{practice.client.pk}/")
    invoice = Invoice.objects.get()
    assert invoice.status == InvoiceStatus.OPEN
    payment = Payment.objects.get()
    assert (payment.amount, payment.method) == (Decimal("100.00"), eftpos)

    # The Overview: balance owing, the package Part paid with its value left.
    expect(page.get_by_test_id("balance-owing")).to_contain_text("$300.00")
    row = page.locator("#client-packages tbody tr", has_text="Physio Starter Pack")
    expect(row.get_by_test_id("payment-status")).to_have_text("Part paid")
    expect(row.get_by_test_id("remaining-value")).to_have_text("$400.00")
    expect(page.get_by_test_id("next-appointment")).to_contain_text("None booked")
    _no_axe_violations(page)
    _shot(page, screenshot, f"sale-overview-{width}")
    assert re.search(r"INV-0001", invoice.number)
