"""Staff forms that create or move money or credits carry a one-time key (`{% form_key %}`)
and run at most once per key (kernel.web.post_once): a double submit or a resubmit after
a lost answer replays the first answer and never books, pays or finalizes twice
(issue 9, finding 2). In-process, with the Django test client and real PostgreSQL."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import Appointment
from invoicing.models import Invoice, InvoiceStatus, Payment, PaymentMethod
from invoicing.services import invoice_create, invoice_finalize, invoice_for_client_package
from kernel.web import ALREADY_SENT, ALREADY_SENT_CHANGED, FORM_KEY_FIELD
from packages.models import CreditLedgerEntry
from practice.models import IdempotencyKey
from tests.factories import next_local

KEY_INPUT = re.compile(rf'name="{FORM_KEY_FIELD}" value="([^"]+)"')


@pytest.fixture
def browser(reception) -> Browser:
    browser = Browser()
    browser.force_login(reception)
    return browser


def open_invoice(practice, reception) -> Invoice:
    sold = practice.sell(by=reception)
    invoice = invoice_for_client_package(
        client_package=sold,
        practitioner=practice.practitioner,
        location=practice.location,
        by=reception,
    )
    return invoice_finalize(invoice=invoice, by=reception)


def form_key(browser, url: str) -> str:
    """The key the form at `url` renders (a GET writes nothing)."""
    keys = IdempotencyKey.objects.count()
    page = browser.get(url)
    assert page.status_code == 200
    assert IdempotencyKey.objects.count() == keys
    found = KEY_INPUT.findall(page.content.decode())
    assert len(found) == 1, found
    return found[0]


def payment_form(invoice, key: str, amount: str = "100.00") -> dict:
    return {
        FORM_KEY_FIELD: key,
        "amount": amount,
        "method": PaymentMethod.objects.get(name="EFTPOS").pk,
        "date": timezone.localdate().isoformat(),
        "reference": "",
    }


def booking_form(practice, sold, key: str) -> dict:
    start = timezone.localtime(next_local(days=3, hour=9))
    return {
        FORM_KEY_FIELD: key,
        "client": practice.client.pk,
        "service": practice.follow_up.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "date": start.date().isoformat(),
        "start_time": start.strftime("%H:%M"),
        "client_package": sold.pk,
    }


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_every_render_of_a_form_has_a_new_key(browser, practice, reception):
    invoice = open_invoice(practice, reception)
    url = reverse("invoicing:pay", args=[invoice.pk])
    assert form_key(browser, url) != form_key(browser, url)
    assert form_key(browser, reverse("calendar_app:create"))


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_record_payment_sent_twice_pays_once_and_answers_alike(browser, practice, reception, htmx):
    invoice = open_invoice(practice, reception)
    url = reverse("invoicing:pay", args=[invoice.pk])
    data = payment_form(invoice, form_key(browser, url))
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    first = browser.post(url, data, **headers)
    second = browser.post(url, data, **headers)
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert second.status_code == first.status_code
    if htmx:
        assert second["HX-Redirect"] == first["HX-Redirect"]
    else:
        assert first.status_code == 302
        assert second["Location"] == first["Location"]
    assert second["Idempotent-Replayed"] == "true"
    assert ALREADY_SENT in said(second)


def test_the_same_key_with_other_values_saves_nothing_more_and_says_so(
    browser, practice, reception
):
    invoice = open_invoice(practice, reception)
    url = reverse("invoicing:pay", args=[invoice.pk])
    key = form_key(browser, url)
    browser.post(url, payment_form(invoice, key, "100.00"))
    again = browser.post(url, payment_form(invoice, key, "20.00"))
    assert again.status_code == 302
    assert ALREADY_SENT_CHANGED in said(again)
    assert list(Payment.objects.filter(invoice=invoice).values_list("amount", flat=True)) == [100]


def test_a_refused_form_keeps_its_key_free(browser, practice, reception):
    """An invalid or refused form saved nothing: sent again (corrected) it runs."""
    invoice = open_invoice(practice, reception)
    url = reverse("invoicing:pay", args=[invoice.pk])
    key = form_key(browser, url)
    assert browser.post(url, payment_form(invoice, key, "-5")).status_code == 400
    assert not IdempotencyKey.objects.exists()
    assert browser.post(url, payment_form(invoice, key)).status_code == 302
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_create_appointment_with_a_package_sent_twice_books_once(browser, practice, reception):
    sold = practice.sell(by=reception)
    url = reverse("calendar_app:create")
    data = booking_form(practice, sold, form_key(browser, url))
    first = browser.post(url, data)
    second = browser.post(url, data)
    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"]
    assert Appointment.objects.filter(client=practice.client).count() == 1
    assert CreditLedgerEntry.objects.filter(client_package=sold, kind="consume").count() == 1


def test_finalize_sent_twice_numbers_once(browser, practice, reception, admin_user):
    browser.force_login(admin_user)
    draft = invoice_create(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        lines=[{"description": "Consultation", "quantity": 1, "unit_price": 90}],
        by=admin_user,
    )
    url = reverse("invoicing:finalize", args=[draft.pk])
    key = form_key(browser, url)
    first = browser.post(url, {FORM_KEY_FIELD: key})
    second = browser.post(url, {FORM_KEY_FIELD: key})
    assert first.status_code == second.status_code == 302
    assert second["Idempotent-Replayed"] == "true"
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.OPEN
    # Without the replay the second would be refused ("already finalized", 409).
    assert ALREADY_SENT in said(second)


def test_keys_belong_to_their_user(browser, practice, reception, admin_user):
    invoice = open_invoice(practice, reception)
    url = reverse("invoicing:pay", args=[invoice.pk])
    key = form_key(browser, url)
    browser.post(url, payment_form(invoice, key, "10.00"))
    other = Browser()
    other.force_login(admin_user)
    assert other.post(url, payment_form(invoice, key, "10.00")).status_code == 302
    assert Payment.objects.filter(invoice=invoice).count() == 2


def test_a_server_error_in_a_page_post_keeps_nothing(browser, practice, reception, monkeypatch):
    """The whole POST is one transaction: a crash after the payment was written takes
    the payment and the key back, so "Nothing was saved" (500 page) is true."""
    from invoicing import views

    invoice = open_invoice(practice, reception)
    url = reverse("invoicing:pay", args=[invoice.pk])
    key = form_key(browser, url)

    def broken(*args, **kwargs):
        raise RuntimeError("after the write")

    monkeypatch.setattr(views, "_done", broken)
    browser.raise_request_exception = False
    assert browser.post(url, payment_form(invoice, key)).status_code == 500
    assert not Payment.objects.filter(invoice=invoice).exists()
    assert not IdempotencyKey.objects.exists()
    monkeypatch.undo()
    assert browser.post(url, payment_form(invoice, key)).status_code == 302
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_clear_idempotency_keys_removes_expired_form_keys(browser, practice, reception):
    from django.core.management import call_command

    invoice = open_invoice(practice, reception)
    url = reverse("invoicing:pay", args=[invoice.pk])
    browser.post(url, payment_form(invoice, form_key(browser, url), "10.00"))
    IdempotencyKey.objects.update(created_at=timezone.now() - timezone.timedelta(hours=25))
    call_command("clear_idempotency_keys")
    assert not IdempotencyKey.objects.exists()


def _world(practice):
    from tests.api.conftest import World

    return World(practice)


# (url name, args from the world, how many keyed forms the page has): every form that
# books, sells, invoices, pays, refunds, voids, cancels, adjusts or edits invoice lines.
KEYED_FORMS = [
    ("calendar_app:create", lambda w: [], 1),
    ("calendar_app:link", lambda w: [w.appointment.pk], 1),
    ("calendar_app:cancel", lambda w: [w.appointment.pk], 1),
    ("calendar_app:edit", lambda w: [w.linked.pk], 1),
    ("calendar_app:delete", lambda w: [w.appointment.pk], 1),
    ("calendar_app:detail", lambda w: [w.past.pk], 2),  # Arrived, Create invoice
    ("calendar_app:missed", lambda w: [w.past.pk], 1),  # a popup since issue 13
    ("packages:create", lambda w: [w.client.pk], 1),
    ("packages:invoice", lambda w: [w.sold.pk], 1),
    ("packages:cancel", lambda w: [w.sold.pk], 1),
    ("packages:adjust", lambda w: [w.sold.pk], 1),
    ("packages:extend", lambda w: [w.sold.pk], 1),
    ("invoicing:new", lambda w: [], 1),
    ("invoicing:finalize", lambda w: [w.draft.pk], 1),
    ("invoicing:pay", lambda w: [w.unpaid.pk], 1),
    ("invoicing:void", lambda w: [w.unpaid.pk], 1),
    ("invoicing:payment_refund", lambda w: [w.payment.pk], 1),
    ("invoicing:payment_void", lambda w: [w.payment.pk], 1),
]


@pytest.mark.parametrize(("name", "args", "count"), KEYED_FORMS, ids=[f[0] for f in KEYED_FORMS])
def test_forms_that_move_money_or_credits_carry_a_key(
    practice, admin_user, roles_exist, name, args, count
):
    world = _world(practice)
    browser = Browser()
    browser.force_login(admin_user)
    page = browser.get(reverse(name, args=args(world)))
    assert page.status_code == 200, page.content[:500]
    assert len(KEY_INPUT.findall(page.content.decode())) == count


def test_the_draft_invoices_line_forms_carry_keys(practice, admin_user, roles_exist):
    world = _world(practice)
    browser = Browser()
    browser.force_login(admin_user)
    page = browser.get(reverse("invoicing:detail", args=[world.draft.pk]))
    # Add a line and the line's Remove (Edit line and Edit details open their own forms).
    assert len(KEY_INPUT.findall(page.content.decode())) == 2
    line = world.draft.lines.get()
    edit = browser.get(reverse("invoicing:line_edit", args=[world.draft.pk, line.pk]))
    assert len(KEY_INPUT.findall(edit.content.decode())) >= 1
    header = browser.get(reverse("invoicing:edit", args=[world.draft.pk]))
    assert len(KEY_INPUT.findall(header.content.decode())) >= 1


def test_a_key_costs_a_few_queries_whatever_the_data(browser, practice, reception):
    """Claiming and storing a key is a fixed handful of statements (savepoints, one
    INSERT, one UPDATE), not a lookup that grows with the keys already stored."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    invoice = open_invoice(practice, reception)
    url = reverse("invoicing:pay", args=[invoice.pk])

    def queries(data) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert browser.post(url, data).status_code == 302
        return len(captured)

    unkeyed = queries({**payment_form(invoice, ""), "amount": "10.00"})
    keyed = queries(payment_form(invoice, "k1", "10.00"))
    for n in range(30):
        browser.post(url, payment_form(invoice, f"more-{n}", "1.00"))
    assert queries(payment_form(invoice, "k2", "10.00")) == keyed
    assert keyed - unkeyed <= 5, (unkeyed, keyed)
