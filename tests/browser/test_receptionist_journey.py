"""In Chromium, as Reception, the issue's "Done when" in one journey, driven only through
the UI by someone who has read the help page "Assign a package to a client":

Clients → search → open → Overview → Packages → Create package (with Create invoice) → Create invoice
for package → Finalize → Pay invoice (a deposit) → Calendar → Create appointment → the
green banner → View → Link package → Create appointment → the client's package: 1 used →
the appointment → Edit details → X → Update appointment → the credit is back → the
client's Invoices tab.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_clients import make_clients
from tests.browser.test_csp_and_console import Watch

# Pages, popups and HTMX swaps on a busy 2-core machine: wait generously, never sleep.
WAIT = 20_000


def _nav(page, name: str):
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def _stat(section, label: str):
    return section.locator(".stat", has=section.page.locator("dt", has_text=label)).locator("dd")


def _package_row(page):
    packages = page.locator("#client-packages")
    expect(packages.get_by_role("heading", name="Packages")).to_be_visible()
    return packages.locator("tbody tr", has_text="Physio Starter Pack")


def _cells(row):
    """Credits, Consumed, Remaining of a row of Overview → Packages."""
    return row.locator("td.num")


def _open_tomorrow(page):
    _nav(page, "Calendar")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    title = page.get_by_role("heading", level=1).inner_text()
    page.get_by_role("link", name="Next day").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text(title)
    expect(page.locator(".cal__col .cal__head")).to_have_text(["Sam Physio"])


@pytest.fixture(autouse=True)
def patient_expect():
    expect.set_options(timeout=WAIT)
    yield
    expect.set_options(timeout=5_000)


def test_receptionist_sells_invoices_takes_a_deposit_books_and_unlinks(
    live, sign_in, screenshot, practice, reception
):
    make_clients()  # Joel Citrine and others: the search has to narrow.
    page = sign_in(reception)
    page.set_default_timeout(WAIT)
    watch = Watch(page)  # console errors and CSP violations along the way
    page.goto(f"{live.url}/")
    messages = page.locator("#messages")
    dialog = page.locator("#modal")

    # 1. Clients → search as you type → Actions → View.
    _nav(page, "Clients")
    expect(page.get_by_role("heading", name="Clients", exact=True)).to_be_visible()
    rows = page.locator("#client-rows tbody tr")
    expect(rows).to_have_count(9)
    page.get_by_label("Search clients").press_sequentially("jo cit", delay=40)
    expect(rows).to_have_count(2)  # Jo Citizen and Joel Citrine
    page.get_by_label("Search clients").press_sequentially("izen", delay=40)
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row).to_contain_text("Jo Citizen")
    row.get_by_text("Actions").click()
    row.get_by_role("link", name="View", exact=True).click()

    # 2. Overview → Packages → Create package.
    expect(page.get_by_role("heading", name="Jo Citizen", level=1)).to_be_visible()
    expect(
        page.get_by_role("navigation", name="Client").get_by_role("link", name="Overview")
    ).to_have_attribute("aria-current", "page")
    packages = page.locator("#client-packages")
    expect(packages).to_contain_text("No packages yet")
    packages.locator(".card__header").get_by_role("link", name="Create package").click()
    expect(dialog.get_by_role("heading", name="Create package")).to_be_visible()

    # 3. Select "Physio Starter Pack" (price, credits, services, expiry) → Create.
    starter = dialog.locator("label.choice", has_text="Physio Starter Pack")
    expect(starter).to_contain_text("$400.00")
    expect(starter).to_contain_text("4 credits")
    expect(starter).to_contain_text("1 × Physio initial consultation, 3 × Physio follow-up")
    expect(starter).to_contain_text("Expires after 3 months")
    starter.click()
    expect(dialog.get_by_role("radio", name=re.compile("Physio Starter Pack"))).to_be_checked()
    screenshot(page, "journey-1-create-package", full_page=False)

    # 4. In the same popup, Create invoice for package: Practitioner, Location, Create
    # invoice → Create.
    expect(dialog.get_by_role("group", name="Create invoice for package")).to_be_visible()
    dialog.get_by_label("Practitioner").select_option(label="Sam Physio")
    dialog.get_by_label("Location").select_option(label="Main Street")
    dialog.get_by_role("radio", name="Create invoice", exact=True).check()
    screenshot(page, "journey-2-create-invoice-for-package", full_page=False)
    dialog.get_by_role("button", name="Create", exact=True).click()

    # 5. On the invoice: Finalize.
    expect(messages).to_contain_text("Package created: Physio Starter Pack. Invoice created.")
    expect(page).to_have_url(re.compile(r"/billing/\d+/$"))
    title = page.locator(".invoice-title")
    expect(title).to_contain_text("Draft invoice")
    expect(title.locator(".badge")).to_have_text("Draft")
    expect(page.locator("#invoice-lines")).to_contain_text("Physio Starter Pack")
    page.get_by_role("link", name="Finalize").click()
    expect(dialog.get_by_role("heading", name="Finalize invoice?")).to_be_visible()
    dialog.get_by_role("button", name="Finalize").click()
    expect(messages).to_contain_text("Invoice INV-0001 finalized.")
    expect(title).to_contain_text("Invoice INV-0001")
    expect(title.locator(".badge")).to_have_text("Open")

    # 6. Pay invoice: a payment method and a deposit smaller than the total.
    page.get_by_role("link", name="Pay invoice").click()
    expect(dialog.get_by_role("heading", name="Pay invoice")).to_be_visible()
    amount = dialog.get_by_label("Amount")
    expect(amount).to_have_value("400.00")
    dialog.get_by_label("Payment method").select_option(label="EFTPOS")
    amount.fill("100.00")
    dialog.get_by_label("Reference").fill("Deposit")
    dialog.get_by_role("button", name="Record payment").click()

    # 7. "Part paid" and the remaining balance.
    expect(messages).to_contain_text("Payment of $100.00 recorded. Balance $300.00.")
    expect(dialog).to_be_hidden()
    expect(title.locator(".badge")).to_have_text("Part paid")
    balance = page.locator(".invoice-balance")
    expect(_stat(balance, "Total")).to_have_text("$400.00")
    expect(_stat(balance, "Paid")).to_have_text("$100.00")
    expect(_stat(balance, "Balance")).to_have_text("$300.00")
    expect(page.locator("#invoice-payments")).to_contain_text("EFTPOS")
    expect(page.locator("#invoice-payments")).to_contain_text("$100.00")
    screenshot(page, "journey-3-part-paid")

    # 8. Calendar → an empty slot → Create appointment, prefilled.
    _open_tomorrow(page)
    page.get_by_label("Create appointment at 10:00").click()
    expect(dialog.get_by_role("heading", name="Create appointment")).to_be_visible()
    expect(dialog.get_by_label("Start")).to_have_value("10:00")
    expect(dialog.get_by_label("Practitioner")).to_have_value(str(practice.practitioner.pk))

    # 9. Choose the client by typing: the green banner.
    dialog.get_by_label("Search clients by name or phone number").press_sequentially(
        "Citiz", delay=40
    )
    results = dialog.locator("#client-results")
    expect(results.locator("label.choice")).to_have_count(1)
    results.get_by_text("Jo Citizen").click()
    banner = dialog.locator(".package-banner")
    expect(banner).to_have_text("1 package matches — View")

    # 10. View → Link package: the package, then the Service ("0 of 3 used").
    banner.get_by_role("button", name="View").click()
    link_panel = dialog.locator(".link-panel")
    expect(link_panel.get_by_role("heading", name="Link package")).to_be_visible()
    link_panel.get_by_text("Physio Starter Pack").click()
    follow_up = link_panel.locator("label", has_text="Physio follow-up")
    expect(follow_up).to_contain_text("0 of 3 used")
    expect(link_panel.locator("label", has_text="Physio initial consultation")).to_contain_text(
        "0 of 1 used"
    )
    screenshot(page, "journey-4-link-package", full_page=False)
    follow_up.click()
    expect(dialog.locator(".linked-package")).to_contain_text(
        "Linked to package: Physio Starter Pack"
    )
    expect(dialog.get_by_label("Service")).to_have_value(str(practice.follow_up.pk))

    # 11. Create appointment: the panel shows the link.
    dialog.get_by_role("button", name="Create appointment").click()
    expect(dialog.get_by_role("heading", name="Appointment")).to_be_visible()
    expect(messages).to_contain_text("Appointment created.")
    linked = dialog.locator(".linked-package")
    expect(linked).to_contain_text("Linked to package: Physio Starter Pack")
    expect(linked).to_contain_text("Remaining 3 of 4 credits")
    expect(linked).to_contain_text("Physio follow-up: 1 of 3 used")
    expect(dialog.locator(".details")).to_contain_text("Physio follow-up")
    expect(page.locator(".cal__appt", has_text="Jo Citizen")).to_contain_text("package")
    screenshot(page, "journey-5-appointment-linked", full_page=False)

    # 12. The client → Overview → Packages: Consumed 1, Remaining 3.
    dialog.locator(".appt-panel__client").get_by_role("link", name="Jo Citizen").click()
    expect(page.get_by_role("heading", name="Jo Citizen", level=1)).to_be_visible()
    row = _package_row(page)
    expect(row).to_contain_text("Active")
    # Credits, Consumed, Remaining, the value left (400.00 − 100.00), View.
    expect(_cells(row)).to_have_text(["4", "1", "3", "$300.00", "View"])

    # 13. View the package: 1 of 3 used for the follow-up.
    row.get_by_role("link", name="View Physio Starter Pack").click()
    expect(page.get_by_role("heading", name="Physio Starter Pack", level=1)).to_be_visible()
    usage = page.locator("section", has=page.get_by_role("heading", name="Usage"))
    expect(_stat(usage, "Consumed")).to_have_text("1")
    expect(_stat(usage, "Remaining")).to_have_text("3")
    services = page.locator("section", has=page.get_by_role("heading", name="Available services"))
    expect(services.locator("li", has_text="Physio follow-up")).to_contain_text("1 of 3 used")
    expect(services.locator("li", has_text="Physio initial consultation")).to_contain_text(
        "0 of 1 used"
    )
    appointments = page.locator("section", has=page.get_by_role("heading", name="Appointments"))
    expect(appointments.locator("tbody tr")).to_have_count(1)
    expect(appointments.locator("tbody tr")).to_contain_text("Physio follow-up")
    invoices = page.locator("section", has=page.get_by_role("heading", name="Invoices"))
    expect(invoices.locator("tbody tr")).to_contain_text("INV-0001")
    expect(invoices.locator("tbody tr")).to_contain_text("Part paid")
    screenshot(page, "journey-6-package-used")

    # 14. Calendar → the appointment → Edit details → X → Update appointment.
    _open_tomorrow(page)
    page.locator(".cal__appt", has_text="Jo Citizen").click()
    expect(dialog.get_by_role("heading", name="Appointment")).to_be_visible()
    expect(dialog.locator(".linked-package")).to_contain_text(
        "Linked to package: Physio Starter Pack"
    )
    dialog.get_by_role("link", name="Edit details").click()
    expect(dialog.get_by_role("heading", name="Edit details")).to_be_visible()
    expect(dialog.locator(".linked-package")).to_contain_text(
        "Linked to package: Physio Starter Pack"
    )
    dialog.get_by_role("button", name="Remove the link to Physio Starter Pack").click()
    expect(dialog.locator(".linked-package")).to_contain_text(
        "the link is removed and its credit given back when you click Update appointment"
    )
    screenshot(page, "journey-7-unlink", full_page=False)
    dialog.get_by_role("button", name="Update appointment").click()

    # 15. The panel: no link, and the banner is back.
    expect(dialog.get_by_role("heading", name="Appointment")).to_be_visible()
    expect(messages).to_contain_text("Appointment updated.")
    expect(dialog.locator(".package-banner")).to_have_text("1 package matches — View")
    expect(dialog).not_to_contain_text("Linked to package")
    expect(page.locator(".cal__appt", has_text="Jo Citizen")).not_to_contain_text("package")

    # 16. The client's package: Remaining 4; the history shows Consumed then Released.
    dialog.locator(".appt-panel__client").get_by_role("link", name="Jo Citizen").click()
    row = _package_row(page)
    expect(_cells(row)).to_have_text(["4", "0", "4", "$400.00", "View"])
    row.get_by_role("link", name="View Physio Starter Pack").click()
    expect(_stat(usage, "Consumed")).to_have_text("0")
    expect(_stat(usage, "Remaining")).to_have_text("4")
    expect(services.locator("li", has_text="Physio follow-up")).to_contain_text("0 of 3 used")
    history = page.locator("section", has=page.get_by_role("heading", name="Credit history"))
    # Newest first: Released, Consumed, then the credits granted at the sale (per service).
    what = history.locator("tbody tr td:nth-child(2)")
    expect(what).to_have_text(["Released", "Consumed", "Granted", "Granted"])
    released, consumed = history.locator("tbody tr").nth(0), history.locator("tbody tr").nth(1)
    for entry, quantity, remaining in ((released, "+1", "4"), (consumed, "-1", "3")):
        expect(entry.locator("td.ledger-quantity")).to_have_text(quantity)
        expect(entry).to_contain_text("Physio follow-up")
        expect(entry.locator("td").last).to_have_text(remaining)
    screenshot(page, "journey-8-credit-released")

    # 17. The client's Invoices tab: the invoice and its balance.
    page.get_by_role("navigation", name="Breadcrumbs").get_by_role(
        "link", name="Jo Citizen"
    ).click()
    page.get_by_role("navigation", name="Client").get_by_role("link", name="Invoices").click()
    expect(
        page.get_by_role("navigation", name="Client").get_by_role("link", name="Invoices")
    ).to_have_attribute("aria-current", "page")
    invoice_rows = page.locator("#client-invoices tbody tr")
    expect(invoice_rows).to_have_count(1)
    expect(invoice_rows.first).to_contain_text("INV-0001")
    expect(invoice_rows.first).to_contain_text("Part paid")
    expect(invoice_rows.first.locator("td.num")).to_have_text(["$400.00", "$300.00", "View"])
    summary = page.locator(".client-invoice-summary")
    expect(_stat(summary, "Invoiced")).to_have_text("$400.00")
    expect(_stat(summary, "Paid")).to_have_text("$100.00")
    expect(_stat(summary, "Balance owing")).to_have_text("$300.00")
    screenshot(page, "journey-9-client-invoices")

    watch.check()
