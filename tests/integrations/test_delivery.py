"""Webhook deliveries with a real worker (tests/jobs.py) to a real HTTP receiver."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from integrations.services import DELAYS, MAX_ATTEMPTS
from tests.integrations.conftest import verify


class Refused(Exception):
    pass


def test_a_rolled_back_booking_sends_nothing(jobs, practice, admin_user, receiver, endpoint_for):
    endpoint_for(receiver.url)
    with pytest.raises(Refused), transaction.atomic():
        practice.book(by=admin_user)
        assert WebhookDelivery.objects.count() == 1
        raise Refused
    assert WebhookEvent.objects.count() == 0
    assert jobs.job_rows("integrations.deliver_webhook") == []
    jobs.run_jobs()
    assert receiver.requests == []


def test_a_committed_booking_is_delivered_signed(
    jobs, practice, admin_user, receiver, endpoint_for
):
    endpoint = endpoint_for(receiver.url)
    appointment = practice.book(by=admin_user)
    jobs.run_jobs()
    (request,) = receiver.requests
    headers = request["headers"]
    assert verify(endpoint.secret, headers["Caspen-Signature"], request["body"])
    assert not verify("whsec_wrong", headers["Caspen-Signature"], request["body"])
    event = request["body"] and receiver.events()[0]
    assert event["type"] == "appointment.booked" == headers["Caspen-Event-Type"]
    assert event["id"] == headers["Caspen-Event-Id"]
    assert event["data"]["id"] == appointment.pk
    assert event["data"]["status"] == "booked"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == (
        DeliveryStatus.SUCCEEDED,
        1,
        200,
    )
    assert delivery.response_body == '{"received": true}'


def test_only_subscribed_active_endpoints_get_an_event(
    jobs, practice, admin_user, receiver, endpoint_for
):
    endpoint_for(receiver.url, events=["invoice.finalized"])
    practice.book(by=admin_user)
    assert WebhookEvent.objects.count() == 0
    jobs.run_jobs()
    assert receiver.requests == []


def test_500s_are_retried_on_the_schedule_until_delivered(
    jobs, practice, admin_user, receiver, endpoint_for
):
    endpoint_for(receiver.url)
    receiver.answers = [500, 503]
    practice.book(by=admin_user)
    jobs.run_jobs()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, 500)
    assert delivery.response_body == "oops"
    assert delivery.next_attempt_at - delivery.last_attempt_at == dt.timedelta(seconds=DELAYS[0])
    jobs.run_jobs()  # not due for a minute
    assert len(receiver.requests) == 1
    jobs.make_due()
    jobs.run_jobs()
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_status) == (2, 503)
    assert delivery.next_attempt_at - delivery.last_attempt_at == dt.timedelta(seconds=DELAYS[1])
    jobs.make_due()
    jobs.run_jobs()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    # the same event each time
    assert len({r["headers"]["Caspen-Event-Id"] for r in receiver.requests}) == 1


def test_a_timeout_is_a_failed_attempt_and_retried(
    jobs, practice, admin_user, receiver, endpoint_for, settings
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    endpoint_for(receiver.url)
    receiver.answers = [("sleep", 1.5)]
    practice.book(by=admin_user)
    jobs.run_jobs()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, None)
    assert "No answer within 0.5 seconds" in delivery.error
    jobs.make_due()
    jobs.run_jobs()
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"


def test_a_delivery_gives_up_after_the_last_attempt(
    jobs, practice, admin_user, receiver, endpoint_for
):
    endpoint = endpoint_for(receiver.url)
    receiver.answers = [500] * MAX_ATTEMPTS
    practice.book(by=admin_user)
    for _ in range(MAX_ATTEMPTS):
        jobs.make_due()
        jobs.run_jobs()
        # keep the endpoint from being disabled: this test is about one delivery
        type(endpoint).objects.filter(pk=endpoint.pk).update(failing_since=timezone.now())
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)
    assert len(receiver.requests) == MAX_ATTEMPTS
    assert sum(DELAYS) / 3600 == pytest.approx(23.85, abs=0.1)  # about a day
    jobs.make_due()
    jobs.run_jobs()
    assert len(receiver.requests) == MAX_ATTEMPTS


def test_deliveries_about_one_object_arrive_in_order_even_across_retries(
    jobs, practice, admin_user, receiver, endpoint_for
):
    from calendar_app.services import appointment_cancel, appointment_edit

    endpoint_for(receiver.url)
    first = practice.book(by=admin_user, hour=9)
    # Its first delivery (booked) fails once; the other appointment's, sent by another
    # worker at the same time, may reach the receiver first and must not take the 500.
    receiver.fail_once_about = {first.pk}
    other = practice.book(by=admin_user, hour=14)
    appointment_edit(appointment=first, by=admin_user, notes="Bring referral")
    appointment_cancel(appointment=first, reason=practice.reason, by=admin_user)
    jobs.run_jobs(concurrency=4)
    about_first = [e["type"] for e in receiver.events() if e["data"]["id"] == first.pk]
    assert about_first == ["appointment.booked"]  # failed; the later ones wait behind it
    assert [e["type"] for e in receiver.events() if e["data"]["id"] == other.pk] == [
        "appointment.booked"
    ]
    jobs.make_due()
    jobs.run_jobs(concurrency=4)
    about_first = [e["type"] for e in receiver.events() if e["data"]["id"] == first.pk]
    assert about_first == [
        "appointment.booked",
        "appointment.booked",
        "appointment.changed",
        "appointment.canceled",
    ]


def test_an_endpoint_failing_for_a_day_is_disabled_and_the_admins_told(
    jobs, practice, admin_user, receiver, endpoint_for
):
    admin_user.email = "alice@example.com"
    admin_user.save()
    endpoint = endpoint_for(receiver.url)
    receiver.answers = [500] * 20
    practice.book(by=admin_user)
    jobs.run_jobs()
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.failing_since is not None
    # A day of failures later (the earlier attempts happened a day ago):
    type(endpoint).objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - dt.timedelta(hours=24, minutes=1)
    )
    practice.book(by=admin_user, hour=15)
    jobs.make_due()
    jobs.run_jobs()
    endpoint.refresh_from_db()
    assert not endpoint.active
    assert endpoint.disabled_reason.startswith("Every delivery failed since")
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"failed"}
    # (The bookings' confirmation emails to the client are in the outbox too: issue 14.)
    (message,) = [m for m in mail.outbox if m.to == ["alice@example.com"]]
    assert endpoint.url in message.body
    sent = len(receiver.requests)
    practice.book(by=admin_user, hour=16)  # a disabled endpoint gets nothing
    jobs.run_jobs()
    assert len(receiver.requests) == sent


def test_a_success_clears_the_failing_clock(jobs, practice, admin_user, receiver, endpoint_for):
    endpoint = endpoint_for(receiver.url)
    receiver.answers = [500]
    practice.book(by=admin_user)
    jobs.run_jobs()
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    jobs.make_due()
    jobs.run_jobs()
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_resend_delivers_the_same_event_again(jobs, practice, admin_user, receiver, endpoint_for):
    from integrations.services import webhook_delivery_resend

    endpoint_for(receiver.url)
    practice.book(by=admin_user)
    jobs.run_jobs()
    delivery = WebhookDelivery.objects.get()
    again = webhook_delivery_resend(delivery=delivery, by=admin_user)
    jobs.run_jobs()
    again.refresh_from_db()
    assert again.status == "succeeded" and again.resent_from == delivery
    first, second = receiver.events()
    assert first == second  # same id: the receiver de-duplicates


def test_every_event_type_is_sent(jobs, practice, admin_user, receiver, endpoint_for):
    from invoicing.models import PaymentMethod
    from invoicing.services import (
        invoice_finalize,
        invoice_for_client_package,
        payment_record,
        payment_refund,
    )
    from packages.services import client_package_cancel

    endpoint_for(receiver.url)
    sold = practice.sell(by=admin_user)
    invoice = invoice_for_client_package(
        client_package=sold,
        practitioner=practice.practitioner,
        location=practice.location,
        by=admin_user,
    )
    invoice = invoice_finalize(invoice=invoice, by=admin_user)
    payment = payment_record(
        invoice=invoice, amount="10.00", method=PaymentMethod.objects.first(), by=admin_user
    )
    payment_refund(payment=payment, amount="5.00", reason="Goodwill", by=admin_user)
    client_package_cancel(client_package=sold, reason="Moved away", by=admin_user)
    jobs.run_jobs(concurrency=4)
    types = sorted(e["type"] for e in receiver.events())
    assert types == sorted(
        [
            "client_package.sold",
            "invoice.finalized",
            "payment.recorded",
            "payment.refunded",
            "client_package.canceled",
        ]
    )
    refunded = next(e for e in receiver.events() if e["type"] == "payment.refunded")
    assert refunded["data"]["refunded"] == "5.00"


def test_a_non_http_address_is_never_contacted(jobs, practice, admin_user, receiver, endpoint_for):
    """Refused when registered (tests/integrations/test_api.py), and again at sending if the
    row was changed behind the services' back."""
    endpoint = endpoint_for(receiver.url)
    type(endpoint).objects.filter(pk=endpoint.pk).update(url="file:///etc/passwd")
    practice.book(by=admin_user)
    jobs.run_jobs()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "only http:// and https://" in delivery.error
    assert receiver.requests == []
