"""Planned reads read ahead (`DatabaseWrapper.read_ahead`, `Prepared.read_ahead`,
kernel/db/postgresql/base.py, issue 10) are sent without waiting; the statements that
run them next, with the same values, get their rows from one round trip. They still run
one after another, in the order sent (a read after a lock sees what the lock waited
for); anything else run first drops them and they are read again; their error is raised
where they are taken."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from clients.models import Client
from kernel import idempotency
from kernel.db.postgresql.base import DatabaseWrapper, plan_once
from kernel.prepared import Prepared, rows_by_pk, rows_by_pk_statement
from tests.database import other_connection

pytestmark = pytest.mark.django_db

LOCK = 774_412  # an advisory lock number no other code takes

_BY_NAME = Prepared(
    lambda last: Client.objects.filter(last_name=last).order_by("pk"), last=str
).planned()
_COUNT_NAMED = Prepared(
    lambda last: Client.objects.filter(last_name=last).values_list("pk"), last=str
).planned()


def _run(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_reads_read_ahead_are_answered_in_one_round_trip_with_the_rows_of_the_queryset(
    round_trips,
):
    ada = Client.objects.create(first_name="Ada", last_name="Ahead")
    bea = Client.objects.create(first_name="Bea", last_name="Other")
    assert _BY_NAME.read_ahead(last="Ahead") and _BY_NAME.read_ahead(last="Other")
    assert round_trips == []  # nothing waited for yet
    assert _BY_NAME.objects(last="Ahead") == [ada]
    assert _BY_NAME.objects(last="Other") == [bea]
    assert len(round_trips) == 1  # one round trip for both
    assert connection._ahead == [] and connection._behind is None
    # The same reads, not read ahead, find the same rows (each its own round trip).
    assert _BY_NAME.objects(last="Ahead") == [ada] and _BY_NAME.objects(last="Other") == [bea]
    assert len(round_trips) == 1


def test_a_read_ahead_runs_after_the_one_before_it_and_sees_what_that_one_waited_for():
    """A lock read ahead, then a read ahead of what the lock's holder writes before it
    lets go: the read runs once the lock is taken, with its own snapshot, so it sees the
    write (one statement reading both would not)."""
    key = f"ahead-{uuid.uuid4().hex}"  # a session row the lock's holder writes
    lock = plan_once("SELECT pg_advisory_xact_lock(%s)")
    count = plan_once("SELECT count(*) FROM django_session WHERE session_key = %s")
    with other_connection() as other:
        try:
            other.execute("SELECT pg_advisory_lock(%s)", [LOCK])
            _run("SELECT 1", [])  # the test's transaction has begun
            started = time.monotonic()
            assert connection.read_ahead(lock, [LOCK])  # waits in PostgreSQL, not here
            assert connection.read_ahead(count, [key])
            assert time.monotonic() - started < 1

            def write_then_unlock():
                other.execute(
                    "INSERT INTO django_session (session_key, session_data, expire_date) "
                    "VALUES (%s, '', now())",
                    [key],
                )
                other.execute("SELECT pg_advisory_unlock(%s)", [LOCK])

            threading.Timer(0.3, write_then_unlock).start()
            assert _run(lock, [LOCK]) == [("",)]
            assert _run(count, [key]) == [(1,)]
        finally:
            other.execute("DELETE FROM django_session WHERE session_key = %s", [key])


def test_anything_else_run_first_drops_the_reads_ahead_and_they_are_read_again():
    assert _COUNT_NAMED.read_ahead(last="Later")
    late = Client.objects.create(first_name="Cy", last_name="Later")  # runs first
    assert connection._ahead == []
    assert _COUNT_NAMED.rows(last="Later") == [(late.pk,)]  # read again: sees the client

    assert _COUNT_NAMED.read_ahead(last="Later")
    assert _BY_NAME.objects(last="Later") == [late]  # another read first: dropped too
    assert connection._ahead == []
    assert _COUNT_NAMED.rows(last="Later") == [(late.pk,)]


def test_other_values_are_not_answered_by_a_read_ahead():
    ada = Client.objects.create(first_name="Ada", last_name="Ahead")
    assert _BY_NAME.read_ahead(last="Nobody")
    assert _BY_NAME.objects(last="Ahead") == [ada]
    assert connection._ahead == []


def test_a_savepoint_asked_for_in_between_drops_the_read_ahead():
    """Taken after the read, a savepoint would not undo the read's lock: read again."""
    ada = Client.objects.create(first_name="Ada", last_name="Ahead")
    assert _BY_NAME.read_ahead(last="Ahead")
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert _BY_NAME.objects(last="Ahead") == [ada]
        assert connection._ahead == []
    # Read again, the savepoint taken in front of it.
    assert queries.captured_queries[0]["with"].startswith("SAVEPOINT")


def test_the_error_of_a_read_ahead_is_raised_where_it_is_taken_and_a_savepoint_undoes_it():
    lock = plan_once("SELECT pg_advisory_xact_lock(%s)")
    with other_connection() as other:
        other.execute("SELECT pg_advisory_lock(%s)", [LOCK])
        try:
            with pytest.raises(DatabaseError, match="lock timeout"), transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '100ms'")
                assert connection.read_ahead(lock, [LOCK])
                assert _BY_NAME.read_ahead(last="Ahead")  # skipped by PostgreSQL
                _run(lock, [LOCK])
        finally:
            other.execute("SELECT pg_advisory_unlock(%s)", [LOCK])
    assert connection._ahead == [] and connection._behind is None
    ada = Client.objects.create(first_name="Ada", last_name="Ahead")  # still usable
    assert _BY_NAME.objects(last="Ahead") == [ada]


def test_nothing_is_read_ahead_outside_a_transaction_or_without_prepared_statements(
    monkeypatch,
):
    with connection.cursor():
        pass
    monkeypatch.setattr(connection.connection, "prepare_threshold", None)  # PgBouncer's
    assert not _BY_NAME.read_ahead(last="Ahead")
    monkeypatch.undo()
    monkeypatch.setattr(DatabaseWrapper, "get_autocommit", lambda self: True)
    assert not _BY_NAME.read_ahead(last="Ahead")
    assert connection._ahead == [] and connection._behind is None


def test_an_unplanned_read_is_never_read_ahead():
    unplanned = Prepared(lambda last: Client.objects.filter(last_name=last), last=str)
    with pytest.raises(Exception, match="planned"):
        unplanned.read_ahead(last="Ahead")


def test_a_key_claimed_and_the_reads_sent_with_it_are_answered_in_one_round_trip(
    round_trips, reception
):
    ada = Client.objects.create(first_name="Ada", last_name="Ahead")
    read = rows_by_pk_statement([(Client, ada.pk)])
    row, stored = idempotency.claim(user=reception, key="k1", fingerprint="f", then=[read])
    assert row is not None and stored is None
    assert len(round_trips) == 1  # the claim and the read
    (found,), _ = rows_by_pk([(Client, ada.pk)])  # what the work reads first
    assert found == ada and len(round_trips) == 1  # answered already
    assert connection._ahead == []


def test_a_key_already_taken_drops_the_reads_sent_with_it(reception):
    ada = Client.objects.create(first_name="Ada", last_name="Ahead")
    read = rows_by_pk_statement([(Client, ada.pk)])
    idempotency.claim(user=reception, key="k1", fingerprint="f")
    row, _ = idempotency.claim(user=reception, key="k1", fingerprint="f", then=[read])
    assert row is None  # taken: the work does not run, nothing waits read ahead
    assert connection._ahead == []


def test_a_claim_refused_by_the_database_leaves_nothing_read_ahead(reception):
    """Its error is raised; the reads after it, skipped by PostgreSQL, are dropped."""
    ada = Client.objects.create(first_name="Ada", last_name="Ahead")
    read = rows_by_pk_statement([(Client, ada.pk)])
    with pytest.raises(DatabaseError), transaction.atomic():
        idempotency.claim(user=reception, key="k1", fingerprint="f" * 65, then=[read])
    assert connection._ahead == [] and connection._behind is None
    (found,), _ = rows_by_pk([(Client, ada.pk)])  # read as usual
    assert found == ada
