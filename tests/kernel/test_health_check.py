"""The health check Django runs before a request's first statement (`conn_health_checks`)
costs no round trip while nothing has come from the server, and still finds a
connection the server ended (kernel/db/postgresql/base.py, `is_usable`; issue 10)."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from tests.database import other_connection

pytestmark = pytest.mark.django_db(transaction=True)


def _last_statement(pid: int) -> str:
    with other_connection() as other:
        return other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[
            0
        ]


def test_an_idle_connection_is_usable_without_a_statement():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the last statement'")
        pid = connection.connection.info.backend_pid
    assert connection.is_usable()
    assert _last_statement(pid) == "SELECT 'the last statement'"  # no SELECT 1 was sent


def test_a_connection_the_server_ended_is_not_usable_and_is_replaced():
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    with other_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(100):  # until the backend has gone (its FATAL message sent)
            if not other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                break
            time.sleep(0.05)
    assert not connection.is_usable()
    connection.close()  # as Django does with an unusable one at a request's start
    with connection.cursor() as cursor:  # a new connection
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def test_inside_a_transaction_the_check_asks_the_server():
    """Not idle (a transaction open): Django's own check runs, and answers."""
    from django.db import transaction

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 'in the transaction'")
        pid = connection.connection.info.backend_pid
        assert connection.is_usable()
        assert _last_statement(pid) == "SELECT 1"
