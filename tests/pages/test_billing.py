"""Billing pages: the invoice list, New invoice, the invoice page (draft editing inline),
its popups (Finalize, Delete, Void, Pay invoice, Refund, Void payment) and the print view."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from invoicing.models import Invoice, InvoiceLine, InvoiceStatus, Payment, PaymentMethod
from invoicing.selectors import (
    DISPLAY_STATUSES,
    invoice_display_status,
    invoices_with_display_status,
)
from invoicing.services import (
    invoice_create,
    invoice_finalize,
    invoice_void,
    payment_record,
    payment_refund,
    payment_void,
)
from practice.models import PracticeSettings
from tests.factories import (
    AppointmentFactory,
    ClientFactory,
    ClientPackageFactory,
    LocationFactory,
    PractitionerFactory,
    TaxRateFactory,
)
from tests.invoicing.helpers import cash, db_state, draft, line, open_invoice

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
MODAL = {"HX-Request": "true", "HX-Target": "modal-body"}


def url(name: str, *args) -> str:
    return reverse(f"invoicing:{name}", args=args)


def text(response) -> str:
    """The response's visible text, whitespace collapsed (for assertions on wording)."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(" .", ".").strip()


def pay(invoice: Invoice, amount: str, **kwargs) -> Payment:
    return payment_record(invoice=invoice, amount=Decimal(amount), method=cash(), by=None, **kwargs)


def overdue(*prices: str, **kwargs) -> Invoice:
    """An Open invoice issued 30 days ago, so past its due date (terms: 14 days)."""
    issued = timezone.localdate() - dt.timedelta(days=30)
    return invoice_finalize(invoice=draft(*prices, issue_date=issued, **kwargs), by=None)


def one_of_each_status() -> dict[str, Invoice]:
    invoices = {
        "draft": draft("10.00"),
        "open": open_invoice("20.00"),
        "partpaid": open_invoice("30.00"),
        "overdue": overdue("40.00"),
        "paid": open_invoice("50.00"),
        "void": open_invoice("60.00"),
    }
    pay(invoices["partpaid"], "5.00")
    pay(invoices["overdue"], "5.00")  # part paid too, but Overdue wins
    pay(invoices["paid"], "50.00")
    invoice_void(invoice=invoices["void"], by=None)
    return invoices


@pytest.fixture
def signed_in(client):
    def _sign_in(user):
        client.force_login(user)
        return client

    return _sign_in


# ------------------------------------------------------------------------- the list


def test_list_shows_each_invoice_with_badge_total_and_balance(signed_in, admin_user):
    invoices = one_of_each_status()
    page = text(signed_in(admin_user).get(url("list")))
    for label in ("Draft", "Open", "Part paid", "Overdue", "Paid", "Void"):
        assert label in page
    assert invoices["open"].number in page
    assert "$30.00 $25.00" in page  # Part paid: total, then the balance left


@pytest.mark.parametrize("status", list(DISPLAY_STATUSES))
def test_list_filters_by_display_status(signed_in, admin_user, status):
    invoices = one_of_each_status()
    response = signed_in(admin_user).get(url("list"), {"status": status})
    assert response.status_code == 200
    shown = {invoice.pk for invoice in response.context["invoices"]}
    assert shown == {invoices[status].pk}


def test_display_status_in_sql_agrees_with_the_rule_for_one_invoice():
    one_of_each_status()
    for invoice in invoices_with_display_status():
        assert DISPLAY_STATUSES[invoice.display_status] == invoice_display_status(invoice)


def test_list_filters_by_issue_date_range(signed_in, admin_user):
    old = overdue("40.00")
    recent = open_invoice("20.00")
    today = timezone.localdate()
    response = signed_in(admin_user).get(
        url("list"),
        {
            "issued_from": (today - dt.timedelta(days=31)).isoformat(),
            "issued_to": (today - dt.timedelta(days=29)).isoformat(),
        },
    )
    assert [i.pk for i in response.context["invoices"]] == [old.pk]
    response = signed_in(admin_user).get(url("list"), {"issued_from": today.isoformat()})
    assert [i.pk for i in response.context["invoices"]] == [recent.pk]


def test_list_searches_by_number_and_by_client_name(signed_in, admin_user):
    jo = open_invoice("10.00", client=ClientFactory(first_name="Jo", last_name="Citizen"))
    other = open_invoice("20.00", client=ClientFactory(first_name="Sam", last_name="Other"))
    browser = signed_in(admin_user)
    by_number = browser.get(url("list"), {"q": other.number})
    assert [i.pk for i in by_number.context["invoices"]] == [other.pk]
    by_name = browser.get(url("list"), {"q": "jo citiz"})
    assert [i.pk for i in by_name.context["invoices"]] == [jo.pk]
    by_last_name = browser.get(url("list"), {"q": "Citizen"})
    assert [i.pk for i in by_last_name.context["invoices"]] == [jo.pk]


def test_list_search_as_you_type_returns_only_the_results(signed_in, admin_user):
    open_invoice("10.00", client=ClientFactory(first_name="Jo", last_name="Citizen"))
    response = signed_in(admin_user).get(
        url("list"), {"q": "Citizen"}, headers={**HTMX, "HX-Target": "invoice-results"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="invoice-results"')
    assert "Jo Citizen" in html and "<html" not in html


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"issued_from": "2026-13-45"},
        {"issued_to": "yesterday", "issued_from": "0000-01-01"},
        {"issued_from": "99999-01-01"},
        {"page": "abc"},
        {"page": "999999"},
        {"q": "x" * 500},
        {"q": "%_\\'\""},
        {"issued_from": "2026-12-01", "issued_to": "2026-01-01"},
    ],
)
def test_list_never_crashes_on_junk_query_params(signed_in, admin_user, params):
    open_invoice("10.00")
    response = signed_in(admin_user).get(url("list"), params)
    assert response.status_code == 200


def test_list_says_what_to_do_when_there_are_no_invoices(signed_in, reception):
    page = text(signed_in(reception).get(url("list")))
    assert "No invoices yet" in page
    assert "New invoice" in page


def test_list_says_when_filters_match_nothing(signed_in, admin_user):
    open_invoice("10.00")
    page = text(signed_in(admin_user).get(url("list"), {"status": "void"}))
    assert "No invoices match these filters" in page
    assert "Clear filters" in page


def test_list_paginates(signed_in, admin_user):
    client_ = ClientFactory()
    practitioner, location = PractitionerFactory(), LocationFactory()
    for _ in range(30):
        invoice_create(client=client_, practitioner=practitioner, location=location, by=None)
    response = signed_in(admin_user).get(url("list"), {"page": 2})
    assert len(response.context["invoices"]) == 5
    assert "Page 2 of 2" in text(response)


def _many_invoices(count: int) -> None:
    practitioner, location = PractitionerFactory(), LocationFactory()
    for i in range(count):
        invoice = open_invoice(
            "100.00", "50.00", client=ClientFactory(), practitioner=practitioner, location=location
        )
        if i % 2:
            pay(invoice, "30.00")


def test_list_query_count_does_not_grow_with_invoices(signed_in, admin_user):
    browser = signed_in(admin_user)
    _many_invoices(3)
    browser.get(url("list"))  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        browser.get(url("list"))
    _many_invoices(27)
    browser.get(url("list"))  # warm again: new rows may have changed what is kept
    with CaptureQueriesContext(connection) as many:
        response = browser.get(url("list"))
    assert len(response.context["invoices"]) == 25
    assert len(many) == len(few)


# ------------------------------------------------------------------- New invoice


def test_new_invoice_finds_the_client_by_name(signed_in, reception):
    ClientFactory(first_name="Jo", last_name="Citizen")
    ClientFactory(first_name="Archie", last_name="Citizen", archived=True)
    response = signed_in(reception).get(url("new"), {"q": "citizen"})
    page = text(response)
    assert "Jo Citizen" in page
    assert "Archie" not in page  # archived clients cannot be invoiced


def test_new_invoice_search_as_you_type_swaps_only_the_results(signed_in, reception):
    ClientFactory(first_name="Jo", last_name="Citizen")
    response = signed_in(reception).get(
        url("new"), {"q": "jo"}, headers={**HTMX, "HX-Target": "client-results"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="client-results"')
    assert "Jo Citizen" in html


def test_new_invoice_creates_a_draft_and_opens_it(signed_in, reception):
    jo = ClientFactory(first_name="Jo", last_name="Citizen")
    practitioner, location = PractitionerFactory(), LocationFactory()
    response = signed_in(reception).post(
        url("new"), {"client": jo.pk, "practitioner": practitioner.pk, "location": location.pk}
    )
    invoice = Invoice.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("detail", invoice.pk)
    assert invoice.status == InvoiceStatus.DRAFT
    assert (invoice.client, invoice.practitioner, invoice.location) == (jo, practitioner, location)
    assert invoice.created_by == reception
    page = text(signed_in(reception).get(response["Location"]))
    assert "Draft invoice created for Jo Citizen" in page


def test_new_invoice_from_the_popup_redirects_the_page(signed_in, reception):
    jo = ClientFactory()
    response = signed_in(reception).post(
        url("new"),
        {
            "client": jo.pk,
            "practitioner": PractitionerFactory().pk,
            "location": LocationFactory().pk,
        },
        headers=MODAL,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == url("detail", Invoice.objects.get().pk)


def test_new_invoice_without_a_client_says_so_and_keeps_the_choices(signed_in, reception):
    practitioner = PractitionerFactory()
    response = signed_in(reception).post(
        url("new"), {"practitioner": practitioner.pk, "location": "", "q": "jo"}
    )
    assert response.status_code == 400
    page = text(response)
    assert "Choose a client" in page and "Choose a location" in page
    assert f'value="{practitioner.pk}" selected' in response.content.decode()
    assert not Invoice.objects.exists()


def test_new_invoice_for_an_archived_client_is_refused(signed_in, reception):
    archived = ClientFactory(first_name="Old", last_name="Client", archived=True)
    response = signed_in(reception).post(
        url("new"),
        {
            "client": archived.pk,
            "practitioner": PractitionerFactory().pk,
            "location": LocationFactory().pk,
        },
    )
    assert response.status_code == 409
    assert "Old Client is archived" in text(response)
    assert not Invoice.objects.exists()


@pytest.mark.parametrize("junk", ["abc", "-1", "99999999999999999999", "1.5", ""])
def test_new_invoice_rejects_junk_ids_without_crashing(signed_in, reception, junk):
    response = signed_in(reception).post(
        url("new"), {"client": junk, "practitioner": junk, "location": junk}
    )
    assert response.status_code == 400
    response = signed_in(reception).get(url("new"), {"client": junk, "practitioner": junk})
    assert response.status_code == 200


# ------------------------------------------------------------------ the invoice page


def test_invoice_page_shows_header_lines_totals_payments_and_balance(signed_in, accountant):
    PracticeSettings.objects.filter(pk=1).update(prices_include_tax=False)
    gst = TaxRateFactory(name="GST", rate=Decimal("10"))
    jo = ClientFactory(first_name="Jo", last_name="Citizen")
    invoice = invoice_create(
        client=jo,
        practitioner=PractitionerFactory(name="Sam Physio"),
        location=LocationFactory(name="Main Street"),
        lines=[
            line("200.00", description="Physio Starter Pack", tax_rate=gst, discount_percent=10)
        ],
        by=None,
    )
    invoice = invoice_finalize(invoice=invoice, by=None)
    payment = pay(invoice, "100.00", reference="EFT-123")
    payment_refund(payment=payment, amount=Decimal("20.00"), reason="Goodwill", by=None)
    page = text(signed_in(accountant).get(url("detail", invoice.pk)))
    assert f"Invoice {invoice.number}" in page and "Part paid" in page
    assert "Jo Citizen" in page and "Sam Physio" in page and "Main Street" in page
    assert invoice.issue_date.strftime("%-d %b %Y") in page
    assert invoice.due_date.strftime("%-d %b %Y") in page
    assert "Physio Starter Pack 1 $200.00 10% GST 10% $198.00" in page
    assert "Subtotal $180.00 Tax $18.00 Total $198.00" in page
    assert "EFT-123" in page and "Refund Goodwill −$20.00" in page
    assert "Paid $80.00 Balance $118.00" in page


def test_invoice_page_links_a_line_to_its_package(signed_in, admin_user):
    jo = ClientFactory()
    package = ClientPackageFactory(client=jo, name="Flexi 5")
    invoice = draft("10.00", client=jo)
    InvoiceLine.objects.filter(invoice=invoice).update(client_package=package)
    page = text(signed_in(admin_user).get(url("detail", invoice.pk)))
    assert "Package: Flexi 5" in page


def test_unknown_invoice_is_404(signed_in, admin_user):
    browser = signed_in(admin_user)
    assert browser.get(url("detail", 999999)).status_code == 404
    assert browser.get(url("pay", 999999)).status_code == 404
    assert browser.get(url("payment_refund", 999999)).status_code == 404


def test_practitioner_sees_invoices_read_only(signed_in, practitioner_user):
    invoice = open_invoice("100.00")
    payment = pay(invoice, "10.00")
    a_draft = draft("10.00")
    browser = signed_in(practitioner_user)
    html = browser.get(url("detail", invoice.pk)).content.decode()
    for hidden in (
        url("pay", invoice.pk),
        url("void", invoice.pk),
        url("payment_refund", payment.pk),
        url("payment_void", payment.pk),
    ):
        assert hidden not in html
    assert url("print", invoice.pk) in html
    html = browser.get(url("detail", a_draft.pk)).content.decode()
    a_line = a_draft.lines.get()
    for hidden in (
        url("finalize", a_draft.pk),
        url("delete", a_draft.pk),
        url("edit", a_draft.pk),
        url("line_add", a_draft.pk),
        url("line_edit", a_draft.pk, a_line.pk),
        url("line_remove", a_draft.pk, a_line.pk),
    ):
        assert hidden not in html
    assert url("new") not in browser.get(url("list")).content.decode()


def test_reception_takes_payments_but_cannot_void_or_refund(signed_in, reception):
    invoice = open_invoice("100.00")
    payment = pay(invoice, "10.00")
    html = signed_in(reception).get(url("detail", invoice.pk)).content.decode()
    assert url("pay", invoice.pk) in html
    for hidden in (
        url("void", invoice.pk),
        url("payment_refund", payment.pk),
        url("payment_void", payment.pk),
    ):
        assert hidden not in html


def test_accountant_sees_refund_and_void(signed_in, accountant):
    invoice = open_invoice("100.00")
    payment = pay(invoice, "10.00")
    html = signed_in(accountant).get(url("detail", invoice.pk)).content.decode()
    for shown in (
        url("pay", invoice.pk),
        url("void", invoice.pk),
        url("payment_refund", payment.pk),
        url("payment_void", payment.pk),
    ):
        assert shown in html


def _rich_invoice(count: int) -> Invoice:
    """An Open invoice with `count` lines (referring to packages and appointments) and
    `count` payments, each partly refunded."""
    jo = ClientFactory()
    lines = []
    for i in range(count):
        extra = {}
        if i % 3 == 1:
            extra["client_package"] = ClientPackageFactory(client=jo)
        elif i % 3 == 2:
            extra["appointment"] = AppointmentFactory(client=jo)
        lines.append(line("100.00", description=f"Item {i}", tax_rate=TaxRateFactory(), **extra))
    invoice = invoice_create(
        client=jo,
        practitioner=PractitionerFactory(),
        location=LocationFactory(),
        lines=lines,
        by=None,
    )
    invoice = invoice_finalize(invoice=invoice, by=None)
    for _ in range(count):
        payment = pay(invoice, "2.00")
        payment_refund(payment=payment, amount=Decimal("1.00"), reason="Sorry", by=None)
    return invoice


def test_invoice_page_query_count_does_not_grow_with_lines_and_payments(signed_in, admin_user):
    browser = signed_in(admin_user)
    few, many = _rich_invoice(3), _rich_invoice(30)
    browser.get(url("detail", few.pk))
    with CaptureQueriesContext(connection) as few_queries:
        browser.get(url("detail", few.pk))
    with CaptureQueriesContext(connection) as many_queries:
        response = browser.get(url("detail", many.pk))
    assert len(response.context["lines"]) == 30 and len(response.context["payments"]) == 30
    assert len(many_queries) == len(few_queries)


def test_print_query_count_does_not_grow_with_lines_and_payments(signed_in, admin_user):
    browser = signed_in(admin_user)
    few, many = _rich_invoice(3), _rich_invoice(30)
    browser.get(url("print", few.pk))
    with CaptureQueriesContext(connection) as few_queries:
        browser.get(url("print", few.pk))
    with CaptureQueriesContext(connection) as many_queries:
        browser.get(url("print", many.pk))
    assert len(many_queries) == len(few_queries)


# ------------------------------------------------------------- editing a draft


def test_add_line_computes_its_total(signed_in, reception):
    invoice = draft()
    gst = TaxRateFactory(name="GST", rate=Decimal("10"))
    response = signed_in(reception).post(
        url("line_add", invoice.pk),
        {
            "add-description": "Massage",
            "add-quantity": "2",
            "add-unit_price": "55.00",
            "add-discount_percent": "",
            "add-tax_rate": gst.pk,
        },
    )
    assert response.status_code == 302
    added = invoice.lines.get()
    assert (added.description, added.total_amount, added.tax_rate) == (
        "Massage",
        Decimal("110.00"),
        gst,
    )


def test_add_line_with_htmx_returns_the_lines_card_with_new_totals(signed_in, reception):
    invoice = draft("10.00")
    response = signed_in(reception).post(
        url("line_add", invoice.pk),
        {"add-description": "Massage", "add-quantity": "1", "add-unit_price": "90"},
        headers={**HTMX, "HX-Target": "invoice-lines"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith("<section")
    assert "Massage" in html and "$100.00" in html
    assert "Line added." in html  # delivered with the swap


@pytest.mark.parametrize(
    "field, value",
    [
        ("quantity", "NaN"),
        ("quantity", "0"),
        ("quantity", "1.234"),
        ("unit_price", "Infinity"),
        ("unit_price", "-5"),
        ("unit_price", "1e20"),
        ("unit_price", "12345678901.00"),
        ("unit_price", "9.999"),
        ("discount_percent", "101"),
        ("discount_percent", "abc"),
        ("tax_rate", "999999"),
        ("description", ""),
        ("description", "x" * 501),
    ],
)
def test_add_line_refuses_bad_input_keeping_what_was_typed(signed_in, reception, field, value):
    invoice = draft()
    data = {"add-description": "Massage", "add-quantity": "1", "add-unit_price": "90.00"}
    data[f"add-{field}"] = value
    before = db_state()
    response = signed_in(reception).post(url("line_add", invoice.pk), data)
    assert response.status_code == 400
    assert db_state() == before
    html = response.content.decode()
    if field != "description":
        assert 'value="Massage"' in html


def test_edit_line_inline(signed_in, reception):
    invoice = draft("10.00")
    target = invoice.lines.get()
    browser = signed_in(reception)
    form = browser.get(
        url("line_edit", invoice.pk, target.pk), headers={**HTMX, "HX-Target": "invoice-lines"}
    )
    assert 'name="line-description"' in form.content.decode()
    response = browser.post(
        url("line_edit", invoice.pk, target.pk),
        {
            "line-description": "Item 1 (extended)",
            "line-quantity": "3",
            "line-unit_price": "10.00",
            "line-discount_percent": "50",
        },
        headers={**HTMX, "HX-Target": "invoice-lines"},
    )
    assert response.status_code == 200
    target.refresh_from_db()
    assert (target.description, target.total_amount) == ("Item 1 (extended)", Decimal("15.00"))


def test_line_of_another_invoice_is_404(signed_in, reception):
    mine, other = draft("10.00"), draft("20.00")
    other_line = other.lines.get()
    browser = signed_in(reception)
    assert browser.get(url("line_edit", mine.pk, other_line.pk)).status_code == 404
    assert browser.post(url("line_remove", mine.pk, other_line.pk)).status_code == 404
    assert other.lines.count() == 1


def test_remove_line(signed_in, reception):
    invoice = draft("10.00", "20.00")
    first = invoice.lines.first()
    response = signed_in(reception).post(url("line_remove", invoice.pk, first.pk), headers=HTMX)
    assert response.status_code == 200
    assert list(invoice.lines.values_list("description", flat=True)) == ["Item 2"]
    assert "Line “Item 1” removed." in response.content.decode()


def test_remove_line_needs_a_post(signed_in, reception):
    invoice = draft("10.00")
    response = signed_in(reception).get(url("line_remove", invoice.pk, invoice.lines.get().pk))
    assert response.status_code == 405
    assert invoice.lines.count() == 1


def test_edit_details_of_a_draft(signed_in, reception):
    invoice = draft("10.00")
    other = PractitionerFactory(name="Other Physio")
    issue = timezone.localdate() + dt.timedelta(days=3)
    response = signed_in(reception).post(
        url("edit", invoice.pk),
        {
            "practitioner": other.pk,
            "location": invoice.location_id,
            "issue_date": issue.isoformat(),
            "notes": "Thanks!",
        },
        headers={**HTMX, "HX-Target": "invoice-header"},
    )
    assert response.status_code == 200
    assert "Other Physio" in text(response)
    invoice.refresh_from_db()
    assert (invoice.practitioner, invoice.issue_date, invoice.notes) == (other, issue, "Thanks!")


def test_edit_details_refuses_a_bad_date(signed_in, reception):
    invoice = draft("10.00")
    before = db_state()
    response = signed_in(reception).post(
        url("edit", invoice.pk),
        {
            "practitioner": invoice.practitioner_id,
            "location": invoice.location_id,
            "issue_date": "2026-02-30",
            "notes": "kept",
        },
    )
    assert response.status_code == 400
    assert "kept" in response.content.decode()
    assert db_state() == before


def test_lines_of_a_finalized_invoice_cannot_change(signed_in, reception):
    invoice = open_invoice("10.00")
    only = invoice.lines.get()
    browser = signed_in(reception)
    before = db_state()
    add = browser.post(
        url("line_add", invoice.pk),
        {"add-description": "Extra", "add-quantity": "1", "add-unit_price": "5"},
    )
    edit = browser.post(
        url("line_edit", invoice.pk, only.pk),
        {"line-description": "Changed", "line-quantity": "1", "line-unit_price": "1"},
    )
    remove = browser.post(url("line_remove", invoice.pk, only.pk))
    details = browser.post(
        url("edit", invoice.pk),
        {"practitioner": invoice.practitioner_id, "location": invoice.location_id},
    )
    for response in (add, edit, remove, details):
        assert response.status_code == 409
        assert "is finalized and cannot be" in text(response)
    assert db_state() == before


# ------------------------------------------------------------- Finalize and Delete


def test_finalize_asks_first(signed_in, reception):
    invoice = draft("10.00")
    response = signed_in(reception).get(url("finalize", invoice.pk), headers=MODAL)
    page = text(response)
    assert "Finalize invoice?" in page
    assert "It gets the next number and can no longer be edited." in page
    assert "<html" not in response.content.decode()
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.DRAFT


def test_finalize_numbers_the_invoice_and_says_so(signed_in, reception):
    PracticeSettings.objects.filter(pk=1).update(invoice_next_number=4)
    invoice = draft("10.00")
    browser = signed_in(reception)
    response = browser.post(url("finalize", invoice.pk), headers=MODAL)
    assert response["HX-Redirect"] == url("detail", invoice.pk)
    invoice.refresh_from_db()
    assert (invoice.number, invoice.status) == ("INV-0004", InvoiceStatus.OPEN)
    assert "Invoice INV-0004 finalized." in text(browser.get(url("detail", invoice.pk)))


def test_finalize_without_lines_is_refused_and_changes_nothing(signed_in, reception):
    invoice = draft()
    before = db_state()
    response = signed_in(reception).post(url("finalize", invoice.pk), headers=MODAL)
    assert response.status_code == 409
    assert "Add at least one line before finalizing." in text(response)
    assert db_state() == before


def test_delete_a_draft(signed_in, reception):
    invoice = draft("10.00", client=ClientFactory(first_name="Jo", last_name="Citizen"))
    browser = signed_in(reception)
    assert "Delete draft invoice?" in text(browser.get(url("delete", invoice.pk)))
    response = browser.post(url("delete", invoice.pk))
    assert response["Location"] == url("list")
    assert not Invoice.objects.filter(pk=invoice.pk).exists()
    assert "Draft invoice for Jo Citizen deleted." in text(browser.get(url("list")))


def test_delete_an_open_invoice_is_refused_and_changes_nothing(signed_in, admin_user):
    invoice = open_invoice("10.00")
    before = db_state()
    response = signed_in(admin_user).post(url("delete", invoice.pk), headers=MODAL)
    assert response.status_code == 409
    assert "Only draft invoices can be deleted. Void it instead." in text(response)
    assert db_state() == before


# --------------------------------------------------------------------------- Void


def test_void_an_invoice_with_a_reason(signed_in, accountant):
    invoice = open_invoice("10.00")
    browser = signed_in(accountant)
    response = browser.post(url("void", invoice.pk), {"reason": "Billed twice"})
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert (invoice.status, invoice.void_reason) == (InvoiceStatus.VOID, "Billed twice")
    page = text(browser.get(url("detail", invoice.pk)))
    assert f"Invoice {invoice.number} voided." in page and "Billed twice" in page


def test_void_with_payments_is_refused_and_changes_nothing(signed_in, accountant):
    invoice = open_invoice("100.00")
    pay(invoice, "40.00")
    before = db_state()
    response = signed_in(accountant).post(
        url("void", invoice.pk), {"reason": "Oops"}, headers=MODAL
    )
    assert response.status_code == 409
    page = text(response)
    assert "has $40.00 paid on it. Refund or void its payments before voiding the invoice." in page
    assert "Oops" in response.content.decode()  # what was typed is kept
    assert db_state() == before


def test_void_popup_says_up_front_when_payments_remain(signed_in, accountant):
    invoice = open_invoice("100.00")
    pay(invoice, "40.00")
    response = signed_in(accountant).get(url("void", invoice.pk), headers=MODAL)
    assert response.status_code == 409
    page = text(response)
    assert f"Invoice {invoice.number} has $40.00 paid on it." in page
    assert "Void invoice" in page and 'name="reason"' not in response.content.decode()


# -------------------------------------------------------------------- Pay invoice


def test_pay_popup_defaults_to_the_balance_and_explains_deposits(signed_in, reception):
    invoice = open_invoice("400.00")
    pay(invoice, "100.00")
    PaymentMethod.objects.create(name="Old card machine", archived=True)
    response = signed_in(reception).get(url("pay", invoice.pk), headers=MODAL)
    html = response.content.decode()
    assert 'name="amount" value="300.00"' in html
    assert f'value="{timezone.localdate().isoformat()}"' in html
    assert "A smaller amount is recorded as a deposit; the balance stays open." in text(response)
    assert "EFTPOS" in html and "Old card machine" not in html


def test_a_deposit_then_the_rest(signed_in, reception):
    invoice = open_invoice("400.00")
    eftpos = PaymentMethod.objects.get(name="EFTPOS")
    browser = signed_in(reception)
    today = timezone.localdate().isoformat()
    response = browser.post(
        url("pay", invoice.pk),
        {"amount": "100.00", "method": eftpos.pk, "date": today, "reference": "R1"},
        headers=MODAL,
    )
    assert response["HX-Redirect"] == url("detail", invoice.pk)
    page = text(browser.get(url("detail", invoice.pk)))
    assert "Payment of $100.00 recorded. Balance $300.00." in page
    assert "Part paid" in page
    browser.post(url("pay", invoice.pk), {"amount": "300", "method": eftpos.pk, "date": today})
    page = text(browser.get(url("detail", invoice.pk)))
    assert "Payment of $300.00 recorded. Balance $0.00." in page
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    payment = invoice.payments.first()
    assert (payment.reference, payment.method, payment.created_by) == ("R1", eftpos, reception)


def test_payment_above_the_balance_is_refused_and_changes_nothing(signed_in, reception):
    invoice = open_invoice("400.00")
    before = db_state()
    response = signed_in(reception).post(
        url("pay", invoice.pk),
        {"amount": "400.01", "method": cash().pk, "date": timezone.localdate().isoformat()},
        headers=MODAL,
    )
    assert response.status_code == 409
    assert "The amount is more than the balance of $400.00." in text(response)
    assert 'value="400.01"' in response.content.decode()
    assert db_state() == before


@pytest.mark.parametrize(
    "amount",
    [
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "1e400",
        "0",
        "-5",
        "1.005",
        "abc",
        "",
        "12345678901.00",
    ],
)
def test_pay_refuses_amounts_that_are_not_money(signed_in, reception, amount):
    invoice = open_invoice("400.00")
    before = db_state()
    response = signed_in(reception).post(
        url("pay", invoice.pk),
        {"amount": amount, "method": cash().pk, "date": timezone.localdate().isoformat()},
    )
    assert response.status_code == 400
    assert db_state() == before


@pytest.mark.parametrize(
    "data",
    [
        {"method": "999999"},
        {"method": "abc"},
        {"method": ""},
        {"date": "2026-02-30"},
        {"date": "0001-01-01"},
        {"date": ""},
        {"reference": "x" * 201},
    ],
)
def test_pay_refuses_bad_method_date_or_reference(signed_in, reception, data):
    invoice = open_invoice("400.00")
    before = db_state()
    payload = {
        "amount": "10.00",
        "method": cash().pk,
        "date": timezone.localdate().isoformat(),
        **data,
    }
    response = signed_in(reception).post(url("pay", invoice.pk), payload)
    assert response.status_code == 400
    assert db_state() == before


def test_pay_a_draft_or_paid_invoice_says_why_not(signed_in, reception):
    a_draft, paid = draft("10.00"), open_invoice("10.00")
    pay(paid, "10.00")
    browser = signed_in(reception)
    response = browser.get(url("pay", a_draft.pk), headers=MODAL)
    assert response.status_code == 409
    assert "Finalize the invoice before taking a payment." in text(response)
    before = db_state()
    response = browser.post(
        url("pay", paid.pk), {"amount": "1.00", "method": cash().pk, "date": "2026-01-05"}
    )
    assert response.status_code == 409
    assert f"Invoice {paid.number} is already paid." in text(response)
    assert db_state() == before


def test_pay_returns_to_the_page_it_came_from(signed_in, reception):
    invoice = open_invoice("10.00")
    response = signed_in(reception).post(
        url("pay", invoice.pk) + "?next=/clients/1/",
        {"amount": "5.00", "method": cash().pk, "date": timezone.localdate().isoformat()},
    )
    assert response["Location"] == "/clients/1/"
    response = signed_in(reception).post(
        url("pay", invoice.pk),
        {
            "amount": "1.00",
            "method": cash().pk,
            "date": timezone.localdate().isoformat(),
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == url("detail", invoice.pk)


# ------------------------------------------------------------ Refund, Void payment


def test_refund_defaults_to_what_is_left_and_reopens_the_invoice(signed_in, accountant):
    invoice = open_invoice("100.00")
    payment = pay(invoice, "100.00")
    payment_refund(payment=payment, amount=Decimal("30.00"), reason="Partial", by=None)
    browser = signed_in(accountant)
    form = browser.get(url("payment_refund", payment.pk), headers=MODAL)
    assert 'name="amount" value="70.00"' in form.content.decode()
    response = browser.post(
        url("payment_refund", payment.pk),
        {"amount": "20.00", "date": timezone.localdate().isoformat(), "reason": "Session canceled"},
    )
    assert response["Location"] == url("detail", invoice.pk)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    page = text(browser.get(url("detail", invoice.pk)))
    assert "Refund of $20.00 recorded. Balance $50.00." in page
    assert "Session canceled" in page


def test_refund_needs_a_reason(signed_in, accountant):
    payment = pay(open_invoice("100.00"), "100.00")
    before = db_state()
    response = signed_in(accountant).post(
        url("payment_refund", payment.pk), {"amount": "10.00", "date": "2026-01-05", "reason": " "}
    )
    assert response.status_code == 400
    assert "Enter a reason for the refund." in text(response)
    assert db_state() == before


def test_refund_above_what_is_left_is_refused_and_changes_nothing(signed_in, accountant):
    payment = pay(open_invoice("100.00"), "60.00")
    before = db_state()
    response = signed_in(accountant).post(
        url("payment_refund", payment.pk),
        {"amount": "60.01", "date": timezone.localdate().isoformat(), "reason": "Too much"},
        headers=MODAL,
    )
    assert response.status_code == 409
    assert "more than what can still be refunded on this payment ($60.00)" in text(response)
    assert db_state() == before


def test_void_a_payment_recorded_by_mistake(signed_in, accountant):
    invoice = open_invoice("100.00")
    payment = pay(invoice, "100.00")
    browser = signed_in(accountant)
    assert "Void payment?" in text(browser.get(url("payment_void", payment.pk)))
    response = browser.post(
        url("payment_void", payment.pk), {"reason": "Wrong invoice"}, headers=MODAL
    )
    assert response["HX-Redirect"] == url("detail", invoice.pk)
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.status, payment.void_reason) == ("void", "Wrong invoice")
    assert invoice.status == InvoiceStatus.OPEN
    page = text(browser.get(url("detail", invoice.pk)))
    assert "Payment of $100.00 voided. Balance $100.00." in page


def test_void_a_payment_with_refunds_is_refused_and_changes_nothing(signed_in, accountant):
    payment = pay(open_invoice("100.00"), "100.00")
    payment_refund(payment=payment, amount=Decimal("10.00"), reason="Partial", by=None)
    before = db_state()
    response = signed_in(accountant).post(url("payment_void", payment.pk), {"reason": ""})
    assert response.status_code == 409
    assert "This payment has refunds, so it cannot be voided." in text(response)
    assert db_state() == before


def test_refund_of_a_void_payment_says_why_not(signed_in, accountant):
    payment = pay(open_invoice("100.00"), "100.00")
    payment_void(payment=payment, by=None)
    response = signed_in(accountant).get(url("payment_refund", payment.pk))
    assert response.status_code == 409
    assert "This payment is void and cannot be refunded." in text(response)


# -------------------------------------------------------------------- permissions


def _targets() -> dict[str, tuple[str, str, dict]]:
    """Every action URL with the method and data of a successful request."""
    a_draft = draft("10.00")
    to_finalize = draft("10.00")
    to_delete = draft("10.00")
    open_ = open_invoice("100.00")
    to_void = open_invoice("10.00")
    payment = pay(open_invoice("100.00"), "50.00")
    mistaken = pay(open_invoice("100.00"), "50.00")
    today = timezone.localdate().isoformat()
    jo = ClientFactory()
    a_line = a_draft.lines.get()
    return {
        "new": (
            "post",
            url("new"),
            {
                "client": jo.pk,
                "practitioner": a_draft.practitioner_id,
                "location": a_draft.location_id,
            },
        ),
        "edit": (
            "post",
            url("edit", a_draft.pk),
            {
                "practitioner": a_draft.practitioner_id,
                "location": a_draft.location_id,
                "notes": "x",
            },
        ),
        "line_add": (
            "post",
            url("line_add", a_draft.pk),
            {"add-description": "X", "add-quantity": "1", "add-unit_price": "1"},
        ),
        "line_edit": (
            "post",
            url("line_edit", a_draft.pk, a_line.pk),
            {"line-description": "Y", "line-quantity": "1", "line-unit_price": "2"},
        ),
        "line_remove": ("post", url("line_remove", a_draft.pk, a_line.pk), {}),
        "finalize": ("post", url("finalize", to_finalize.pk), {}),
        "delete": ("post", url("delete", to_delete.pk), {}),
        "pay": ("post", url("pay", open_.pk), {"amount": "10", "method": cash().pk, "date": today}),
        "void": ("post", url("void", to_void.pk), {"reason": ""}),
        "payment_refund": (
            "post",
            url("payment_refund", payment.pk),
            {"amount": "10", "date": today, "reason": "Because"},
        ),
        "payment_void": ("post", url("payment_void", mistaken.pk), {"reason": ""}),
    }


ALLOWED = {
    "admin_user": set(
        [
            "new",
            "edit",
            "line_add",
            "line_edit",
            "line_remove",
            "finalize",
            "delete",
            "pay",
            "void",
            "payment_refund",
            "payment_void",
        ]
    ),
    "accountant": set(
        [
            "new",
            "edit",
            "line_add",
            "line_edit",
            "line_remove",
            "finalize",
            "delete",
            "pay",
            "void",
            "payment_refund",
            "payment_void",
        ]
    ),
    "reception": set(
        ["new", "edit", "line_add", "line_edit", "line_remove", "finalize", "delete", "pay"]
    ),
    "practitioner_user": set(),
}


@pytest.mark.parametrize("persona", list(ALLOWED))
def test_each_role_may_do_exactly_its_actions(signed_in, request, persona):
    browser = signed_in(request.getfixturevalue(persona))
    for name, (method, target, data) in _targets().items():
        before = db_state()
        page = browser.get(target) if name not in ("line_add", "line_remove") else None
        response = getattr(browser, method)(target, data)
        if name in ALLOWED[persona]:
            assert response.status_code in (200, 302), (persona, name, response.status_code)
            assert db_state() != before, (persona, name)
            if page is not None:
                assert page.status_code == 200, (persona, name)
        else:
            assert response.status_code == 403, (persona, name, response.status_code)
            assert db_state() == before, (persona, name)
            if page is not None:
                assert page.status_code == 403, (persona, name)


@pytest.mark.parametrize("persona", list(ALLOWED))
def test_every_role_sees_the_list_the_invoice_and_its_print(signed_in, request, persona):
    invoice = open_invoice("10.00")
    browser = signed_in(request.getfixturevalue(persona))
    for target in (url("list"), url("detail", invoice.pk), url("print", invoice.pk)):
        assert browser.get(target).status_code == 200


def test_signed_out_visitors_go_to_sign_in(client):
    invoice = open_invoice("10.00")
    for target in (url("list"), url("detail", invoice.pk), url("pay", invoice.pk)):
        response = client.get(target)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    before = db_state()
    client.post(url("pay", invoice.pk), {"amount": "1", "method": cash().pk, "date": "2026-01-05"})
    assert db_state() == before


def test_popups_are_whole_pages_without_javascript(signed_in, reception):
    invoice = open_invoice("100.00")
    browser = signed_in(reception)
    full = browser.get(url("pay", invoice.pk)).content.decode()
    assert "<html" in full and 'class="topbar"' in full
    assert f'action="{url("pay", invoice.pk)}"' in full
    assert f'href="{url("detail", invoice.pk)}">Cancel</a>' in full  # Cancel goes back
    popup = browser.get(url("pay", invoice.pk), headers=MODAL).content.decode()
    assert "<html" not in popup and 'id="modal-title"' in popup


# -------------------------------------------------------------------------- print


def test_print_view_has_the_practice_client_lines_totals_payments_and_balance(signed_in, reception):
    PracticeSettings.objects.filter(pk=1).update(
        name="Harbour Physio", address="1 Quay St\nSydney", tax_id="51 824 753 556"
    )
    invoice = open_invoice("400.00", client=ClientFactory(first_name="Jo", last_name="Citizen"))
    pay(invoice, "100.00", reference="DEP-1")
    response = signed_in(reception).get(url("print", invoice.pk))
    page = text(response)
    assert "Harbour Physio" in page and "1 Quay St" in page and "51 824 753 556" in page
    assert "Tax invoice" in page and invoice.number in page and "Jo Citizen" in page
    assert "Item 1" in page and "DEP-1" in page
    assert "Balance due $300.00" in page
    html = response.content.decode()
    assert "data-print" in html and "js/app.js" in html
    assert 'class="topbar"' not in html


# ------------------------------------------------- ready for a Content-Security-Policy


def test_pages_have_no_inline_script_or_style(signed_in, admin_user):
    invoice = open_invoice("100.00")
    payment = pay(invoice, "10.00")
    a_draft = draft("10.00")
    browser = signed_in(admin_user)
    targets = [
        url("list"),
        url("new") + "?q=a",
        url("detail", invoice.pk),
        url("detail", a_draft.pk),
        url("print", invoice.pk),
        url("pay", invoice.pk),
        url("void", invoice.pk),
        url("finalize", a_draft.pk),
        url("delete", a_draft.pk),
        url("edit", a_draft.pk),
        url("line_edit", a_draft.pk, a_draft.lines.get().pk),
        url("payment_refund", payment.pk),
        url("payment_void", payment.pk),
    ]
    for target in targets:
        html = browser.get(target).content.decode()
        assert ' style="' not in html, target
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), target
        assert not re.search(r"\son[a-z]+=", html), target


# ------------------------------------------------------------------------- currency


@pytest.mark.parametrize(
    ("currency", "shown"),
    [("AUD", "$1,234.50"), ("GBP", "£1,234.50"), ("EUR", "€1,234.50"), ("CHF", "CHF 1,234.50")],
)
def test_amounts_are_shown_in_the_practices_currency(signed_in, admin_user, currency, shown):
    PracticeSettings.objects.filter(pk=1).update(currency=currency)
    invoice = open_invoice("1234.50")
    client = signed_in(admin_user)
    assert shown in text(client.get(url("list")))
    assert shown in text(client.get(url("detail", invoice.pk)))
    assert shown in text(client.get(url("print", invoice.pk)))
    # A refusal worded by the service uses it too.
    refused = client.post(
        url("pay", invoice.pk),
        {"amount": "2000", "method": cash().pk, "date": timezone.localdate().isoformat()},
        headers=MODAL,
    )
    assert f"The amount is more than the balance of {shown}." in text(refused)


def test_the_currency_is_read_once_per_page_not_once_per_amount(signed_in, admin_user):
    PracticeSettings.objects.filter(pk=1).update(currency="GBP")
    for price in ("10.00", "20.00", "30.00"):
        open_invoice(price)
    client = signed_in(admin_user)
    with CaptureQueriesContext(connection) as queries:
        page = text(client.get(url("list")))
    assert "£30.00" in page
    reads = [q["sql"] for q in queries.captured_queries if '"currency"' in q["sql"]]
    assert len(reads) <= 2, reads  # the settings row for the page shell, and for amounts
