"""Shared fixtures. Personas follow the roles of DOMAIN.md: admin, reception, practitioner,
accountant."""

from __future__ import annotations

import os

import pytest

# Browser tests run Playwright's sync API, which leaves an event loop in the main thread;
# Django would then refuse every later ORM call in the same process. Our tests are
# synchronous code, so allow it for the whole run.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from practice import roles
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _default_data_survives_flushes(request, django_db_blocker):
    """Tests that commit (live server, races) end with pytest-django emptying every table,
    which also removes what the data migrations created: roles, payment methods, tax
    rates, cancellation reasons, the practice settings row. Before each database test,
    put them back if they are gone, so no test depends on the order the suite runs in.

    (At setup, not teardown: pytest-django's own autouse fixture flushes after ours.)
    """
    uses_db = request.node.get_closest_marker("django_db") is not None or any(
        name in request.fixturenames for name in ("db", "transactional_db", "live_server")
    )
    if uses_db:
        from django.contrib.auth.models import Group

        from invoicing.models import PaymentMethod
        from practice.models import PracticeSettings
        from tests.defaults import ensure_default_data

        with django_db_blocker.unblock():
            if not (
                Group.objects.exists()
                and PaymentMethod.objects.exists()
                and PracticeSettings.objects.exists()
            ):
                ensure_default_data()
    yield


@pytest.fixture
def roles_exist(db):
    """Transactional tests flush the tables the data migrations filled; put roles back."""
    from tests.defaults import ensure_default_data

    ensure_default_data()


@pytest.fixture
def admin_user(roles_exist):
    return UserFactory(username="alice", role=roles.ADMIN, is_staff=True)


@pytest.fixture
def reception(roles_exist):
    return UserFactory(username="rita", role=roles.RECEPTION)


@pytest.fixture
def practitioner_user(roles_exist):
    return UserFactory(username="pete", role=roles.PRACTITIONER)


@pytest.fixture
def accountant(roles_exist):
    return UserFactory(username="ann", role=roles.ACCOUNTANT)


class Practice:
    """A small practice: one practitioner, one location, two physio services, a fixed
    "Physio Starter Pack" (1 initial + 3 follow-ups, 3 months) and a flexible
    "Flexi 5" (5 credits for either service, no expiry), and a client."""

    def __init__(self):
        from catalog.models import PackageKind, PeriodUnit
        from tests.factories import (
            CancellationReasonFactory,
            ClientFactory,
            LocationFactory,
            PackageFactory,
            PractitionerFactory,
            ServiceFactory,
        )

        self.practitioner = PractitionerFactory(name="Sam Physio")
        self.location = LocationFactory(name="Main Street")
        self.initial = ServiceFactory(name="Physio initial consultation", duration_minutes=45)
        self.follow_up = ServiceFactory(name="Physio follow-up", duration_minutes=30)
        self.massage = ServiceFactory(name="Remedial massage", duration_minutes=60)
        self.fixed = PackageFactory(
            name="Physio Starter Pack",
            kind=PackageKind.FIXED,
            credits=4,
            expires_after_value=3,
            expires_after_unit=PeriodUnit.MONTHS,
            allowances={self.initial: 1, self.follow_up: 3},
        )
        self.flexible = PackageFactory(
            name="Flexi 5", credits=5, services=[self.initial, self.follow_up]
        )
        self.client = ClientFactory(first_name="Jo", last_name="Citizen")
        self.reason = CancellationReasonFactory(name="Client request")

    def book(self, *, by, days=1, hour=10, service=None, client=None, **kwargs):
        from calendar_app.services import appointment_book
        from tests.factories import next_local

        return appointment_book(
            client=client or self.client,
            practitioner=kwargs.pop("practitioner", self.practitioner),
            location=self.location,
            service=service or self.follow_up,
            starts_at=kwargs.pop("starts_at", None) or next_local(hour=hour, days=days),
            by=by,
            **kwargs,
        )

    def sell(self, package=None, *, by=None, client=None, **kwargs):
        from packages.services import client_package_assign

        return client_package_assign(
            client=client or self.client, package=package or self.fixed, by=by, **kwargs
        )


@pytest.fixture
def practice(db):
    return Practice()
