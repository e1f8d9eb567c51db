"""Races between separate database connections (threads): row locks must hold the rules.

Each thread uses its own Django connection, so these are real concurrent PostgreSQL
transactions; `transactional_db` commits the set-up so every connection sees it.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from calendar_app.models import Appointment
from calendar_app.services import appointment_link, appointment_unlink
from kernel.errors import DomainError
from packages.models import ClientPackage
from packages.selectors import ledger_discrepancies
from tests.factories import PractitionerFactory, next_local

# Each race runs directly and through PgBouncer (tests/conftest.py: each_database_path).
pytestmark = [
    pytest.mark.concurrency,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("each_database_path"),
]


def race(callables):
    """Run the callables at the same instant, one thread and connection each."""
    barrier = threading.Barrier(len(callables))

    def run(call):
        try:
            barrier.wait(timeout=10)
            return ("ok", call())
        except DomainError as exc:
            return (exc.code, exc.message)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(callables)) as pool:
        return list(pool.map(run, callables))


def test_two_staff_racing_for_the_last_credit_exactly_one_wins(practice, reception, admin_user):
    from packages.services import client_package_adjust

    sold = practice.sell(practice.flexible)
    client_package_adjust(client_package=sold, quantity=-4, reason="Leave one", by=admin_user)
    first = practice.book(by=reception, days=1)
    second = practice.book(by=reception, days=2)

    results = race(
        [
            lambda: appointment_link(appointment=first, client_package=sold, by=reception),
            lambda: appointment_link(appointment=second, client_package=sold, by=reception),
        ]
    )
    outcomes = sorted(r[0] for r in results)
    assert outcomes == ["no_credits_left", "ok"]
    assert "No credits left" in next(r[1] for r in results if r[0] != "ok")
    sold.refresh_from_db()
    assert (sold.credits, sold.consumed, sold.remaining) == (1, 1, 0)
    assert Appointment.objects.filter(client_package=sold).count() == 1
    assert ledger_discrepancies() == []


def test_many_links_for_a_fixed_allowance_never_overspend(practice, reception):
    sold = practice.sell()  # 3 follow-ups
    appointments = [practice.book(by=reception, days=d) for d in range(1, 9)]
    results = race(
        [
            (lambda a=a: appointment_link(appointment=a, client_package=sold, by=reception))
            for a in appointments
        ]
    )
    assert sum(1 for r in results if r[0] == "ok") == 3
    assert {r[0] for r in results if r[0] != "ok"} == {"no_credits_left"}
    assert sold.services.get(service=practice.follow_up).used == 3
    assert ledger_discrepancies() == []


def test_link_racing_unlink_keeps_the_ledger_whole(practice, reception):
    sold = practice.sell(practice.flexible)
    linked = practice.book(by=reception, days=1, client_package=sold)
    other = practice.book(by=reception, days=2)
    results = race(
        [
            lambda: appointment_unlink(appointment=linked, by=reception),
            lambda: appointment_link(appointment=other, client_package=sold, by=reception),
        ]
    )
    assert [r[0] for r in results] == ["ok", "ok"]
    sold.refresh_from_db()
    assert sold.consumed == 1
    assert ledger_discrepancies() == []


def test_double_unlink_race_releases_once(practice, reception):
    sold = practice.sell(practice.flexible)
    linked = practice.book(by=reception, days=1, client_package=sold)
    results = race([lambda: appointment_unlink(appointment=linked, by=reception)] * 2)
    assert sorted(r[0] for r in results) == ["not_linked", "ok"]
    sold.refresh_from_db()
    assert sold.consumed == 0
    assert ledger_discrepancies() == []


def test_link_racing_cancel_package(practice, reception):
    from packages.services import client_package_cancel

    sold = practice.sell(practice.flexible)
    appointment = practice.book(by=reception, days=1)
    results = race(
        [
            lambda: appointment_link(appointment=appointment, client_package=sold, by=reception),
            lambda: client_package_cancel(client_package=sold, reason="Refunded", by=reception),
        ]
    )
    sold.refresh_from_db()
    appointment.refresh_from_db()
    link_result = results[0][0]
    # Either the link came first (credit consumed, then canceled) or it was refused.
    assert link_result in {"ok", "package_not_eligible"}
    assert sold.canceled_at is not None
    assert sold.consumed == (1 if link_result == "ok" else 0)
    assert (appointment.client_package_id is not None) == (link_result == "ok")
    assert ledger_discrepancies() == []


def test_two_bookings_racing_for_one_practitioner_slot(practice, reception):
    start = next_local(days=3, hour=9)
    results = race([lambda: practice.book(by=reception, starts_at=start)] * 4)
    assert sorted(r[0] for r in results) == ["ok", "overlap", "overlap", "overlap"]
    assert Appointment.objects.filter(practitioner=practice.practitioner).count() == 1


def test_same_slot_for_different_practitioners_all_succeed(practice, reception):
    start = next_local(days=3, hour=9)
    others = [PractitionerFactory() for _ in range(3)]
    results = race(
        [(lambda p=p: practice.book(by=reception, starts_at=start, practitioner=p)) for p in others]
    )
    assert [r[0] for r in results] == ["ok", "ok", "ok"]


def test_consumed_never_exceeds_credits_in_the_database(practice):
    from django.db import IntegrityError

    sold = practice.sell(practice.flexible)
    with pytest.raises(IntegrityError):
        ClientPackage.objects.filter(pk=sold.pk).update(consumed=6)
