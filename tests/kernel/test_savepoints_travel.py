"""A savepoint's SAVEPOINT and RELEASE cost no round trip of their own: they go to
PostgreSQL in front of the next statement (kernel/db/postgresql/base.py, issue 10), and
every savepoint still keeps and undoes exactly what it did before: a failed statement,
the one that carried the SAVEPOINT included, rolls back to it; a block nothing ran in
sends nothing; a server-side cursor or an executemany gets them sent first; COMMIT
makes a waiting RELEASE needless."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.models import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def probe():
    """A temporary table of numbers (its primary key refuses a number twice)."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE savepoint_probe (n integer PRIMARY KEY)")
    return _Probe()


class _Probe:
    def add(self, n: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO savepoint_probe (n) VALUES (%s)", [n])

    def numbers(self) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT n FROM savepoint_probe ORDER BY n")
            return [n for (n,) in cursor.fetchall()]


class _Refused(Exception):
    pass


def _sent(queries) -> list[tuple[str, str]]:
    """Each captured statement, with what went in front of it ("" for nothing): the log
    shows a statement as its caller sent it, and the savepoints it carried apart."""
    return [(q.get("with", ""), q["sql"]) for q in queries.captured_queries]


def test_the_savepoint_goes_with_the_statement_after_it_and_the_release_with_the_next(probe):
    with CaptureQueriesContext(connection) as queries:
        with transaction.atomic():
            probe.add(1)
        probe.numbers()
    sent = _sent(queries)
    assert len(sent) == 2, sent
    (savepoint, insert), (release, select) = sent
    assert savepoint.startswith('SAVEPOINT "') and insert.startswith("INSERT INTO savepoint_probe")
    assert release == "RELEASE " + savepoint and select.startswith("SELECT n FROM savepoint_probe")
    assert probe.numbers() == [1]


def test_a_failed_statement_rolls_back_to_its_savepoint_and_the_transaction_goes_on(probe):
    probe.add(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        probe.add(2)
        probe.add(1)  # refused: 1 is there
    assert probe.numbers() == [1]  # 2 is undone with the savepoint, 1 stays
    probe.add(3)
    assert probe.numbers() == [1, 3]


def test_the_statement_carrying_the_savepoint_can_fail_and_is_rolled_back_to_it(probe):
    probe.add(1)
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(IntegrityError),
        transaction.atomic(),
    ):
        probe.add(1)  # the first statement in the block: it carries the SAVEPOINT
    assert queries.captured_queries[0]["with"].startswith('SAVEPOINT "')
    assert probe.numbers() == [1]  # the transaction is usable: it rolled back to it


def test_a_block_nothing_ran_in_sends_nothing(probe):
    with CaptureQueriesContext(connection) as queries:
        with transaction.atomic():
            pass
        with pytest.raises(_Refused), transaction.atomic():
            raise _Refused
        with transaction.atomic(), transaction.atomic():
            pass
        probe.numbers()
    assert _sent(queries) == [("", "SELECT n FROM savepoint_probe ORDER BY n")]


def test_a_rollback_to_a_savepoint_sent_undoes_its_writes(probe):
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(_Refused),
        transaction.atomic(),
    ):
        probe.add(1)
        raise _Refused
    rollbacks = [q for q in _sent(queries) if q[1].startswith("ROLLBACK TO")]
    assert len(rollbacks) == 1, _sent(queries)
    assert probe.numbers() == []


def test_a_server_side_cursor_and_an_executemany_get_them_sent_first(probe):
    Client.objects.create(first_name="Ada", last_name="Iter")
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(_Refused),
        transaction.atomic(),
    ):
        # First in the block: a DECLARE can carry nothing in front of it.
        names = [c.first_name for c in Client.objects.filter(last_name="Iter").iterator(2)]
        probe.add(1)
        raise _Refused
    assert names == ["Ada"]
    if not connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"]:
        # Sent on its own before the DECLARE, and logged as a statement of its own.
        savepoint, declared = _sent(queries)[:2]
        assert savepoint[1].startswith('SAVEPOINT "') and "clients_client" in declared[1]
    with pytest.raises(_Refused), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO savepoint_probe (n) VALUES (%s)", [[5], [6]])
        raise _Refused
    assert probe.numbers() == []  # both blocks undone: their savepoints were taken first
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany("INSERT INTO savepoint_probe (n) VALUES (%s)", [[7], [8]])
    assert probe.numbers() == [7, 8]


def test_commit_ends_a_waiting_release_without_sending_it():
    other = connection.copy()  # a connection of its own, to commit on
    try:
        with other.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE committed_probe (n integer PRIMARY KEY)")
        other.force_debug_cursor = True
        other.set_autocommit(False)
        sid = other.savepoint()
        with other.cursor() as cursor:
            cursor.execute("INSERT INTO committed_probe (n) VALUES (1)")
        other.savepoint_commit(sid)
        other.commit()
        other.set_autocommit(True)
        sent = [(q.get("with", ""), q["sql"]) for q in other.queries]
        assert not [s for s in sent if "RELEASE" in s[0] + s[1]], sent
        assert len(sent) == 3 and sent[0][1] == "BEGIN" and sent[2][1] == "COMMIT", sent
        # the transaction's BEGIN and the SAVEPOINT, both in front of the INSERT
        assert sent[1][0].startswith('BEGIN; SAVEPOINT "'), sent
        assert sent[1][1] == "INSERT INTO committed_probe (n) VALUES (1)"
        other.rollback()  # nothing open: the row was committed
        with other.cursor() as cursor:
            cursor.execute("SELECT n FROM committed_probe")
            assert cursor.fetchall() == [(1,)]
    finally:
        other.close()


# ------------------------------------------------------------------ any nesting at all


@dataclass
class _Block:
    """Writes and inner blocks, in order; then the block ends as `end` says: kept,
    refused by Python, or refused by PostgreSQL (a number written twice)."""

    steps: list = field(default_factory=list)
    end: str = "keep"


_numbers = iter(range(1, 10**9))


def _blocks(depth: int):
    step = st.builds(lambda: next(_numbers))
    if depth:
        step = st.one_of(step, st.deferred(lambda: _blocks(depth - 1)))
    return st.builds(
        _Block,
        steps=st.lists(step, max_size=4),
        end=st.sampled_from(["keep", "python", "database"]),
    )


def _run(block: _Block, probe: _Probe) -> None:
    """Run `block` in a savepoint (its refusals caught after it)."""
    try:
        with transaction.atomic():
            for step in block.steps:
                if isinstance(step, _Block):
                    _run(step, probe)
                else:
                    probe.add(step)
            if block.end == "python":
                raise _Refused
            if block.end == "database":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1 / 0")
    except (_Refused, DatabaseError):
        pass


def _kept(block: _Block) -> list[int]:
    if block.end != "keep":
        return []
    kept: list[int] = []
    for step in block.steps:
        kept += _kept(step) if isinstance(step, _Block) else [step]
    return kept


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(blocks=st.lists(_blocks(3), min_size=1, max_size=4))
def test_nested_savepoints_keep_exactly_what_each_block_kept(probe, blocks):
    with transaction.atomic():
        for block in blocks:
            _run(block, probe)
        expected = sorted(n for block in blocks for n in _kept(block))
        assert probe.numbers() == expected
        transaction.set_rollback(True)  # the next example starts from an empty table


def test_a_statement_carrying_a_savepoint_keeps_its_values_exactly():
    """Its values are merged into it as psycopg's client-side binding merges them (quotes,
    percent signs, backslashes and all), and the whole is sent without parameters."""
    tricky = "50% off, O'Brien's \\ %s %% {}"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT %s::text || '%%', %s::int + 1", [tricky, 41])
        assert cursor.fetchone() == (tricky + "%", 42)
        assert connection.control_sent.startswith('SAVEPOINT "')  # it did carry one


def test_a_statement_carrying_a_savepoint_is_parsed_once_for_all_savepoints(probe):
    """psycopg keeps the parse of a statement's text (its placeholders); the savepoint's
    name in front of it changes each time, so the statement is merged before it is
    joined: the same statement in a new savepoint is not parsed again (issue 10)."""
    from psycopg import _queries

    probe.add(1)  # the statement's text parsed once
    before = _queries._query2pg_client.cache_info().misses
    for n in range(2, 6):
        with transaction.atomic():
            probe.add(n)
    assert _queries._query2pg_client.cache_info().misses == before
    assert probe.numbers() == [1, 2, 3, 4, 5]
