"""The database connection drops in the middle of a booking or a payment (issue: Trust, §6).

How the drop is made real: a second connection locks the row the request will need, the
request (in a gunicorn worker) blocks on that lock inside its transaction, and the test
terminates that worker's PostgreSQL backend with `pg_terminate_backend`. The user must
see a clear message, nothing may be half-written, and a retry must work.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from calendar_app.models import Appointment
from invoicing.models import Invoice, Payment
from invoicing.services import invoice_finalize, invoice_for_client_package
from packages.models import CreditLedgerEntry
from packages.selectors import ledger_discrepancies
from tests.database import connection_params
from tests.factories import next_local

pytestmark = [pytest.mark.concurrency]

MESSAGE = "The connection to the database was lost. Nothing was saved; please try again."


class RowLock:
    """Hold `SELECT ... FOR UPDATE` on one row from a separate connection."""

    def __init__(self, table: str, pk: int):
        self.conn = psycopg.connect(**connection_params(), autocommit=False)
        self.conn.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [pk])  # noqa: S608

    def release(self):
        self.conn.rollback()
        self.conn.close()


def _kill_backend_waiting_for_a_lock(timeout: float = 30) -> int:
    """Terminate the server backend that waits on our lock; return its pid."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            )
            row = cursor.fetchone()
            if row:
                cursor.execute("SELECT pg_terminate_backend(%s)", [row[0]])
                return row[0]
            time.sleep(0.05)
    raise AssertionError("no server request ever waited on the lock")


def _in_background(send):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("response", send()))
    thread.start()
    return thread, result


def _booking_payload(practice, sold):
    return {
        "client": practice.client.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "service": practice.follow_up.pk,
        "starts_at": timezone.localtime(next_local(days=2, hour=10)).isoformat(),
        "client_package": sold.pk,
    }


def test_connection_lost_mid_booking_writes_nothing_and_a_retry_works(server, practice, reception):
    sold = practice.sell(by=reception)
    api = server.api_for(reception)
    payload = _booking_payload(practice, sold)
    lock = RowLock("packages_clientpackage", sold.pk)
    try:
        thread, result = _in_background(
            lambda: api.post(f"{server.url}/api/v1/appointments/", json=payload, timeout=60)
        )
        _kill_backend_waiting_for_a_lock()
        thread.join(60)
    finally:
        lock.release()
    response = result["response"]
    assert response.status_code == 503
    assert response.json() == {"detail": MESSAGE, "code": "database_unavailable"}
    # Nothing half-written: no appointment, no ledger row, the credit untouched.
    assert not Appointment.objects.filter(client=practice.client).exists()
    assert not CreditLedgerEntry.objects.filter(client_package=sold, kind="consume").exists()
    sold.refresh_from_db()
    assert sold.consumed == 0

    retry = api.post(f"{server.url}/api/v1/appointments/", json=payload, timeout=60)
    assert retry.status_code == 201, retry.text
    sold.refresh_from_db()
    assert sold.consumed == 1
    assert ledger_discrepancies() == []


def test_connection_lost_mid_booking_in_the_pages_says_so(server, practice, reception):
    sold = practice.sell(by=reception)
    page = server.session_for(reception)
    start = timezone.localtime(next_local(days=3, hour=9))
    form = {
        "client": practice.client.pk,
        "service": practice.follow_up.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "date": start.date().isoformat(),
        "start_time": start.strftime("%H:%M"),
        "client_package": sold.pk,
    }
    lock = RowLock("packages_clientpackage", sold.pk)
    try:
        thread, result = _in_background(
            lambda: page.post(
                f"{server.url}/calendar/new/", data=form, allow_redirects=False, timeout=60
            )
        )
        _kill_backend_waiting_for_a_lock()
        thread.join(60)
    finally:
        lock.release()
    response = result["response"]
    assert response.status_code == 503
    assert MESSAGE in response.text
    assert not Appointment.objects.filter(client=practice.client).exists()

    retry = page.post(f"{server.url}/calendar/new/", data=form, allow_redirects=False, timeout=60)
    assert retry.status_code == 302
    assert Appointment.objects.get(client=practice.client).client_package_id == sold.pk


def test_connection_lost_mid_payment_writes_nothing_and_a_retry_works(server, practice, reception):
    sold = practice.sell(by=reception)
    invoice = invoice_for_client_package(
        client_package=sold,
        practitioner=practice.practitioner,
        location=practice.location,
        by=reception,
    )
    invoice_finalize(invoice=invoice, by=reception)
    api = server.api_for(reception)
    from invoicing.models import PaymentMethod

    method = PaymentMethod.objects.get(name="EFTPOS")
    body = {"amount": "100.00", "method": method.pk}
    lock = RowLock("invoicing_invoice", invoice.pk)
    try:
        thread, result = _in_background(
            lambda: api.post(
                f"{server.url}/api/v1/invoices/{invoice.pk}/payments/", json=body, timeout=60
            )
        )
        _kill_backend_waiting_for_a_lock()
        thread.join(60)
    finally:
        lock.release()
    assert result["response"].status_code == 503
    assert not Payment.objects.filter(invoice=invoice).exists()

    retry = api.post(f"{server.url}/api/v1/invoices/{invoice.pk}/payments/", json=body, timeout=60)
    assert retry.status_code == 201, retry.text
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert Payment.objects.filter(invoice=invoice).count() == 1
