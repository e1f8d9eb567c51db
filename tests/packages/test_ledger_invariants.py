"""Property test: whatever staff do, in any order, the counters equal the ledger and
Remaining never goes below zero."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendar_app.services import appointment_link, appointment_unlink
from kernel.errors import DomainError
from packages.selectors import ledger_discrepancies
from packages.services import client_package_adjust

pytestmark = pytest.mark.django_db

ACTIONS = st.lists(
    st.tuples(st.sampled_from(["link", "unlink", "adjust"]), st.integers(0, 5), st.integers(-3, 3)),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=ACTIONS)
def test_ledger_equals_counters_after_any_sequence(practice, reception, admin_user, actions):
    from django.db import transaction

    sid = transaction.savepoint()
    try:
        sold = practice.sell(practice.fixed)
        services = [practice.initial, practice.follow_up]
        appointments = [practice.book(by=reception, days=i + 1) for i in range(6)]
        for action, index, amount in actions:
            appointment = appointments[index]
            try:
                if action == "link":
                    appointment_link(
                        appointment=appointment,
                        client_package=sold,
                        service=services[index % 2],
                        by=reception,
                    )
                elif action == "unlink":
                    appointment_unlink(appointment=appointment, by=reception)
                else:
                    client_package_adjust(
                        client_package=sold,
                        quantity=amount,
                        service=services[index % 2],
                        reason="property test",
                        by=admin_user,
                    )
            except DomainError:
                pass
            sold.refresh_from_db()
            assert sold.remaining >= 0
            assert all(s.used <= s.allowance for s in sold.services.all())
        assert ledger_discrepancies([sold.pk]) == []
    finally:
        transaction.savepoint_rollback(sid)
