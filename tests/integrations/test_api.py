"""`/api/v1/webhooks/`: Admin only, the secret shown once, deliveries and Resend; and the
integrator's journey end to end."""

from __future__ import annotations

import pytest

from integrations.models import WebhookDelivery, WebhookEndpoint
from tests.api.conftest import api_client
from tests.factories import next_local
from tests.integrations.conftest import verify

V1 = "/api/v1"
BODY = {"url": "https://books.example.com/hooks", "events": ["appointment.booked"]}


@pytest.mark.parametrize("role", ["reception", "practitioner", "accountant"])
def test_only_admins_manage_webhooks(request, role, admin_user):
    user = request.getfixturevalue({"practitioner": "practitioner_user"}.get(role, role))
    client = api_client(user)
    endpoint = WebhookEndpoint.objects.create(
        url="https://x.example/h", events=["invoice.finalized"]
    )
    assert client.get(f"{V1}/webhooks/").status_code == 403
    assert client.post(f"{V1}/webhooks/", BODY, format="json").status_code == 403
    assert client.get(f"{V1}/webhooks/{endpoint.pk}/").status_code == 403
    assert (
        client.patch(f"{V1}/webhooks/{endpoint.pk}/", {"active": False}, format="json").status_code
        == 403
    )
    assert client.delete(f"{V1}/webhooks/{endpoint.pk}/").status_code == 403
    assert client.get(f"{V1}/webhooks/{endpoint.pk}/deliveries/").status_code == 403
    assert api_client().get(f"{V1}/webhooks/").status_code == 401


def test_the_secret_is_shown_once(admin_user):
    client = api_client(admin_user)
    created = client.post(f"{V1}/webhooks/", BODY, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["events"] == ["appointment.booked"] and body["active"] is True
    again = client.get(f"{V1}/webhooks/{body['id']}/").json()
    assert "secret" not in again
    listed = client.get(f"{V1}/webhooks/").json()
    assert all("secret" not in row for row in listed["results"])


@pytest.mark.parametrize(
    "body, field",
    [
        ({**BODY, "url": "file:///etc/passwd"}, "url"),
        ({**BODY, "url": "ftp://example.com/x"}, "url"),
        ({**BODY, "url": "not a url"}, "url"),
        ({**BODY, "events": []}, "events"),
        ({**BODY, "events": ["appointment.exploded"]}, "events"),
    ],
)
def test_bad_input_is_a_400_by_field(admin_user, body, field):
    response = api_client(admin_user).post(f"{V1}/webhooks/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_update_disable_enable_and_delete(admin_user):
    client = api_client(admin_user)
    pk = client.post(f"{V1}/webhooks/", BODY, format="json").json()["id"]
    off = client.patch(f"{V1}/webhooks/{pk}/", {"active": False}, format="json").json()
    assert off["active"] is False and off["disabled_reason"] == "Disabled by an Admin."
    on = client.patch(
        f"{V1}/webhooks/{pk}/", {"active": True, "events": ["payment.recorded"]}, format="json"
    ).json()
    assert (on["active"], on["disabled_at"], on["events"]) == (True, None, ["payment.recorded"])
    assert client.delete(f"{V1}/webhooks/{pk}/").status_code == 204
    assert client.get(f"{V1}/webhooks/{pk}/").status_code == 404
    assert client.get(f"{V1}/webhooks/abc/").status_code == 404


def test_register_book_and_receive_the_signed_event_end_to_end(
    jobs, practice, admin_user, reception, receiver
):
    """The integrator's journey: register a webhook with an Admin key, book through the
    API with a Reception key, receive the signed `appointment.booked`."""
    admin = api_client(admin_user)
    created = admin.post(
        f"{V1}/webhooks/", {"url": receiver.url, "events": ["appointment.booked"]}, format="json"
    ).json()
    booked = api_client(reception).post(
        f"{V1}/appointments/",
        {
            "client": practice.client.pk,
            "practitioner": practice.practitioner.pk,
            "location": practice.location.pk,
            "service": practice.follow_up.pk,
            "starts_at": next_local(hour=10, days=3).isoformat(),
        },
        format="json",
    )
    assert booked.status_code == 201
    jobs.run_jobs()
    (request,) = receiver.requests
    assert verify(created["secret"], request["headers"]["Caspen-Signature"], request["body"])
    (event,) = receiver.events()
    assert event["type"] == "appointment.booked"
    assert event["data"] == booked.json()  # the object as the API shows it

    deliveries = admin.get(f"{V1}/webhooks/{created['id']}/deliveries/").json()["results"]
    assert [(d["event_type"], d["status"], d["response_status"]) for d in deliveries] == [
        ("appointment.booked", "succeeded", 200)
    ]
    resent = admin.post(f"{V1}/webhooks/{created['id']}/deliveries/{deliveries[0]['id']}/resend/")
    assert resent.status_code == 201 and resent.json()["resent_from"] == deliveries[0]["id"]
    jobs.run_jobs()
    assert len(receiver.requests) == 2
    assert receiver.events()[1]["id"] == event["id"]
    assert WebhookDelivery.objects.filter(status="succeeded").count() == 2
