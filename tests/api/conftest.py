"""Fixtures for the API tests: token-authenticated clients for each persona."""

from __future__ import annotations

import functools
import sys

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

ROLES = ("admin", "reception", "practitioner", "accountant")


def api_key_for(user) -> str:
    """A new API key of `user`, made by the service (as on the API keys page)."""
    from practice.api_keys import api_key_create

    created = api_key_create(user=user, name="Tests", by=user)
    # Marked as just used, so a test's first request does not also pay the once-a-minute
    # "last used" write (query counts compare requests; tests/practice/test_api_keys.py
    # covers that write).
    type(created.api_key).objects.filter(pk=created.api_key.pk).update(last_used_at=timezone.now())
    return created.key


def api_client(user=None) -> APIClient:
    """An API client sending an API key of `user` (anonymous without a user)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    return client


@pytest.fixture
def personas(admin_user, reception, practitioner_user, accountant):
    return {
        "admin": admin_user,
        "reception": reception,
        "practitioner": practitioner_user,
        "accountant": accountant,
        "anonymous": None,
    }


@pytest.fixture
def as_admin(admin_user) -> APIClient:
    return api_client(admin_user)


@pytest.fixture
def as_reception(reception) -> APIClient:
    return api_client(reception)


@pytest.fixture
def as_practitioner(practitioner_user) -> APIClient:
    return api_client(practitioner_user)


@pytest.fixture
def as_accountant(accountant) -> APIClient:
    return api_client(accountant)


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


class World:
    """The practice of `tests.conftest.Practice` plus one row in each state the API's
    endpoints act on, all made through the services (by the system)."""

    def __init__(self, practice):
        from decimal import Decimal

        from calendar_app.services import appointment_link
        from invoicing.models import PaymentMethod
        from invoicing.services import (
            invoice_create,
            invoice_finalize,
            invoice_for_client_package,
            payment_record,
        )

        self.practice = practice
        self.client = practice.client
        self.sold = practice.sell(practice.fixed)  # fixed, not invoiced
        self.flexi = practice.sell(practice.flexible)  # flexible, on an Open invoice
        self.appointment = practice.book(by=None, days=1, hour=9)
        self.linked = practice.book(by=None, days=2, hour=9)
        appointment_link(appointment=self.linked, client_package=self.sold, by=None)
        self.past = practice.book(by=None, days=-1, hour=9)
        self.cash = PaymentMethod.objects.get(name="Cash")
        self.draft = invoice_create(
            client=self.client,
            practitioner=practice.practitioner,
            location=practice.location,
            lines=[{"description": "Consultation", "quantity": 1, "unit_price": Decimal("90")}],
            by=None,
        )
        self.open = invoice_finalize(
            invoice=invoice_for_client_package(
                client_package=self.flexi,
                practitioner=practice.practitioner,
                location=practice.location,
                by=None,
            ),
            by=None,
        )
        self.payment = payment_record(
            invoice=self.open, amount=Decimal("50.00"), method=self.cash, by=None
        )
        self.unpaid = invoice_finalize(
            invoice=invoice_create(
                client=self.client,
                practitioner=practice.practitioner,
                location=practice.location,
                lines=[{"description": "Massage", "quantity": 1, "unit_price": Decimal("60")}],
                by=None,
            ),
            by=None,
        )

    # Webhooks (made on first use, so the other tests' changes send no events).
    @functools.cached_property
    def webhook(self):
        from integrations.models import WebhookEndpoint

        return WebhookEndpoint.objects.create(
            url="https://books.example.com/hooks", events=["client_package.canceled"]
        )

    @functools.cached_property
    def webhook_delivery(self):
        from integrations.models import WebhookDelivery, WebhookEvent

        event = WebhookEvent.objects.create(
            type="client_package.canceled", object_type="client_package", object_id=1, payload={}
        )
        return WebhookDelivery.objects.create(event=event, endpoint=self.webhook)


@pytest.fixture
def world(practice, roles_exist):
    return World(practice)


def pytest_terminal_summary(terminalreporter):
    fuzz = sys.modules.get("tests.api.test_schemathesis")
    line = fuzz.summary() if fuzz is not None else None
    if line:
        terminalreporter.write_line(line)
