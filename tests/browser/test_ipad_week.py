"""In Chromium at the front-desk iPad's width (768 px), in the week view (issue 11, done
when): a receptionist books from a slot, links the client's package while booking, then
drags the appointment to another day, drags its end, and the credit follows the
appointment throughout; no sideways scroll, no serious axe violation."""

from __future__ import annotations

import datetime as dt

from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from calendar_app.models import Appointment
from packages.selectors import ledger_discrepancies

IPAD = {"width": 768, "height": 1024}


def _monday() -> dt.date:
    today = timezone.localdate()
    return today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=2)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _slot(page, day: dt.date, time: str):
    return page.locator(
        f'[data-cal-col][data-day="{day.isoformat()}"] '
        f'a.cal__slot[aria-label^="Create appointment at {time}"]'
    )


def _centre(locator, top: float | None = None) -> tuple[float, float]:
    box = locator.bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + (box["height"] / 2 if top is None else top)


def _drag(page, start, end) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0], start[1] + 6, steps=3)
    page.mouse.move(*end, steps=12)
    page.mouse.up()


def _fits_and_passes_axe(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= IPAD["width"]
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, results.generate_report()


def test_on_the_ipad_week_a_receptionist_books_links_drags_and_resizes(
    live, sign_in, practice, reception
):
    sold = practice.sell(practice.flexible, by=reception)  # Flexi 5: either physio service
    monday = _monday()
    thursday = monday + dt.timedelta(days=3)
    page = sign_in(reception)
    page.set_viewport_size(IPAD)
    page.goto(
        f"{live.url}/calendar/?view=week&date={monday.isoformat()}"
        f"&practitioner={practice.practitioner.pk}"
    )
    _fits_and_passes_axe(page)

    # Book from Monday's 10:00 slot, choosing the client and linking the package.
    slot = _slot(page, monday, "10:00")
    slot.scroll_into_view_if_needed()
    slot.click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Create appointment")).to_be_visible()
    dialog.get_by_label("Service").select_option(str(practice.follow_up.pk))
    dialog.get_by_label("Search clients by name or phone number").press_sequentially(
        "Citiz", delay=30
    )
    dialog.locator("#client-results").get_by_text("Jo Citizen").click()
    dialog.get_by_role("button", name="View").click()
    dialog.locator(".link-panel label", has_text="Physio follow-up").click()
    expect(dialog.locator(".linked-package")).to_contain_text("Linked to package: Flexi 5")
    _fits_and_passes_axe(page)
    dialog.get_by_role("button", name="Create appointment").click()
    expect(page.locator("#messages")).to_contain_text("Appointment created.")
    appointment = Appointment.objects.get()
    assert appointment.client_package_id == sold.pk
    assert appointment.starts_at == _at(monday, 10)
    sold.refresh_from_db()
    assert sold.consumed == 1
    if dialog.is_visible():
        page.keyboard.press("Escape")

    # Drag it to Thursday 11:00 in the week.
    block = page.locator(".cal__appt", has_text="Jo Citizen")
    block.evaluate("el => el.scrollIntoView({block: 'center'})")
    _drag(page, _centre(block, top=5), _centre(_slot(page, thursday, "11:00")))
    status = page.locator("#cal-status")
    expect(status).to_contain_text("Moved Jo Citizen's appointment to Thu")
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.ends_at) == (
        _at(thursday, 11),
        _at(thursday, 11, 30),
    )
    assert appointment.client_package_id == sold.pk  # still linked: the credit moved with it
    expect(block).to_have_attribute("data-start", f"{thursday.isoformat()}T11:00")  # redrawn

    # Drag its lower edge to make it end at 12:00.
    handle = block.locator(".cal__resize")
    handle.evaluate("el => el.scrollIntoView({block: 'center'})")
    _drag(page, _centre(handle), _centre(_slot(page, thursday, "11:45")))
    expect(status).to_contain_text("now ends at 12:00")
    appointment.refresh_from_db()
    assert appointment.ends_at == _at(thursday, 12)
    sold.refresh_from_db()
    assert (sold.consumed, sold.remaining) == (1, 4)
    assert ledger_discrepancies() == []
    _fits_and_passes_axe(page)
