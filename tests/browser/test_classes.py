"""Issue 12 in Chromium: a receptionist books four clients into one clinical pilates
class from the calendar, two of them on their own 10-class passes (the "X package
matches — View" banner and Link package, per attendee, as in Create appointment), marks
everyone arrived with "All arrived", and invoices one of them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from calendar_app.models import Appointment, AppointmentStatus
from invoicing.models import Invoice
from tests.factories import ClientFactory, PackageFactory, ServiceFactory

pytestmark = pytest.mark.browser


def _start() -> dt.datetime:
    """Today at 18:00: attendance can be marked on the class's day."""
    return timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(18)))


def _no_serious_axe_violations(page) -> None:
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, results.generate_report()


def _choose_client(dialog, search: str, name: str) -> None:
    dialog.get_by_label("Search clients by name or phone number").press_sequentially(
        search, delay=40
    )
    dialog.locator("#client-results").get_by_text(name).click()


def _book(page, dialog, *, search: str, name: str, with_pass: bool) -> None:
    """In Create appointment (already for the class): choose the client, link their pass
    when asked, create; the attendee's panel opens."""
    _choose_client(dialog, search, name)
    banner = dialog.locator(".package-banner")
    if with_pass:
        expect(banner).to_have_text("1 package matches — View")
        banner.get_by_role("button", name="View").click()
        panel = dialog.locator(".link-panel")
        expect(panel.get_by_role("heading", name="Link package")).to_be_visible()
        panel.get_by_text("Pilates 10-class pass").click()
        panel.locator("label", has_text="Clinical pilates class").click()
        expect(dialog.locator(".linked-package")).to_contain_text(
            "Linked to package: Pilates 10-class pass"
        )
    else:
        expect(banner).to_have_count(0)
    dialog.get_by_role("button", name="Create appointment").click()
    expect(dialog.get_by_role("heading", name="Appointment", exact=True)).to_be_visible()
    expect(dialog.locator(".appt-panel__client")).to_have_text(name)


def test_book_four_into_a_class_two_on_passes_all_arrived_invoice_one(
    live, sign_in, screenshot, practice, reception
):
    pilates = ServiceFactory(name="Clinical pilates class", duration_minutes=60, capacity=8)
    pass_ = PackageFactory(name="Pilates 10-class pass", credits=10, services=[pilates])
    people = [
        ClientFactory(first_name="Ann", last_name="Abbott"),
        ClientFactory(first_name="Bob", last_name="Brennan"),
        ClientFactory(first_name="Cat", last_name="Cooper"),
        ClientFactory(first_name="Dan", last_name="Dunne"),
    ]
    passes = [practice.sell(pass_, client=person) for person in people[:2]]
    start = timezone.localtime(_start())
    page = sign_in(reception)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{live.url}/calendar/?date={start.date().isoformat()}")

    # The first attendee: Create appointment for the class at 18:00.
    url = (
        f"/calendar/new/?practitioner={practice.practitioner.pk}"
        f"&location={practice.location.pk}&service={pilates.pk}"
        f"&start={start:%Y-%m-%dT%H:%M}"
    )
    page.evaluate("(url) => htmx.ajax('GET', url, '#modal-body')", url)
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Create appointment")).to_be_visible()
    _book(page, dialog, search="Abbo", name="Ann Abbott", with_pass=True)
    expect(dialog.locator(".linked-package")).to_contain_text(
        "Linked to package: Pilates 10-class pass"
    )

    # The others join from the class panel: View class → Add attendee.
    for search, name, with_pass in (
        ("Bren", "Bob Brennan", True),
        ("Coop", "Cat Cooper", False),
        ("Dunn", "Dan Dunne", False),
    ):
        dialog.get_by_role("link", name="View class").click()
        expect(dialog.get_by_role("heading", name="Class", exact=True)).to_be_visible()
        dialog.get_by_role("link", name="Add attendee").click()
        expect(dialog.get_by_role("heading", name="Create appointment")).to_be_visible()
        expect(dialog.get_by_label("Service")).to_have_value(str(pilates.pk))
        expect(dialog.get_by_label("Start")).to_have_value("18:00")
        _book(page, dialog, search=search, name=name, with_pass=with_pass)

    # The calendar shows the class as one block: 4 of 8.
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    block = page.locator(".cal__appt--class")
    expect(block).to_have_count(1)
    expect(block).to_contain_text("4 of 8 booked")
    screenshot(page, "class-block", full_page=False)
    _no_serious_axe_violations(page)

    # Its panel: the four attendees, two on their passes; All arrived.
    block.click()
    expect(dialog.get_by_role("heading", name="Class", exact=True)).to_be_visible()
    rows = dialog.locator(".attendees__row")
    expect(rows).to_have_count(4)
    expect(dialog.locator(".attendees__package")).to_have_count(2)
    expect(dialog.locator(".class-places")).to_have_text("4 of 8 booked")
    screenshot(page, "class-panel", full_page=False)
    _no_serious_axe_violations(page)
    dialog.get_by_role("button", name="All arrived").click()
    expect(page.locator("#messages")).to_contain_text("4 attendees marked as Arrived.")
    expect(rows.locator(".badge", has_text="Arrived")).to_have_count(4)

    # Invoice one attendee from their own panel.
    dialog.get_by_role("link", name="Cat Cooper").click()
    expect(dialog.get_by_role("heading", name="Appointment", exact=True)).to_be_visible()
    dialog.get_by_role("button", name="Create invoice").click()
    page.wait_for_url(re.compile(r"/billing/\d+/"))
    expect(page.locator("main")).to_contain_text("Clinical pilates class")
    expect(page.locator("main")).to_contain_text("Cat Cooper")
    screenshot(page, "class-attendee-invoice", full_page=False)

    attendees = Appointment.objects.filter(service=pilates)
    assert attendees.count() == 4
    assert attendees.values("class_session").distinct().count() == 1
    assert set(attendees.values_list("status", flat=True)) == {AppointmentStatus.ARRIVED}
    for sold in passes:
        sold.refresh_from_db()
        assert (sold.consumed, sold.remaining) == (1, 9)
    invoice = Invoice.objects.get()
    assert invoice.client_id == people[2].pk
    assert invoice.lines.get().appointment.client_id == people[2].pk
