"""Races across server processes (issue: Trust, §1).

gunicorn runs several worker processes against PostgreSQL; threads fire requests at it
at once, half through the staff pages (session + CSRF) and half through the REST API
(token). The rules must hold: exactly as many links as there are credits, no double
spending, no 500, no deadlock, consecutive invoice numbers.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from calendar_app.models import Appointment
from invoicing.models import Invoice
from packages.models import ClientPackage, CreditLedgerEntry
from packages.selectors import ledger_discrepancies
from tests.factories import InvoiceFactory, InvoiceLineFactory, PractitionerFactory, next_local
from tests.trust.conftest import PATHS, fire

# Each race runs twice: workers connected to PostgreSQL directly, and through PgBouncer in
# transaction-pooling mode (several app hosts sharing one database; tests/pgbouncer.py).
pytestmark = [
    pytest.mark.concurrency,
    pytest.mark.parametrize("database_path", PATHS, indirect=True),
]

REQUEST_TIMEOUT = 120


def _outcome(response) -> str:
    """ "ok", the refusal code, or the HTTP status for anything else."""
    if response.status_code in (200, 201, 302):
        return "ok"
    if response.status_code == 409:
        if response.headers.get("Content-Type", "").startswith("application/json"):
            return response.json()["code"]
        return "refused-page"
    return f"http-{response.status_code}"


def _link_requests(server, appointments, client_package, service, users):
    """Alternate page and API link requests, one per appointment."""
    page = server.session_for(users["reception"])
    api = server.api_for(users["practitioner"])
    sends = []
    for index, appointment in enumerate(appointments):
        if index % 2 == 0:
            sends.append(
                lambda a=appointment: page.post(
                    f"{server.url}/calendar/{a.pk}/link/",
                    data={"link_choice": f"{client_package.pk}:{service.pk}"},
                    allow_redirects=False,
                    timeout=REQUEST_TIMEOUT,
                )
            )
        else:
            sends.append(
                lambda a=appointment: api.post(
                    f"{server.url}/api/v1/appointments/{a.pk}/link/",
                    json={"client_package": client_package.pk, "service": service.pk},
                    timeout=REQUEST_TIMEOUT,
                )
            )
    return sends


@pytest.fixture
def users(reception, practitioner_user, admin_user, accountant):
    return {
        "reception": reception,
        "practitioner": practitioner_user,
        "admin": admin_user,
        "accountant": accountant,
    }


def _many_appointments(practice, reception, count):
    """`count` appointments of the client, each in its own slot (no overlaps)."""
    start = next_local(days=1, hour=7)
    return [
        practice.book(by=reception, starts_at=start + dt.timedelta(minutes=30 * i))
        for i in range(count)
    ]


def test_fifty_links_for_five_credits_exactly_five_win(server, practice, users):
    sold = practice.sell(practice.flexible)  # 5 credits
    appointments = _many_appointments(practice, users["reception"], 50)

    responses = fire(_link_requests(server, appointments, sold, practice.follow_up, users))
    outcomes = [_outcome(r) for r in responses]

    assert outcomes.count("ok") == 5, outcomes
    refusals = [o for o in outcomes if o != "ok"]
    assert set(refusals) <= {"no_credits_left", "refused-page"}, outcomes
    page_refusals = [r for r, o in zip(responses, outcomes, strict=True) if o == "refused-page"]
    assert all("No credits left" in r.text for r in page_refusals)
    sold.refresh_from_db()
    assert (sold.consumed, sold.remaining) == (5, 0)
    assert Appointment.objects.filter(client_package=sold).count() == 5
    assert ledger_discrepancies() == []


def test_last_allowance_of_a_fixed_service_is_spent_once(server, practice, users):
    sold = practice.sell(practice.fixed)  # 3 follow-ups
    first = _many_appointments(practice, users["reception"], 22)
    from calendar_app.services import appointment_link

    for appointment in first[:2]:
        appointment_link(appointment=appointment, client_package=sold, by=users["reception"])

    responses = fire(_link_requests(server, first[2:], sold, practice.follow_up, users), workers=20)
    outcomes = [_outcome(r) for r in responses]
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) - {"ok"} <= {"no_credits_left", "refused-page"}
    assert sold.services.get(service=practice.follow_up).usage_label == "3 of 3 used"
    assert ledger_discrepancies() == []


def test_link_racing_unlink_and_cancel_package(server, practice, users):
    from calendar_app.services import appointment_link

    sold = practice.sell(practice.flexible)
    appointments = _many_appointments(practice, users["reception"], 12)
    for appointment in appointments[:4]:
        appointment_link(appointment=appointment, client_package=sold, by=users["reception"])
    api = server.api_for(users["reception"])
    sends = []
    for appointment in appointments[:4]:  # unlink each linked one twice at once
        for _ in range(2):
            sends.append(
                lambda a=appointment: api.post(
                    f"{server.url}/api/v1/appointments/{a.pk}/unlink/", timeout=REQUEST_TIMEOUT
                )
            )
    sends += _link_requests(server, appointments[4:], sold, practice.follow_up, users)
    sends.append(
        lambda: api.post(
            f"{server.url}/api/v1/client-packages/{sold.pk}/cancel/",
            json={"reason": "Client moved away"},
            timeout=REQUEST_TIMEOUT,
        )
    )
    responses = fire(sends, workers=len(sends))
    assert not [r for r in responses if r.status_code >= 500], [r.status_code for r in responses]
    sold.refresh_from_db()
    assert sold.canceled_at is not None
    assert 0 <= sold.consumed <= sold.credits
    assert Appointment.objects.filter(client_package=sold).count() == sold.consumed
    assert ledger_discrepancies() == []


def test_bookings_racing_for_one_practitioner_slot(server, practice, users):
    start = timezone.localtime(next_local(days=5, hour=11))
    page = server.session_for(users["reception"])
    api = server.api_for(users["practitioner"])
    page_data = {
        "client": practice.client.pk,
        "service": practice.follow_up.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "date": start.date().isoformat(),
        "start_time": start.strftime("%H:%M"),
    }
    api_data = {
        "client": practice.client.pk,
        "service": practice.follow_up.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "starts_at": start.isoformat(),
    }
    sends = [
        (
            lambda: page.post(
                f"{server.url}/calendar/new/",
                data=page_data,
                allow_redirects=False,
                timeout=REQUEST_TIMEOUT,
            )
        )
        if i % 2 == 0
        else (
            lambda: api.post(
                f"{server.url}/api/v1/appointments/", json=api_data, timeout=REQUEST_TIMEOUT
            )
        )
        for i in range(20)
    ]
    responses = fire(sends, workers=20)
    outcomes = [_outcome(r) for r in responses]
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) - {"ok"} <= {"overlap", "refused-page"}, outcomes
    assert Appointment.objects.filter(practitioner=practice.practitioner).count() == 1
    other = PractitionerFactory()
    assert other.appointments.count() == 0


def test_hundred_concurrent_finalizes_give_consecutive_numbers(server, practice, users):
    drafts = [InvoiceFactory(client=practice.client) for _ in range(100)]
    for draft in drafts:
        InvoiceLineFactory(invoice=draft)
    page = server.session_for(users["reception"])
    api = server.api_for(users["accountant"])
    sends = [
        (
            lambda d=d: page.post(
                f"{server.url}/billing/{d.pk}/finalize/",
                data={},
                allow_redirects=False,
                timeout=REQUEST_TIMEOUT,
            )
        )
        if i % 2 == 0
        else (
            lambda d=d: api.post(
                f"{server.url}/api/v1/invoices/{d.pk}/finalize/", timeout=REQUEST_TIMEOUT
            )
        )
        for i, d in enumerate(drafts)
    ]
    responses = fire(sends, workers=50)
    assert [_outcome(r) for r in responses] == ["ok"] * 100
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-{n:04d}" for n in range(1, 101)]
    from practice.models import PracticeSettings

    assert PracticeSettings.load().invoice_next_number == 101


def test_package_rows_are_never_left_inconsistent(server, practice, users):
    """After all the races above, a final check across every package of the test."""
    sold = practice.sell(practice.flexible)
    appointments = _many_appointments(practice, users["reception"], 10)
    sends = _link_requests(server, appointments, sold, practice.initial, users)
    api = server.api_for(users["reception"])
    sends += [
        (
            lambda a=a: api.post(
                f"{server.url}/api/v1/appointments/{a.pk}/unlink/", timeout=REQUEST_TIMEOUT
            )
        )
        for a in itertools.islice(appointments, 0, 10, 3)
    ]
    responses = fire(sends, workers=len(sends))
    assert not [r for r in responses if r.status_code >= 500]
    assert ClientPackage.objects.get(pk=sold.pk).remaining >= 0
    assert ledger_discrepancies() == []


def test_two_hundred_links_for_a_hundred_credits(server, practice, users, admin_user):
    """A longer race: many requests inside the window where credits remain, so a lost
    update (two requests reading the same counter) would show in the ledger check."""
    from packages.services import client_package_adjust

    sold = practice.sell(practice.flexible)
    client_package_adjust(client_package=sold, quantity=95, reason="Large pack", by=admin_user)
    appointments = _many_appointments(practice, users["reception"], 200)
    responses = fire(
        _link_requests(server, appointments, sold, practice.follow_up, users), workers=64
    )
    outcomes = [_outcome(r) for r in responses]
    assert outcomes.count("ok") == 100, outcomes
    assert set(outcomes) - {"ok"} <= {"no_credits_left", "refused-page"}
    sold.refresh_from_db()
    assert (sold.consumed, sold.remaining) == (100, 0)
    assert CreditLedgerEntry.objects.filter(client_package=sold, kind="consume").count() == 100
    assert ledger_discrepancies() == []
