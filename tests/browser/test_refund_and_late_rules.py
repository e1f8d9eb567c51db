"""In Chromium: the Cancel popup shows the rule of the reason chosen before confirming;
the Missed popup shows the practice's rule; Cancel package offers the refund of the
unused part to an Admin. Screenshots of each popup."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone
from playwright.sync_api import expect

from invoicing.models import Invoice, Refund
from packages.models import ClientPackage
from practice.models import LateAction, PracticeSettings
from tests.factories import CancellationReasonFactory
from tests.invoicing.helpers import sold_and_paid


def _soon(hours: int) -> dt.datetime:
    """`hours` from now, on a whole 5 minutes."""
    moment = timezone.now() + dt.timedelta(hours=hours)
    return moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)


def test_cancel_popup_shows_the_rule_before_confirming(
    live, sign_in, screenshot, practice, reception
):
    CancellationReasonFactory(name="Late notice", notice_hours=24, late_action=LateAction.KEEP)
    sold = practice.sell(practice.flexible, by=reception)
    appointment = practice.book(by=reception, starts_at=_soon(3), client_package=sold)
    page = sign_in(reception)
    page.goto(f"{live.url}/calendar/{appointment.pk}/cancel/")
    expect(page.get_by_text("Choose a reason to see which rule applies.")).to_be_visible()
    page.get_by_label("Cancellation reason").select_option(label="Late notice")
    rule = page.locator("#cancel-rule")
    expect(rule).to_contain_text("before the start: inside the 24-hour window, so the credit")
    expect(rule).to_contain_text("of Flexi 5 is kept.")
    expect(page.get_by_label("Keep the package credit (late cancellation)")).to_be_checked()
    screenshot(page, "cancel-appointment-rule", full_page=False)
    page.get_by_label("Cancellation reason").select_option(label="Client request")
    expect(rule).to_contain_text("has no notice window: the credit goes back to Flexi 5.")
    expect(page.get_by_label("Keep the package credit (late cancellation)")).not_to_be_checked()
    page.get_by_label("Cancellation reason").select_option(label="Late notice")
    expect(page.get_by_label("Keep the package credit (late cancellation)")).to_be_checked()
    page.get_by_role("button", name="Cancel appointment").click()
    expect(page.locator("#messages")).to_contain_text("Appointment canceled.")
    sold.refresh_from_db()
    assert sold.consumed == 1


def test_missed_popup_shows_the_fee(live, sign_in, screenshot, practice, reception):
    settings = PracticeSettings.load()
    settings.missed_action = LateAction.FEE
    settings.missed_fee_value = Decimal("30.00")
    settings.save()
    sold = practice.sell(practice.flexible, by=reception)
    appointment = practice.book(by=reception, starts_at=_soon(-1), client_package=sold)
    page = sign_in(reception)
    page.goto(f"{live.url}/calendar/{appointment.pk}/missed/")
    expect(page.locator("#missed-rule")).to_contain_text("a fee of $30.00 is charged")
    expect(page.get_by_label("Charge the no-show fee of $30.00")).to_be_checked()
    screenshot(page, "missed-rule", full_page=False)
    page.get_by_role("button", name="Mark Missed").click()
    expect(page.locator("#messages")).to_contain_text("Marked as Missed.")
    assert Invoice.objects.get().lines.get().unit_price == Decimal("30.00")


def test_admin_cancels_a_package_with_a_refund(live, sign_in, screenshot, practice, admin_user):
    sold, _ = sold_and_paid(practice, by=admin_user)
    page = sign_in(admin_user)
    page.goto(f"{live.url}/packages/{sold.pk}/")
    page.get_by_role("link", name="Cancel package").click()
    dialog = page.locator("#modal")
    expect(dialog).to_contain_text("7 of 10 credits")
    expect(dialog.get_by_label("Amount to refund")).to_have_value("77.00")
    dialog.get_by_label("Reason").fill("Moving interstate")
    screenshot(page, "cancel-package-refund", full_page=False)
    dialog.get_by_label("Amount to refund").fill("80.00")
    dialog.get_by_role("button", name="Cancel package").click()
    expect(dialog).to_contain_text("can't be more than the unused value, $77.00")
    screenshot(page, "cancel-package-refund-too-much", full_page=False)
    dialog.get_by_label("Amount to refund").fill("70.00")
    dialog.get_by_role("button", name="Cancel package").click()
    # Paid in full: the amount is credited on the invoice and the money refunded (RF6).
    expect(page.locator("#messages")).to_contain_text(
        "Package canceled. Credit note CN-0001 of $70.00 issued on invoice INV-0001. "
        "$70.00 refunded."
    )
    assert Refund.objects.get().amount == Decimal("70.00")
    assert ClientPackage.objects.get(pk=sold.pk).canceled_at is not None
