"""Every REST API operation the battery calls, with a valid body; `send` and
`refused_api` call them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.factories import next_local
from tests.trust.bad_input.common import (
    World,
    fingerprint,
)

V1 = "/api/v1"


@dataclass(frozen=True)
class Endpoint:
    """An API operation: method, path and a valid body, as functions of the world."""

    method: str
    path: Callable[[World], str]
    body: Callable[[World], dict[str, Any]] = field(default=lambda w: {})
    role: str = "admin"


ENDPOINTS: dict[str, Endpoint] = {
    "client-create": Endpoint(
        "post",
        lambda w: f"{V1}/clients/",
        lambda w: {"first_name": "Ann", "last_name": "Lee"},
        "reception",
    ),
    "client-patch": Endpoint(
        "patch", lambda w: f"{V1}/clients/{w.client.pk}/", lambda w: {"notes": "Knee"}, "reception"
    ),
    "service-create": Endpoint(
        "post",
        lambda w: f"{V1}/services/",
        lambda w: {"name": "Dry needling", "duration_minutes": 30, "price": "80.00"},
    ),
    "package-create": Endpoint(
        "post",
        lambda w: f"{V1}/packages/",
        lambda w: {
            "name": "Ten pack",
            "description": "Ten sessions",
            "credits": 10,
            "price": "800.00",
            "services": [{"service": w.practice.follow_up.pk}],
        },
    ),
    "package-create-fixed": Endpoint(
        "post",
        lambda w: f"{V1}/packages/",
        lambda w: {
            "name": "Three pack",
            "kind": "fixed",
            "credits": 3,
            "price": "240.00",
            "services": [{"service": w.practice.follow_up.pk, "allowance": 3}],
            "expires_after": {"value": 3, "unit": "months"},
        },
    ),
    "tax-rate-create": Endpoint(
        "post", lambda w: f"{V1}/tax-rates/", lambda w: {"name": "VAT", "rate": "20.00"}
    ),
    "location-create": Endpoint(
        "post",
        lambda w: f"{V1}/locations/",
        lambda w: {"name": "Beach Rd", "address": "2 Beach Rd"},
    ),
    "practitioner-create": Endpoint(
        "post",
        lambda w: f"{V1}/practitioners/",
        lambda w: {"name": "Kim Osteo", "colour": "#2f7d6d"},
    ),
    "payment-method-create": Endpoint(
        "post", lambda w: f"{V1}/payment-methods/", lambda w: {"name": "Voucher"}
    ),
    "cancellation-reason-create": Endpoint(
        "post", lambda w: f"{V1}/cancellation-reasons/", lambda w: {"name": "Weather"}
    ),
    "sell": Endpoint(
        "post",
        lambda w: f"{V1}/client-packages/",
        lambda w: {"client": w.client.pk, "package": w.practice.flexible.pk},
        "reception",
    ),
    "extend": Endpoint(
        "patch",
        lambda w: f"{V1}/client-packages/{w.fixed.pk}/",
        lambda w: {
            "expires_on": (w.fixed.expires_on + dt.timedelta(days=30)).isoformat(),
            "reason": "Away for a month",
        },
    ),
    "package-cancel": Endpoint(
        "post",
        lambda w: f"{V1}/client-packages/{w.flexi.pk}/cancel/",
        lambda w: {"reason": "Moved"},
    ),
    "package-cancel-canceled": Endpoint(
        "post",
        lambda w: f"{V1}/client-packages/{w.canceled.pk}/cancel/",
        lambda w: {"reason": "Again"},
    ),
    "adjust": Endpoint(
        "post",
        lambda w: f"{V1}/client-packages/{w.flexi.pk}/adjust/",
        lambda w: {"quantity": 1, "reason": "Goodwill"},
    ),
    "adjust-completed": Endpoint(
        "post",
        lambda w: f"{V1}/client-packages/{w.completed.pk}/adjust/",
        lambda w: {"quantity": -1, "reason": "Typo"},
    ),
    "package-invoice": Endpoint(
        "post",
        lambda w: f"{V1}/client-packages/{w.flexi.pk}/invoice/",
        lambda w: {"practitioner": w.practice.practitioner.pk, "location": w.practice.location.pk},
        "reception",
    ),
    "book": Endpoint(
        "post",
        lambda w: f"{V1}/appointments/",
        lambda w: {
            "client": w.client.pk,
            "practitioner": w.practice.practitioner.pk,
            "location": w.practice.location.pk,
            "service": w.practice.follow_up.pk,
            "starts_at": next_local(hour=11, days=10).isoformat(),
            "notes": "Bring shoes",
        },
        "reception",
    ),
    "appointment-patch": Endpoint(
        "patch",
        lambda w: f"{V1}/appointments/{w.appointment.pk}/",
        lambda w: {"notes": "Moved"},
        "reception",
    ),
    "link": Endpoint(
        "post",
        lambda w: f"{V1}/appointments/{w.appointment.pk}/link/",
        lambda w: {"client_package": w.flexi.pk},
        "reception",
    ),
    "link-linked": Endpoint(
        "post",
        lambda w: f"{V1}/appointments/{w.linked.pk}/link/",
        lambda w: {"client_package": w.flexi.pk},
        "reception",
    ),
    "unlink-unlinked": Endpoint(
        "post", lambda w: f"{V1}/appointments/{w.appointment.pk}/unlink/", role="reception"
    ),
    "appointment-cancel": Endpoint(
        "post",
        lambda w: f"{V1}/appointments/{w.appointment.pk}/cancel/",
        lambda w: {"reason": w.practice.reason.pk},
        "reception",
    ),
    "invoice-create": Endpoint(
        "post",
        lambda w: f"{V1}/invoices/",
        lambda w: {
            "client": w.client.pk,
            "practitioner": w.practice.practitioner.pk,
            "location": w.practice.location.pk,
            "notes": "Thank you",
            "lines": [{"description": "Massage", "quantity": "1", "unit_price": "60.00"}],
        },
        "reception",
    ),
    "invoice-patch": Endpoint(
        "patch",
        lambda w: f"{V1}/invoices/{w.draft.pk}/",
        lambda w: {"notes": "Thanks"},
        "reception",
    ),
    "invoice-patch-open": Endpoint(
        "patch", lambda w: f"{V1}/invoices/{w.open.pk}/", lambda w: {"notes": "Thanks"}, "reception"
    ),
    "pay": Endpoint(
        "post",
        lambda w: f"{V1}/invoices/{w.open.pk}/payments/",
        lambda w: {"amount": "10.00", "method": w.cash.pk, "reference": "Receipt 17"},
        "reception",
    ),
    "pay-void-invoice": Endpoint(
        "post",
        lambda w: f"{V1}/invoices/{w.void_invoice.pk}/payments/",
        lambda w: {"amount": "10.00", "method": w.cash.pk},
        "reception",
    ),
    "refund": Endpoint(
        "post",
        lambda w: f"{V1}/payments/{w.payment.pk}/refund/",
        lambda w: {"amount": "10.00", "reason": "Overcharged"},
    ),
    "invoice-void": Endpoint(
        "post", lambda w: f"{V1}/invoices/{w.open.pk}/void/", lambda w: {"reason": "Issued twice"}
    ),
    "payment-void": Endpoint(
        "post", lambda w: f"{V1}/payments/{w.payment.pk}/void/", lambda w: {"reason": "Typed twice"}
    ),
}


def _put(body: dict, path: str, value: Any) -> dict:
    """`body` with `value` at `path` ("lines.0.description")."""
    body = json.loads(json.dumps(body))
    *parents, last = path.split(".")
    target: Any = body
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return body


def _errors_at(body: Any, path: str) -> str:
    """The messages the API gave for `path` ("lines.0.description"), joined."""
    for key in path.split("."):
        if isinstance(body, list):
            body = body[int(key)] if key.isdigit() and int(key) < len(body) else {}
        elif isinstance(body, dict):
            body = body.get(key, {})
    if isinstance(body, list):
        return " ".join(str(item) for item in body)
    return str(body)


def send(api, world, name: str, /, raw: str | None = None, content_type=None, **changes):
    """Call endpoint `name` with its valid body changed at the given paths (`__` for `.`)."""
    endpoint = ENDPOINTS[name]
    http = api(endpoint.role)
    body = endpoint.body(world)
    for path, value in changes.items():
        body = _put(body, path.replace("__", "."), value)
    path = endpoint.path(world)
    if raw is not None:
        return http.generic(endpoint.method.upper(), path, raw, content_type=content_type)
    return getattr(http, endpoint.method)(path, body, format="json")


def refused_api(api, world, name: str, status: int, /, **kwargs):
    endpoint = ENDPOINTS[name]
    api(endpoint.role), endpoint.path(world), endpoint.body(world)  # rows exist before
    before = fingerprint()
    response = send(api, world, name, **kwargs)
    assert response.status_code == status, response.content[:2000]
    assert response["Content-Type"] == "application/json"
    assert fingerprint() == before
    return response
