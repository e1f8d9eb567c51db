"""In Chromium: the Admin's Settings (practice details, staff users); other roles never
see the Settings link."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import expect

from practice import roles
from practice.models import PracticeSettings
from tests.factories import LocationFactory, PractitionerFactory, UserFactory


def make_practice():
    PracticeSettings.objects.filter(pk=1).update(
        name="Harbour Physio & Allied Health",
        address="Level 2, 14 Alfred Street\nCircular Quay NSW 2000",
        phone="(02) 9251 4400",
        email="hello@harbourphysio.example",
        tax_id="ABN 51 824 753 556",
    )
    LocationFactory(name="Circular Quay")
    mia = UserFactory(
        username="mia.thompson", first_name="Mia", last_name="Thompson", role=roles.PRACTITIONER
    )
    PractitionerFactory(name="Mia Thompson", user=mia, colour="#2f7d6d")
    UserFactory(username="sam.okafor", first_name="Sam", last_name="Okafor", role=roles.ACCOUNTANT)


def test_admin_saves_practice_details(live, sign_in, screenshot, admin_user):
    make_practice()
    page = sign_in(admin_user)
    page.goto(f"{live.url}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Practice details")).to_be_visible()
    screenshot(page, "settings")

    page.get_by_label("Phone").fill("(02) 9251 4401")
    page.get_by_role("button", name="Save practice details").click()
    expect(page.get_by_text("Practice details saved.")).to_be_visible()
    assert PracticeSettings.load().phone == "(02) 9251 4401"

    # A refused value comes back beside its field, in place.
    page.locator("#practice-card").get_by_label("Email").fill("not-an-email")
    page.get_by_role("button", name="Save practice details").click()
    expect(page.locator("#id_practice-email_error")).to_contain_text("valid email")
    expect(page.get_by_role("heading", name="Invoice settings")).to_be_visible()


def test_admin_adds_a_staff_user_with_role_reception(live, sign_in, screenshot, admin_user):
    make_practice()
    admin_user.first_name, admin_user.last_name = "Alice", "Admin"
    admin_user.save()
    page = sign_in(admin_user)
    page.goto(f"{live.url}/settings/")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Staff users").click()
    page.get_by_role("link", name="Add a staff user").click()

    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Add a staff user")).to_be_visible()
    dialog.get_by_label("First name").fill("Rosa")
    dialog.get_by_label("Last name").fill("Nguyen")
    dialog.get_by_label("Username").fill("rosa.nguyen")
    dialog.get_by_label("Email").fill("rosa@harbourphysio.example")
    dialog.get_by_label("Role").select_option("Reception")
    dialog.get_by_label("Initial password").fill("short")
    dialog.get_by_label("Repeat the password").fill("short")
    dialog.get_by_role("button", name="Add staff user").click()
    expect(dialog.locator("#id_password1_error")).to_contain_text("too short")
    expect(dialog.get_by_label("Username")).to_have_value("rosa.nguyen")

    dialog.get_by_label("Initial password").fill("Harbour-Front-Desk-7")
    dialog.get_by_label("Repeat the password").fill("Harbour-Front-Desk-7")
    dialog.get_by_role("button", name="Add staff user").click()

    expect(page.get_by_text("Staff user rosa.nguyen added as Reception.")).to_be_visible()
    expect(dialog).to_be_hidden()
    row = page.get_by_role("row").filter(has_text="Rosa Nguyen")
    expect(row).to_contain_text("Reception")
    expect(row).to_contain_text("Active")
    screenshot(page, "staff-users")

    rosa = User.objects.get(username="rosa.nguyen")
    assert rosa.check_password("Harbour-Front-Desk-7")
    assert list(rosa.groups.values_list("name", flat=True)) == [roles.RECEPTION]


def test_reception_sees_no_settings_link(live, sign_in, reception):
    page = sign_in(reception)
    page.goto(f"{live.url}/catalog/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Catalog")).to_be_visible()
    expect(nav.get_by_role("link", name="Settings")).to_have_count(0)
    page.goto(f"{live.url}/settings/")
    expect(page.get_by_role("heading", name="You don't have access to this page")).to_be_visible()
