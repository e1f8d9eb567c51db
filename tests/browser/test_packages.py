"""In Chromium: the help page's flow, in one popup (issue 13). Overview → Packages →
Create package → select "Physio Starter Pack" → Create invoice for package (Practitioner,
Location, Create invoice) → Create, or Invoice later → the client package page."""

from __future__ import annotations

import re

from django.urls import NoReverseMatch, reverse
from playwright.sync_api import expect

from invoicing.models import Invoice
from packages.models import ClientPackage


def open_create_package(page, live, practice):
    page.goto(f"{live.url}/clients/{practice.client.pk}/")
    page.locator("#client-packages .card__header").get_by_role(
        "link", name="Create package"
    ).click()
    dialog = page.locator("#modal")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="Create package")).to_be_visible()
    return dialog


def test_create_package_and_invoice_it(live, sign_in, screenshot, practice, reception):
    page = sign_in(reception)
    dialog = open_create_package(page, live, practice)
    starter = dialog.get_by_role("radio", name=re.compile("Physio Starter Pack"))
    expect(dialog).to_contain_text("1 × Physio initial consultation, 3 × Physio follow-up")
    expect(dialog).to_contain_text("Expires after 3 months")
    expect(dialog).to_contain_text("Flexi 5")
    expect(dialog).to_contain_text("Never expires")
    starter.check()
    screenshot(page, "create-package", full_page=False)

    # The same popup: Create invoice for package (Practitioner, Location) → Create.
    expect(dialog.get_by_role("group", name="Create invoice for package")).to_be_visible()
    dialog.get_by_label("Practitioner").select_option(label="Sam Physio")
    dialog.get_by_label("Location").select_option(label="Main Street")
    dialog.get_by_role("radio", name="Create invoice", exact=True).check()
    dialog.get_by_role("button", name="Create", exact=True).click()

    expect(page.locator("#messages")).to_contain_text(
        "Package created: Physio Starter Pack. Invoice created."
    )
    sold = ClientPackage.objects.get()
    invoice = Invoice.objects.get()
    assert invoice.lines.get().client_package == sold
    try:
        landing = reverse("invoicing:detail", args=[invoice.pk])
    except NoReverseMatch:
        landing = reverse("packages:detail", args=[sold.pk])
    expect(page).to_have_url(f"{live.url}{landing}")


def test_invoice_later_goes_to_the_package_page(live, sign_in, screenshot, practice, reception):
    page = sign_in(reception)
    dialog = open_create_package(page, live, practice)
    dialog.get_by_role("radio", name=re.compile("Physio Starter Pack")).check()
    # Invoice later (the help page's Cancel in its second window) is the default.
    expect(dialog.get_by_role("radio", name="Invoice later")).to_be_checked()
    dialog.get_by_role("button", name="Create", exact=True).click()

    expect(page).to_have_url(re.compile(r"/packages/\d+/$"))
    sold = ClientPackage.objects.get()
    expect(page).to_have_url(f"{live.url}/packages/{sold.pk}/")
    assert not Invoice.objects.exists()
    expect(page.get_by_role("heading", name="Physio Starter Pack")).to_be_visible()
    expect(page.locator("h1 .badge")).to_have_text("Active")
    usage = page.locator("section", has=page.get_by_role("heading", name="Usage"))
    for label, value in (("Credits", "4"), ("Consumed", "0"), ("Remaining", "4")):
        expect(usage.locator(".stat", has_text=label).locator("dd")).to_have_text(value)
    expect(usage.locator(".stat", has_text="Expires").locator("dd")).to_have_text(
        sold.expires_on.strftime("%-d %b %Y")
    )
    services = page.locator("section", has=page.get_by_role("heading", name="Available services"))
    expect(services.locator("li", has_text="Physio follow-up")).to_contain_text("0 of 3 used")
    expect(services.locator("li", has_text="Physio initial consultation")).to_contain_text(
        "0 of 1 used"
    )
    expect(page.get_by_role("link", name="Create invoice")).to_be_visible()
    screenshot(page, "client-package")

    # Find the package later: Overview → Packages → View.
    page.get_by_role("link", name="Jo Citizen").first.click()
    row = page.locator("#client-packages tbody tr", has_text="Physio Starter Pack")
    expect(row).to_contain_text("Active")
    row.get_by_role("link", name=re.compile("View")).click()
    expect(page).to_have_url(f"{live.url}/packages/{sold.pk}/")


def test_create_invoice_later_from_the_package(live, sign_in, practice, reception):
    sold = practice.sell(by=reception)
    page = sign_in(reception)
    page.goto(f"{live.url}/packages/{sold.pk}/")
    page.get_by_role("link", name="Create invoice").click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Create invoice for package")).to_be_visible()
    # The only practitioner and location are chosen already.
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("Invoice created.")
    assert Invoice.objects.get().lines.get().client_package == sold


def test_a_refusal_shows_in_the_popup(live, sign_in, practice, admin_user):
    sold = practice.sell(by=admin_user)
    practice.book(by=admin_user, service=practice.initial, client_package=sold)
    page = sign_in(admin_user)
    page.goto(f"{live.url}/packages/{sold.pk}/")
    page.get_by_role("link", name="Adjust credits").click()
    dialog = page.locator("#modal")
    dialog.get_by_label("Credits to add or remove").fill("-1")
    dialog.get_by_label("Service").select_option(label="Physio initial consultation (1 of 1 used)")
    dialog.get_by_label("Reason").fill("Sold by mistake")
    dialog.get_by_role("button", name="Adjust credits").click()
    expect(dialog.locator(".form-errors")).to_contain_text("only 0 remain")
    expect(dialog.get_by_label("Reason")).to_have_value("Sold by mistake")
    dialog.get_by_label("Service").select_option(label="Physio follow-up (0 of 3 used)")
    dialog.get_by_role("button", name="Adjust credits").click()
    expect(page.locator("#messages")).to_contain_text("Credits adjusted.")
    usage = page.locator("section", has=page.get_by_role("heading", name="Usage"))
    expect(usage.locator(".stat", has_text="Credits").locator("dd")).to_have_text("3")
    expect(page.locator("td", has_text="Sold by mistake")).to_be_visible()
