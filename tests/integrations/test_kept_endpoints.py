"""Issue 10: each process keeps the endpoints subscribed to an event type per settings
version (integrations.services, practice.versions.kept_as_read), so a booking's
transaction does not read them again; any change of an endpoint bumps that version
(migration integrations 0002) and is seen by the next request, and a change rolled back
is never delivered to."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from integrations.models import WebhookDelivery, WebhookEndpoint
from integrations.services import webhook_endpoint_create, webhook_event_record
from practice.versions import versions_scope

pytestmark = pytest.mark.django_db

URL = "https://books.example.com/hooks"


def _record(appointment):
    """One request's event (its own versions scope, as a request has)."""
    with versions_scope(), CaptureQueriesContext(connection) as queries:
        event = webhook_event_record(event_type="appointment.booked", instance=appointment)
    endpoint_reads = [q for q in queries.captured_queries if "webhookendpoint" in q["sql"]]
    return event, len(endpoint_reads)


def test_the_endpoints_are_read_once_per_version_and_a_change_is_seen_next(practice, admin_user):
    appointment = practice.book(by=None)  # its event read the endpoints (none)
    assert _record(appointment) == (None, 0)  # kept: no read

    endpoint = webhook_endpoint_create(url=URL, events=["appointment.booked"], by=admin_user)
    event, reads = _record(appointment)
    assert reads == 1 and event is not None
    assert list(WebhookDelivery.objects.filter(event=event).values_list("endpoint", flat=True)) == [
        endpoint.pk
    ]
    event, reads = _record(appointment)
    assert reads == 0 and event is not None

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)  # a bulk update too
    assert _record(appointment) == (None, 1)


def test_an_endpoint_rolled_back_is_never_delivered_to(practice, admin_user):
    appointment = practice.book(by=None)
    assert _record(appointment)[0] is None
    with pytest.raises(RuntimeError), transaction.atomic():
        webhook_endpoint_create(url=URL, events=["appointment.booked"], by=admin_user)
        event, _ = _record(appointment)  # seen inside its own transaction, and kept there
        assert event is not None
        raise RuntimeError("rolled back")
    event, reads = _record(appointment)
    assert event is None and reads == 1
    assert not WebhookEndpoint.objects.exists()
