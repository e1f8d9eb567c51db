"""In Chromium: an Admin adds a fixed package with "Define quantities"; other roles read
the catalog without the buttons to change it."""

from __future__ import annotations

from decimal import Decimal

from playwright.sync_api import expect

from catalog.models import Package, PackageKind
from tests.factories import PackageFactory, ServiceCategoryFactory, ServiceFactory


def make_services():
    physio = ServiceCategoryFactory(name="Physiotherapy")
    massage = ServiceCategoryFactory(name="Massage")
    initial = ServiceFactory(
        name="Physio initial consultation",
        category=physio,
        duration_minutes=45,
        price=Decimal("120"),
    )
    follow_up = ServiceFactory(
        name="Physio follow-up", category=physio, duration_minutes=30, price=Decimal("95")
    )
    remedial = ServiceFactory(
        name="Remedial massage", category=massage, duration_minutes=60, price=Decimal("110")
    )
    PackageFactory(
        name="Massage 5 pack",
        credits=5,
        price=Decimal("500"),
        services=[remedial],
        expires_after_value=12,
        expires_after_unit="months",
    )
    return initial, follow_up


def test_admin_adds_a_fixed_package_with_define_quantities(live, sign_in, screenshot, admin_user):
    initial, follow_up = make_services()
    page = sign_in(admin_user)
    page.goto(f"{live.url}/catalog/")
    page.get_by_role("link", name="Add a package").first.click()
    expect(page.get_by_role("heading", name="Add a package")).to_be_visible()

    # Quantities and the expiry period appear only once their box is ticked.
    quantity_initial = page.get_by_label("Quantity of Physio initial consultation")
    quantity_follow_up = page.get_by_label("Quantity of Physio follow-up")
    expect(quantity_initial).to_be_hidden()
    expect(page.get_by_label("Expires after")).to_be_hidden()

    page.get_by_label("Name", exact=True).fill("Physio Starter Pack")
    page.get_by_label("Description").fill("1 initial consultation and 3 follow-ups")
    page.get_by_label("Credits").fill("4")
    page.get_by_label("Amount").fill("400.00")
    page.get_by_role("checkbox", name="Physio initial consultation").check()
    page.get_by_role("checkbox", name="Physio follow-up").check()
    page.get_by_label("Define quantities").check()
    expect(quantity_initial).to_be_visible()
    expect(page.get_by_label("Quantity of Remedial massage")).to_be_hidden()
    quantity_initial.fill("1")
    quantity_follow_up.fill("2")
    expect(page.get_by_text("The quantities add up to 3 of 4 credits.")).to_be_visible()
    quantity_follow_up.fill("3")
    expect(page.get_by_text("The quantities add up to 4 of 4 credits.")).to_be_visible()
    page.get_by_label("This package expires").check()
    page.get_by_label("Expires after").fill("3")
    page.get_by_label("Period").select_option("months")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "package-form")

    page.get_by_role("button", name="Add package").click()
    expect(page.get_by_text("Package Physio Starter Pack added.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Physio Starter Pack")
    expect(row).to_contain_text("Fixed")
    expect(row).to_contain_text("$400.00")
    expect(row).to_contain_text("1 × Physio initial consultation")
    expect(row).to_contain_text("3 × Physio follow-up")
    expect(row).to_contain_text("3 months")
    expect(row).to_contain_text("Active")
    screenshot(page, "catalog-packages")

    package = Package.objects.get(name="Physio Starter Pack")
    assert package.kind == PackageKind.FIXED and package.credits == 4
    assert {ps.service_id: ps.allowance for ps in package.package_services.all()} == {
        initial.pk: 1,
        follow_up.pk: 3,
    }


def test_quantities_that_do_not_add_up_are_explained_in_the_form(live, sign_in, admin_user):
    make_services()
    page = sign_in(admin_user)
    page.goto(f"{live.url}/catalog/packages/add/")
    page.get_by_label("Name", exact=True).fill("Uneven pack")
    page.get_by_label("Credits").fill("4")
    page.get_by_label("Amount").fill("300")
    page.get_by_role("checkbox", name="Physio initial consultation").check()
    page.get_by_role("checkbox", name="Physio follow-up").check()
    page.get_by_label("Define quantities").check()
    page.get_by_label("Quantity of Physio initial consultation").fill("2")
    page.get_by_label("Quantity of Physio follow-up").fill("3")
    page.get_by_role("button", name="Add package").click()

    expect(page.locator("#id_define_quantities_error")).to_have_text(
        "The quantities add up to 5 but the package has 4 credits."
    )
    # Still the whole page, with what was typed and the quantities shown.
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Uneven pack")
    expect(page.get_by_label("Quantity of Physio follow-up")).to_be_visible()
    assert not Package.objects.filter(name="Uneven pack").exists()


def test_reception_reads_the_catalog_without_changing_it(live, sign_in, reception):
    make_services()
    page = sign_in(reception)
    page.goto(f"{live.url}/catalog/")
    expect(page.get_by_role("row").filter(has_text="Massage 5 pack")).to_contain_text("12 months")
    expect(page.get_by_role("link", name="Add a package")).to_have_count(0)
    page.get_by_role("row").filter(has_text="Massage 5 pack").get_by_text("Actions").click()
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    page.get_by_role("link", name="View").click()
    expect(page.get_by_role("heading", name="Massage 5 pack")).to_be_visible()
