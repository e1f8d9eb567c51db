"""In Chromium, as Admin, with data present: every main page loads without a console
error or a Content-Security-Policy violation, htmx is loaded, and the page's HTMX
interaction (search as you type, a popup, an inline form) works.

Each page is its own test (`-k billing-list`). Violations are caught by a listener that
an init script adds to every document before the page's own scripts run.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from invoicing.models import PaymentMethod
from invoicing.services import invoice_finalize, invoice_for_client_package, payment_record
from tests.browser.test_clients import make_clients

WAIT = 20_000

# Stores each violation on window and reports it to the test at once (a later page load
# would lose what the window held).
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  const seen = event.violatedDirective + " blocked " + (event.blockedURI || "inline") +
    " at " + event.sourceFile + ":" + event.lineNumber + " " + (event.sample || "");
  window.__cspViolations.push(seen);
  if (window.reportCspViolation) window.reportCspViolation(seen);
}, true);
"""


# Forms refused by the server come back as 400/409/422 and are swapped in place on purpose
# (static/js/app.js, responseHandling). Chromium still logs every 4xx as a console error:
# those, for an htmx request whose answer was swapped, are expected.
SWAPPED_REFUSALS = {400, 409, 422}
FAILED_LOAD = "Failed to load resource: the server responded with a status of "


class Watch:
    """Console errors, uncaught page errors and CSP violations of one page's life."""

    def __init__(self, page):
        self.page = page
        self.problems: list[str] = []
        self.console: list[tuple[str, str]] = []
        self.refusals: set[str] = set()
        page.expose_function("reportCspViolation", lambda seen: self.problems.append(f"CSP {seen}"))
        page.add_init_script(WATCH_CSP)
        page.on("console", self._console)
        page.on("response", self._response)
        page.on("pageerror", lambda error: self.problems.append(f"pageerror {error}"))

    def _console(self, message):
        if message.type == "error":
            self.console.append((message.text, message.location.get("url", "")))

    def _response(self, response):
        if response.status in SWAPPED_REFUSALS and response.request.headers.get("hx-request"):
            self.refusals.add(response.url)

    def check(self):
        expect(self.page.locator("body")).to_be_visible()
        assert self.page.evaluate("typeof htmx") == "object", "htmx did not load"
        assert self.page.evaluate("htmx.config.allowEval") is False
        problems = list(self.problems)
        for text, url in self.console:
            if not (text.startswith(FAILED_LOAD) and url in self.refusals):
                problems.append(f"console {text} ({url})")
        # Whatever is still on window (a report may be on its way to Python).
        for seen in self.page.evaluate("window.__cspViolations || []"):
            if f"CSP {seen}" not in problems:
                problems.append(f"CSP {seen}")
        assert problems == [], "\n".join(problems)


@pytest.fixture(autouse=True)
def patient_expect():
    expect.set_options(timeout=WAIT)
    yield
    expect.set_options(timeout=5_000)


class Data:
    def __init__(self, practice, by):
        make_clients()
        self.practice = practice
        self.client = practice.client
        self.sold = practice.sell(by=by)
        practice.sell(practice.flexible, by=by)
        self.tomorrow = timezone.localdate() + dt.timedelta(days=1)
        self.appointment = practice.book(by=by, hour=11, client_package=self.sold)
        practice.book(by=by, hour=14, days=3, service=practice.initial)
        invoice = invoice_for_client_package(
            client_package=self.sold,
            practitioner=practice.practitioner,
            location=practice.location,
            by=by,
        )
        self.invoice = invoice_finalize(invoice=invoice, by=by)
        payment_record(
            invoice=self.invoice,
            amount=Decimal("100.00"),
            method=PaymentMethod.objects.get(name="EFTPOS"),
            by=by,
            reference="Deposit",
        )
        flexi = practice.sell(practice.flexible, by=by)
        self.draft = invoice_for_client_package(
            client_package=flexi,
            practitioner=practice.practitioner,
            location=practice.location,
            by=by,
        )


# Each page: how to reach it and what to try there. `page` is signed in as Admin.


def calendar_day(page, url, data):
    page.goto(f"{url}/calendar/?date={data.tomorrow.isoformat()}")
    expect(page.locator(".cal__appt", has_text="Jo Citizen")).to_contain_text("package")
    page.get_by_label("Create appointment at 09:00").click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Create appointment")).to_be_visible()
    expect(dialog.get_by_label("Start")).to_have_value("09:00")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def calendar_week(page, url, data):
    page.goto(f"{url}/calendar/?view=week&date={data.tomorrow.isoformat()}")
    expect(page.locator(".cal__col")).to_have_count(7)
    page.locator(".cal__appt", has_text="Jo Citizen").first.click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Appointment")).to_be_visible()
    expect(dialog.locator(".linked-package")).to_contain_text(
        "Linked to package: Physio Starter Pack"
    )


def create_appointment_popup(page, url, data):
    page.goto(f"{url}/calendar/?date={data.tomorrow.isoformat()}")
    page.get_by_label("Create appointment at 15:00").click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Create appointment")).to_be_visible()
    dialog.get_by_label("Search clients by name or phone number").press_sequentially(
        "Citiz", delay=40
    )
    dialog.locator("#client-results").get_by_text("Jo Citizen").click()
    banner = dialog.locator(".package-banner")
    expect(banner).to_have_text("3 package matches — View")
    banner.get_by_role("button", name="View").click()
    expect(dialog.get_by_role("heading", name="Link package")).to_be_visible()
    dialog.get_by_role("button", name="Back").click()
    expect(banner).to_be_visible()


def appointment_panel(page, url, data):
    page.goto(f"{url}/calendar/?date={data.tomorrow.isoformat()}")
    page.locator(".cal__appt", has_text="Jo Citizen").click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Appointment")).to_be_visible()
    dialog.get_by_role("link", name="Edit details").click()
    expect(dialog.get_by_role("heading", name="Edit details")).to_be_visible()
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog.get_by_role("heading", name="Appointment")).to_be_visible()


def clients_list(page, url, data):
    page.goto(f"{url}/clients/")
    rows = page.locator("#client-rows tbody tr")
    expect(rows).to_have_count(9)
    page.get_by_label("Search clients").press_sequentially("jo cit", delay=40)
    expect(rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"q=jo(\+|%20)cit"))


def client_overview(page, url, data):
    page.goto(f"{url}/clients/{data.client.pk}/")
    expect(page.locator("#client-packages tbody tr")).to_have_count(3)
    page.locator(".page-header").get_by_role("link", name="Archive").click()
    dialog = page.locator("#modal")
    expect(dialog).to_contain_text("Archive Jo Citizen?")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def client_appointments(page, url, data):
    page.goto(f"{url}/clients/{data.client.pk}/appointments/")
    listing = page.locator("#client-appointments")
    expect(listing.locator("tbody tr")).to_have_count(2)
    listing.get_by_role("link", name=re.compile("Past")).click()
    expect(page).to_have_url(re.compile(r"show=past"))
    expect(page.locator("#client-appointments")).to_contain_text("No past appointments")
    page.locator("#client-appointments").get_by_role("link", name=re.compile("Upcoming")).click()
    page.locator("#client-appointments tbody tr").first.get_by_role("link", name="View").click()
    expect(page.locator("#modal").get_by_role("heading", name="Appointment")).to_be_visible()


def client_invoices(page, url, data):
    page.goto(f"{url}/clients/{data.client.pk}/invoices/")
    rows = page.locator("#client-invoices tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text=data.invoice.number)).to_contain_text("Part paid")


def client_package(page, url, data):
    page.goto(f"{url}/packages/{data.sold.pk}/")
    expect(page.get_by_role("heading", name="Physio Starter Pack", level=1)).to_be_visible()
    page.get_by_role("link", name="Adjust credits").click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_label("Credits to add or remove")).to_be_visible()
    dialog.get_by_role("button", name="Adjust credits").click()
    expect(dialog.locator(".errorlist, .form-errors").first).to_be_visible()


def create_package_popup(page, url, data):
    page.goto(f"{url}/clients/{data.client.pk}/")
    page.locator("#client-packages .card__header").get_by_role(
        "link", name="Create package"
    ).click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Create package")).to_be_visible()
    dialog.get_by_role("radio", name=re.compile("Flexi 5")).check()
    dialog.get_by_role("radio", name="Create invoice and take payment").check()
    expect(dialog.get_by_label("Payment method")).to_be_visible()
    dialog.get_by_role("radio", name="Invoice later").check()
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_role("heading", name="Flexi 5", level=1)).to_be_visible()


def catalog_packages(page, url, data):
    page.goto(f"{url}/catalog/")
    rows = page.locator("#package-list tbody tr")
    expect(rows).to_have_count(2)
    search = page.get_by_label("Search packages")
    search.fill("Flexi")
    search.press("Enter")
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=Flexi"))


def catalog_services(page, url, data):
    page.goto(f"{url}/catalog/services/")
    expect(page.locator("#service-list tbody tr")).to_have_count(3)
    page.get_by_role("link", name="Add a service").first.click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Add a service")).to_be_visible()


def package_form(page, url, data):
    page.goto(f"{url}/catalog/packages/add/")
    page.get_by_role("checkbox", name="Physio follow-up").check()
    page.get_by_label("Define quantities").check()
    expect(page.get_by_label("Quantity of Physio follow-up")).to_be_visible()
    page.get_by_role("button", name="Add package").click()
    expect(page.get_by_role("alert")).to_have_text("Please correct the highlighted fields below.")
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Quantity of Physio follow-up")).to_be_visible()


def billing_list(page, url, data):
    page.goto(f"{url}/billing/")
    results = page.locator("#invoice-results")
    expect(results.locator("tbody tr")).to_have_count(2)
    page.get_by_label("Status").select_option(label="Part paid")
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"status=part"))


def invoice_page(page, url, data):
    page.goto(f"{url}/billing/{data.draft.pk}/")
    expect(page.locator(".invoice-title .badge")).to_have_text("Draft")
    page.get_by_role("link", name="Finalize").click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Finalize invoice?")).to_be_visible()
    dialog.get_by_role("button", name="Finalize").click()
    expect(page.locator(".invoice-title .badge")).to_have_text("Open")


def pay_popup(page, url, data):
    page.goto(f"{url}/billing/{data.invoice.pk}/")
    page.get_by_role("link", name="Pay invoice").click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_label("Amount")).to_have_value("300.00")
    dialog.get_by_role("button", name="Record payment").click()
    expect(dialog).to_contain_text("Choose a payment method.")


def print_view(page, url, data):
    page.goto(f"{url}/billing/{data.invoice.pk}/print/")
    expect(page.get_by_role("heading", name="Invoice", level=1)).to_be_visible()
    expect(page.locator(".sheet")).to_contain_text(data.invoice.number)
    page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
    page.get_by_role("button", name="Print").click()
    expect(page.locator("body")).to_have_attribute("data-printed", "yes")


def settings_practice(page, url, data):
    page.goto(f"{url}/settings/")
    page.get_by_label("Phone").fill("(02) 9251 4401")
    page.get_by_role("button", name="Save practice details").click()
    expect(page.get_by_text("Practice details saved.")).to_be_visible()


def _settings_section(path: str, noun: str):
    def visit(page, url, data):
        page.goto(f"{url}/settings/{path}/")
        page.get_by_role("link", name=f"Add a {noun}").first.click()
        dialog = page.locator("#modal")
        expect(dialog.get_by_role("heading", name=f"Add a {noun}")).to_be_visible()
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()

    return visit


def staff_users(page, url, data):
    page.goto(f"{url}/settings/staff/")
    expect(page.get_by_role("row").filter(has_text="alice")).to_be_visible()
    page.get_by_role("link", name="Add a staff user").click()
    expect(page.locator("#modal").get_by_role("heading", name="Add a staff user")).to_be_visible()


PAGES = {
    "calendar-day": calendar_day,
    "calendar-week": calendar_week,
    "create-appointment-popup": create_appointment_popup,
    "appointment-panel": appointment_panel,
    "clients-list": clients_list,
    "client-overview": client_overview,
    "client-appointments": client_appointments,
    "client-invoices": client_invoices,
    "client-package": client_package,
    "create-package-popup": create_package_popup,
    "catalog-packages": catalog_packages,
    "catalog-services": catalog_services,
    "package-form": package_form,
    "billing-list": billing_list,
    "invoice-page": invoice_page,
    "pay-popup": pay_popup,
    "print-view": print_view,
    "settings-practice": settings_practice,
    "settings-tax-rates": _settings_section("tax-rates", "tax rate"),
    "settings-payment-methods": _settings_section("payment-methods", "payment method"),
    "settings-cancellation-reasons": _settings_section(
        "cancellation-reasons", "cancellation reason"
    ),
    "settings-locations": _settings_section("locations", "location"),
    "settings-practitioners": _settings_section("practitioners", "practitioner"),
    "staff-users": staff_users,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_page_has_no_console_error_nor_csp_violation(
    name, live, sign_in, page, practice, admin_user
):
    data = Data(practice, admin_user)
    sign_in(admin_user)
    page.set_default_timeout(WAIT)
    watch = Watch(page)
    PAGES[name](page, live.url, data)
    watch.check()


def test_login_page(live, page):
    watch = Watch(page)
    page.set_default_timeout(WAIT)
    page.goto(f"{live.url}/login/")
    expect(page.get_by_role("button", name=re.compile("Sign in"))).to_be_visible()
    watch.check()


def test_the_watch_sees_a_violation(live, page):
    """The listener works: an inline style attribute is refused and reported."""
    watch = Watch(page)
    page.goto(f"{live.url}/login/")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
    page.wait_for_function("window.__cspViolations.length > 0")
    with pytest.raises(AssertionError, match="style-src"):
        watch.check()
