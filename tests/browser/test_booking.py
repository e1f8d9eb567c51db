"""In Chromium: the seed's "Use a package when booking" and "Unlink an appointment from a
package" flows, end to end, as a receptionist clicks them; a repeating booking; the same
booking without JavaScript."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import expect

from calendar_app.models import Appointment
from packages.models import ClientPackage

REPEAT_NOTE = (
    "Packages can't be applied to repeating appointments. "
    "Book each appointment separately to use package credits."
)


def _tomorrow() -> dt.date:
    from django.utils import timezone

    return timezone.localdate() + dt.timedelta(days=1)


def _open_slot(page, live, time: str = "10:00"):
    page.goto(f"{live.url}/calendar/?date={_tomorrow().isoformat()}")
    page.get_by_label(f"Create appointment at {time}").first.click()
    dialog = page.locator("#modal")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="Create appointment")).to_be_visible()
    return dialog


def _choose_client(dialog, text: str = "Citiz", name: str = "Jo Citizen"):
    dialog.get_by_label("Search clients by name or phone number").press_sequentially(text, delay=40)
    dialog.locator("#client-results").get_by_text(name).click()


def test_use_a_package_when_booking(live, sign_in, screenshot, practice, reception):
    package = practice.sell(by=reception)
    assert package.remaining == 4
    page = sign_in(reception)

    # Calendar → click an empty slot → Create appointment, prefilled.
    dialog = _open_slot(page, live)
    expect(dialog.get_by_label("Practitioner")).to_have_value(str(practice.practitioner.pk))
    expect(dialog.get_by_label("Start")).to_have_value("10:00")
    expect(dialog.get_by_label("Date")).to_have_value(_tomorrow().isoformat())

    # Choose the Client by typing: the green banner appears at once.
    _choose_client(dialog)
    banner = dialog.locator(".package-banner")
    expect(banner).to_have_text("1 package matches — View")
    screenshot(page, "create-appointment", full_page=False)

    # View → Link package: select the package, then the Service it covers.
    banner.get_by_role("button", name="View").click()
    panel = dialog.locator(".link-panel")
    expect(panel.get_by_role("heading", name="Link package")).to_be_visible()
    panel.get_by_text("Physio Starter Pack").click()
    follow_up = panel.locator("label", has_text="Physio follow-up")
    expect(follow_up).to_contain_text("0 of 3 used")
    expect(panel.locator("label", has_text="Physio initial consultation")).to_contain_text(
        "0 of 1 used"
    )
    screenshot(page, "link-package", full_page=False)
    follow_up.click()

    # The choice sets the package and the Service select.
    expect(dialog.locator(".linked-package")).to_contain_text(
        "Linked to package: Physio Starter Pack"
    )
    expect(dialog.get_by_label("Service")).to_have_value(str(practice.follow_up.pk))

    dialog.get_by_role("button", name="Create appointment").click()

    # The information panel confirms the link; one credit is consumed.
    expect(dialog.get_by_role("heading", name="Appointment")).to_be_visible()
    linked = dialog.locator(".linked-package")
    expect(linked).to_contain_text("Linked to package: Physio Starter Pack")
    expect(linked).to_contain_text("Remaining 3 of 4 credits")
    expect(page.locator("#messages")).to_contain_text("Appointment created.")
    # The calendar behind the popup already shows the new appointment.
    expect(page.locator(".cal__appt", has_text="Jo Citizen")).to_be_attached()
    screenshot(page, "appointment-panel", full_page=False)
    package.refresh_from_db()
    assert package.remaining == 3
    appointment = Appointment.objects.get()
    assert appointment.client_package_id == package.pk
    assert appointment.service_id == practice.follow_up.pk

    # The calendar behind the popup shows the new appointment.
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".cal__appt", has_text="Jo Citizen")).to_be_visible()


def test_unlink_an_appointment_from_a_package(live, sign_in, practice, reception):
    package = practice.sell(by=reception)
    start = practice.book(by=reception, client_package=package, hour=11).starts_at
    assert ClientPackage.objects.get().remaining == 3
    page = sign_in(reception)
    page.goto(f"{live.url}/calendar/?date={_tomorrow().isoformat()}")

    # Open Calendar and click the appointment.
    page.locator(".cal__appt", has_text="Jo Citizen").click()
    dialog = page.locator("#modal")
    expect(dialog.locator(".linked-package")).to_contain_text(
        "Linked to package: Physio Starter Pack"
    )

    # Edit details → X beside "Linked to package" → Update appointment.
    dialog.get_by_role("link", name="Edit details").click()
    expect(dialog.get_by_role("heading", name="Edit details")).to_be_visible()
    expect(dialog.locator(".linked-package")).to_contain_text(
        "Linked to package: Physio Starter Pack"
    )
    dialog.get_by_role("button", name="Remove the link to Physio Starter Pack").click()
    expect(dialog.locator(".linked-package")).to_contain_text("Update appointment")
    assert ClientPackage.objects.get().remaining == 3  # nothing before Update appointment
    dialog.get_by_role("button", name="Update appointment").click()

    # The panel shows no package, and the Package matches banner is back.
    expect(dialog.get_by_role("heading", name="Appointment")).to_be_visible()
    expect(dialog.locator(".package-banner")).to_have_text("1 package matches — View")
    expect(dialog).not_to_contain_text("Linked to package")
    expect(page.locator("#messages")).to_contain_text("Appointment updated.")
    assert ClientPackage.objects.get().remaining == 4
    appointment = Appointment.objects.get()
    assert appointment.client_package_id is None
    assert appointment.starts_at == start

    # View → Link package links it again from the panel.
    dialog.locator(".package-banner").get_by_role("link", name="View").click()
    expect(dialog.get_by_role("heading", name="Link package")).to_be_visible()
    dialog.locator("label", has_text="Physio follow-up").click()
    dialog.get_by_role("button", name="Link package").click()
    expect(dialog.locator(".linked-package")).to_contain_text(
        "Linked to package: Physio Starter Pack"
    )
    assert ClientPackage.objects.get().remaining == 3


def test_repeat_booking_offers_no_package_and_says_why(live, sign_in, practice, reception):
    practice.sell(by=reception)
    page = sign_in(reception)
    dialog = _open_slot(page, live, "09:00")
    _choose_client(dialog)
    expect(dialog.locator(".package-banner")).to_have_text("1 package matches — View")
    dialog.get_by_label("Service").select_option(str(practice.follow_up.pk))

    dialog.get_by_label("Repeat", exact=True).check()
    expect(dialog.locator(".package-banner")).to_have_count(0)
    expect(dialog.locator("#package-area")).to_have_text(REPEAT_NOTE)
    dialog.get_by_label("How often").select_option("2")
    dialog.get_by_label("Occurrences").fill("3")
    dialog.get_by_role("button", name="Create appointment").click()

    expect(dialog.get_by_role("heading", name="Appointment")).to_be_visible()
    expect(dialog).to_contain_text("Repeats every 2 weeks on")
    expect(dialog).not_to_contain_text("package matches")
    expect(page.locator("#messages")).to_contain_text("3 repeating appointments created.")
    assert Appointment.objects.count() == 3
    assert not Appointment.objects.filter(client_package__isnull=False).exists()
    assert ClientPackage.objects.get().remaining == 4


def test_overlap_refusal_shows_beside_the_time(live, sign_in, practice, reception):
    practice.book(by=reception, hour=10)
    page = sign_in(reception)
    dialog = _open_slot(page, live, "09:45")
    _choose_client(dialog)
    dialog.get_by_label("Service").select_option(str(practice.initial.pk))
    dialog.get_by_role("button", name="Create appointment").click()
    expect(dialog.locator("#appt_start_time_error")).to_contain_text(
        "Sam Physio already has an appointment at that time"
    )
    expect(dialog.get_by_label("Start")).to_have_value("09:45")
    assert Appointment.objects.count() == 1


def test_booking_with_a_package_works_without_javascript(
    live, browser, client, practice, reception
):
    package = practice.sell(by=reception)
    client.force_login(reception)
    context = browser.new_context(java_script_enabled=False, locale="en-AU")
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live.url}]
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live.url}/calendar/?date={_tomorrow().isoformat()}")
    page.get_by_label("Create appointment at 10:00").first.click()
    expect(page.get_by_role("heading", name="Create appointment")).to_be_visible()

    page.get_by_label("Search clients by name or phone number").fill("Citizen")
    page.get_by_role("button", name="Search").click()
    page.locator("#client-results").get_by_text("Jo Citizen").click()
    page.get_by_role("button", name="Choose client").click()
    expect(page.locator(".package-banner")).to_have_text("1 package matches — View")
    page.get_by_role("button", name="View").click()
    expect(page.get_by_role("heading", name="Link package")).to_be_visible()
    page.locator("label", has_text="Physio follow-up").click()
    page.get_by_role("button", name="Use package").click()
    expect(page.locator(".linked-package")).to_contain_text(
        "Linked to package: Physio Starter Pack"
    )
    page.get_by_role("button", name="Create appointment").click()

    expect(page.get_by_role("heading", name="Appointment")).to_be_visible()
    expect(page.locator(".linked-package")).to_contain_text("Remaining 3 of 4 credits")
    expect(page.locator("#messages")).to_contain_text("Appointment created.")
    package.refresh_from_db()
    assert package.remaining == 3
    context.close()
