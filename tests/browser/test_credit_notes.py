"""In Chromium: an Admin issues a credit note from the invoice page (too much is refused
beside the amount), and the page lists it under the payments; at phone, tablet and
desktop widths, with axe. Screenshots of each."""

from __future__ import annotations

from playwright.sync_api import expect

from invoicing.models import CreditNote
from invoicing.services import payment_record
from tests.browser.test_every_page import WIDTH_PROBLEMS, _serious_axe_violations
from tests.invoicing.helpers import cash, open_invoice


def test_issue_a_credit_note_from_the_invoice_page(live, sign_in, screenshot, admin_user):
    invoice = open_invoice("120.00")
    payment_record(invoice=invoice, amount="20.00", method=cash(), by=admin_user)
    page = sign_in(admin_user)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live.url}/billing/{invoice.pk}/")
    page.get_by_role("link", name="Issue credit note").click()
    dialog = page.locator("#modal")
    expect(dialog).to_have_attribute("open", "")
    amount = dialog.get_by_label("Amount")
    expect(amount).to_have_value("100.00")
    amount.fill("100.01")
    dialog.get_by_label("Reason").fill("Session cut short")
    dialog.get_by_role("button", name="Issue credit note").click()
    expect(dialog).to_contain_text("more than the amount owing of $100.00")
    assert _serious_axe_violations(page, "#modal") == []
    screenshot(page, "issue-credit-note-refused", full_page=False)
    dialog.get_by_label("Amount").fill("40.00")
    dialog.get_by_role("button", name="Issue credit note").click()
    expect(page.locator("#messages")).to_contain_text(
        "Credit note CN-0001 of $40.00 issued. Balance $60.00."
    )
    assert CreditNote.objects.get().total_amount == 40
    notes = page.locator("#invoice-credit-notes")
    expect(notes).to_contain_text("CN-0001")
    expect(notes).to_contain_text("Session cut short")
    for width in (390, 768, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        page.reload()
        expect(notes).to_be_visible()
        assert page.evaluate(WIDTH_PROBLEMS) == [], width
        assert _serious_axe_violations(page) == [], width
        screenshot(page, f"invoice-credit-notes-{width}")
