"""A transaction's BEGIN costs no round trip of its own (kernel/db/postgresql/base.py,
issue 10): psycopg's connection stays in autocommit and the BEGIN goes to PostgreSQL in
front of the transaction's first statement, as a savepoint's SAVEPOINT does. The
transaction is the same: everything in the block commits or rolls back together, with
the connection's isolation level, a planned read first in it stays planned, and a
named cursor in it is not held past it."""

from __future__ import annotations

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from kernel.db.postgresql.base import plan_once

# These tests begin and end transactions themselves.
pytestmark = pytest.mark.django_db(transaction=True)

INTRANS = psycopg.pq.TransactionStatus.INTRANS
IDLE = psycopg.pq.TransactionStatus.IDLE


@pytest.fixture
def probe():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE begin_probe (n integer PRIMARY KEY)")
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE begin_probe")


def _numbers() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT n FROM begin_probe ORDER BY n")
        return [n for (n,) in cursor.fetchall()]


def _add(n: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO begin_probe (n) VALUES (%s)", [n])


@pytest.fixture
def psycopg_commands(monkeypatch):
    """The commands psycopg sends on its own (BEGIN, COMMIT, ROLLBACK), in order."""
    from psycopg import _connection_base

    sent: list[bytes] = []
    original = _connection_base.BaseConnection._exec_command

    def recording(self, command, *args, **kwargs):
        sent.append(command if isinstance(command, bytes) else str(command).encode())
        return original(self, command, *args, **kwargs)

    monkeypatch.setattr(_connection_base.BaseConnection, "_exec_command", recording)
    return sent


def test_begin_goes_with_the_first_statement(probe, psycopg_commands):
    raw = connection.connection
    with transaction.atomic():
        assert raw.pgconn.transaction_status == IDLE  # nothing sent yet
        _add(1)
        assert raw.pgconn.transaction_status == INTRANS  # begun by that statement
        _add(2)
    assert raw.pgconn.transaction_status == IDLE
    assert b"BEGIN" not in psycopg_commands  # no round trip of its own
    assert _numbers() == [1, 2]


def test_the_block_still_rolls_back_as_a_whole(probe):
    with pytest.raises(RuntimeError), transaction.atomic():
        _add(1)
        _add(2)
        raise RuntimeError
    assert _numbers() == []


def test_a_failed_first_statement_rolls_back_and_the_connection_goes_on(probe):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT 1 / 0")
    _add(3)
    assert _numbers() == [3]


def test_an_empty_block_sends_nothing(psycopg_commands):
    with transaction.atomic():
        pass
    assert psycopg_commands == []
    assert connection.connection.pgconn.transaction_status == IDLE


def test_the_isolation_level_is_the_connections(probe):
    connection.ensure_connection()
    raw = connection.connection
    raw.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SHOW transaction_isolation")
            assert cursor.fetchone() == ("repeatable read",)
    finally:
        raw.isolation_level = None
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SHOW transaction_isolation")
        assert cursor.fetchone() == ("read committed",)


def test_a_planned_read_first_in_a_transaction_stays_planned(probe, psycopg_commands):
    read = plan_once("SELECT count(*) FROM begin_probe WHERE n >= %s")
    _add(1)
    for _ in range(6):  # psycopg prepares a statement on its fifth run
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(read, [0])  # with the BEGIN, in one round trip
            assert cursor.fetchone() == (1,)
            assert connection.connection.pgconn.transaction_status == INTRANS
    assert b"BEGIN" not in psycopg_commands
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["SELECT count(*) FROM begin_probe%"],
        )
        assert cursor.fetchone() == (1,)


def test_a_named_cursor_is_held_only_outside_a_transaction(probe):
    for n in range(3):
        _add(n)

    def holdable() -> list[bool]:
        cursor = connection.chunked_cursor()
        cursor.execute("SELECT n FROM begin_probe")
        cursor.fetchone()
        with connection.cursor() as other:
            other.execute("SELECT is_holdable FROM pg_cursors WHERE name LIKE %s", ["_django%"])
            found = [held for (held,) in other.fetchall()]
        cursor.close()
        return found

    with transaction.atomic():
        assert holdable() == [False]
    assert holdable() == [True]
