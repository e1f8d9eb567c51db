"""The reads by key are planned once per connection (`rows_by_pk`, the `kernel.prepared`
queries marked `planned()`): they run as prepared statements, their values bound by
the server (kernel/db/postgresql/base.py, issue 10), with the rows Django's own query
gives; everything else runs as Django sends it, and nothing is prepared where the
connection keeps no prepared statements (PgBouncer's transaction pooling)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from clients.models import Client
from kernel.db.postgresql.base import plan_once
from kernel.prepared import Prepared, rows_by_pk

pytestmark = pytest.mark.django_db


def _by_name(last, since):
    return Client.objects.filter(last_name=last, created_at__gte=since).order_by("pk")


_BY_NAME = Prepared(_by_name, last=str, since=dt.datetime).planned()
_BY_NAME_UNPLANNED = Prepared(
    lambda last, since: _by_name(last, since).filter(archived=False), last=str, since=dt.datetime
)


def _fields(client: Client) -> dict:
    return {f.attname: getattr(client, f.attname) for f in Client._meta.concrete_fields}


def _prepared_statements(on=connection) -> list[str]:
    with on.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def test_a_prepared_query_runs_as_a_prepared_statement_with_the_rows_of_the_queryset():
    ada = Client.objects.create(first_name="Ada", last_name="Planned")
    Client.objects.create(first_name="Bea", last_name="Other")
    since = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    first = _BY_NAME.objects(last="Planned", since=since)
    again = _BY_NAME.objects(last="Planned", since=since)
    expected = list(Client.objects.filter(last_name="Planned", created_at__gte=since))
    assert first == again == expected == [ada]
    assert [_fields(c) for c in first] == [_fields(c) for c in expected]  # every field
    assert _BY_NAME.objects(last="Nobody", since=since) == []
    statements = _prepared_statements()
    assert any('"clients_client"."last_name" = $2' in s for s in statements), statements
    # A query not marked planned runs as Django sends it: nothing more is prepared.
    assert _BY_NAME_UNPLANNED.objects(last="Planned", since=since) == [ada]
    assert _BY_NAME_UNPLANNED.objects(last="Planned", since=since) == [ada]
    assert _prepared_statements() == statements


def test_rows_by_pk_runs_prepared_and_finds_what_get_finds():
    ada = Client.objects.create(first_name="Ada", last_name="Planned")
    for _ in range(2):
        (found, none), extras = rows_by_pk(
            [(Client, ada.pk), (Client, None)], [("SELECT count(*) FROM clients_client", [])]
        )
        assert _fields(found) == _fields(Client.objects.get(pk=ada.pk)) and none is None
        assert extras == [Client.objects.count()]
    assert any(s.startswith("SELECT t0.") for s in _prepared_statements())


def test_the_cursor_of_a_planned_read_runs_what_follows_as_django_sends_it():
    sql = plan_once("SELECT n FROM generate_series(1, %s) n ORDER BY n")
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        cursor.execute(sql, [3])
        assert cursor.fetchall() == [(1,), (2,), (3,)]
        # Two statements in one: only Django's (client-side) cursor may send that (a
        # prepared statement holds one); Django reads the first's rows.
        cursor.execute("SELECT 1; SELECT %s::int", [2])
        assert cursor.fetchall() == [(1,)]
        cursor.execute(sql, [1])
        assert cursor.fetchall() == [(1,)]
    assert len(queries) == 3  # each counted, as any statement
    assert "SELECT n FROM generate_series(1, $1) n ORDER BY n" in _prepared_statements()


def test_a_planned_read_after_a_savepoint_goes_with_it_still_prepared():
    sql = plan_once("SELECT count(*) FROM clients_client WHERE last_name = %s")
    Client.objects.create(first_name="Ada", last_name="Saved")
    with pytest.raises(RuntimeError), transaction.atomic():
        with connection.cursor() as cursor:
            # The SAVEPOINT and the read in one pipeline: one round trip, and the read
            # is still prepared.
            cursor.execute(sql, ["Saved"])
            assert cursor.fetchone() == (1,)
        assert "SELECT count(*) FROM clients_client WHERE last_name = $1" in (
            _prepared_statements()
        )
        Client.objects.create(first_name="Bo", last_name="Saved")
        raise RuntimeError  # back to the savepoint the read went with
    assert Client.objects.filter(last_name="Saved").count() == 1


def test_a_planned_read_in_a_failed_transaction_is_refused_as_any_statement():
    sql = plan_once("SELECT count(*) FROM clients_client WHERE first_name = %s")
    with pytest.raises(DatabaseError), transaction.atomic():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 / 0")
        except DatabaseError:
            pass
        # PostgreSQL refuses it, as any statement, with the error Django gives.
        with (
            pytest.raises(DatabaseError, match="current transaction is aborted"),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, ["Ada"])
        raise DatabaseError("leave the block")
    # Django refuses to send it in a transaction it knows is broken.
    with transaction.atomic():
        with (
            pytest.raises(DatabaseError),
            transaction.atomic(savepoint=False),
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT 1 / 0")
        with pytest.raises(TransactionManagementError), connection.cursor() as cursor:
            cursor.execute(sql, ["Ada"])


def test_nothing_is_prepared_where_the_connection_keeps_no_prepared_statements():
    other = connection.copy()  # as through PgBouncer (caspen/settings.py, tests/pgbouncer.py)
    other.settings_dict = {
        **other.settings_dict,
        "OPTIONS": {**other.settings_dict.get("OPTIONS", {}), "prepare_threshold": None},
    }
    try:
        sql = plan_once("SELECT %s::int + 1")
        for _ in range(3):
            with other.cursor() as cursor:
                cursor.execute(sql, [41])
                assert cursor.fetchone() == (42,)
        assert _prepared_statements(other) == []
    finally:
        other.close()


def test_the_package_page_and_the_overview_read_their_lists_and_sums_as_planned(
    client, admin_user, practice
):
    """Their reads of a client's or a package's rows: planning them cost PostgreSQL several
    times running them (about 2 ms a page on the large practice), so each is planned once
    per connection. The rows are the ones the pages always showed (their own tests)."""
    package = practice.sell(by=admin_user)
    practice.book(by=admin_user, client_package=package)
    client.force_login(admin_user)
    before = set(_prepared_statements())
    assert client.get(f"/packages/{package.pk}/").status_code == 200
    assert client.get(f"/clients/{practice.client.pk}/").status_code == 200
    new = [s for s in _prepared_statements() if s not in before]

    def planned(*words: str) -> bool:
        return any(all(word in s for word in words) for s in new)

    # The package page: its appointments, its invoices and its credit history.
    assert planned('FROM "calendar_app_appointment"', '"client_package_id" = $1')
    assert planned('FROM "invoicing_invoice"')
    assert planned('FROM "packages_creditledgerentry"')
    # The Overview: the client's packages, what they hold, the expired ones with credits
    # left, the balance owing and the next and last appointment.
    assert planned('FROM "packages_clientpackage"', "OVER ()", '"client_id" = $1')
    assert planned('SUM(("packages_clientpackage"."credits"')
    assert planned('FROM "packages_clientpackage"', '"expires_on" < $')
    assert planned("COALESCE(SUM(b.balance)")
    assert planned('FROM "calendar_app_appointment"', '"starts_at" >= $')


def test_a_planned_read_in_a_block_marked_for_rollback_sends_nothing():
    sql = plan_once("SELECT count(*) FROM clients_client WHERE first_name = %s")
    with transaction.atomic():
        transaction.set_rollback(True)
        with pytest.raises(TransactionManagementError), connection.cursor() as cursor:
            cursor.execute(sql, ["Ada"])  # refused by Django before anything is sent
        assert connection._behind is None
        assert connection.waiting_control  # the block's SAVEPOINT was not sent either
