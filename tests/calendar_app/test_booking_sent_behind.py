"""A booking from Create appointment (issue 10): its id is drawn with the form's choices
(`booking_choices`), so its INSERT is sent without waiting (kernel.prepared.insert_row,
behind) and travels with its job and the package's lock. The rules hold as before: an
overlap is refused, in the booking's savepoint, whatever waits for the INSERT first, and
nothing of the booking is left; a booking keeps the id it was given."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import Appointment
from calendar_app.selectors import booking_choices
from kernel.db.postgresql.base import DatabaseWrapper
from packages.models import CreditLedgerEntry
from packages.selectors import ledger_discrepancies
from tests.refusals import refusal

pytestmark = pytest.mark.django_db


def _known(practice, package=None):
    """What Create appointment's form reads with its choices."""
    return booking_choices(
        practitioner=practice.practitioner.pk,
        location=practice.location.pk,
        client=practice.client.pk,
        service=practice.follow_up.pk,
        client_package=package.pk if package else None,
    ).place


def test_each_read_of_the_choices_draws_a_new_id(practice):
    drawn = {_known(practice).new_id for _ in range(3)}
    assert len(drawn) == 3 and None not in drawn


def test_the_booking_keeps_the_id_drawn_and_its_insert_is_sent_behind(practice, reception):
    package = practice.sell(practice.flexible, by=reception)
    known = _known(practice, package)
    assert isinstance(known.new_id, int)
    with CaptureQueriesContext(connection) as queries:
        appointment = practice.book(by=reception, client_package=package, known=known)
    assert appointment.pk == known.new_id
    assert Appointment.objects.get(pk=known.new_id).client_package_id == package.pk
    inserts = [q for q in queries.captured_queries if 'INTO "calendar_app_appointment"' in q["sql"]]
    assert len(inserts) == 1 and '("id", ' in inserts[0]["sql"]  # the id, sent
    package.refresh_from_db()
    assert package.consumed == 1
    assert not ledger_discrepancies(client_package_ids=[package.pk])


@pytest.mark.parametrize(
    "with_package, first_to_wait",
    [(True, "the package's lock"), (False, "a receiver's read"), (False, "the booking")],
)
def test_an_overlap_is_still_refused_and_nothing_of_the_booking_is_left(
    practice, reception, monkeypatch, with_package, first_to_wait
):
    first = practice.book(by=reception, hour=10)
    if first_to_wait == "the booking":  # no receiver reads anything after the INSERT
        monkeypatch.setattr("calendar_app.services.hooks.emit", lambda *args, **kwargs: None)
    package = practice.sell(practice.flexible, by=reception) if with_package else None
    known = _known(practice, package)
    error = refusal(
        lambda: practice.book(
            by=reception,
            starts_at=first.starts_at + dt.timedelta(minutes=15),
            client_package=package,
            known=known,
        ),
        "overlap",
    )
    assert "Sam Physio already has an appointment at that time" in error.message
    assert connection._behind is None and connection._ahead == []
    assert list(Appointment.objects.values_list("pk", flat=True)) == [first.pk]
    if package is not None:
        package.refresh_from_db()
        assert package.consumed == 0
        assert not CreditLedgerEntry.objects.filter(kind="consume").exists()
    # The transaction goes on: the next booking, elsewhere in the day, is saved.
    later = practice.book(
        by=reception, hour=14, client_package=package, known=_known(practice, package)
    )
    assert Appointment.objects.filter(pk=later.pk).exists()


def test_the_form_key_is_claimed_with_the_read_of_the_choices(
    client, practice, reception, monkeypatch
):
    """Create appointment's POST: its choices are read in the claim's round trip, and
    the booking is made as before."""
    taken: list[str] = []
    take = DatabaseWrapper.take_ahead

    def recording(self, sql, params):
        cursor = take(self, sql, params)
        if cursor is not None:
            taken.append(sql)
        return cursor

    monkeypatch.setattr(DatabaseWrapper, "take_ahead", recording)
    package = practice.sell(practice.flexible, by=reception)
    client.force_login(reception)
    data = practice.booking_form(package, form_key="ahead")
    response = client.post(reverse("calendar_app:create"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Linked to package" in response.content.decode()
    # The choices, then the package's lock and its services: all read ahead.
    assert len(taken) == 3 and taken[0].startswith("SELECT t0.")
    appointment = Appointment.objects.get(client_package=package)
    assert timezone.localtime(appointment.starts_at).strftime("%H:%M") == "16:00"
