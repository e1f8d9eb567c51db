"""In Chromium: a receptionist emails an invoice from its page and the client's mail
server receives the PDF with the bank details; a failing server's answer is shown in the
popup and listed on the document; the client opens a shared link without signing in."""

from __future__ import annotations

from playwright.sync_api import expect

from documents.models import DocumentSending
from tests.documents.conftest import attachment, pdf_text


def test_reception_emails_the_invoice_and_the_client_gets_the_pdf(
    live, sign_in, billed, smtp, reception
):
    page = sign_in(reception)
    page.goto(f"{live.url}/billing/{billed.invoice.pk}/")
    page.get_by_role("link", name="Email").click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_label("Send to")).to_have_value("jo@example.com")
    dialog.get_by_role("button", name="Send").click()
    # Back on the invoice with the message (the first PDF of a process takes a moment:
    # the stylesheet is parsed once).
    expect(
        page.get_by_text(f"Invoice {billed.invoice.number} emailed to jo@example.com.")
    ).to_be_visible(timeout=20_000)
    [(recipients, message)] = smtp.messages
    assert recipients == ["jo@example.com"]
    assert "BSB: 062-000" in pdf_text(attachment(message)[1])
    page.goto(f"{live.url}/documents/invoice/{billed.invoice.pk}/")
    sent = page.locator("section", has_text="Sent by email")
    expect(sent.get_by_text("jo@example.com")).to_be_visible()
    expect(sent.get_by_text("Sent", exact=True)).to_be_visible()


def test_a_refusing_server_is_shown_in_the_popup(live, sign_in, billed, refusing_smtp, reception):
    page = sign_in(reception)
    page.goto(f"{live.url}/documents/receipt/{billed.payment.pk}/")
    page.get_by_role("link", name="Email").click()
    dialog = page.locator("#modal")
    dialog.get_by_label("Send to").fill("fund@insurer.example")
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_text("was not sent")).to_be_visible(timeout=20_000)
    expect(dialog.get_by_text("Mailbox unavailable")).to_be_visible()
    assert DocumentSending.objects.get().status == "failed"


def test_the_client_opens_a_shared_link_without_signing_in(
    live, sign_in, billed, reception, browser
):
    page = sign_in(reception)
    page.goto(f"{live.url}/documents/invoice/{billed.invoice.pk}/")
    page.get_by_role("link", name="Share link").click()
    page.locator("#modal").get_by_role("button", name="Create link").click()
    url = page.locator("#public-link").input_value()
    assert "/d/" in url
    anonymous = browser.new_context().new_page()
    anonymous.goto(url)
    expect(anonymous.get_by_text("Provider number: 2345678A")).to_be_visible()
    with anonymous.expect_download() as download:
        anonymous.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename == f"Invoice {billed.invoice.number}.pdf"
    anonymous.context.close()
