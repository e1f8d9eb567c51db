"""Settings > Webhooks: Admin only; add (the secret shown once), edit, disable after a
confirmation, enable, delete, deliveries with Resend."""

from __future__ import annotations

import pytest
from django.urls import reverse

from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _endpoint(**kw):
    return WebhookEndpoint.objects.create(
        url=kw.pop("url", "https://crm.example.com/hooks"),
        events=kw.pop("events", ["appointment.booked"]),
        **kw,
    )


def _delivery(endpoint, status=DeliveryStatus.FAILED):
    event = WebhookEvent.objects.create(
        type="appointment.booked", object_type="appointment", object_id=7, payload={"id": "x"}
    )
    return WebhookDelivery.objects.create(
        event=event, endpoint=endpoint, status=status, attempts=10, response_status=500
    )


def test_other_roles_are_refused(client, reception, accountant):
    endpoint = _endpoint()
    for user in (reception, accountant):
        client.force_login(user)
        for url in (
            reverse("webhooks:list"),
            reverse("webhooks:add"),
            reverse("webhooks:detail", args=[endpoint.pk]),
        ):
            assert client.get(url).status_code == 403
        assert client.post(reverse("webhooks:delete", args=[endpoint.pk])).status_code == 403
    assert WebhookEndpoint.objects.count() == 1


def test_add_shows_the_secret_once(admin_client):
    page = admin_client.get(reverse("webhooks:list"))
    assert b"No webhooks yet" in page.content
    assert b'href="/settings/webhooks/"' in page.content  # in the Settings navigation
    response = admin_client.post(
        reverse("webhooks:add"),
        {
            "url": "https://crm.example.com/hooks",
            "events": ["appointment.booked", "payment.recorded"],
        },
    )
    assert response.status_code == 201
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.encode() in response.content
    assert b"you will not see it again" in response.content
    assert "no-store" in response.headers.get("Cache-Control", "")
    assert endpoint.events == ["appointment.booked", "payment.recorded"]
    detail = admin_client.get(reverse("webhooks:detail", args=[endpoint.pk]))
    assert endpoint.secret.encode() not in detail.content


@pytest.mark.parametrize(
    "data, message",
    [
        ({"url": "ftp://example.com/x", "events": ["appointment.booked"]}, b"http://"),
        ({"url": "javascript:alert(1)", "events": ["appointment.booked"]}, b"http://"),
        ({"url": "https://example.com/x"}, b"Choose at least one event."),
        ({"url": "https://example.com/x", "events": ["nope"]}, b"Select a valid choice"),
    ],
)
def test_bad_input_is_shown_beside_the_field(admin_client, data, message):
    response = admin_client.post(reverse("webhooks:add"), data)
    assert response.status_code in (400, 409)
    assert message in response.content
    assert WebhookEndpoint.objects.count() == 0


def test_disable_asks_first_then_enable_and_delete(admin_client):
    endpoint = _endpoint()
    confirm = admin_client.get(reverse("webhooks:disable", args=[endpoint.pk]))
    assert b"Disable this webhook?" in confirm.content
    endpoint.refresh_from_db()
    assert endpoint.active
    admin_client.post(reverse("webhooks:disable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert not endpoint.active
    admin_client.post(reverse("webhooks:enable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.disabled_at is None
    assert (
        b"Delete this webhook?"
        in admin_client.get(reverse("webhooks:delete", args=[endpoint.pk])).content
    )
    admin_client.post(reverse("webhooks:delete", args=[endpoint.pk]))
    assert not WebhookEndpoint.objects.exists()


def test_a_disabled_endpoint_is_announced_on_the_list(admin_client):
    from django.utils import timezone

    now = timezone.now()
    _endpoint(
        active=False,
        failing_since=now,
        disabled_at=now,
        disabled_reason="Every delivery failed since 1 Dec 2026 09:00.",
    )
    page = admin_client.get(reverse("webhooks:list"))
    assert b"Caspen disabled the webhook to https://crm.example.com/hooks" in page.content


def test_deliveries_are_listed_with_resend(admin_client):
    endpoint = _endpoint()
    delivery = _delivery(endpoint)
    page = admin_client.get(reverse("webhooks:detail", args=[endpoint.pk]))
    assert b"appointment.booked" in page.content and b"Resend" in page.content
    admin_client.post(reverse("webhooks:resend", args=[endpoint.pk, delivery.pk]))
    again = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert (again.status, again.resent_from_id, again.event_id) == (
        "pending",
        delivery.pk,
        delivery.event_id,
    )
