"""Issue 13 in Chromium, at a phone's width and a desktop's. Done when: a receptionist
sells a package and takes a deposit in one popup (Create package → the package →
Practitioner, Location → Create invoice and take payment → Deposit, the practice's
default payment method → Create); the client's Overview then shows the money at a
glance. Also: an Admin sees what is owed (Overdue) and extends an expired package from
the Overview; Add a line picked from the catalog on a draft invoice."""

from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from invoicing.models import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    SaleInvoicing,
)
from invoicing.services import client_package_sell, invoice_create, payment_method_set_default
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


@pytest.mark.parametrize("width", [390, 1440])
def test_admin_sees_what_is_owed_and_extends_an_expired_package(
    live, sign_in, screenshot, practice, reception, admin_user, width
):
    # Sold 40 days ago with a deposit: the invoice (14 days' terms) is overdue now.
    with time_machine.travel(timezone.now() - dt.timedelta(days=40), tick=False):
        client_package_sell(
            client=practice.client,
            package=practice.flexible,
            invoicing=SaleInvoicing.PAY,
            practitioner=practice.practitioner,
            location=practice.location,
            amount="150",
            method=PaymentMethod.objects.get(name="Cash"),
            by=reception,
        )
    expired = practice.sell(by=reception, start_date=timezone.localdate() - dt.timedelta(days=200))
    page = sign_in(admin_user)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/clients/{practice.client.pk}/")
    owing = page.get_by_test_id("balance-owing")
    expect(owing).to_contain_text("$250.00")
    expect(owing.locator(".badge")).to_have_text("Overdue")
    banner = page.get_by_test_id("expired-left")
    expect(banner).to_contain_text("1 expired package (4 credits)")
    row = page.locator("#client-packages tbody tr", has_text="Physio Starter Pack")
    expect(row.get_by_test_id("payment-status")).to_have_text("Not invoiced")
    expect(row.get_by_test_id("remaining-value")).to_have_text("$400.00")
    _no_axe_violations(page)
    _shot(page, screenshot, f"money-overview-{width}")

    banner.get_by_role("link", name="Extend expiry: Physio Starter Pack").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Extend expiry")).to_be_visible()
    dialog.get_by_label("New expiry date").fill(
        (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    )
    dialog.get_by_label("Reason").fill("Injury, agreed with the client")
    dialog.get_by_role("button", name="Change expiry").click()
    expect(page.get_by_text("Expiry date changed.")).to_be_visible()
    expect(page).to_have_url(f"{live.url}/clients/{practice.client.pk}/")
    expect(page.get_by_test_id("expired-left")).to_have_count(0)
    expired.refresh_from_db()
    assert expired.status == "active"


@pytest.mark.parametrize("width", [390, 1440])
def test_add_a_line_from_the_catalog(live, sign_in, screenshot, practice, reception, width):
    draft = invoice_create(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        by=reception,
    )
    page = sign_in(reception)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/billing/{draft.pk}/")
    page.get_by_label("From the catalog").select_option(label="Physio Starter Pack · $400.00")
    description = page.get_by_label("Description")
    expect(description).to_have_value("Physio Starter Pack")
    expect(page.get_by_label("Unit price")).to_have_value("400.00")
    description.fill("Physio Starter Pack (gift)")
    _no_axe_violations(page)
    _shot(page, screenshot, f"line-from-catalog-{width}")
    page.get_by_role("button", name="Add line").click()
    expect(page.locator("#invoice-lines")).to_contain_text("Physio Starter Pack (gift)")
    line = InvoiceLine.objects.get()
    assert (line.description, str(line.unit_price)) == ("Physio Starter Pack (gift)", "400.00")
    # A free line still works: nothing picked, typed by hand.
    page.get_by_label("Description").fill("Theraband")
    page.get_by_label("Unit price").fill("12.50")
    page.get_by_role("button", name="Add line").click()
    expect(page.locator("#invoice-lines")).to_contain_text("Theraband")
