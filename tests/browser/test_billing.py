"""Billing in real Chromium: what staff see and click, popups and inline forms included."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from catalog.models import TaxRate
from invoicing.models import Invoice, InvoiceStatus, PaymentMethod
from invoicing.services import (
    invoice_create,
    invoice_finalize,
    invoice_for_client_package,
    invoice_void,
    payment_record,
    payment_refund,
)
from practice.models import PracticeSettings
from tests.factories import ClientFactory, LocationFactory, PractitionerFactory
from tests.invoicing.helpers import draft, line, open_invoice


def _pay(invoice, amount, method="Cash", **kwargs):
    return payment_record(
        invoice=invoice,
        amount=Decimal(amount),
        method=PaymentMethod.objects.get(name=method),
        by=None,
        **kwargs,
    )


@pytest.fixture
def package_invoice(live, practice):
    """The seed's flow so far: a client package (Physio Starter Pack, $400) with its Draft
    invoice from "Create invoice for package"."""
    client_package = practice.sell()
    return invoice_for_client_package(
        client_package=client_package,
        practitioner=practice.practitioner,
        location=practice.location,
        by=None,
    )


def test_deposit_for_a_package_then_the_rest(live, sign_in, reception, package_invoice, screenshot):
    """Seed FAQ "Can I take a deposit for a package?": finalise its invoice, Pay invoice,
    choose a payment method, enter a deposit: a part payment, the balance stays open."""
    page = sign_in(reception)
    page.goto(f"{live.url}/billing/{package_invoice.pk}/")
    expect(page.locator(".invoice-title .badge")).to_have_text("Draft")
    expect(page.locator("#invoice-lines")).to_contain_text("Physio Starter Pack")

    page.get_by_role("link", name="Finalize").click()
    dialog = page.locator("#modal")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Finalize invoice?")
    expect(dialog).to_contain_text("It gets the next number and can no longer be edited.")
    dialog.get_by_role("button", name="Finalize").click()
    expect(page.get_by_text("Invoice INV-0001 finalized.")).to_be_visible()
    expect(page.locator(".invoice-title .badge")).to_have_text("Open")

    page.get_by_role("link", name="Pay invoice").click()
    expect(dialog).to_be_visible()
    amount = dialog.get_by_label("Amount")
    expect(amount).to_have_value("400.00")
    expect(dialog).to_contain_text(
        "A smaller amount is recorded as a deposit; the balance stays open."
    )
    expect(dialog.get_by_label("Date")).to_have_value(timezone.localdate().isoformat())
    dialog.get_by_label("Payment method").select_option(label="EFTPOS")
    amount.fill("100.00")
    dialog.get_by_label("Reference").fill("Deposit")
    screenshot(page, "pay-invoice", full_page=False)
    dialog.get_by_role("button", name="Record payment").click()

    expect(page.get_by_text("Payment of $100.00 recorded. Balance $300.00.")).to_be_visible()
    expect(dialog).to_be_hidden()
    expect(page.locator(".invoice-title .badge")).to_have_text("Part paid")
    expect(page.locator(".stat--balance dd")).to_have_text("$300.00")
    expect(page.locator("#invoice-payments")).to_contain_text("EFTPOS")
    screenshot(page, "invoice")

    page.get_by_role("link", name="Pay invoice").click()
    expect(dialog.get_by_label("Amount")).to_have_value("300.00")
    dialog.get_by_label("Payment method").select_option(label="Cash")
    dialog.get_by_role("button", name="Record payment").click()
    expect(page.get_by_text("Payment of $300.00 recorded. Balance $0.00.")).to_be_visible()
    expect(page.locator(".invoice-title .badge")).to_have_text("Paid")
    expect(page.get_by_role("link", name="Pay invoice")).to_have_count(0)

    page.get_by_role("link", name="Billing", exact=True).first.click()
    page.get_by_label("Status").select_option(label="Paid")
    results = page.locator("#invoice-results")
    expect(results.get_by_role("row").filter(has_text="INV-0001")).to_contain_text("Paid")
    expect(page).to_have_url(re.compile(r"/billing/\?.*status=paid"))
    page.get_by_label("Status").select_option(label="Part paid")
    expect(results).to_contain_text("No invoices match these filters")


def _pay_popup(live, page):
    """An Open invoice of $50.00, its page, and its Pay invoice popup opened."""
    invoice = open_invoice("50.00")
    page.goto(f"{live.url}/billing/{invoice.pk}/")
    page.get_by_role("link", name="Pay invoice").click()
    return invoice, page, page.locator("#modal")


def _wait_until(page, condition, what: str) -> None:
    """Let the browser run until `condition()` holds (5 s at most)."""
    for _ in range(250):
        if condition():
            return
        page.wait_for_timeout(20)
    raise AssertionError(what)


def test_a_refused_payment_shows_why_in_the_popup(live, sign_in, reception):
    invoice, page, dialog = _pay_popup(live, sign_in(reception))
    dialog.get_by_label("Amount").fill("80")
    dialog.get_by_role("button", name="Record payment").click()
    expect(dialog).to_contain_text("Choose a payment method.")
    dialog.get_by_label("Payment method").select_option(label="Cash")
    dialog.get_by_role("button", name="Record payment").click()
    expect(dialog).to_contain_text("The amount is more than the balance of $50.00.")
    expect(dialog.get_by_label("Amount")).to_have_value("80")
    page.keyboard.press("Escape")
    # What was typed is not thrown away without asking (issue 11).
    page.get_by_role("alertdialog", name="Discard changes?").get_by_role(
        "button", name="Discard changes"
    ).click()
    expect(dialog).to_be_hidden()
    assert not invoice.payments.exists()


def test_a_popup_closed_while_its_answer_is_on_the_way_stays_closed(live, sign_in, reception):
    """Escape pressed before a refused form's answer arrives: the answer must not reopen it."""
    invoice, page, dialog = _pay_popup(live, sign_in(reception))
    dialog.get_by_label("Amount").fill("80")
    dialog.get_by_label("Payment method").select_option(label="Cash")

    held = []
    page.route(f"**/billing/{invoice.pk}/pay/", lambda route: held.append(route))
    dialog.get_by_role("button", name="Record payment").click()
    # The request is held by the route, not yet answered.
    _wait_until(page, lambda: held, "the payment request never left the browser")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    page.get_by_role("alertdialog", name="Discard changes?").get_by_role(
        "button", name="Discard changes"
    ).click()
    expect(dialog).to_be_hidden()
    with page.expect_response(f"**/billing/{invoice.pk}/pay/"):
        held[0].continue_()
    page.wait_for_timeout(300)  # past htmx's swap and settle
    expect(dialog).to_be_hidden()
    assert not invoice.payments.exists()


def test_typing_into_a_refused_popup_is_never_moved_to_another_field(live, sign_in, reception):
    """The refused form swaps in; the user clicks a field and types before htmx settles.
    Settling must not move their focus (and the rest of their typing) to another field."""
    invoice, page, dialog = _pay_popup(live, sign_in(reception))
    dialog.get_by_label("Amount").fill("20")
    page.evaluate("htmx.config.defaultSettleDelay = 1500")  # widen the window to see it
    dialog.get_by_role("button", name="Record payment").click()
    expect(dialog).to_contain_text("Choose a payment method.")
    reference = dialog.get_by_label("Reference")
    reference.click()
    page.keyboard.type("rcpt-")
    page.wait_for_timeout(1800)  # htmx has settled the swapped form by now
    page.keyboard.type("42")
    expect(reference).to_have_value("rcpt-42")
    expect(reference).to_be_focused()
    expect(dialog.get_by_label("Amount")).to_have_value("20")


def test_a_second_submit_right_after_a_refusal_still_goes_through_htmx(live, sign_in, reception):
    """The refused form that swaps in is wired at once: a click straight after the swap
    submits it in the popup, never as a plain page post."""
    invoice, page, dialog = _pay_popup(live, sign_in(reception))
    dialog.get_by_label("Amount").fill("80")
    dialog.get_by_label("Payment method").select_option(label="Cash")
    posts = []
    page.on(
        "request",
        lambda r: r.method == "POST" and posts.append(r.headers.get("hx-request") == "true"),
    )
    page.evaluate(
        """() => document.body.addEventListener("htmx:afterSwap", (event) => {
            if (event.detail.target.id !== "modal-body") return;
            setTimeout(() => {
                [...document.querySelectorAll("#modal button")]
                    .find((b) => b.textContent.includes("Record payment")).click();
            }, 0);
        }, {once: true})"""
    )
    dialog.get_by_role("button", name="Record payment").click()
    _wait_until(page, lambda: len(posts) >= 2, "the second submit was not sent")
    expect(dialog).to_contain_text("The amount is more than the balance of $50.00.")
    assert posts == [True, True]
    assert page.url == f"{live.url}/billing/{invoice.pk}/"
    assert not invoice.payments.exists()


def test_new_invoice_then_its_lines_inline(live, sign_in, reception):
    ClientFactory(first_name="Jo", last_name="Citizen")
    PractitionerFactory(name="Sam Physio")
    LocationFactory(name="Main Street")
    page = sign_in(reception)
    page.goto(f"{live.url}/billing/")
    expect(page.get_by_text("No invoices yet")).to_be_visible()
    page.get_by_role("link", name="New invoice").click()
    dialog = page.locator("#modal")
    dialog.get_by_label("Client", exact=True).fill("citiz")
    dialog.get_by_label("Jo Citizen").check()
    dialog.get_by_role("button", name="Create invoice").click()
    expect(page.get_by_text("Draft invoice created for Jo Citizen.")).to_be_visible()
    expect(page.locator("#invoice-header")).to_contain_text("Sam Physio")

    lines = page.locator("#invoice-lines")
    lines.get_by_label("Description").fill("Physio follow-up")
    lines.get_by_label("Unit price").fill("90")
    lines.get_by_role("button", name="Add line").click()
    expect(lines.get_by_role("row").filter(has_text="Physio follow-up")).to_contain_text("$90.00")
    expect(lines.get_by_label("Description")).to_be_focused()
    lines.get_by_label("Description").fill("Massage")
    lines.get_by_label("Quantity").fill("2")
    lines.get_by_label("Unit price").fill("-5")
    lines.get_by_role("button", name="Add line").click()
    expect(lines).to_contain_text("Ensure this value is greater than or equal to 0.")
    expect(lines.get_by_label("Description")).to_have_value("Massage")
    lines.get_by_label("Unit price").fill("50")
    lines.get_by_role("button", name="Add line").click()
    expect(lines.locator("tfoot")).to_contain_text("$190.00")

    lines.get_by_role("link", name="Edit Massage").click()
    edit = lines.locator(".line-edit-row")
    edit.get_by_label("Discount %").fill("50")
    edit.get_by_role("button", name="Save line").click()
    expect(lines.locator("tfoot")).to_contain_text("$140.00")

    page.once("dialog", lambda confirm: confirm.accept())
    lines.get_by_role("button", name="Remove Physio follow-up").click()
    expect(lines.get_by_role("row").filter(has_text="Physio follow-up")).to_have_count(0)
    expect(lines.locator("tfoot")).to_contain_text("$50.00")

    page.get_by_role("link", name="Edit details").click()
    page.get_by_label("Notes (printed on the invoice)").fill("Thank you!")
    page.get_by_role("button", name="Save details").click()
    expect(page.locator("#invoice-header")).to_contain_text("Thank you!")

    page.get_by_role("link", name="Delete").click()
    page.locator("#modal").get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Draft invoice for Jo Citizen deleted.")).to_be_visible()
    assert not Invoice.objects.exists()


def test_billing_list_with_every_status(live, sign_in, admin_user, screenshot):
    names = [
        ("Jo", "Citizen"),
        ("Mia", "Khan"),
        ("Oliver", "Brown"),
        ("Ava", "Nguyen"),
        ("Noah", "Smith"),
        ("Isla", "Walker"),
        ("Leo", "Martin"),
        ("Zoe", "Taylor"),
    ]
    clients = [ClientFactory(first_name=f, last_name=last) for f, last in names]
    practitioner, location = PractitionerFactory(name="Sam Physio"), LocationFactory()
    common = {"practitioner": practitioner, "location": location}
    past = timezone.localdate() - dt.timedelta(days=30)
    paid = open_invoice("400.00", client=clients[0], **common)
    _pay(paid, "400.00", method="EFTPOS")
    part = open_invoice("400.00", client=clients[1], **common)
    _pay(part, "100.00")
    open_invoice("95.00", client=clients[2], **common)
    late = invoice_finalize(
        invoice=draft("150.00", client=clients[3], issue_date=past, **common), by=None
    )
    _pay(late, "50.00")
    void = open_invoice("120.00", client=clients[4], **common)
    invoice_void(invoice=void, reason="Billed twice", by=None)
    refunded = open_invoice("90.00", client=clients[5], **common)
    payment_refund(
        payment=_pay(refunded, "90.00"), amount=Decimal("90.00"), reason="Canceled", by=None
    )
    open_invoice("65.00", client=clients[6], **common)
    draft("230.00", client=clients[7], **common)

    page = sign_in(admin_user)
    page.goto(f"{live.url}/billing/")
    rows = page.locator("#invoice-results tbody tr")
    expect(rows).to_have_count(8)
    for label in ("Draft", "Open", "Part paid", "Overdue", "Paid", "Void"):
        expect(page.locator("#invoice-results .badge", has_text=label).first).to_be_visible()
    screenshot(page, "billing")

    page.get_by_label("Search").fill("khan")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Mia Khan")
    expect(rows.first).to_contain_text("Part paid")


def test_print_view(live, sign_in, accountant, screenshot):
    PracticeSettings.objects.update_or_create(
        pk=1,
        defaults={
            "name": "Harbour Physio & Allied Health",
            "address": "Level 2, 14 Alfred Street\nCircular Quay NSW 2000",
            "phone": "(02) 9251 4400",
            "email": "hello@harbourphysio.example",
            "tax_id": "ABN 51 824 753 556",
        },
    )
    gst = TaxRate.objects.get(name="GST")
    invoice = invoice_create(
        client=ClientFactory(first_name="Jo", last_name="Citizen", email="jo@example.com"),
        practitioner=PractitionerFactory(name="Sam Physio"),
        location=LocationFactory(name="Main Street"),
        lines=[
            line("400.00", description="Physio Starter Pack (1 initial + 3 follow-ups)"),
            line(
                "110.00", description="Remedial massage, 60 min", tax_rate=gst, discount_percent=10
            ),
        ],
        notes="Thank you for choosing Harbour Physio.",
        by=None,
    )
    invoice = invoice_finalize(invoice=invoice, by=None)
    _pay(invoice, "100.00", method="EFTPOS", reference="Deposit")
    page = sign_in(accountant)
    page.goto(f"{live.url}/billing/{invoice.pk}/")
    page.get_by_role("link", name="Print").click()
    expect(page.get_by_role("heading", name="Tax invoice")).to_be_visible()
    sheet = page.locator(".sheet")
    for seen in (
        "Harbour Physio & Allied Health",
        "ABN 51 824 753 556",
        "Jo Citizen",
        invoice.number,
        "Deposit",
        "$499.00",
        "$9.00",
    ):
        expect(sheet).to_contain_text(seen)
    expect(sheet.locator(".sheet__due").last).to_have_text("$399.00")
    screenshot(page, "invoice-print")
    page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
    page.get_by_role("button", name="Print").click()
    expect(page.locator("body")).to_have_attribute("data-printed", "yes")
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.OPEN
