"""In Chromium (issue 11): the scheduling calendar as a receptionist uses it on a desktop
and on the front-desk iPad (768 px): drag an appointment to another time, day or
practitioner, drag its end, Undo; book outside working hours (asked first); book and move
with the keyboard alone; no axe violation and no sideways page scroll."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from calendar_app.models import Appointment
from calendar_app.services import working_hours_set
from tests.factories import ClientFactory, PractitionerFactory

T = dt.time


def _monday() -> dt.date:
    today = timezone.localdate()
    return today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=2)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, T(hour, minute)))


def _nine_to_five(practice):
    working_hours_set(
        practitioner=practice.practitioner,
        hours=[(d, practice.location, T(9), T(17)) for d in range(5)],
        by=None,
    )


def _centre(locator, *, top: float | None = None):
    box = locator.bounding_box()
    assert box is not None
    y = box["y"] + (top if top is not None else box["height"] / 2)
    return box["x"] + box["width"] / 2, y


def _drag(page, start, end):
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0], start[1] + 6, steps=3)
    page.mouse.move(*end, steps=12)
    page.mouse.up()


def _slot(page, day: dt.date, time: str):
    return page.locator(
        f'[data-cal-col][data-day="{day.isoformat()}"] a.cal__slot[aria-label^="Create appointment at {time}"]'
    )


def _no_axe_violations(page) -> None:
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, results.generate_report()


def _no_page_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{width}px wide"


@pytest.mark.parametrize("width", [1440, 768])
def test_drag_to_another_day_resize_and_undo_in_the_week(
    live, sign_in, screenshot, practice, reception, width
):
    monday = _monday()
    wednesday = monday + dt.timedelta(days=2)
    practice.practitioner.colour = "#7a1f5c"  # a dark Settings colour: text stays readable
    practice.practitioner.save()
    appointment = practice.book(by=reception, starts_at=_at(monday, 10))
    arrived = practice.book(
        by=reception, starts_at=_at(monday, 14), client=ClientFactory(first_name="Ari")
    )
    # Shown as Arrived (a future day: set directly, the display is what is tested).
    Appointment.objects.filter(pk=arrived.pk).update(status="arrived")
    page = sign_in(reception)
    page.set_viewport_size({"width": width, "height": 1100})
    page.goto(
        f"{live.url}/calendar/?view=week&date={monday.isoformat()}"
        f"&practitioner={practice.practitioner.pk}"
    )
    block = page.locator(".cal__appt", has_text="Jo Citizen")
    expect(block).to_contain_text("Main Street")  # the location on the block
    _no_page_overflow(page)
    _no_axe_violations(page)
    screenshot(page, f"calendar-week-{width}", full_page=False)

    # Drag it from Monday 10:00 to Wednesday 12:00.
    _drag(page, _centre(block, top=5), _centre(_slot(page, wednesday, "12:00")))
    status = page.locator("#cal-status")
    expect(status).to_contain_text("Moved Jo Citizen's appointment to Wed")
    expect(status).to_contain_text("12:00")
    appointment.refresh_from_db()
    assert appointment.starts_at == _at(wednesday, 12)
    assert appointment.ends_at == _at(wednesday, 12, 30)
    expect(block).to_have_attribute("data-start", f"{wednesday.isoformat()}T12:00")

    # Drag its lower edge down to 13:15.
    handle = block.locator(".cal__resize")
    _drag(page, _centre(handle), _centre(_slot(page, wednesday, "13:00")))
    expect(status).to_contain_text("Jo Citizen's appointment now ends at 13:15.")
    appointment.refresh_from_db()
    assert appointment.ends_at == _at(wednesday, 13, 15)

    # Undo puts the end back.
    status.get_by_role("button", name="Undo").click()
    expect(status).to_contain_text("Move undone.")
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.ends_at) == (
        _at(wednesday, 12),
        _at(wednesday, 12, 30),
    )
    expect(block).to_have_attribute("data-end", f"{wednesday.isoformat()}T12:30")


def test_drag_to_another_practitioner_and_undo_in_the_day(live, sign_in, practice, reception):
    monday = _monday()
    ana = PractitionerFactory(name="Ana Osteo", colour="#aa3377")
    appointment = practice.book(by=reception, starts_at=_at(monday, 10))
    page = sign_in(reception)
    page.set_viewport_size({"width": 1440, "height": 1100})
    page.goto(f"{live.url}/calendar/?date={monday.isoformat()}")
    block = page.locator(".cal__appt", has_text="Jo Citizen")
    target = page.locator(
        f'[data-cal-col][data-practitioner="{ana.pk}"] a.cal__slot[aria-label^="Create appointment at 11:30"]'
    )
    _drag(page, _centre(block, top=5), _centre(target))
    status = page.locator("#cal-status")
    expect(status).to_contain_text("with Ana Osteo")
    appointment.refresh_from_db()
    assert (appointment.practitioner, appointment.starts_at) == (ana, _at(monday, 11, 30))
    # In Ana's column now, in her Settings colour.
    moved = page.locator(f'[data-practitioner="{ana.pk}"] .cal__appt', has_text="Jo Citizen")
    expect(moved).to_have_css("border-left-color", "rgb(170, 51, 119)")

    status.get_by_role("button", name="Undo").click()
    expect(status).to_contain_text("Move undone.")
    appointment.refresh_from_db()
    assert (appointment.practitioner, appointment.starts_at) == (
        practice.practitioner,
        _at(monday, 10),
    )


def test_a_refused_drag_says_why_and_snaps_back(live, sign_in, practice, reception):
    monday = _monday()
    practice.book(by=reception, starts_at=_at(monday, 12), client=ClientFactory(first_name="Bo"))
    appointment = practice.book(by=reception, starts_at=_at(monday, 10))
    page = sign_in(reception)
    page.set_viewport_size({"width": 1440, "height": 1100})
    page.goto(f"{live.url}/calendar/?date={monday.isoformat()}")
    block = page.locator(".cal__appt", has_text="Jo Citizen")
    _drag(page, _centre(block, top=5), _centre(_slot(page, monday, "12:00")))
    expect(page.locator("#cal-status")).to_contain_text("already has an appointment at that time")
    expect(block).to_have_attribute("data-start", f"{monday.isoformat()}T10:00")
    appointment.refresh_from_db()
    assert appointment.starts_at == _at(monday, 10)


@pytest.mark.parametrize("width", [1440, 768])
def test_outside_working_hours_asks_before_booking_or_moving(
    live, sign_in, practice, reception, width
):
    _nine_to_five(practice)
    monday = _monday()
    page = sign_in(reception)
    page.set_viewport_size({"width": width, "height": 1100})
    page.goto(f"{live.url}/calendar/?date={monday.isoformat()}")
    late = _slot(page, monday, "17:30")
    expect(late).to_have_class(re.compile("cal__slot--closed"))
    _no_axe_violations(page)

    # A slot inside the hours, in "All locations": the location is filled in.
    _slot(page, monday, "10:00").click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_label("Location")).to_have_value(str(practice.location.pk))
    page.keyboard.press("Escape")

    # A shaded slot: Create appointment asks first, then books.
    late.click()
    dialog.get_by_label("Search clients by name or phone number").press_sequentially(
        "Citiz", delay=30
    )
    dialog.locator("#client-results").get_by_text("Jo Citizen").click()
    dialog.get_by_label("Service").select_option(str(practice.follow_up.pk))
    dialog.get_by_role("button", name="Create appointment").click()
    expect(dialog.locator(".outside-hours")).to_contain_text(
        "This is outside Sam Physio's working hours (Monday: 09:00–17:00 at Main Street)."
    )
    assert not Appointment.objects.exists()
    dialog.get_by_role("button", name="Book anyway").click()
    expect(page.locator("#messages")).to_contain_text("Appointment created.")
    appointment = Appointment.objects.get()
    assert appointment.starts_at == _at(monday, 17, 30)
    page.keyboard.press("Escape")

    # Dragging it further out asks too; "Move anyway" moves it.
    block = page.locator(".cal__appt", has_text="Jo Citizen")
    block.evaluate("el => el.scrollIntoView({block: 'center'})")  # it and 18:30 on screen
    _drag(page, _centre(block, top=5), _centre(_slot(page, monday, "18:30")))
    status = page.locator("#cal-status")
    expect(status).to_contain_text("outside Sam Physio's working hours")
    appointment.refresh_from_db()
    assert appointment.starts_at == _at(monday, 17, 30)
    status.get_by_role("button", name="Move anyway").click()
    expect(status).to_contain_text("Moved Jo Citizen's appointment")
    appointment.refresh_from_db()
    assert appointment.starts_at == _at(monday, 18, 30)


@pytest.mark.parametrize("width", [1440, 768])
def test_keyboard_books_a_slot_and_moves_an_appointment(live, sign_in, practice, reception, width):
    monday = _monday()
    appointment = practice.book(by=reception, starts_at=_at(monday, 9))
    page = sign_in(reception)
    page.set_viewport_size({"width": width, "height": 1100})
    page.goto(f"{live.url}/calendar/?date={monday.isoformat()}")

    # One tab stop in the grid (the first appointment), reached with Tab.
    grid = page.locator("[data-cal-grid]")
    expect(grid.locator('[tabindex="0"]')).to_have_count(1)
    page.get_by_label("Show canceled").focus()  # the last control before the grid
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('cal__appt')"):
            break
    expect(page.locator(".cal__appt", has_text="Jo Citizen")).to_be_focused()

    # Down from the 09:00 appointment: the slots 09:15, 09:30; Enter books 09:30.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(_slot(page, monday, "09:30")).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.locator("#modal")
    expect(dialog.get_by_label("Start")).to_have_value("09:30")
    expect(dialog.get_by_label("Date")).to_have_value(monday.isoformat())
    page.keyboard.press("Escape")

    # Back to the appointment; Alt+Down moves it 15 minutes later, and it keeps the focus.
    _slot(page, monday, "09:30").focus()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    block = page.locator(".cal__appt", has_text="Jo Citizen")
    expect(block).to_be_focused()
    page.keyboard.press("Alt+ArrowDown")
    expect(page.locator("#cal-status")).to_contain_text("09:15")
    appointment.refresh_from_db()
    assert appointment.starts_at == _at(monday, 9, 15)
    expect(block).to_be_focused()

    # Enter on the appointment opens it.
    page.keyboard.press("Enter")
    expect(dialog).to_contain_text("Jo Citizen")


def test_edit_details_moves_quickly_without_a_mouse(live, sign_in, practice, reception):
    monday = _monday()
    appointment = practice.book(by=reception, starts_at=_at(monday, 10))
    page = sign_in(reception)
    page.goto(f"{live.url}/calendar/?date={monday.isoformat()}")
    page.locator(".cal__appt", has_text="Jo Citizen").click()
    dialog = page.locator("#modal")
    dialog.get_by_role("link", name="Edit details").click()
    dialog.get_by_role("button", name="+ 1 day").click()
    dialog.get_by_role("button", name="+ 15 min").click()
    expect(dialog.get_by_label("Start")).to_have_value("10:15")
    expect(dialog.get_by_label("End")).to_have_value("10:45")
    dialog.get_by_role("button", name="Update appointment").click()
    expect(page.locator("#messages")).to_contain_text("Appointment updated.")
    appointment.refresh_from_db()
    assert appointment.starts_at == _at(monday + dt.timedelta(days=1), 10, 15)


@pytest.fixture
def touch_page(live, browser, client, reception):
    """An iPad-sized page with a touch screen, signed in as the receptionist."""
    context = browser.new_context(
        viewport={"width": 768, "height": 1024}, has_touch=True, locale="en-AU"
    )
    client.force_login(reception)
    cookie = client.cookies["sessionid"]
    context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _touch_drag(page, start, end, *, hold_ms: int):
    cdp = page.context.new_cdp_session(page)

    def touch(kind, x=0.0, y=0.0):
        points = [] if kind == "touchEnd" else [{"x": x, "y": y}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", *start)
    page.wait_for_timeout(hold_ms)
    for step in range(1, 11):
        touch(
            "touchMove",
            start[0] + (end[0] - start[0]) * step / 10,
            start[1] + (end[1] - start[1]) * step / 10,
        )
        page.wait_for_timeout(16)
    touch("touchEnd")


def test_on_the_ipad_a_held_touch_drags_and_a_swipe_does_not(live, touch_page, practice, reception):
    monday = _monday()
    tuesday = monday + dt.timedelta(days=1)
    appointment = practice.book(by=reception, starts_at=_at(monday, 10))
    page = touch_page
    page.goto(
        f"{live.url}/calendar/?view=week&date={monday.isoformat()}"
        f"&practitioner={practice.practitioner.pk}"
    )
    block = page.locator(".cal__appt", has_text="Jo Citizen")

    # A quick swipe over the block is a scroll, not a move.
    _touch_drag(page, _centre(block, top=5), _centre(_slot(page, tuesday, "11:00")), hold_ms=0)
    page.wait_for_timeout(500)
    expect(page.locator("#cal-status")).to_be_empty()
    appointment.refresh_from_db()
    assert appointment.starts_at == _at(monday, 10)

    # Held for a moment, the block follows the finger.
    _touch_drag(page, _centre(block, top=5), _centre(_slot(page, tuesday, "11:00")), hold_ms=500)
    expect(page.locator("#cal-status")).to_contain_text("Moved Jo Citizen's appointment to Tue")
    appointment.refresh_from_db()
    assert appointment.starts_at == _at(tuesday, 11)


@pytest.mark.parametrize("width", [390, 1440])
def test_an_admin_sets_working_hours_and_the_calendar_shades_the_rest(
    live, sign_in, practice, admin_user, width
):
    page = sign_in(admin_user)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live.url}/settings/practitioners/")
    page.get_by_role("link", name="Working hours of Sam Physio").click()
    expect(page.get_by_role("heading", name="Working hours of Sam Physio")).to_be_visible()
    monday = page.get_by_role("group", name="Monday")
    monday.get_by_label("From").first.fill("09:00")
    monday.get_by_label("To").first.fill("17:00")
    _no_page_overflow(page)
    _no_axe_violations(page)
    page.get_by_role("button", name="Save working hours").click()
    expect(page.locator("#messages")).to_contain_text("Working hours of Sam Physio saved.")

    page.goto(f"{live.url}/calendar/?date={_monday().isoformat()}")
    expect(_slot(page, _monday(), "08:45")).to_have_class(re.compile("cal__slot--closed"))
    expect(_slot(page, _monday(), "09:00")).not_to_have_class(re.compile("cal__slot--closed"))
    expect(_slot(page, _monday(), "09:00")).to_have_attribute(
        "href", re.compile(f"location={practice.location.pk}")
    )
