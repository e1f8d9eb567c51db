"""kernel.compiled: SQL compiled once per shape runs with each call's own values, gives
what the queryset itself gives, and refuses a builder whose SQL it cannot substitute."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.models import Client
from kernel.compiled import CompiledQuery
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def _clients(*, ids, archived, since):
    queryset = Client.objects.filter(pk__in=ids, created_at__gte=since)
    if archived is not None:
        queryset = queryset.filter(archived=archived)
    return queryset.order_by("pk").values_list("pk", "last_name")


def test_each_call_runs_with_its_own_values_and_matches_the_queryset():
    query = CompiledQuery(_clients)
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
    query = CompiledQuery(_clients)
    with CaptureQueriesContext(connection) as queries:
        assert query.rows(ids=[], archived=None, since=timezone.now()) == []
    assert len(queries) == 0


def test_a_parameter_derived_from_a_value_is_refused():
    query = CompiledQuery(
        lambda since: (
            Client.objects.filter(created_at__gte=since - dt.timedelta(days=1))
            .order_by("pk")
            .values_list("pk")
        )
    )
    with pytest.raises(ValueError, match="derived"):
        query.rows(since=timezone.now())


def test_unsupported_values_are_refused():
    query = CompiledQuery(lambda name: Client.objects.filter(last_name=name).values_list("pk"))
    with pytest.raises(TypeError):
        query.rows(name="Smith")
