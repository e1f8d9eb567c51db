"""DOMAIN.md: every change to clients, packages, ledger, appointments, invoices and
payments records who, when and what; the ledger is append-only (issue: Trust, audit)."""

import pghistory
import pytest
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from pghistory.models import Events

from calendar_app.services import appointment_link, appointment_unlink
from clients.models import Client, ClientAccess
from clients.services import client_access_record
from kernel.audit import describe_events, history_for
from packages.models import CreditLedgerEntry

pytestmark = pytest.mark.django_db


def test_changes_record_who_when_from_where(practice, reception):
    with pghistory.context(user=reception.pk, ip="192.0.2.7", url="/calendar/"):
        sold = practice.sell(by=reception)
        appointment = practice.book(by=reception)
        appointment_link(appointment=appointment, client_package=sold, by=reception)
    events = list(
        Events.objects.references(sold).filter(pgh_model="packages.CreditLedgerEntryEvent")
    )
    assert {e.pgh_label for e in events} == {"insert"}
    assert all(
        e.pgh_context == {"user": reception.pk, "ip": "192.0.2.7", "url": "/calendar/"}
        for e in events
    )
    assert all(e.pgh_created_at is not None for e in events)


def test_every_change_to_invoices_and_payments_records_who_when_and_what(practice, accountant):
    from decimal import Decimal

    from invoicing.models import PaymentMethod
    from invoicing.services import (
        invoice_create,
        invoice_finalize,
        payment_record,
        payment_refund,
        payment_void,
    )

    with pghistory.context(user=accountant.pk, ip="192.0.2.8", url="/billing/"):
        invoice = invoice_create(
            client=practice.client,
            practitioner=practice.practitioner,
            location=practice.location,
            lines=[{"description": "Consultation", "quantity": 1, "unit_price": Decimal("90")}],
            by=accountant,
        )
        invoice_finalize(invoice=invoice, by=accountant)
        cash = PaymentMethod.objects.get_or_create(name="Cash")[0]
        kept = payment_record(invoice=invoice, amount="50", method=cash, by=accountant)
        payment_refund(payment=kept, amount="10", reason="Overcharged", by=accountant)
        mistake = payment_record(invoice=invoice, amount="20", method=cash, by=accountant)
        payment_void(payment=mistake, by=accountant)
    events = Events.objects.filter(pgh_context__user=accountant.pk)
    for model in ("Invoice", "InvoiceLine", "Payment", "Refund"):
        inserted = events.filter(pgh_model=f"invoicing.{model}Event", pgh_label="insert")
        assert inserted.exists(), model
        assert all(e.pgh_created_at is not None for e in inserted), model
    finalized = events.get(pgh_model="invoicing.InvoiceEvent", pgh_label="update")
    assert finalized.pgh_diff["status"] == ["draft", "open"]
    voided = events.get(
        pgh_model="invoicing.PaymentEvent", pgh_obj_id=mistake.pk, pgh_label="update"
    )
    assert voided.pgh_diff["status"] == ["active", "void"]


def test_bulk_updates_are_audited_too(practice):
    Client.objects.filter(pk=practice.client.pk).update(phone="0299998888")
    update = Events.objects.tracks(practice.client).get(pgh_label="update")
    assert update.pgh_diff["phone"][1] == "0299998888"


def test_deletes_are_audited(practice, reception):
    from calendar_app.services import appointment_delete

    appointment = practice.book(by=reception)
    pk = appointment.pk
    appointment_delete(appointment=appointment, by=reception)
    assert Events.objects.filter(
        pgh_model="calendar_app.AppointmentEvent", pgh_obj_id=pk, pgh_label="delete"
    ).exists()


def test_history_of_a_client_includes_its_packages_and_appointments(practice, reception):
    sold = practice.sell(by=reception)
    appointment = practice.book(by=reception, client_package=sold)
    appointment_unlink(appointment=appointment, by=reception)
    models = {e.pgh_model for e in history_for(practice.client)}
    assert {
        "clients.ClientEvent",
        "packages.ClientPackageEvent",
        "calendar_app.AppointmentEvent",
    } <= models


def test_history_rows_name_the_user_and_the_change(practice, reception):
    with pghistory.context(user=reception.pk, ip="192.0.2.9"):
        Client.objects.filter(pk=practice.client.pk).update(first_name="Joanna")
    rows = describe_events(history_for(practice.client, related=False))
    changed = next(r for r in rows if r["what"] == "Client changed")
    assert changed["who"] == reception
    assert changed["ip"] == "192.0.2.9"
    assert ("first_name", "Jo", "Joanna") in changed["changes"]


def _refused(sql, params):
    with pytest.raises(DatabaseError) as exc, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(exc.value)


# The app's role has no UPDATE or DELETE on append-only tables (kernel/database.py), so
# PostgreSQL refuses by privilege before the triggers run; tests/trust/test_privileges.py
# shows the triggers still refuse the tables' owner.


def test_ledger_rows_cannot_be_updated_or_deleted_even_with_raw_sql(practice):
    sold = practice.sell()
    row = CreditLedgerEntry.objects.filter(client_package=sold).first()
    assert "permission denied" in _refused(
        "UPDATE packages_creditledgerentry SET quantity = 99 WHERE id = %s", [row.pk]
    )
    assert "permission denied" in _refused(
        "DELETE FROM packages_creditledgerentry WHERE id = %s", [row.pk]
    )
    row.refresh_from_db()
    assert row.quantity != 99


def test_audit_events_cannot_be_updated_or_deleted(practice):
    event = Events.objects.tracks(practice.client).first()
    table = "clients_clientevent"
    assert "permission denied" in _refused(
        f"UPDATE {table} SET first_name = 'x' WHERE pgh_id = %s", [event.pgh_id]
    )  # noqa: S608
    assert "permission denied" in _refused(f"DELETE FROM {table} WHERE pgh_id = %s", [event.pgh_id])  # noqa: S608


def test_viewing_a_client_is_logged_as_an_access(practice, reception):
    request = RequestFactory().get(f"/clients/{practice.client.pk}/", REMOTE_ADDR="198.51.100.4")
    request.user = reception
    client_access_record(client=practice.client, request=request)
    access = ClientAccess.objects.get(client=practice.client)
    assert (access.user, access.ip, access.path) == (
        reception,
        "198.51.100.4",
        f"/clients/{practice.client.pk}/",
    )
    assert "permission denied" in _refused(
        "DELETE FROM clients_clientaccess WHERE id = %s", [access.pk]
    )


def test_request_context_is_attached_by_the_middleware(practice, reception, client):
    """A write made while serving a request carries its user, URL and address."""

    from kernel.middleware import AuditContextMiddleware

    def view(request):
        Client.objects.filter(pk=practice.client.pk).update(notes="seen")
        from django.http import HttpResponse

        return HttpResponse("ok")

    request = RequestFactory().post("/some/page/", REMOTE_ADDR="203.0.113.5")
    request.user = reception
    AuditContextMiddleware(view)(request)
    update = Events.objects.tracks(practice.client).get(pgh_label="update")
    assert update.pgh_context["user"] == reception.pk
    assert update.pgh_context["ip"] == "203.0.113.5"
    assert update.pgh_context["url"] == "/some/page/"
    assert update.pgh_context["method"] == "POST"
