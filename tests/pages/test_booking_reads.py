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
from calendar_app.selectors import PlaceFacts
from calendar_app.services import appointment_book, practitioner_services_set
from catalog.models import Service
from kernel.errors import DomainError
from packages.models import ClientPackage
from tests.factories import (
    ClientFactory,
    LocationFactory,
    PractitionerFactory,
    ServiceFactory,
    next_local,
)

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
    # A first booking fills what a process keeps (the webhook endpoints).
    assert _book(staff, _booking(practice, package, days=4, key="w"))[0] == 200
    status, few, panel = _book(staff, _booking(practice, package, days=1, key="a"))
    assert status == 200
    # The session, the user, the key, the choices (with whether the service is provided
    # there and whether it has class sessions), the booking (appointment, confirmation
    # job, the package locked, its services and chain head, counter and ledger row in one
    # statement; the webhook endpoints are kept per process) and the answer stored. The
    # savepoints (the booking's, this test's own) cost no statement of their own: their
    # SAVEPOINT and RELEASE go with the next statement (issue 10: 27 before, then 14).
    assert few <= 10, few

    assert "Linked to package" in panel and "Physio Starter Pack" in panel
    # Just booked, on no invoice: Delete is offered, as a fresh panel does.
    appointment = Appointment.objects.get(
        starts_at__date=timezone.localdate() + dt.timedelta(days=1)
    )
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
    assert ClientPackage.objects.get(pk=package.pk).consumed == 3


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


def _post(staff, practice, service, *, key: str, days: int = 1, hour: str = "10:00", client=None):
    """Create appointment without a package; its response and statements."""
    data = {
        **_booking(practice, practice.sell(), days=days, key=key),
        "service": service.pk,
        "start_time": hour,
        "client": (client or practice.client).pk,
    }
    data.pop("client_package")
    with CaptureQueriesContext(connection) as queries:
        response = staff.post(reverse("calendar_app:create"), data, **HTMX)
    return response, [q["sql"] for q in queries.captured_queries]


def _only_initial(practice) -> None:
    """The practitioner provides only the initial consultation at the location."""
    practitioner_services_set(
        practitioner=practice.practitioner,
        location=practice.location,
        services=[practice.initial],
        by=None,
    )


def test_a_service_not_provided_there_is_refused_from_what_the_form_read(staff, practice):
    _only_initial(practice)
    response, _ = _post(staff, practice, practice.follow_up, key="np")
    assert response.status_code == 409
    assert (
        "Sam Physio does not provide Physio follow-up at Main Street." in response.content.decode()
    )
    assert not Appointment.objects.exists()
    response, _ = _post(staff, practice, practice.initial, key="ok")
    assert response.status_code == 200 and Appointment.objects.get().service == practice.initial


def test_an_ordinary_service_reads_no_class_session_and_a_class_still_joins_one(staff, practice):
    response, statements = _post(staff, practice, practice.follow_up, key="o1")
    assert response.status_code == 200
    booked = Appointment.objects.get()
    assert booked.class_session_id is None
    # Read once, with the form's choices; the booking itself does not ask again.
    (read,) = [sql for sql in statements if "calendar_app_classsession" in sql]
    assert "calendar_app_workinghours" in read  # the form's one read of its choices
    pilates = ServiceFactory(name="Pilates class", duration_minutes=60, capacity=2)
    for key, client in (("c1", practice.client), ("c2", ClientFactory())):
        response, _ = _post(staff, practice, pilates, key=key, days=2, hour="15:00", client=client)
        assert response.status_code == 200
    joined = Appointment.objects.filter(service=pilates)
    assert joined.count() == 2 and len({a.class_session_id for a in joined}) == 1


def test_a_class_made_ordinary_still_fills_its_sessions(staff, practice):
    """A service whose capacity went back to 1 keeps its sessions: a booking at one of
    them still joins it (and finds it full), though the service is no longer a class."""
    pilates = ServiceFactory(name="Pilates class", duration_minutes=60, capacity=2)
    first = practice.book(by=None, days=2, hour=15, service=pilates)
    assert first.class_session_id is not None
    Service.objects.filter(pk=pilates.pk).update(capacity=1)
    response, _ = _post(
        staff, practice, pilates, key="full", days=2, hour="15:00", client=ClientFactory()
    )
    assert response.status_code == 409
    assert "This class is full (1 of 1)." in response.content.decode()


def test_facts_about_another_place_are_not_trusted(practice, reception):
    """`known` read for other ids is ignored: the service reads the place itself."""
    _only_initial(practice)
    elsewhere = PlaceFacts(
        practice.practitioner.pk, practice.location.pk, practice.initial.pk, True, False
    )
    with pytest.raises(DomainError) as refusal:
        appointment_book(
            client=practice.client,
            practitioner=practice.practitioner,
            location=practice.location,
            service=practice.follow_up,
            starts_at=next_local(hour=11, days=1),
            by=reception,
            known=elsewhere,
        )
    assert refusal.value.code == "service_not_provided"


def test_a_forms_copy_of_a_choice_field_shares_its_queryset_until_it_lists_it():
    """Create appointment's copy of a model choice field shares the declared queryset
    (no clone for a POST that takes its preloaded choices) and clones it when it lists
    the choices: a practitioner added after the first form still shows in the next one,
    and no form's list is kept in the declared queryset."""
    from calendar_app.forms import AppointmentForm

    declared = AppointmentForm.base_fields["practitioner"].queryset
    first = AppointmentForm()
    field = first.fields["practitioner"]
    assert field._queryset is declared  # shared: nothing cloned yet
    names = [label for _, label in field.choices]
    assert field._queryset is not declared and declared._result_cache is None
    PractitionerFactory(name="Added later")
    later = [label for _, label in AppointmentForm().fields["practitioner"].choices]
    assert "Added later" in later and "Added later" not in names


def test_a_forms_copy_of_a_fixed_choice_field_shares_its_choices():
    from calendar_app.forms import AppointmentForm

    base = AppointmentForm.base_fields
    form = AppointmentForm()
    for name in ("weekdays", "every_weeks", "start_occurrence"):
        assert isinstance(base[name].choices, tuple)
        assert form.fields[name].choices is base[name].choices
        assert form.fields[name].widget is not base[name].widget
        assert isinstance(base[name].widget.choices, tuple)
        assert form.fields[name].widget.choices is base[name].widget.choices
        assert form.fields[name].widget.attrs is not base[name].widget.attrs
    form.fields["every_weeks"].choices = [(1, "Weekly")]  # set later: this form's own
    assert base["every_weeks"].choices[0] == (1, "Every week")
    assert [c for c in AppointmentForm().fields["every_weeks"].choices][0] == (1, "Every week")
