"""The staff pages' exactly-once guarantee against a real gunicorn server: a double
submit racing in two workers, and a resubmit after the connection to the database was
lost between COMMIT and answer, during COMMIT, or before it (issue 9, finding 2)."""

from __future__ import annotations

import html
import threading

import pytest
from django.urls import reverse

from calendar_app.models import Appointment
from invoicing.models import Payment
from kernel.middleware import DatabaseUnavailableMiddleware as Unavailable
from packages.models import CreditLedgerEntry
from practice.models import IdempotencyKey
from tests.trust.exactly_once.conftest import AFTER_COMMIT, AT_MARKER, BEFORE_COMMIT
from tests.trust.exactly_once.test_api import (
    BOOKING_INSERT,
    PAYMENT_INSERT,
    _lock,
    _open_invoice,
    _wait_for_lock_waiters,
)
from tests.trust.exactly_once.test_pages import booking_form, payment_form

pytestmark = [pytest.mark.concurrency]


def _page_text(response) -> str:
    return html.unescape(response.text)


def test_double_submit_of_record_payment_in_two_workers_pays_once(server, practice, reception):
    invoice = _open_invoice(practice, reception)
    page = server.session_for(reception)
    url = server.url + reverse("invoicing:pay", args=[invoice.pk])
    data = payment_form(invoice, "double-click")
    lock = _lock("invoicing_invoice", invoice.pk)
    results = {}

    def send(name):
        results[name] = page.post(url, data=data, allow_redirects=False, timeout=60)

    threads = [threading.Thread(target=send, args=(n,)) for n in ("first", "second")]
    try:
        for thread in threads:
            thread.start()
        # One holds the key and waits for the invoice; the other waits for the key.
        _wait_for_lock_waiters(2)
    finally:
        lock.rollback()
        lock.close()
    for thread in threads:
        thread.join(60)
    first, second = results["first"], results["second"]
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_double_submit_of_create_appointment_with_a_package_books_once(server, practice, reception):
    sold = practice.sell(by=reception)
    page = server.session_for(reception)
    url = server.url + reverse("calendar_app:create")
    form = booking_form(practice, sold, "double-click")
    lock = _lock("packages_clientpackage", sold.pk)
    results = {}

    def send(name):
        results[name] = page.post(url, data=form, allow_redirects=False, timeout=60)

    threads = [threading.Thread(target=send, args=(n,)) for n in ("first", "second")]
    try:
        for thread in threads:
            thread.start()
        _wait_for_lock_waiters(2)
    finally:
        lock.rollback()
        lock.close()
    for thread in threads:
        thread.join(60)
    first, second = results["first"], results["second"]
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert Appointment.objects.filter(client=practice.client).count() == 1
    assert CreditLedgerEntry.objects.filter(client_package=sold, kind="consume").count() == 1


def test_booking_saved_but_answer_lost_replays_on_resubmit(server, db_proxy, practice, reception):
    sold = practice.sell(by=reception)
    page = server.session_for(reception)
    url = server.url + reverse("calendar_app:create")
    form = booking_form(practice, sold, "booking-1")
    db_proxy.arm(BOOKING_INSERT, AFTER_COMMIT)
    lost = page.post(url, data=form, allow_redirects=False, timeout=60)
    assert lost.status_code == 503
    assert Unavailable.UNKNOWN_PAGE_KEYED in _page_text(lost)
    assert "<h1>Check before trying again</h1>" in lost.text
    assert "Nothing was saved" not in _page_text(lost)
    assert Appointment.objects.filter(client=practice.client).count() == 1

    retry = page.post(url, data=form, allow_redirects=False, timeout=60)
    assert retry.status_code == 302
    assert retry.headers["Idempotent-Replayed"] == "true"
    booked = Appointment.objects.get(client=practice.client)
    assert retry.headers["Location"] == reverse("calendar_app:detail", args=[booked.pk])
    assert CreditLedgerEntry.objects.filter(client_package=sold, kind="consume").count() == 1


def test_payment_commit_lost_on_its_way_says_unknown_and_the_resubmit_pays_once(
    server, db_proxy, practice, reception
):
    invoice = _open_invoice(practice, reception)
    page = server.session_for(reception)
    url = server.url + reverse("invoicing:pay", args=[invoice.pk])
    form = payment_form(invoice, "pay-1")
    db_proxy.arm(PAYMENT_INSERT, BEFORE_COMMIT)
    lost = page.post(url, data=form, allow_redirects=False, timeout=60)
    assert lost.status_code == 503
    assert Unavailable.UNKNOWN_PAGE_KEYED in _page_text(lost)
    assert not Payment.objects.filter(invoice=invoice).exists()

    retry = page.post(url, data=form, allow_redirects=False, timeout=60)
    assert retry.status_code == 302
    assert "Idempotent-Replayed" not in retry.headers
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_payment_lost_before_commit_says_nothing_was_saved(server, db_proxy, practice, reception):
    invoice = _open_invoice(practice, reception)
    page = server.session_for(reception)
    url = server.url + reverse("invoicing:pay", args=[invoice.pk])
    form = payment_form(invoice, "pay-1")
    db_proxy.arm(PAYMENT_INSERT, AT_MARKER)
    lost = page.post(url, data=form, allow_redirects=False, timeout=60)
    assert lost.status_code == 503
    assert Unavailable.MESSAGE in _page_text(lost)
    assert "<h1>Please try again</h1>" in lost.text
    assert not IdempotencyKey.objects.exists()
    retry = page.post(url, data=form, allow_redirects=False, timeout=60)
    assert retry.status_code == 302
    assert Payment.objects.filter(invoice=invoice).count() == 1
