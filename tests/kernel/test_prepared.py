"""kernel.prepared: a queryset's SQL built once, run with each call's values; what it
reads equals what the queryset reads."""

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendar_app.models import AppointmentStatus
from calendar_app.selectors import client_next_and_last_appointment
from clients.models import Client
from clients.selectors import client_or_404
from clients.views import client_visits
from kernel.prepared import Prepared, insert_row, rows_by_pk
from packages.models import ClientPackage
from packages.selectors import client_expired_with_credits_left, expired_with_credits_left
from tests.factories import AppointmentFactory, ClientFactory, ClientPackageFactory

pytestmark = pytest.mark.django_db


def test_values_are_parameters_of_each_call():
    one, two = ClientFactory(first_name="One"), ClientFactory(first_name="Two")
    by_pk = Prepared(lambda pk: Client.objects.filter(pk=pk)[:2], pk=int)
    assert by_pk.get_or_404(pk=one.pk).first_name == "One"
    with CaptureQueriesContext(connection) as queries:
        assert by_pk.get_or_404(pk=two.pk).first_name == "Two"
    assert len(queries) == 1
    assert str(two.pk) in queries[0]["sql"]
    with pytest.raises(Http404):
        by_pk.get_or_404(pk=max(one.pk, two.pk) + 1000)
    with pytest.raises(Http404):
        client_or_404(10**20)  # beyond bigint: no match, not an error
    with pytest.raises(TypeError):
        by_pk.objects(pk="1")
    with pytest.raises(TypeError):
        by_pk.objects(client=one.pk)


def test_rows_and_several_values():
    client = ClientFactory()
    ClientPackageFactory(client=client, credits=5)
    built = Prepared(
        lambda client, name: (
            ClientPackage.objects.filter(client_id=client, name=name)
            .values("client_id")
            .values_list("credits", "name")
        ),
        client=int,
        name=str,
    )
    package = ClientPackage.objects.get(client=client)
    assert built.rows(client=client.pk, name=package.name) == [(5, package.name)]
    assert built.rows(client=client.pk, name="other") == []


def test_a_value_that_does_not_reach_the_parameters_is_refused():
    contains = Prepared(lambda word: Client.objects.filter(last_name__contains=word), word=str)
    with pytest.raises(ImproperlyConfigured):
        contains.objects(word="x")
    later = Prepared(lambda day: Client.objects.filter(created_at__date=day), day=dt.date)
    with pytest.raises(ImproperlyConfigured, match="derived"):  # from the sample
        Prepared(lambda pk: Client.objects.filter(pk=pk + 1), pk=int).objects(pk=1)
    assert later.objects(day=timezone.localdate()) == []
    derived = Prepared(
        lambda since: Client.objects.filter(created_at__gte=since - dt.timedelta(days=1)),
        since=dt.datetime,
    )
    with pytest.raises(ImproperlyConfigured, match="derived"):
        derived.rows(since=timezone.now())


def _clients(*, ids, archived, since):
    queryset = Client.objects.filter(pk__in=ids, created_at__gte=since)
    if archived is not None:
        queryset = queryset.filter(archived=archived)
    return queryset.order_by("pk").values_list("pk", "last_name")


def test_each_shape_runs_with_its_own_values_and_matches_the_queryset():
    """Optional values, bools and list lengths are shapes: each compiled once, each
    call's values its own."""
    query = Prepared(_clients, ids=list, archived=bool | None, since=dt.datetime)
    a, b, c = ClientFactory(last_name="A"), ClientFactory(last_name="B"), ClientFactory()
    c.archived = True
    c.save(update_fields=["archived"])
    since = timezone.now() - dt.timedelta(days=1)
    for ids, archived in [
        ([a.pk, b.pk], None),
        ([b.pk, c.pk], None),  # same shape, other values
        ([a.pk, b.pk, c.pk], False),
        ([a.pk, b.pk, c.pk], True),
        ([c.pk], None),
    ]:
        expected = list(_clients(ids=ids, archived=archived, since=since))
        assert query.rows(ids=ids, archived=archived, since=since) == expected
    later = timezone.now() + dt.timedelta(days=1)
    assert query.rows(ids=[a.pk, b.pk], archived=None, since=later) == []


def test_an_empty_list_runs_no_query():
    query = Prepared(_clients, ids=list, archived=bool | None, since=dt.datetime)
    with CaptureQueriesContext(connection) as queries:
        assert query.rows(ids=[], archived=None, since=timezone.now()) == []
    assert len(queries) == 0


def test_values_of_the_wrong_kind_are_refused():
    query = Prepared(_clients, ids=list, archived=bool | None, since=dt.datetime)
    with pytest.raises(TypeError):
        query.rows(ids=["1"], archived=None, since=timezone.now())
    with pytest.raises(TypeError):
        query.rows(ids=[1], archived=None, since=dt.datetime(2026, 1, 1))  # naive
    with pytest.raises(TypeError):
        query.rows(ids=None, archived=None, since=timezone.now())
    with pytest.raises(ImproperlyConfigured):
        Prepared(_clients, ids=dict)


def test_client_visits_agree_with_the_calendar():
    client = ClientFactory()
    assert client_visits(client) == client_next_and_last_appointment(client)
    now = timezone.now()
    for days in (-3, -1, 2, 5):
        AppointmentFactory(client=client, starts_at=now + dt.timedelta(days=days))
    AppointmentFactory(
        client=client,
        starts_at=now + dt.timedelta(days=1),
        status=AppointmentStatus.CANCELED,
    )
    ours, theirs = client_visits(client), client_next_and_last_appointment(client)
    assert (ours.next.pk, ours.last.pk) == (theirs.next.pk, theirs.last.pk)
    assert ours.next.service.name == theirs.next.service.name
    assert ours.last.practitioner.name == theirs.last.practitioner.name


def test_client_expired_with_credits_left_agrees():
    client = ClientFactory()
    today = timezone.localdate()
    for days in (-10, -2, 3):
        ClientPackageFactory(
            client=client,
            start_date=today - dt.timedelta(days=30),
            expires_on=today + dt.timedelta(days=days),
        )
    ClientPackageFactory(
        client=ClientFactory(),
        start_date=today - dt.timedelta(days=30),
        expires_on=today - dt.timedelta(days=1),
    )
    ours = client_expired_with_credits_left(client)
    theirs = expired_with_credits_left(ClientPackage.objects.filter(client=client))
    assert [p.pk for p in ours.packages] == [p.pk for p in theirs.packages]
    assert len(ours.packages) == 2
    assert ours.credits == theirs.credits


@pytest.mark.parametrize("archived", [False, True, None])
def test_client_search_first_page_agrees_with_client_search(archived, monkeypatch):
    from clients import selectors
    from clients.selectors import client_search, client_search_first_page

    for i in range(8):
        ClientFactory(first_name=f"Jo{i}", last_name="Citizen", archived=i % 3 == 0)
    ClientFactory(first_name="Ann", last_name="Per%cent_x", email="a_b@example.com")
    searches = ["cit", "jo cit", "JO3 citizen", "per%cent", "a_b", "zzz", "cit jo1"]
    for narrow_cap in (1000, 2):  # 2: the wide plan (the name index's order)
        monkeypatch.setattr(selectors, "SEARCH_COUNT_CAP", narrow_cap)
        monkeypatch.setattr(selectors, "SEARCH_SORT_CAP", narrow_cap)
        selectors._FIRST_PAGES.clear()
        for typed in searches:
            words = typed.split()
            rows, count, _ = client_search_first_page(words, archived=archived, per_page=2)
            expected = client_search(words, archived=archived)
            assert [c.pk for c in rows] == [c.pk for c in expected[:2]], typed
            # Every field as the ORM reads it (the rows are made from the raw columns).
            fields = [f.attname for f in Client._meta.concrete_fields]
            assert [[getattr(c, f) for f in fields] for c in rows] == [
                [getattr(c, f) for f in fields] for c in expected[:2]
            ], typed
            assert count == min(expected.count(), narrow_cap + 1), typed
    assert client_search_first_page(["jo"]) is None  # no word of 3 letters: the other plan


@pytest.mark.django_db(transaction=True)
def test_another_thread_runs_it_on_its_own_connection():
    import threading

    from django.db import connections

    one = ClientFactory(first_name="One")
    by_pk = Prepared(lambda pk: Client.objects.filter(pk=pk)[:2], pk=int)
    assert by_pk.get_or_404(pk=one.pk).first_name == "One"  # compiled in this thread
    found = []

    def read():
        try:
            found.append(by_pk.get_or_404(pk=one.pk).first_name)
            found.append(by_pk.count(pk=one.pk))
        finally:
            connections.close_all()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert found == ["One", 1]


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_rows_by_pk_reads_each_row_as_the_orm_does_in_one_query():
    client = ClientFactory(notes="Knee")
    package = ClientPackageFactory(client=client, credits=5)
    missing = client.pk + 10**6
    with CaptureQueriesContext(connection) as queries:
        found, extras = rows_by_pk(
            [(Client, client.pk), (ClientPackage, package.pk), (Client, None), (Client, missing)],
            [("SELECT %s::int + 1", [41])],
        )
    assert len(queries) == 1
    assert _fields(found[0]) == _fields(Client.objects.get(pk=client.pk))
    assert _fields(found[1]) == _fields(ClientPackage.objects.get(pk=package.pk))
    assert found[2] is None and found[3] is None
    assert extras == [42]
    assert not found[0]._state.adding and found[0]._state.db == "default"


def test_insert_row_saves_as_save_does_and_runs_its_with_statement():
    other = ClientFactory()
    client = Client(first_name="Ada", last_name="Lovelace", phone="0400 000 000")
    with CaptureQueriesContext(connection) as queries:
        insert_row(
            client,
            with_="UPDATE clients_client SET notes = %s WHERE id = %s",
            with_params=["Moved", other.pk],
        )
    assert len(queries) == 1
    assert client.pk is not None and not client._state.adding
    assert client.created_at is not None and client.updated_at is not None
    assert _fields(Client.objects.get(pk=client.pk)) == _fields(client)
    other.refresh_from_db()
    assert other.notes == "Moved"


def test_a_prepared_querys_converters_are_worked_out_once_per_connection(monkeypatch):
    """Django works out a query's converters (the database's and the fields') for every
    run; a prepared query keeps them for its connection, and still reads what the
    queryset reads (a Decimal, dates, an aware datetime)."""
    from django.db.models.sql.compiler import SQLCompiler

    calls = []
    work_out = SQLCompiler.get_converters

    def counted(self, expressions):
        calls.append(len(expressions))
        return work_out(self, expressions)

    packages = [ClientPackageFactory(credits=n) for n in (3, 4)]
    monkeypatch.setattr(SQLCompiler, "get_converters", counted)
    by_pk = Prepared(lambda pk: ClientPackage.objects.filter(pk=pk)[:2], pk=int)
    for package in packages * 2:
        (read,) = by_pk.objects(pk=package.pk)
        assert _fields(read) == _fields(ClientPackage.objects.get(pk=package.pk))
    assert len(calls) == 1 + 4  # once for the prepared query; each .get() its own


def test_a_prepared_read_leaves_no_reference_cycle_behind():
    """What it reads is freed as soon as it is dropped: no garbage for the collector (a
    function kept on the compiler copy that refers back to it made a cycle a read)."""
    import gc

    package = ClientPackageFactory()
    by_pk = Prepared(lambda pk: ClientPackage.objects.filter(pk=pk)[:2], pk=int)
    by_pk.objects(pk=package.pk)
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            by_pk.objects(pk=package.pk)
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_rows_by_pk_works_out_each_models_converters_once(monkeypatch):
    from django.db.backends.postgresql.operations import DatabaseOperations

    package = ClientPackageFactory()
    rows_by_pk([(ClientPackage, package.pk)])  # worked out here (or by an earlier test)
    calls = []
    work_out = DatabaseOperations.get_db_converters
    monkeypatch.setattr(
        DatabaseOperations,
        "get_db_converters",
        lambda self, expression: calls.append(expression) or work_out(self, expression),
    )
    (found,), _ = rows_by_pk([(ClientPackage, package.pk)])
    assert calls == []
    assert _fields(found) == _fields(ClientPackage.objects.get(pk=package.pk))
