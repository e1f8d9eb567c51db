"""API POSTs with an Idempotency-Key are exactly-once, even when the connection to the
database dies (issue 9, finding 2): a payment, a finalize and a booking are retried with
the same key after the connection is lost between COMMIT and answer, during COMMIT, or
before it; a server worker is killed mid-request; two requests with one key race.

Real gunicorn workers and PostgreSQL; the faults are real lost connections (conftest's
proxy) and a real SIGKILL.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from decimal import Decimal

import psycopg
import pytest
import requests
from django.utils import timezone

from calendar_app.models import Appointment
from invoicing.models import Invoice, InvoiceStatus, Payment, PaymentMethod
from invoicing.services import invoice_create, invoice_finalize, invoice_for_client_package
from kernel.middleware import DatabaseUnavailableMiddleware as Unavailable
from packages.models import CreditLedgerEntry
from packages.selectors import ledger_discrepancies
from practice.models import IdempotencyKey
from tests.database import connection_params
from tests.factories import next_local
from tests.trust.exactly_once.conftest import AFTER_COMMIT, AT_MARKER, BEFORE_COMMIT
from tests.trust.test_server_processes import _children

pytestmark = [pytest.mark.concurrency]

PAYMENT_INSERT = b'INSERT INTO "invoicing_payment"'
FINALIZE_UPDATE = b'UPDATE "invoicing_invoice"'
BOOKING_INSERT = b'INSERT INTO "calendar_app_appointment"'


def _open_invoice(practice, reception) -> Invoice:
    sold = practice.sell(by=reception)
    invoice = invoice_for_client_package(
        client_package=sold,
        practitioner=practice.practitioner,
        location=practice.location,
        by=reception,
    )
    return invoice_finalize(invoice=invoice, by=reception)


def _draft(practice, reception) -> Invoice:
    return invoice_create(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        lines=[{"description": "Consultation", "quantity": 1, "unit_price": Decimal("90")}],
        by=reception,
    )


def _pay(server, api, invoice, key):
    body = {"amount": "100.00", "method": PaymentMethod.objects.get(name="EFTPOS").pk}
    return api.post(
        f"{server.url}/api/v1/invoices/{invoice.pk}/payments/",
        json=body,
        headers={"Idempotency-Key": key},
        timeout=60,
    )


def _booking(server, api, practice, sold, key):
    body = {
        "client": practice.client.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "service": practice.follow_up.pk,
        "starts_at": timezone.localtime(next_local(days=2, hour=10)).isoformat(),
        "client_package": sold.pk,
    }
    return api.post(
        f"{server.url}/api/v1/appointments/",
        json=body,
        headers={"Idempotency-Key": key},
        timeout=60,
    )


def _unknown(response) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {"detail": Unavailable.UNKNOWN_API_KEYED, "code": "outcome_unknown"}
    assert "unknown" in response.json()["detail"]
    assert "Nothing was saved" not in response.json()["detail"]


def _replayed(first_status: int, retry) -> None:
    assert retry.status_code == first_status, retry.text
    assert retry.headers.get("Idempotent-Replayed") == "true"


def _ran(retry, status_code: int = 201) -> None:
    assert retry.status_code == status_code, retry.text
    assert "Idempotent-Replayed" not in retry.headers


# ------------------------------------------------------- lost between COMMIT and answer


def test_payment_saved_but_answer_lost_is_replayed_not_paid_twice(
    server, db_proxy, practice, reception
):
    invoice = _open_invoice(practice, reception)
    api = server.api_for(reception)
    db_proxy.arm(PAYMENT_INSERT, AFTER_COMMIT)
    _unknown(_pay(server, api, invoice, "pay-1"))
    assert db_proxy.fired.is_set()
    # The COMMIT was applied: the payment and its key (with the answer) are saved.
    assert Payment.objects.filter(invoice=invoice).count() == 1
    retry = _pay(server, api, invoice, "pay-1")
    _replayed(201, retry)
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert retry.json()["id"] == Payment.objects.get(invoice=invoice).pk
    # Even long after: a key whose work committed is never run again.
    IdempotencyKey.objects.update(created_at=timezone.now() - timezone.timedelta(hours=23))
    _replayed(201, _pay(server, api, invoice, "pay-1"))
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_finalize_saved_but_answer_lost_is_replayed(server, db_proxy, practice, reception):
    draft = _draft(practice, reception)
    api = server.api_for(reception)
    url = f"{server.url}/api/v1/invoices/{draft.pk}/finalize/"
    db_proxy.arm(FINALIZE_UPDATE, AFTER_COMMIT)
    _unknown(api.post(url, headers={"Idempotency-Key": "fin-1"}, timeout=60))
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.OPEN
    number = draft.number
    retry = api.post(url, headers={"Idempotency-Key": "fin-1"}, timeout=60)
    _replayed(200, retry)
    assert retry.json()["number"] == number
    # Not refused as "already finalized", and no second number used.
    again = _draft(practice, reception)
    assert invoice_finalize(invoice=again, by=reception).number != number


def test_booking_saved_but_answer_lost_is_replayed_one_credit_used(
    server, db_proxy, practice, reception
):
    sold = practice.sell(by=reception)
    api = server.api_for(reception)
    db_proxy.arm(BOOKING_INSERT, AFTER_COMMIT)
    _unknown(_booking(server, api, practice, sold, "book-1"))
    _replayed(201, _booking(server, api, practice, sold, "book-1"))
    assert Appointment.objects.filter(client=practice.client).count() == 1
    assert CreditLedgerEntry.objects.filter(client_package=sold, kind="consume").count() == 1
    sold.refresh_from_db()
    assert sold.consumed == 1
    assert ledger_discrepancies() == []


# -------------------------------------------------------------- lost during COMMIT


def test_commit_lost_on_its_way_says_unknown_and_the_retry_runs(
    server, db_proxy, practice, reception
):
    invoice = _open_invoice(practice, reception)
    api = server.api_for(reception)
    db_proxy.arm(PAYMENT_INSERT, BEFORE_COMMIT)
    _unknown(_pay(server, api, invoice, "pay-1"))
    # PostgreSQL never got the COMMIT: nothing saved, no key left behind.
    assert not Payment.objects.filter(invoice=invoice).exists()
    assert not IdempotencyKey.objects.exists()
    _ran(_pay(server, api, invoice, "pay-1"))
    assert Payment.objects.filter(invoice=invoice).count() == 1


# ------------------------------------------------------------------ before COMMIT


def test_failure_before_commit_says_nothing_saved_and_leaves_no_stuck_key(
    server, db_proxy, practice, reception
):
    invoice = _open_invoice(practice, reception)
    api = server.api_for(reception)
    db_proxy.arm(PAYMENT_INSERT, AT_MARKER)
    response = _pay(server, api, invoice, "pay-1")
    assert response.status_code == 503
    assert response.json() == {"detail": Unavailable.MESSAGE, "code": "database_unavailable"}
    assert not IdempotencyKey.objects.exists()
    # The retry runs at once: no 409 "in flight", no ten-minute wait.
    _ran(_pay(server, api, invoice, "pay-1"))
    assert Payment.objects.filter(invoice=invoice).count() == 1


def _lock(table: str, pk: int) -> psycopg.Connection:
    conn = psycopg.connect(**connection_params(), autocommit=False)
    conn.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [pk])  # noqa: S608
    return conn


def _wait_for_lock_waiters(count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(**connection_params(), autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            ).fetchone()[0]
            if waiting >= count:
                return
            time.sleep(0.05)
    raise AssertionError(f"{count} requests never waited on a lock")


def test_a_worker_killed_mid_request_leaves_no_stuck_key(server, practice, reception):
    invoice = _open_invoice(practice, reception)
    api = server.api_for(reception)
    lock = _lock("invoicing_invoice", invoice.pk)
    result = {}
    thread = threading.Thread(
        target=lambda: result.setdefault("error", _send_expecting_no_answer(server, api, invoice))
    )
    try:
        thread.start()
        _wait_for_lock_waiters(1)
        workers = _children(server.process.pid)
        for pid in workers:
            os.kill(pid, signal.SIGKILL)  # the server's own workers, started by the fixture
        thread.join(60)
    finally:
        lock.rollback()
        lock.close()
    assert result["error"]
    _wait_for_workers(server, exclude=workers)
    assert not IdempotencyKey.objects.exists()
    _ran(_pay(server, api, invoice, "pay-1"))
    assert Payment.objects.filter(invoice=invoice).count() == 1


def _send_expecting_no_answer(server, api, invoice) -> bool:
    try:
        _pay(server, api, invoice, "pay-1")
    except requests.ConnectionError:
        return True
    return False


def _wait_for_workers(server, exclude: set[int], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = _children(server.process.pid) - exclude
        if alive:
            try:
                if requests.get(server.url + "/login/", timeout=10).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
        time.sleep(0.2)
    raise AssertionError("gunicorn did not start new workers")


# ---------------------------------------------------------------- one key, two requests


def test_two_concurrent_requests_with_one_key_write_once_and_answer_alike(
    server, practice, reception
):
    invoice = _open_invoice(practice, reception)
    api_a, api_b = server.api_for(reception), server.api_for(reception)
    lock = _lock("invoicing_invoice", invoice.pk)
    results: dict[str, requests.Response] = {}
    threads = [
        threading.Thread(
            target=lambda n=n, a=a: results.setdefault(n, _pay(server, a, invoice, "k"))
        )
        for n, a in (("a", api_a), ("b", api_b))
    ]
    try:
        for thread in threads:
            thread.start()
        # One waits for the invoice's lock holding the key, the other for the key.
        _wait_for_lock_waiters(2)
    finally:
        lock.rollback()
        lock.close()
    for thread in threads:
        thread.join(60)
    a, b = results["a"], results["b"]
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json() == b.json()
    assert sorted(str(r.headers.get("Idempotent-Replayed")) for r in (a, b)) == ["None", "true"]
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_without_a_key_a_commit_lost_says_unknown_and_how_to_check(
    server, db_proxy, practice, reception
):
    invoice = _open_invoice(practice, reception)
    api = server.api_for(reception)
    body = {"amount": "100.00", "method": PaymentMethod.objects.get(name="EFTPOS").pk}
    db_proxy.arm(PAYMENT_INSERT, AFTER_COMMIT)
    response = api.post(
        f"{server.url}/api/v1/invoices/{invoice.pk}/payments/", json=body, timeout=60
    )
    assert response.status_code == 503
    assert response.json() == {"detail": Unavailable.UNKNOWN_API, "code": "outcome_unknown"}
    # It was saved indeed: "Nothing was saved" would have been false.
    assert Payment.objects.filter(invoice=invoice).count() == 1
