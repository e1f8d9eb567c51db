"""Every page and every popup, in Chromium, at 390 (a phone), 768 (the reception iPad)
and 1440 px wide: the page never scrolls sideways, no table scrolls sideways inside its
box (narrow tables stack into labelled rows instead, so money columns, Remaining and the
View / Actions buttons stay on screen), and axe-core finds no serious or critical
violation. axe-core is the copy bundled in axe-playwright-python: nothing is fetched.

The pages are listed from the URL confs (clients, packages, calendar, billing, settings,
catalog, reports, API keys); `test_the_lists_cover_every_page` fails when a new page
route appears that neither list names, so the lists cannot silently fall behind."""

from __future__ import annotations

import datetime as dt
import re
import time
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from playwright.sync_api import expect

from catalog.models import TaxRate
from documents.services import invoice_link_create
from invoicing.models import PaymentMethod
from invoicing.services import (
    credit_note_issue,
    invoice_finalize,
    invoice_for_appointment,
    invoice_for_client_package,
    payment_record,
    payment_refund,
)
from reports.selectors.liability import FIGURES
from tests.factories import ClientFactory, ServiceCategoryFactory, ServiceFactory, UserFactory
from tests.invoicing.helpers import draft

WIDTHS = (390, 768, 1440)
AXE = Axe()
SERIOUS = {"serious", "critical"}


# ------------------------------------------------------------------ the practice


@pytest.fixture
def clinic(live, practice, admin_user, reception):
    """A practice with one of everything a page can show: a client with a package sold,
    invoiced, partly paid and refunded; a booked appointment linked to it and one not
    linked; a Draft invoice; a second package not yet invoiced; an expired one with
    credits left; a service category."""
    client_package = practice.sell(by=admin_user)
    spare_package = practice.sell(practice.flexible, by=admin_user)
    # Expired with credits left: the Overview offers Extend expiry (issue 13).
    practice.sell(by=admin_user, start_date=timezone.localdate() - dt.timedelta(days=200))
    linked = practice.book(by=reception, client_package=client_package, hour=9)
    unlinked = practice.book(by=reception, hour=11)
    invoice = invoice_finalize(
        invoice=invoice_for_client_package(
            client_package=client_package,
            practitioner=practice.practitioner,
            location=practice.location,
            by=admin_user,
        ),
        by=admin_user,
    )
    payment = payment_record(
        invoice=invoice,
        amount=Decimal("100.00"),
        method=PaymentMethod.objects.get(name="Cash"),
        by=admin_user,
    )
    payment_refund(payment=payment, amount=Decimal("10.00"), reason="Goodwill", by=admin_user)
    draft_invoice = draft("80.00", client=practice.client, practitioner=practice.practitioner)
    category = ServiceCategoryFactory(name="Physiotherapy")
    staff = UserFactory(username="sue")
    pilates = ServiceFactory(name="Clinical pilates class", duration_minutes=60, capacity=8)
    attendee = practice.book(by=reception, service=pilates, hour=13)
    practice.book(by=reception, service=pilates, hour=13, client=ClientFactory())
    link, token = invoice_link_create(invoice=invoice, by=admin_user)
    credit_note = credit_note_issue(
        invoice=invoice, amount="5.00", reason="Goodwill", by=admin_user
    )
    return {
        "credit_note": credit_note.pk,
        "link": link.pk,
        "token": token,
        "client": practice.client.pk,
        "cp": client_package.pk,
        "spare_cp": spare_package.pk,
        "appt": linked.pk,
        "unlinked": unlinked.pk,
        "invoice": invoice.pk,
        "payment": payment.pk,
        "draft": draft_invoice.pk,
        "package": practice.fixed.pk,
        "service": practice.follow_up.pk,
        "category": category.pk,
        "location": practice.location.pk,
        "practitioner": practice.practitioner.pk,
        "reason": practice.reason.pk,
        "staff": staff.pk,
        "tax_rate": TaxRate.objects.order_by("pk").first().pk,
        "method": PaymentMethod.objects.get(name="Cash").pk,
        "webhook": _webhook(),
        "class_session": attendee.class_session_id,
    }


def _webhook() -> int:
    from integrations.models import WebhookEndpoint

    return WebhookEndpoint.objects.create(
        url="https://books.example.com/caspen/webhooks", events=["invoice.finalized"]
    ).pk


def _pages(c: dict) -> list[str]:
    """Every page a signed-in Admin can open (GET), as paths."""
    client, cp, inv = c["client"], c["cp"], c["invoice"]
    return [
        "/calendar/",
        "/calendar/?view=week",
        "/clients/",
        "/clients/add/",
        f"/clients/{client}/",
        f"/clients/{client}/appointments/",
        f"/clients/{client}/invoices/",
        f"/clients/{client}/activity/",
        f"/clients/{client}/edit/",
        f"/packages/{cp}/",
        f"/packages/{cp}/activity/",
        "/billing/",
        f"/billing/{inv}/",
        f"/billing/{inv}/print/",
        f"/billing/{c['draft']}/",
        f"/billing/{c['draft']}/print/",
        f"/billing/{c['draft']}/edit/",
        f"/documents/invoice/{inv}/",
        f"/documents/receipt/{c['payment']}/",
        f"/documents/credit-note/{c['credit_note']}/",
        f"/documents/package-statement/{cp}/",
        f"/documents/client-statement/{client}/",
        f"/d/{c['token']}/",
        f"/billing/{c['draft']}/lines/from-catalog/?add-catalog=service:{c['service']}",
        "/settings/",
        "/settings/staff/",
        "/settings/tax-rates/",
        "/settings/payment-methods/",
        "/settings/cancellation-reasons/",
        "/settings/locations/",
        "/settings/practitioners/",
        "/settings/activity/",
        f"/settings/practitioners/{c['practitioner']}/hours/",
        "/catalog/",
        "/catalog/packages/add/",
        f"/catalog/packages/{c['package']}/",
        f"/catalog/packages/{c['package']}/edit/",
        "/catalog/services/",
        "/catalog/categories/",
        "/reports/",
        "/reports/package-liability/",
        *(f"/reports/package-liability/{figure}/" for figure in FIGURES),
        "/reports/expiring/",
        "/reports/package-sales/",
        "/reports/aged-receivables/",
        "/reports/revenue/",
        "/api-keys/",
        "/settings/webhooks/",
        f"/settings/webhooks/{c['webhook']}/",
    ]


def _popups(c: dict) -> list[str]:
    """Every popup, by the URL its link loads into the dialog."""
    client, cp, spare = c["client"], c["cp"], c["spare_cp"]
    appt, inv, draft_inv = c["appt"], c["invoice"], c["draft"]
    return [
        "/calendar/new/",
        f"/calendar/{appt}/",
        f"/calendar/{appt}/edit/",
        f"/calendar/{c['unlinked']}/link/",
        f"/calendar/{appt}/cancel/",
        f"/calendar/{appt}/cancel/?reason={c['reason']}",
        f"/calendar/{appt}/missed/",
        f"/calendar/{appt}/delete/",
        f"/calendar/class/{c['class_session']}/",
        f"/clients/{client}/archive/",
        f"/packages/new/for-client/{client}/",
        f"/packages/{spare}/invoice/",
        f"/packages/{cp}/cancel/",
        f"/packages/{cp}/adjust/",
        f"/packages/{cp}/extend/",
        "/billing/new/",
        f"/billing/{draft_inv}/finalize/",
        f"/billing/{draft_inv}/delete/",
        f"/billing/{inv}/pay/",
        f"/billing/{inv}/void/",
        f"/billing/{inv}/credit-note/",
        f"/billing/payments/{c['payment']}/refund/",
        f"/billing/payments/{c['payment']}/void/",
        f"/documents/invoice/{inv}/email/",
        f"/documents/invoice/{inv}/links/new/",
        f"/documents/links/{c['link']}/revoke/",
        "/settings/staff/add/",
        f"/settings/staff/{c['staff']}/edit/",
        f"/settings/staff/{c['staff']}/deactivate/",
        "/settings/tax-rates/add/",
        f"/settings/tax-rates/{c['tax_rate']}/edit/",
        "/settings/payment-methods/add/",
        f"/settings/payment-methods/{c['method']}/edit/",
        "/settings/cancellation-reasons/add/",
        f"/settings/cancellation-reasons/{c['reason']}/edit/",
        "/settings/locations/add/",
        f"/settings/locations/{c['location']}/edit/",
        "/settings/practitioners/add/",
        f"/settings/practitioners/{c['practitioner']}/edit/",
        f"/settings/practitioners/{c['practitioner']}/services/",
        "/catalog/services/add/",
        f"/catalog/services/{c['service']}/edit/",
        f"/catalog/services/{c['service']}/archive/",
        f"/catalog/packages/{c['package']}/archive/",
        "/catalog/categories/add/",
        f"/catalog/categories/{c['category']}/edit/",
        "/api-keys/create/",
        "/settings/webhooks/add/",
        f"/settings/webhooks/{c['webhook']}/edit/",
        f"/settings/webhooks/{c['webhook']}/disable/",
        f"/settings/webhooks/{c['webhook']}/delete/",
    ]


# Routes that are not a page or a popup of their own: writes only (POST), downloads,
# and the booking popup's live fragments (checked inside Create appointment).
NOT_PAGES = {
    "login",
    "logout",
    "home",
    "calendar_app:client_search",
    "calendar_app:matches",
    "calendar_app:arrived",
    "calendar_app:class_arrived",
    "calendar_app:invoice",
    "invoicing:line_add",
    "invoicing:line_edit",
    "invoicing:line_remove",
    "settings:practice",
    "settings:invoices",
    "settings:cancellations",
    "settings:emails",  # the Appointment emails card's POST (issue 14)
    "settings:staff_reactivate",
    "settings:documents",  # the Documents card's POST (the card is on /settings/)
    "documents:pdf",  # downloads
    "public:invoice_pdf",
    "api_keys:revoke",
    "webhooks:enable",  # POSTs (Settings > Webhooks)
    "webhooks:resend",
    # From the scheduling calendar branch: a fragment of Create appointment, a drag's
    # POST, and the practitioners' colours stylesheet.
    "calendar_app:service_options",
    "calendar_app:move",
    "calendar_app:colours",
}


def _route_names() -> set[str]:
    """Names of the app's page routes (not the admin's, not the API's)."""
    names: set[str] = set()

    def walk(patterns, namespace):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace in ("admin", "api") or "api" in str(entry.pattern):
                    continue
                walk(entry.url_patterns, entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and entry.name:
                names.add(f"{namespace}:{entry.name}" if namespace else entry.name)

    walk(get_resolver().url_patterns, None)
    return names


def test_the_lists_cover_every_page(clinic):
    """A new page route must be added to _pages or _popups (or to NOT_PAGES, saying why)."""
    visited = set()
    for path in _pages(clinic) + _popups(clinic):
        match = get_resolver().resolve(path.split("?")[0])
        visited.add(f"{match.namespace}:{match.url_name}" if match.namespace else match.url_name)
    missing = {
        name
        for name in _route_names() - visited - NOT_PAGES
        if not name.endswith("_csv") and not re.search(r"_(archive|restore)$", name)
    }
    assert not missing, f"pages no browser test visits: {sorted(missing)}"


# ------------------------------------------------------------------ the checks


def _serious_axe_violations(page, context=None) -> list[str]:
    results = AXE.run(page, context=context) if context else AXE.run(page)
    return [
        f"axe {v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:3])
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


WIDTH_PROBLEMS = """() => {
  const problems = [];
  const viewport = window.innerWidth;
  const page = document.documentElement.scrollWidth;
  if (page > viewport) problems.push(`the page is ${page}px wide in a ${viewport}px window`);
  for (const wrap of document.querySelectorAll('.table-wrap, .modal')) {
    if (!wrap.offsetParent && !wrap.open) continue;
    if (wrap.scrollWidth > wrap.clientWidth + 1) {
      const what = wrap.querySelector('caption, h2, th') || wrap;
      problems.push(`"${what.textContent.trim().slice(0, 40)}" scrolls sideways (${wrap.scrollWidth}px in ${wrap.clientWidth}px)`);
    }
    const box = wrap.getBoundingClientRect();
    if (box.width && box.right > viewport + 1) problems.push(`${wrap.className} ends at ${Math.round(box.right)}px`);
  }
  return problems;
}"""


def _check(page, path: str, context=None) -> list[str]:
    found = page.evaluate(WIDTH_PROBLEMS) + _serious_axe_violations(page, context)
    return [f"{path}: {problem}" for problem in found]


# ------------------------------------------------------------------ the tests


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_the_screen_and_passes_axe(live, sign_in, clinic, admin_user, width):
    page = sign_in(admin_user)
    page.set_viewport_size({"width": width, "height": 900})
    problems: list[str] = []
    for path in _pages(clinic):
        response = page.goto(live.url + path)
        assert response is not None
        if response.status != 200:
            problems.append(f"{path}: answered {response.status}")
            continue
        problems += _check(page, path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_popup_fits_the_screen_and_passes_axe(live, sign_in, clinic, admin_user, width):
    """Each popup opened in the dialog the way its link opens it (htmx into #modal-body)."""
    page = sign_in(admin_user)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/clients/{clinic['client']}/")
    dialog = page.locator("#modal")
    problems: list[str] = []
    for path in _popups(clinic):
        page.evaluate(
            "url => htmx.ajax('GET', url, {target: '#modal-body', swap: 'innerHTML'})", path
        )
        try:
            expect(dialog).to_have_attribute("open", "", timeout=5_000)
            expect(dialog.locator("#modal-body > *").first).to_be_visible()
        except AssertionError:
            problems.append(f"{path}: the popup did not open")
            continue
        problems += _check(page, path, context="#modal")
        page.keyboard.press("Escape")
        expect(dialog).not_to_have_attribute("open", "")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", WIDTHS)
def test_receptionist_reaches_every_menu_item(live, sign_in, clinic, reception, width):
    """Narrow screens fold the navigation into Menu; it still lists every item, Billing
    included, and Escape closes it with focus back on the button."""
    page = sign_in(reception)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/calendar/")
    nav = page.get_by_role("navigation", name="Main")
    toggle = page.get_by_role("button", name="Menu")
    if width <= 1024:
        expect(nav).to_be_hidden()
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
    else:
        expect(toggle).to_be_hidden()
    for item in ("Calendar", "Clients", "Catalog", "Billing"):
        link = nav.get_by_role("link", name=item, exact=True)
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    if width <= 1024:
        assert _serious_axe_violations(page) == []
        page.keyboard.press("Escape")
        expect(nav).to_be_hidden()
        expect(toggle).to_be_focused()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        toggle.click()
        nav.get_by_role("link", name="Billing", exact=True).click()
        expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()


def test_a_slow_request_shows_the_loading_bar(live, sign_in, clinic, reception):
    """While an htmx request takes time, the page's .htmx-indicator bar shows; after the
    answer it hides again."""
    page = sign_in(reception)
    page.goto(f"{live.url}/clients/")
    bar = page.locator("body > .loading-bar")
    expect(bar).to_have_css("opacity", "0")
    # Sample the bar's opacity in the page while the search waits on the route below.
    page.evaluate(
        """() => {
          window.barSeen = false;
          const bar = document.querySelector('body > .loading-bar');
          window.barTimer = setInterval(() => {
            if (getComputedStyle(bar).opacity === '1') window.barSeen = true;
          }, 25);
        }"""
    )

    def slow(route):
        time.sleep(1.0)
        route.continue_()

    search = re.compile(r".*/clients/\?q=Citizen.*")
    page.route(search, slow)
    with page.expect_response(search):
        page.get_by_label("Search clients").fill("Citizen")
    expect(page.locator("#client-rows")).to_contain_text("Jo Citizen")
    assert page.evaluate("window.barSeen"), "the loading bar never showed"
    expect(bar).to_have_css("opacity", "0")


def test_informational_notice_is_neutral_not_success(live, sign_in, clinic, admin_user):
    """ "This appointment already has an invoice" is information, not a done change: its
    own neutral style, unlike the green "Invoice created."."""
    from calendar_app.models import Appointment

    invoice_for_appointment(
        appointment=Appointment.objects.get(pk=clinic["unlinked"]), by=admin_user
    )
    page = sign_in(admin_user)
    page.goto(f"{live.url}/calendar/{clinic['unlinked']}/")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    answer = page.request.post(
        f"{live.url}/calendar/{clinic['unlinked']}/invoice/",
        headers={"X-CSRFToken": token, "Referer": page.url},
        max_redirects=0,
    )
    assert answer.status == 302
    page.goto(live.url + answer.headers["location"])
    notice = page.locator(".message--info")
    expect(notice).to_contain_text("already")
    background = notice.evaluate("el => getComputedStyle(el).backgroundColor")
    page.evaluate(
        """() => { const li = document.createElement('li');
                   li.className = 'message message--success'; li.textContent = 'Saved.';
                   document.querySelector('.messages').append(li); }"""
    )
    success = page.locator(".message--success").evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    assert background != success
    assert background not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")


@pytest.mark.parametrize("width", WIDTHS)
def test_sign_in_page_fits_the_screen_and_passes_axe(live, page, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/login/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    problems = _check(page, "/login/")
    assert not problems, "\n".join(problems)


def test_a_slow_popup_answer_shows_the_popup_bar_and_a_busy_button(
    live, sign_in, clinic, admin_user
):
    """Inside the popup (above the page's backdrop) a request in flight shows the popup's
    own bar, and the form's primary button turns into a spinner."""
    page = sign_in(admin_user)
    page.goto(f"{live.url}/packages/{clinic['cp']}/")
    page.get_by_role("link", name="Adjust credits").click()
    dialog = page.get_by_role("dialog")
    adjust = dialog.get_by_role("button", name="Adjust credits")
    expect(adjust).to_be_visible()
    page.evaluate(
        """() => {
          window.popupBarSeen = false; window.spinnerSeen = false;
          window.popupTimer = setInterval(() => {
            const bar = document.querySelector('#modal > .loading-bar--popup');
            const button = document.querySelector('#modal .button--primary[type=submit]');
            if (getComputedStyle(bar).opacity === '1') window.popupBarSeen = true;
            if (button && getComputedStyle(button, '::after').opacity === '1'
                && getComputedStyle(button).color === 'rgba(0, 0, 0, 0)') window.spinnerSeen = true;
          }, 25);
        }"""
    )

    def slow(route):
        time.sleep(1.0)
        route.continue_()

    adjust_url = re.compile(rf".*/packages/{clinic['cp']}/adjust/$")
    page.route(adjust_url, slow)
    with page.expect_response(adjust_url):
        adjust.click()  # nothing filled in: the popup comes back with its errors
    expect(dialog.locator(".errorlist, .form-errors").first).to_be_visible()
    assert page.evaluate("window.popupBarSeen"), "the popup's loading bar never showed"
    assert page.evaluate("window.spinnerSeen"), "the primary button never showed its spinner"
    expect(dialog.get_by_role("button", name="Adjust credits")).to_have_css(
        "color", "rgb(255, 255, 255)"
    )
