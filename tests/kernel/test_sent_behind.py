"""A write sent behind (`execute_behind`, kernel/db/postgresql/base.py, issue 10) is not
waited for: PostgreSQL runs it while Python goes on. It still runs in order, in its
transaction and savepoint; the next statement or ROLLBACK waits for it first and raises
its error, and its savepoint or transaction undoes it as any failed statement's. COMMIT
goes after it in the same pipeline: a failed write makes PostgreSQL skip the COMMIT, and
its error is raised by the commit, nothing saved."""

from __future__ import annotations

import threading
import time

import pghistory
import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from pghistory.models import Events

from clients.models import Client
from kernel.db.postgresql.base import plan_once
from packages.models import CreditLedgerEntry
from packages.selectors import ledger_discrepancies
from tests.database import other_connection

pytestmark = pytest.mark.django_db

LOCK = 774_411  # an advisory lock number no other code takes


def _create_probe() -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE behind_probe (n integer PRIMARY KEY)")


@pytest.fixture
def probe():
    """A temporary table of numbers (its primary key refuses a number twice)."""
    _create_probe()


def _numbers() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT n FROM behind_probe ORDER BY n")
        return [n for (n,) in cursor.fetchall()]


def _add(n: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO behind_probe (n) VALUES (%s)", [n])


def _add_behind(n: int, sql: str = "INSERT INTO behind_probe (n) VALUES (%s)") -> None:
    with connection.cursor() as cursor:
        cursor.execute_behind(sql, [n])


def _add_behind_after_the_lock(n: int) -> None:
    """Send behind a write of `n` that waits in PostgreSQL for the advisory lock LOCK
    (for up to 20 s)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '20s'")
        cursor.execute_behind(
            f"INSERT INTO behind_probe (n) SELECT %s FROM pg_advisory_xact_lock({LOCK})", [n]
        )


def _seen_waiting_for_the_lock(other: psycopg.Connection) -> bool:
    for _ in range(200):
        waiting = other.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE 'INSERT INTO behind_probe%%'"
        ).fetchone()
        if waiting == (1,):
            return True
        time.sleep(0.05)
    return False


def test_a_write_sent_behind_is_not_waited_for_and_the_next_statement_sees_it(probe):
    _add(1)  # the transaction has begun
    with other_connection() as other:
        other.execute("SELECT pg_advisory_lock(%s)", [LOCK])
        # The write waits in PostgreSQL for the other connection's lock: sent behind, it
        # returns at once (waited for, it would wait for the lock_timeout and fail).
        _add_behind_after_the_lock(2)
        assert connection._behind is not None  # sent, not answered
        # Here, while the write waits in PostgreSQL for the lock (seen from the other
        # connection once the server has it: poll, a loaded machine may take a moment).
        assert _seen_waiting_for_the_lock(other)
        threading.Timer(0.2, lambda: other.execute("SELECT pg_advisory_unlock(%s)", [LOCK])).start()
        assert _numbers() == [1, 2]  # the next statement waited for it, then saw it
    assert connection._behind is None


def test_a_write_sent_while_another_waits_is_sent_behind_too(probe):
    _add(1)
    with other_connection() as other:
        other.execute("SELECT pg_advisory_lock(%s)", [LOCK])
        _add_behind_after_the_lock(2)
        assert _seen_waiting_for_the_lock(other)
        # The first is still waiting for the lock: this one is not waited for either
        # (waited for, it would wait for the first, which waits for this test).
        _add_behind(3)
        assert _seen_waiting_for_the_lock(other)
        other.execute("SELECT pg_advisory_unlock(%s)", [LOCK])
        assert _numbers() == [1, 2, 3]


def test_a_planned_read_after_writes_sent_behind_is_answered_with_them(probe, round_trips):
    """The read goes in the writes' pipeline: the one wait for them brings its rows."""
    read = plan_once("SELECT count(*), max(n) FROM behind_probe WHERE n >= %s")
    queued_at_wait = round_trips
    _add(1)
    _add_behind(2)
    _add_behind(3)
    with connection.cursor() as cursor:
        cursor.execute(read, [0])
        assert cursor.fetchone() == (3, 3)  # it saw the writes sent behind
    # One wait, with more than the two writes queued: the read (and its PREPARE).
    assert len(queued_at_wait) == 1 and queued_at_wait[0] > 2
    assert connection._behind is None
    _add(4)  # the next statement goes through Django's cursor again
    assert _numbers() == [1, 2, 3, 4]


def test_a_failed_write_sent_behind_is_raised_by_a_planned_read_after_it(probe):
    read = plan_once("SELECT count(*) FROM behind_probe WHERE n >= %s")
    _add(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        _add(2)
        _add_behind(1)  # refused
        with connection.cursor() as cursor:
            cursor.execute(read, [0])  # skipped: the refusal is raised here
    assert _numbers() == [1]  # the savepoint undid 2
    with connection.cursor() as cursor:
        cursor.execute(read, [0])
        assert cursor.fetchone() == (1,)


@pytest.mark.parametrize("then", ["a write sent behind", "a planned read"])
def test_a_refusal_back_before_the_next_statement_is_sent_leaves_things_usable(probe, then):
    """The refusal arrives while the next statement is being sent into the pipeline: it
    is raised there, and the savepoint still undoes the block."""
    read = plan_once("SELECT count(*) FROM behind_probe WHERE n >= %s")
    _add(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        _add(2)
        _add_behind(1)  # refused
        time.sleep(0.3)  # the refusal is back before anything else is sent
        if then == "a planned read":
            with connection.cursor() as cursor:
                cursor.execute(read, [0])
        else:
            _add_behind(3)
        _numbers()
    assert connection._behind is None
    assert _numbers() == [1]  # neither 2 nor 3
    _add(4)
    assert _numbers() == [1, 4]


def test_writes_sent_behind_run_in_the_order_sent(probe):
    _add(1)
    for n in (2, 3, 4):
        _add_behind(n)
    with connection.cursor() as cursor:
        cursor.execute_behind("DELETE FROM behind_probe WHERE n = %s", [3])
    assert _numbers() == [1, 2, 4]


def test_its_error_is_raised_by_the_next_statement_and_its_savepoint_undoes_it(probe):
    _add(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        _add(2)
        _add_behind(1)  # refused: 1 is there, but nobody waits for it yet
        _numbers()  # waits for it: its refusal is raised here
    assert _numbers() == [1]  # 2 is undone with the savepoint, the transaction goes on
    _add(3)
    assert _numbers() == [1, 3]


def test_a_savepoint_asked_for_before_it_is_taken_before_it(probe):
    _add(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        _add_behind(2)  # carries the block's SAVEPOINT, in front of it
        raise RuntimeError
    assert _numbers() == [1]  # rolled back to that savepoint: 2 is gone, 1 stays


def test_a_release_waiting_goes_before_it_and_the_savepoint_keeps_its_work(probe):
    with transaction.atomic():
        _add(1)
    _add_behind(2)  # the RELEASE of the block above goes in front of it
    assert _numbers() == [1, 2]


def test_the_debug_log_shows_it_as_sent(probe):
    _add(1)
    with CaptureQueriesContext(connection) as queries:
        _add_behind(2)
        _numbers()
    sql = [q["sql"] for q in queries.captured_queries]
    assert sql[0].startswith("INSERT INTO behind_probe") and sql[1].startswith("SELECT n FROM")


@pytest.mark.django_db(transaction=True)
def test_commit_goes_with_the_writes_sent_behind_and_saves_them():
    _create_probe()
    with transaction.atomic():
        _add(1)
        _add_behind(2)
        _add_behind(3)
        assert connection._behind is not None  # not waited for before the COMMIT
    assert connection._behind is None
    assert connection.connection.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert _numbers() == [1, 2, 3]  # committed (a rollback would have undone them)


@pytest.mark.django_db(transaction=True)
def test_a_failed_write_sent_behind_fails_the_commit_and_nothing_is_saved():
    _create_probe()
    _add(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        _add(2)
        _add_behind(1)  # refused; the COMMIT sent after it is skipped
        _add_behind(3)
    assert _numbers() == [1]  # neither 2 nor 3 was committed: rolled back
    assert not connection.commit_in_doubt  # known: nothing was saved
    _add(4)  # the connection goes on
    assert _numbers() == [1, 4]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_runs_at_once_and_is_saved():
    _create_probe()
    _add_behind(5)
    assert connection._behind is None  # run and waited for: its own transaction
    assert connection.connection.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert _numbers() == [5]


def test_the_audit_context_tags_writes_sent_behind(practice, reception):
    """The first write of a transaction has pghistory's context set in front of it, by a
    statement of its own in the same pipeline (`queue_audit_context`): it goes behind
    too, as the later ones, all tagged with the context the transaction holds."""
    client = practice.client
    with pghistory.context(user=reception.pk, url="/behind/"), connection.cursor() as cursor:
        cursor.execute_behind(
            "UPDATE clients_client SET notes = %s WHERE id = %s", ["first", client.pk]
        )
        assert connection._behind is not None  # the context, then the write: sent behind
        cursor.execute_behind(
            "UPDATE clients_client SET notes = %s WHERE id = %s", ["second", client.pk]
        )
        assert connection._behind is not None  # sent behind
    client.refresh_from_db()
    assert client.notes == "second"
    updates = Events.objects.tracks(Client.objects.get(pk=client.pk)).filter(pgh_label="update")
    assert [e.pgh_data["notes"] for e in updates.order_by("pgh_created_at", "pgh_id")][-2:] == [
        "first",
        "second",
    ]
    assert {e.pgh_context["url"] for e in updates.order_by("-pgh_id")[:2]} == {"/behind/"}


def test_a_booking_takes_its_credit_with_the_ledger_row_sent_behind(practice, reception):
    """The booking's ledger row goes behind (packages.services.consume): the package's
    counter, its ledger row and the chain are exact once the booking is done."""
    package = practice.sell(practice.flexible, by=reception)
    with CaptureQueriesContext(connection) as queries:
        appointment = practice.book(by=reception, client_package=package)
        # Booked, and the ledger statement not waited for yet: nothing was sent after it.
        assert connection._behind is not None
    ledger = [
        q["sql"] for q in queries.captured_queries if "packages_creditledgerentry" in q["sql"]
    ]
    assert ledger and ledger[-1].startswith("WITH _before AS (UPDATE")
    package.refresh_from_db()
    assert package.consumed == 1
    entry = CreditLedgerEntry.objects.get(appointment=appointment, kind="consume")
    assert entry.quantity == -1 and entry.client_package_id == package.pk
    assert not ledger_discrepancies(client_package_ids=[package.pk])


def _prepared(text: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [s for (s,) in cursor.fetchall() if text in s]


def test_a_write_sent_behind_registered_with_plan_once_is_prepared_once(probe):
    """PostgreSQL parses and plans it once per connection (a booking's INSERTs)."""
    sql = plan_once("INSERT INTO behind_probe (n) SELECT %s")
    _add(1)
    for n in (2, 3, 4):
        _add_behind(n, sql)
    assert _numbers() == [1, 2, 3, 4]
    assert len(_prepared("INSERT INTO behind_probe (n) SELECT $1")) == 1
    _add_behind(5, "INSERT INTO behind_probe (n) SELECT %s + 0")  # not registered
    assert _numbers() == [1, 2, 3, 4, 5]
    assert _prepared("SELECT $1 + 0") == []


def test_nothing_sent_behind_is_prepared_without_prepared_statements(probe, monkeypatch):
    sql = plan_once("INSERT INTO behind_probe (n) SELECT %s * 1")
    _add(1)
    monkeypatch.setattr(connection.connection, "prepare_threshold", None)  # PgBouncer's
    _add_behind(2, sql)
    assert _numbers() == [1, 2]
    monkeypatch.undo()
    assert _prepared("SELECT $1 * 1") == []
