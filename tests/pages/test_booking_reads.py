"""Issue 10: the booking POST (Create appointment with a package) reads what it needs once.

The form's practitioner, location, service, client and client package are read in one
query (never an archived one taken), and the panel of a booking just made skips the
invoice look-ups (no invoice can hold it yet), so fewer statements run while the
package's row lock is held; the count does not grow with the practice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import Appointment, Practitioner
from packages.models import ClientPackage
from tests.factories import ClientFactory, LocationFactory, PractitionerFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "modal-body"}


@pytest.fixture
def staff(client, reception):
    client.force_login(reception)
    return client


def _booking(practice, package, *, days: int, key: str) -> dict:
    return {
        "client": practice.client.pk,
        "service": practice.follow_up.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "date": (timezone.localdate() + dt.timedelta(days=days)).isoformat(),
        "start_time": "10:00",
        "end_time": "",
        "notes": "",
        "client_package": package.pk,
        "form_key": key,
    }


def _book(staff, data) -> tuple[int, int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = staff.post(reverse("calendar_app:create"), data, **HTMX)
    return response.status_code, len(queries), response.content.decode()


def test_booking_with_a_package_reads_once_and_does_not_grow(staff, practice, reception):
    package = practice.sell()
    staff.get(reverse("calendar_app:calendar"))  # warm up (session, content types)
    status, few, panel = _book(staff, _booking(practice, package, days=1, key="a"))
    assert status == 200
    # The session, the user, the key, the choices, the booking (its savepoint, capacity,
    # appointment, confirmation job, webhook endpoints, the package locked, its services
    # and chain head, counter and ledger row in one statement), the answer stored, and
    # this test's own savepoint pair (issue 10: 27 before).
    assert few <= 17
    assert "Linked to package" in panel and "Physio Starter Pack" in panel
    # Just booked, on no invoice: Delete is offered, as a fresh panel does.
    appointment = Appointment.objects.get()
    assert reverse("calendar_app:delete", args=[appointment.pk]) in panel
    fresh = staff.get(reverse("calendar_app:detail", args=[appointment.pk]), **HTMX)
    assert reverse("calendar_app:delete", args=[appointment.pk]) in fresh.content.decode()

    PractitionerFactory.create_batch(20)
    LocationFactory.create_batch(5)
    for index in range(10):
        practice.book(by=reception, days=3, hour=7 + index, client=ClientFactory())
    status, many, _ = _book(staff, _booking(practice, package, days=2, key="b"))
    assert status == 200
    assert many == few
    assert ClientPackage.objects.get(pk=package.pk).consumed == 2


def test_an_archived_practitioner_is_still_refused(staff, practice):
    package = practice.sell()
    Practitioner.objects.filter(pk=practice.practitioner.pk).update(archived=True)
    status, _, form = _book(staff, _booking(practice, package, days=1, key="c"))
    assert status == 400
    assert "Select a valid choice" in form
    assert not Appointment.objects.exists()
    assert ClientPackage.objects.get(pk=package.pk).consumed == 0


def test_choices_read_together_keep_their_refusals(staff, practice):
    """The form's choices, read in one query, refuse as each field did on its own."""
    package = practice.sell()
    other = practice.sell(client=ClientFactory())
    status, _, form = _book(staff, _booking(practice, other, days=1, key="d"))
    assert status == 400
    assert "That package belongs to another client; choose the package again." in form
    archived = ClientFactory(archived=True)
    data = {**_booking(practice, package, days=1, key="e"), "client": archived.pk}
    status, _, form = _book(staff, data)
    assert status == 400
    assert "That client can&#x27;t be booked; choose another." in form
    data = {**_booking(practice, package, days=1, key="f"), "client_package": 10**15}
    status, _, form = _book(staff, data)
    assert status == 400
    assert not Appointment.objects.exists()
    assert ClientPackage.objects.get(pk=package.pk).consumed == 0
