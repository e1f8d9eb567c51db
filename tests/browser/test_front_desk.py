"""Issue 11, the front desk, in Chromium: no lost or silently changed work (Discard
changes?, Link package that matches the appointment's service, a package kept or removed
out loud when the Service changes, confirmations that survive closing the popup), focus
that moves to the next useful control after every swap, errors tied to their fields, and
the Service list limited to what the practitioner provides at the location."""

from __future__ import annotations

import datetime as dt

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from calendar_app.models import Appointment
from invoicing.services import invoice_finalize, invoice_for_client_package

WIDTHS = [1440, 390]
# What has the focus: its id, else a button's or link's text, else its name; "BODY" when
# focus has dropped to the page.
ACTIVE = """() => {
    const a = document.activeElement;
    if (!a || a === document.body) return "BODY";
    if (a.id) return a.id;
    return ["BUTTON", "A"].includes(a.tagName) ? a.textContent.trim() : a.name;
}"""


def _tomorrow() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=1)


def _no_axe_violations(page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def _open_create(page, live, practice, time="10:00"):
    """Create appointment for tomorrow at `time` (as a slot of the calendar opens it)."""
    page.goto(f"{live.url}/calendar/?date={_tomorrow().isoformat()}")
    start = f"{_tomorrow().isoformat()}T{time}"
    url = f"/calendar/new/?practitioner={practice.practitioner.pk}&location={practice.location.pk}&start={start}"
    page.evaluate("(url) => htmx.ajax('GET', url, '#modal-body')", url)
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Create appointment")).to_be_visible()
    return dialog


def _choose_client(page, dialog):
    dialog.get_by_label("Search clients by name or phone number").press_sequentially(
        "Citiz", delay=40
    )
    radio = dialog.locator("#client-results").get_by_role("radio", name="Jo Citizen")
    radio.focus()
    page.keyboard.press("Space")  # by keyboard, as a receptionist tabbing through


def _discard(page):
    return page.get_by_role("alertdialog", name="Discard changes?")


# ------------------------------------------------------------------ Discard changes?


@pytest.mark.parametrize("width", WIDTHS)
def test_closing_a_changed_popup_asks_discard_changes(
    live, sign_in, practice, reception, screenshot, width
):
    page = sign_in(reception)
    page.set_viewport_size({"width": width, "height": 900})
    dialog = _open_create(page, live, practice)
    # Unchanged: closes at once.
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(_discard(page)).to_have_count(0)

    dialog = _open_create(page, live, practice)
    dialog.get_by_label("Notes").fill("Wants the corner room")
    dialog.get_by_role("button", name="Close").click()
    ask = _discard(page)
    expect(ask).to_be_visible()
    expect(ask).to_contain_text("has not been saved and will be lost")
    # Keyboard: focus starts on "Keep editing"; Escape keeps editing too.
    assert page.evaluate(ACTIVE) == "Keep editing"
    screenshot(page, f"discard-changes-{width}", full_page=False)
    _no_axe_violations(page)
    page.keyboard.press("Escape")
    expect(ask).to_be_hidden()
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Notes")).to_have_value("Wants the corner room")

    # Escape on the popup, and a click on its backdrop, ask too.
    dialog.get_by_label("Notes").focus()
    page.keyboard.press("Escape")
    expect(ask).to_be_visible()
    page.keyboard.press("Enter")  # "Keep editing"
    expect(ask).to_be_hidden()
    expect(dialog).to_be_visible()
    page.mouse.click(3, 3)
    expect(ask).to_be_visible()
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE) == "Discard changes"
    page.keyboard.press("Enter")
    expect(ask).to_be_hidden()
    expect(dialog).to_be_hidden()
    assert not Appointment.objects.exists()


def test_edit_details_cancel_asks_before_dropping_changes(live, sign_in, practice, reception):
    appointment = practice.book(by=reception, hour=11)
    page = sign_in(reception)
    page.goto(f"{live.url}/calendar/?date={_tomorrow().isoformat()}")
    page.evaluate(
        "(url) => htmx.ajax('GET', url, '#modal-body')", f"/calendar/{appointment.pk}/edit/"
    )
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Edit details")).to_be_visible()
    dialog.get_by_label("Notes").fill("Moved by phone")
    dialog.get_by_role("link", name="Cancel").click()
    expect(_discard(page)).to_be_visible()
    _discard(page).get_by_role("button", name="Keep editing").click()
    expect(dialog.get_by_role("heading", name="Edit details")).to_be_visible()
    expect(dialog.get_by_label("Notes")).to_have_value("Moved by phone")
    dialog.get_by_role("link", name="Cancel").click()
    _discard(page).get_by_role("button", name="Discard changes").click()
    expect(dialog.get_by_role("heading", name="Appointment", exact=True)).to_be_visible()
    appointment.refresh_from_db()
    assert appointment.notes == ""


# ------------------------------------------------------------------ Link package


@pytest.mark.parametrize("width", WIDTHS)
def test_link_package_offers_only_the_appointments_service(
    live, sign_in, practice, reception, screenshot, width
):
    practice.sell(by=reception)  # covers the initial consultation and follow-ups
    appointment = practice.book(by=reception, hour=11)  # a 30-minute follow-up
    page = sign_in(reception)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/calendar/?date={_tomorrow().isoformat()}")
    page.evaluate(
        "(url) => htmx.ajax('GET', url, '#modal-body')", f"/calendar/{appointment.pk}/link/"
    )
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Link package")).to_be_visible()
    expect(dialog.locator(".link-package__services label")).to_have_count(1)
    expect(dialog.locator(".link-package__services")).to_contain_text("Physio follow-up")
    expect(dialog).not_to_contain_text("Physio initial consultation")
    screenshot(page, f"link-package-{width}", full_page=False)
    _no_axe_violations(page)
    dialog.locator("label", has_text="Physio follow-up").click()
    dialog.get_by_role("button", name="Link package").click()
    expect(dialog.locator(".linked-package")).to_contain_text("Physio Starter Pack")
    appointment.refresh_from_db()
    assert appointment.service == practice.follow_up
    assert appointment.ends_at - appointment.starts_at == dt.timedelta(minutes=30)


def test_link_package_when_booking_offers_only_the_chosen_service(
    live, sign_in, practice, reception
):
    practice.sell(by=reception)
    page = sign_in(reception)
    dialog = _open_create(page, live, practice)
    dialog.get_by_label("Service").select_option(label="Physio follow-up (30 min)")
    _choose_client(page, dialog)
    dialog.get_by_role("button", name="View").click()
    panel = dialog.locator(".link-panel")
    expect(panel.locator(".link-package__services label")).to_have_count(1)
    expect(panel).to_contain_text("Physio follow-up")
    expect(panel).not_to_contain_text("Physio initial consultation")


def test_a_package_chosen_before_the_service_sets_it_visibly(
    live, sign_in, practice, reception, screenshot
):
    practice.sell(by=reception)
    page = sign_in(reception)
    dialog = _open_create(page, live, practice)
    dialog.get_by_label("End").fill("10:30")
    _choose_client(page, dialog)
    dialog.get_by_role("button", name="View").click()
    dialog.locator("label", has_text="Physio initial consultation").click()
    linked = dialog.locator(".linked-package")
    expect(linked).to_contain_text("It now ends at 10:45.")
    expect(dialog.get_by_label("End")).to_have_value("10:45")
    expect(linked).to_contain_text("Linked to package: Physio Starter Pack")
    expect(linked).to_contain_text("The service is now Physio initial consultation (45 min).")
    expect(dialog.get_by_label("Service")).to_have_value(str(practice.initial.pk))
    screenshot(page, "package-sets-the-service", full_page=False)


# ------------------------------------------------------------------ Service after a package


@pytest.mark.parametrize("width", WIDTHS)
def test_changing_the_service_keeps_a_covering_package_or_says_it_was_removed(
    live, sign_in, practice, reception, screenshot, width
):
    practice.sell(by=reception)
    page = sign_in(reception)
    page.set_viewport_size({"width": width, "height": 900})
    dialog = _open_create(page, live, practice)
    dialog.get_by_label("Service").select_option(label="Physio follow-up (30 min)")
    _choose_client(page, dialog)
    dialog.get_by_role("button", name="View").click()
    dialog.locator("label", has_text="Physio follow-up").click()
    area = dialog.locator("#package-area")
    expect(area).to_contain_text("Linked to package: Physio Starter Pack")

    # Still covered: the package stays.
    dialog.get_by_label("Service").select_option(label="Physio initial consultation (45 min)")
    expect(area.locator(".linked-package__service")).to_contain_text("Physio initial consultation")
    expect(area).to_contain_text("Linked to package: Physio Starter Pack")

    # Not covered: said plainly.
    dialog.get_by_label("Service").select_option(label="Remedial massage (60 min)")
    expect(area).to_contain_text(
        "The package link was removed: Physio Starter Pack doesn't cover Remedial massage "
        "on this date."
    )
    expect(area).not_to_contain_text("Linked to package")
    screenshot(page, f"package-link-removed-{width}", full_page=False)
    _no_axe_violations(page)
    dialog.get_by_role("button", name="Create appointment").click()
    expect(dialog.get_by_role("heading", name="Appointment", exact=True)).to_be_visible()
    booked = Appointment.objects.get()
    assert (booked.service, booked.client_package) == (practice.massage, None)


# ------------------------------------------------------------------ confirmations


def test_the_confirmation_survives_closing_the_popup_before_the_answer(
    live, sign_in, practice, reception
):
    page = sign_in(reception)
    dialog = _open_create(page, live, practice)
    dialog.get_by_label("Service").select_option(label="Physio follow-up (30 min)")
    _choose_client(page, dialog)
    expect(dialog.get_by_label("Service")).to_be_focused()
    held = []
    page.route("**/calendar/new/", lambda route: held.append(route))
    dialog.get_by_role("button", name="Create appointment").click()
    for _ in range(250):
        if held:
            break
        page.wait_for_timeout(20)
    assert held, "the booking never left the browser"
    dialog.get_by_role("button", name="Close").click()
    _discard(page).get_by_role("button", name="Discard changes").click()
    expect(dialog).to_be_hidden()
    with page.expect_response("**/calendar/new/"):
        held[0].continue_()
    expect(page.locator("#messages")).to_contain_text("Appointment created.")
    expect(dialog).to_be_hidden()
    assert Appointment.objects.count() == 1


def test_the_confirmation_is_on_the_page_after_closing(live, sign_in, practice, reception):
    page = sign_in(reception)
    dialog = _open_create(page, live, practice)
    dialog.get_by_label("Service").select_option(label="Physio follow-up (30 min)")
    _choose_client(page, dialog)
    dialog.get_by_role("button", name="Create appointment").click()
    expect(dialog.get_by_role("heading", name="Appointment", exact=True)).to_be_visible()
    dialog.get_by_role("button", name="Close").click()  # nothing left unsaved: no question
    expect(dialog).to_be_hidden()
    expect(page.locator("#messages")).to_contain_text("Appointment created.")


# ------------------------------------------------------------------ focus


def test_focus_moves_to_the_next_useful_control_after_each_swap(live, sign_in, practice, reception):
    practice.sell(by=reception)
    page = sign_in(reception)
    dialog = _open_create(page, live, practice)

    # After choosing the client: the package banner's View.
    _choose_client(page, dialog)
    expect(dialog.locator(".package-banner")).to_be_visible()
    assert page.evaluate(ACTIVE) == "View"

    # After View: into the Link package panel (never the page).
    page.keyboard.press("Enter")
    panel = dialog.locator(".link-panel")
    expect(panel).to_be_visible()
    assert panel.evaluate("(panel) => panel.contains(document.activeElement)")

    # Tab walks through the panel (its services, then Back), not past it.
    seen = []
    for _ in range(6):
        page.keyboard.press("Tab")
        seen.append(page.evaluate(ACTIVE))
        if seen[-1] == "Back":
            break
    assert "Back" in seen, seen
    assert "appt_service" not in seen, seen

    # Choosing the service by keyboard: focus goes on to the Service field.
    page.keyboard.press("Shift+Tab")
    while page.evaluate("() => document.activeElement.name") != "link_choice":
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("Space")
    expect(dialog.locator(".linked-package")).to_be_visible()
    expect(dialog.get_by_label("Service")).to_be_focused()
    assert page.evaluate(ACTIVE) == "appt_service"


def test_focus_after_choosing_a_client_without_packages_goes_to_the_service(
    live, sign_in, practice, reception
):
    page = sign_in(reception)
    dialog = _open_create(page, live, practice)
    _choose_client(page, dialog)
    expect(dialog.locator("#client-results")).to_contain_text("Type in the search box")
    expect(dialog.get_by_label("Service")).to_be_focused()


# ------------------------------------------------------------------ errors beside fields


def _described_by(locator) -> str:
    return locator.evaluate(
        """(el) => (el.getAttribute("aria-describedby") || "").split(/\\s+/)
            .map((id) => document.getElementById(id)).filter(Boolean)
            .map((d) => d.textContent.trim()).join(" | ")"""
    )


def test_pay_invoice_ties_more_than_the_balance_to_the_amount(live, sign_in, practice, reception):
    invoice = invoice_finalize(
        invoice=invoice_for_client_package(
            client_package=practice.sell(),
            practitioner=practice.practitioner,
            location=practice.location,
            by=None,
        ),
        by=None,
    )
    page = sign_in(reception)
    page.goto(f"{live.url}/billing/{invoice.pk}/")
    page.get_by_role("link", name="Pay invoice").click()
    dialog = page.locator("#modal")
    dialog.get_by_label("Amount").fill("100000")
    dialog.get_by_label("Payment method").select_option(index=1)
    dialog.get_by_role("button", name="Record payment").click()
    amount = dialog.get_by_label("Amount")
    expect(amount).to_have_attribute("aria-invalid", "true")
    assert "The amount is more than the balance of" in _described_by(amount)
    expect(amount).to_be_focused()
    _no_axe_violations(page)


def test_create_appointment_errors_are_tied_to_their_fields(live, sign_in, practice, reception):
    page = sign_in(reception)
    dialog = _open_create(page, live, practice)
    dialog.get_by_role("button", name="Create appointment").click()
    search = dialog.get_by_label("Search clients by name or phone number")
    expect(search).to_have_attribute("aria-invalid", "true")
    assert "Choose a client" in _described_by(search)
    assert "Choose a service." in _described_by(dialog.get_by_label("Service"))
    _no_axe_violations(page)


# ------------------------------------------------------------------ services offered


@pytest.mark.parametrize("width", WIDTHS)
def test_the_service_list_follows_the_practitioner_and_location(
    live, sign_in, practice, reception, admin_user, screenshot, width
):
    # Set up in Settings by an Admin: Sam provides only the physio services here.
    admin = sign_in(admin_user)
    admin.set_viewport_size({"width": width, "height": 900})
    admin.goto(f"{live.url}/settings/practitioners/")
    admin.get_by_role("link", name="Services of Sam Physio").click()
    popup = admin.locator("#modal")
    expect(popup.get_by_role("heading", name="Services of Sam Physio")).to_be_visible()
    popup.get_by_label("Physio follow-up").check()
    popup.get_by_label("Physio initial consultation").check()
    screenshot(admin, f"practitioner-services-{width}", full_page=False)
    _no_axe_violations(admin)
    popup.get_by_role("button", name="Save services").click()
    expect(admin.locator("#messages")).to_contain_text("Services of Sam Physio saved.")
    admin.context.clear_cookies()

    page = sign_in(reception)
    page.set_viewport_size({"width": width, "height": 900})
    dialog = _open_create(page, live, practice)
    service = dialog.get_by_label("Service")
    options = service.locator("option").all_inner_texts()
    assert options[0] == "Choose a service"
    assert sorted(options[1:]) == [
        "Physio follow-up (30 min)",
        "Physio initial consultation (45 min)",
    ]
    service.select_option(label="Physio follow-up (30 min)")
    screenshot(page, f"service-list-{width}", full_page=False)
    _no_axe_violations(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_closing_the_popup_after_booking_gives_focus_back_to_the_calendar(
    live, sign_in, practice, reception
):
    page = sign_in(reception)
    page.goto(f"{live.url}/calendar/?date={_tomorrow().isoformat()}")
    page.get_by_label("Create appointment at 10:00").first.click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Create appointment")).to_be_visible()
    dialog.get_by_label("Service").select_option(label="Physio follow-up (30 min)")
    _choose_client(page, dialog)
    dialog.get_by_role("button", name="Create appointment").click()
    expect(dialog.get_by_role("heading", name="Appointment", exact=True)).to_be_visible()
    expect(page.locator(".cal__appt", has_text="Jo Citizen")).to_be_attached()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.wait_for_timeout(100)
    assert page.evaluate(ACTIVE) != "BODY"
    assert page.evaluate("() => document.querySelector('main').contains(document.activeElement)")
