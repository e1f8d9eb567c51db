"""Webhooks: recording events, delivering them, and managing endpoints (docs/webhooks.md).

An event is recorded inside the transaction of the change (kernel.hooks.emit), with one
delivery per active endpoint subscribed to its type, and one job per delivery deferred
in that same transaction. A delivery job POSTs the event, signed; a failure is tried
again on the schedule below (about a day). Deliveries about one object to one endpoint
share a job lock, so they arrive in the order the changes happened. An endpoint whose
deliveries have failed without a success for a day is disabled and the Admins told.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone

from integrations.models import (
    EVENT_NAMES,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    new_secret,
)
from integrations.payloads import object_data
from kernel import jobs
from kernel.errors import DomainError, require_perm
from practice import versions
from practice.versions import SETTINGS_SQL

logger = logging.getLogger(__name__)

# Seconds to wait after the 1st, 2nd… failed attempt: 1 min, 5 min, 15 min, 30 min, 1 h,
# 2 h, 4 h, 8 h, 8 h: ten attempts over about 24 hours, then the delivery has failed.
DELAYS = [60, 300, 900, 1800, 3600, 7200, 14400, 28800, 28800]
MAX_ATTEMPTS = len(DELAYS) + 1
RETRY = jobs.retry_schedule(DELAYS)
DISABLE_AFTER = dt.timedelta(hours=24)
BODY_EXCERPT = 1000
MANAGE = "caspen.change_practicesettings"  # Settings (Admin) manage webhooks


def _timeout() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 10))


# ------------------------------------------------------------------ recording events


def lock_key(endpoint_id: int, object_type: str, object_id: int) -> str:
    return f"webhook:{endpoint_id}:{object_type}:{object_id}"


# The ids of the active endpoints subscribed to an event type, with the settings version
# they were read at (one statement). Endpoint changes bump that version (migration
# integrations 0002), so each process keeps the ids per version
# (`practice.versions.kept_as_read`): a booking's transaction does not read them again.
_SUBSCRIBED_SQL = f"""
    SELECT ({SETTINGS_SQL}),
           ARRAY(SELECT id FROM integrations_webhookendpoint
                 WHERE active AND events @> ARRAY[%s]::varchar[] ORDER BY id)"""  # noqa: S608 - no value pasted


def _subscribed_ids(event_type: str) -> list[int]:
    def read() -> tuple[int | None, list[int]]:
        with connection.cursor() as cursor:
            cursor.execute(_SUBSCRIBED_SQL, [event_type])
            version, ids = cursor.fetchone()
        return version, list(ids)

    return versions.kept_as_read(f"webhooks:{event_type}", read)


def webhook_event_record(*, event_type: str, instance: Any) -> WebhookEvent | None:
    """Record `event_type` about `instance` for every active endpoint subscribed to it
    (None when there is none), in the caller's transaction."""
    endpoints = _subscribed_ids(event_type)
    if not endpoints:
        return None
    object_type = event_type.split(".", 1)[0]
    event = WebhookEvent(type=event_type, object_type=object_type, object_id=instance.pk)
    event.created_at = timezone.now()
    event.payload = {
        "id": str(event.id),
        "type": event_type,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": object_data(object_type, instance.pk),
    }
    event.save()
    for endpoint_id in endpoints:
        _deliver_later(event, endpoint_id)
    return event


def _deliver_later(
    event: WebhookEvent, endpoint_id: int, resent_from: WebhookDelivery | None = None
) -> WebhookDelivery:
    from integrations.tasks import deliver_webhook

    delivery = WebhookDelivery.objects.create(
        event=event,
        endpoint_id=endpoint_id,
        resent_from=resent_from,
        next_attempt_at=timezone.now(),
    )
    delivery.job_id = jobs.defer(
        deliver_webhook,
        lock=lock_key(endpoint_id, event.object_type, event.object_id),
        delivery_id=delivery.pk,
    )
    delivery.save(update_fields=["job_id"])
    return delivery


# ------------------------------------------------------------------ delivering


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Caspen-Signature` header: `t=<timestamp>,v1=<hex HMAC-SHA256>` of
    "<timestamp>.<body>" keyed with the endpoint's secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@dataclass
class Response:
    status: int | None = None
    body: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx answer is a failed delivery, not a new destination


def check_url(url: str) -> str:
    """Refuse anything but an absolute http(s) URL (no file:, ftp:, gopher:…)."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DomainError(
            "invalid_url",
            "Enter an http:// or https:// address, such as https://example.com/caspen-hooks.",
            field="url",
        )
    if len(url) > 2000:
        raise DomainError("invalid_url", "The address is too long.", field="url")
    return url


def _post(url: str, body: bytes, headers: dict[str, str]) -> Response:
    try:
        check_url(url)  # again at sending: a row changed behind the services' back
    except DomainError:
        return Response(error="Not sent: only http:// and https:// addresses are allowed.")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (http(s) only: check_url)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)
    try:
        with opener.open(request, timeout=_timeout()) as answer:
            text = answer.read(BODY_EXCERPT).decode("utf-8", "replace")
            return Response(status=answer.status, body=text)
    except urllib.error.HTTPError as exc:
        text = exc.read(BODY_EXCERPT).decode("utf-8", "replace") if exc.fp else ""
        return Response(status=exc.code, body=text, error=f"HTTP {exc.code}")
    except TimeoutError:
        return Response(error=f"No answer within {_timeout():g} seconds.")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            return Response(error=f"No answer within {_timeout():g} seconds.")
        return Response(error=f"Could not connect: {reason}"[:500])


def _body(event: WebhookEvent) -> bytes:
    return json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_attempt(*, delivery_id: int) -> int | None:
    """Try a delivery once. Returns the seconds to wait before trying again, or None when
    it is done (succeeded, failed for good, or not to be sent)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("event", "endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return None
        if not delivery.endpoint.active:
            _give_up(delivery, "Not sent: the endpoint is disabled.")
            return None
    endpoint, event = delivery.endpoint, delivery.event
    body = _body(event)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Caspen-Webhooks/1",
        "Caspen-Signature": sign(endpoint.secret, timestamp, body),
        "Caspen-Event-Id": str(event.id),
        "Caspen-Event-Type": event.type,
    }
    answer = _post(endpoint.url, body, headers)
    return _record_attempt(delivery_id, answer)


def _record_attempt(delivery_id: int, answer: Response) -> int | None:
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        now = timezone.now()
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.response_status = answer.status
        delivery.response_body = answer.body
        delivery.error = "" if answer.ok else answer.error
        retry_in = None
        if answer.ok:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                endpoint.save(update_fields=["failing_since", "updated_at"])
        else:
            if endpoint.failing_since is None:
                endpoint.failing_since = now
                endpoint.save(update_fields=["failing_since", "updated_at"])
            elif endpoint.active and now - endpoint.failing_since >= DISABLE_AFTER:
                _disable_after_failures(endpoint, now)
            if endpoint.active and delivery.attempts < MAX_ATTEMPTS:
                retry_in = DELAYS[delivery.attempts - 1]
                delivery.next_attempt_at = now + dt.timedelta(seconds=retry_in)
            else:
                delivery.status = DeliveryStatus.FAILED
                delivery.next_attempt_at = None
        delivery.save()
    return retry_in


def _give_up(delivery: WebhookDelivery, why: str) -> None:
    delivery.status = DeliveryStatus.FAILED
    delivery.error = why
    delivery.next_attempt_at = None
    delivery.save(update_fields=["status", "error", "next_attempt_at"])


def _disable_after_failures(endpoint: WebhookEndpoint, now: dt.datetime) -> None:
    since = timezone.localtime(endpoint.failing_since).strftime("%-d %b %Y %H:%M")
    endpoint.active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = f"Every delivery failed since {since}."
    endpoint.save(update_fields=["active", "disabled_at", "disabled_reason", "updated_at"])
    WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED,
        error="Not sent: the endpoint was disabled.",
        next_attempt_at=None,
    )
    transaction.on_commit(lambda: _tell_admins(endpoint))


def _tell_admins(endpoint: WebhookEndpoint) -> None:
    from practice.roles import ADMIN

    emails = list(
        get_user_model()
        .objects.filter(is_active=True, groups__name=ADMIN)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    if not emails:
        return
    text = (
        f"Caspen disabled the webhook endpoint {endpoint.url}: {endpoint.disabled_reason}\n\n"
        "Nothing is sent to it until an Admin enables it again in Settings > Webhooks, "
        "where each delivery's answer is listed. Deliveries that failed can be resent "
        "from there.\n"
    )
    try:
        send_mail(
            "Caspen: a webhook endpoint was disabled",
            text,
            None,
            emails,
        )
    except Exception:
        logger.exception("Could not tell the Admins that webhook %s was disabled", endpoint.pk)


# ------------------------------------------------------------------ managing endpoints


def _check_events(events: Any) -> list[str]:
    chosen = list(dict.fromkeys(events or []))
    unknown = [name for name in chosen if name not in EVENT_NAMES]
    if unknown:
        raise DomainError(
            "unknown_event",
            f"Unknown event type: {', '.join(map(str, unknown))}.",
            field="events",
        )
    if not chosen:
        raise DomainError("events_required", "Choose at least one event.", field="events")
    return [name for name in EVENT_NAMES if name in chosen]


@transaction.atomic
def webhook_endpoint_create(
    *, url: str, events: list[str], description: str = "", by: Any
) -> WebhookEndpoint:
    require_perm(by, MANAGE)
    return WebhookEndpoint.objects.create(
        url=check_url(url),
        events=_check_events(events),
        description=(description or "").strip()[:200],
        secret=new_secret(),
        created_by=by if getattr(by, "pk", None) else None,
    )


@transaction.atomic
def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    by: Any,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> WebhookEndpoint:
    require_perm(by, MANAGE)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if url is not None:
        endpoint.url = check_url(url)
    if events is not None:
        endpoint.events = _check_events(events)
    if description is not None:
        endpoint.description = description.strip()[:200]
    if active is True and not endpoint.active:
        endpoint.active = True
        endpoint.disabled_at = None
        endpoint.disabled_reason = ""
        endpoint.failing_since = None
    elif active is False and endpoint.active:
        endpoint.active = False
        endpoint.disabled_at = timezone.now()
        endpoint.disabled_reason = "Disabled by an Admin."
    endpoint.save()
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, by: Any) -> None:
    require_perm(by, MANAGE)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


@transaction.atomic
def webhook_delivery_resend(*, delivery: WebhookDelivery, by: Any) -> WebhookDelivery:
    """Send the delivery's event to its endpoint again, as a new delivery (same event id:
    a receiver that already has it ignores it)."""
    require_perm(by, MANAGE)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    if not endpoint.active:
        raise DomainError(
            "endpoint_disabled", "The endpoint is disabled: enable it before resending."
        )
    return _deliver_later(delivery.event, endpoint.pk, resent_from=delivery)
