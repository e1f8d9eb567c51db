"""The places where SMS/email would hook in (kernel/hooks.py): each signal is sent once,
after the change commits, never for a refusal or a rolled-back change, and a failing
receiver cannot fail the change."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.db import transaction

from calendar_app.models import Appointment
from calendar_app.services import (
    appointment_book_series,
    appointment_cancel,
    appointment_edit,
)
from invoicing.models import Invoice, Payment
from invoicing.services import invoice_finalize, invoice_for_appointment, payment_record
from kernel import hooks
from tests.factories import PaymentMethodFactory, next_local
from tests.refusals import refused

pytestmark = pytest.mark.django_db

SIGNALS = {
    "booked": hooks.appointments_booked,
    "changed": hooks.appointments_changed,
    "canceled": hooks.appointments_canceled,
    "finalized": hooks.invoice_finalized,
    "paid": hooks.payment_recorded,
}


@pytest.fixture
def heard():
    """Every hook sent during the test: (name, sender, kwargs)."""
    calls: list[tuple[str, type, dict]] = []
    receivers = {}
    for name, signal in SIGNALS.items():

        def receiver(sender, signal=None, _name=name, **kwargs):
            calls.append((_name, sender, kwargs))

        receivers[name] = receiver
        signal.connect(receiver, weak=False)
    yield calls
    for name, signal in SIGNALS.items():
        signal.disconnect(receivers[name])


def test_a_booking_is_announced_once_after_commit(
    practice, reception, heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as pending:
        appointment = practice.book(by=reception)
        assert heard == []  # not before the transaction commits
    for callback in pending:
        callback()
    assert heard == [
        ("booked", Appointment, {"appointments": [appointment], "series": None, "by": reception})
    ]


def test_a_series_is_announced_once_with_all_its_appointments(
    practice, reception, heard, django_capture_on_commit_callbacks
):
    start = next_local(hour=9, days=7)
    with django_capture_on_commit_callbacks(execute=True):
        series = appointment_book_series(
            client=practice.client,
            practitioner=practice.practitioner,
            location=practice.location,
            service=practice.follow_up,
            starts_at=start,
            every_weeks=1,
            weekdays=[start.weekday()],
            count=3,
            by=reception,
        )
    [(name, _sender, kwargs)] = heard
    assert name == "booked" and kwargs["series"] == series
    assert [a.pk for a in kwargs["appointments"]] == list(
        series.appointments.order_by("starts_at").values_list("pk", flat=True)
    )


def test_a_refused_booking_announces_nothing(
    practice, reception, heard, django_capture_on_commit_callbacks
):
    first = practice.book(by=reception)
    with django_capture_on_commit_callbacks(execute=True), refused("overlap"):
        practice.book(by=reception, starts_at=first.starts_at)  # the same slot
    assert heard == []


def test_a_rolled_back_booking_announces_nothing(
    practice, reception, heard, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        practice.book(by=reception)
        raise RuntimeError("the caller's transaction fails after the booking")
    assert heard == []
    assert not Appointment.objects.exists()


def test_moving_and_canceling_are_announced(
    practice, reception, heard, django_capture_on_commit_callbacks
):
    appointment = practice.book(by=None)
    later = appointment.starts_at + dt.timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        appointment_edit(appointment=appointment, starts_at=later, by=reception)
        appointment_cancel(appointment=appointment, reason=practice.reason, by=reception)
    assert [(name, kwargs.get("fields"), kwargs.get("reason")) for name, _s, kwargs in heard] == [
        ("changed", {"starts_at"}, None),
        ("canceled", None, practice.reason),
    ]
    assert heard[0][2]["appointments"][0].starts_at == later


def test_finalizing_and_paying_are_announced(
    practice, reception, heard, django_capture_on_commit_callbacks
):
    appointment = practice.book(by=None)
    draft = invoice_for_appointment(appointment=appointment, by=None)
    cash = PaymentMethodFactory(name="Cash")
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_finalize(invoice=draft, by=reception)
        payment = payment_record(invoice=invoice, amount="10.00", method=cash, by=reception)
    assert [(name, sender) for name, sender, _kwargs in heard] == [
        ("finalized", Invoice),
        ("paid", Payment),
    ]
    assert heard[0][2]["invoice"].number == invoice.number
    assert heard[1][2]["payment"] == payment


def test_a_failing_receiver_is_logged_and_the_booking_stands(
    practice, reception, django_capture_on_commit_callbacks, caplog
):
    def broken(sender, **kwargs):
        raise ConnectionError("SMS gateway down")

    hooks.appointments_booked.connect(broken, weak=False)
    try:
        with (
            caplog.at_level(logging.ERROR, logger="kernel.hooks"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            appointment = practice.book(by=reception)
    finally:
        hooks.appointments_booked.disconnect(broken)
    assert Appointment.objects.filter(pk=appointment.pk).exists()
    assert "A receiver of a Caspen hook failed" in caplog.text
    assert "SMS gateway down" in caplog.text
