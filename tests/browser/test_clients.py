"""In Chromium: find a client by searching as you type, open them with Actions → View,
archive and restore them."""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import expect

from clients.models import Client
from tests.factories import ClientFactory

NAMES = [
    ("Amelia", "Wright", "0412 555 013"),
    ("Noah", "Tran", "0423 555 201"),
    ("Olivia", "Kowalski", "0401 555 778"),
    ("Liam", "Papadopoulos", "0433 555 310"),
    ("Isla", "Nguyen", "0455 555 642"),
    ("Jack", "O'Brien", "0466 555 090"),
    ("Mia", "Fernandes", "0477 555 321"),
    ("Joel", "Citrine", "0488 555 456"),
]


def make_clients():
    for first, last, phone in NAMES:
        ClientFactory(
            first_name=first,
            last_name=last,
            phone=phone,
            email=f"{first.lower()}.{last.lower().replace(chr(39), '')}@example.com",
            date_of_birth=dt.date(1980 + len(first), len(last) % 12 + 1, 7),
        )


def test_search_as_you_type_then_actions_view_opens_the_client(
    live, sign_in, screenshot, practice, reception
):
    make_clients()
    Client.objects.filter(pk=practice.client.pk).update(
        email="jo.citizen@example.com", phone="0400 555 123", date_of_birth=dt.date(1988, 3, 14)
    )
    sold = practice.sell(by=reception)
    practice.book(by=reception, days=2, client_package=sold, service=practice.initial)
    practice.book(by=reception, days=9, client_package=sold)
    practice.sell(practice.flexible, by=reception)

    page = sign_in(reception)
    page.goto(f"{live.url}/clients/")
    expect(page.get_by_role("heading", name="Clients", exact=True)).to_be_visible()
    rows = page.locator("#client-rows tbody tr")
    expect(rows).to_have_count(len(NAMES) + 1)
    screenshot(page, "clients")

    # "jo cit": every word must match one field: Joel Citrine matches too, Jack O'Brien not.
    page.get_by_label("Search clients").press_sequentially("jo cit", delay=30)
    expect(rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"q=jo(\+|%20)cit"))
    page.get_by_label("Search clients").press_sequentially("izen", delay=30)
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row).to_contain_text("Jo Citizen")
    expect(row).to_contain_text("0400 555 123")

    row.get_by_text("Actions").click()
    row.get_by_role("link", name="View", exact=True).click()
    expect(page).to_have_url(f"{live.url}/clients/{practice.client.pk}/")
    expect(page.get_by_role("heading", name="Jo Citizen")).to_be_visible()
    packages = page.locator("#client-packages")
    expect(packages.get_by_role("heading", name="Packages")).to_be_visible()
    expect(packages.locator("tbody tr")).to_have_count(2)
    starter = packages.locator("tbody tr", has_text="Physio Starter Pack")
    expect(starter).to_contain_text("Active")
    expect(starter.locator("td.num").nth(0)).to_have_text("4")
    expect(starter.locator("td.num").nth(1)).to_have_text("2")
    expect(starter.locator("td.num").nth(2)).to_have_text("2")
    expect(packages.get_by_role("link", name="Create package")).to_be_visible()
    screenshot(page, "client")

    page.get_by_role("link", name="Appointments").click()
    expect(page.locator("#client-appointments")).to_contain_text(
        "Linked to package: Physio Starter Pack"
    )


def test_no_match_then_clearing_the_search_brings_everyone_back(live, sign_in, practice, reception):
    make_clients()
    page = sign_in(reception)
    page.goto(f"{live.url}/clients/")
    search = page.get_by_label("Search clients")
    search.fill("zzz")
    expect(page.locator("#client-rows")).to_contain_text("No clients match “zzz”")
    search.fill("")
    expect(page.locator("#client-rows tbody tr")).to_have_count(len(NAMES) + 1)


def test_archive_from_the_actions_menu_then_restore(live, sign_in, practice, reception):
    page = sign_in(reception)
    page.goto(f"{live.url}/clients/")
    row = page.locator("#client-rows tbody tr", has_text="Jo Citizen")
    row.get_by_text("Actions").click()
    row.get_by_role("link", name="Archive").click()
    dialog = page.locator("#modal")
    expect(dialog).to_contain_text("Archive Jo Citizen?")
    dialog.get_by_role("button", name="Archive client").click()
    expect(page.locator("#messages")).to_contain_text("Jo Citizen archived.")
    expect(page.locator("#client-rows")).not_to_contain_text("Jo Citizen")
    assert Client.objects.get(pk=practice.client.pk).archived

    page.get_by_label("Show archived").check()
    archived_row = page.locator("#client-rows tbody tr", has_text="Jo Citizen")
    expect(archived_row).to_contain_text("Archived")
    archived_row.get_by_role("link", name="Jo Citizen").click()
    expect(page.get_by_text("This client is archived.")).to_be_visible()
    expect(page.get_by_role("link", name="Create package")).to_have_count(0)
    page.get_by_role("button", name="Restore").click()
    expect(page.locator("#messages")).to_contain_text("Jo Citizen restored.")
    expect(page.get_by_role("link", name="Create package").first).to_be_visible()


def test_escape_closes_a_popup(live, sign_in, practice, reception):
    page = sign_in(reception)
    page.goto(f"{live.url}/clients/{practice.client.pk}/")
    page.get_by_role("link", name="Archive").click()
    dialog = page.locator("#modal")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert not Client.objects.get(pk=practice.client.pk).archived


def test_actions_menus_close_on_escape_and_when_another_opens(live, sign_in, practice, reception):
    make_clients()
    page = sign_in(reception)
    page.goto(f"{live.url}/clients/")
    menus = page.locator("#client-rows details.menu")
    # An open menu covers the rows just below it; take one further down.
    first, second = menus.nth(0), menus.nth(4)
    first.locator("summary").click()
    expect(first.get_by_role("link", name="View")).to_be_visible()
    second.locator("summary").click()
    expect(first.get_by_role("link", name="View")).to_be_hidden()
    expect(second.get_by_role("link", name="View")).to_be_visible()
    page.keyboard.press("Escape")
    expect(second.get_by_role("link", name="View")).to_be_hidden()
    expect(second.locator("summary")).to_be_focused()
