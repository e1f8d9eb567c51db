"""Client search (issue 10): one selector for the client list, Create appointment and the
API, its plan (trigram indexes first when a search is narrow) and its capped counts."""

from __future__ import annotations

import re
from functools import partial

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

import clients.api
import clients.views
from calendar_app.views import CLIENT_RESULTS
from clients.models import Client
from clients.selectors import client_search
from kernel.pagination import CappedPaginator, capped_count, paginate_capped
from tests.api.conftest import api_client
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def names(clients) -> list[str]:
    return [c.full_name for c in clients]


@pytest.fixture
def lees(db):
    """Eight clients named Lee (in a shuffled creation order), one archived, and others."""
    for first in ["Zoe", "Amy", "Max", "Bea", "Cal", "Eve", "Ian"]:
        ClientFactory(first_name=first, last_name="Lee", email=f"{first.lower()}@example.com")
    ClientFactory(first_name="Old", last_name="Lee", archived=True)
    ClientFactory(first_name="Ann", last_name="Leeson")
    ClientFactory(first_name="Jo", last_name="Citizen", phone="0400 111 222")


def test_narrow_search_sorts_the_few_matches_in_name_order(lees):
    found = client_search(["lee"])
    # Few matches: the order is an expression the name index cannot serve.
    assert 'COALESCE("clients_client"."last_name"' in str(found.query).split("ORDER BY")[1]
    assert names(found) == [
        "Amy Lee",
        "Bea Lee",
        "Cal Lee",
        "Eve Lee",
        "Ian Lee",
        "Max Lee",
        "Zoe Lee",
        "Ann Leeson",
    ]
    assert names(client_search(["lee"], archived=True)) == ["Old Lee"]
    assert len(client_search(["lee"], archived=None)) == 9


def test_short_words_and_wide_searches_keep_the_name_index_order(lees, monkeypatch):
    short = client_search(["le"])
    assert str(short.query).split("ORDER BY")[1].strip().startswith('"clients_client"."last_name"')
    # (every factory email contains "le": ex-a-m-p-LE)
    assert names(short)[:3] == ["Jo Citizen", "Amy Lee", "Bea Lee"]
    narrow = names(client_search(["lee"]))
    # More matches than the sort's cap: the name index (matches are dense, a page stops
    # early).
    monkeypatch.setattr("clients.selectors.SEARCH_SORT_CAP", 3)
    monkeypatch.setattr("clients.selectors.SEARCH_COUNT_CAP", 3)
    wide = client_search(["lee"])
    assert str(wide.query).split("ORDER BY")[1].strip().startswith('"clients_client"."last_name"')
    assert names(wide) == narrow


def test_more_matches_than_the_count_shows_are_still_sorted_by_the_search(lees, monkeypatch):
    """A common surname (more matches than the count shows, fewer than the sort's cap)
    is sorted from the trigram indexes' matches, not found by walking the name index to
    where it sits in the alphabet; the count still stops at its cap."""
    from clients.selectors import client_search_first_page

    monkeypatch.setattr("clients.selectors.SEARCH_COUNT_CAP", 3)
    monkeypatch.setattr("clients.selectors.SEARCH_SORT_CAP", 100)
    searched = client_search(["lee"])
    order = str(searched.query).split("ORDER BY")[1].strip()
    assert not order.startswith('"clients_client"."last_name"')  # the sort's expression
    assert searched.known_capped_count == (4, 3)  # "more than 3"
    first = client_search_first_page(["lee"], per_page=2)
    assert first is not None
    rows, count, cap = first
    assert (count, cap) == (4, 3)
    assert [f"{c.first_name} {c.last_name}" for c in rows] == names(searched)[:2]


def test_every_word_in_any_field_any_case(lees):
    assert names(client_search(["JO", "cit"])) == ["Jo Citizen"]
    assert names(client_search(["111", "222"])) == ["Jo Citizen"]
    assert names(client_search(["ZOE@EXAMPLE"])) == ["Zoe Lee"]
    assert names(client_search(["zoe@example.com"])) == ["Zoe Lee"]
    assert names(client_search(["nobody"])) == []


def test_capped_count_and_paginator():
    for n in range(12):
        ClientFactory(first_name=f"Pat{n:02d}", last_name="Lee")
    everyone = Client.objects.order_by("last_name", "first_name", "id")
    assert capped_count(everyone, 20) == 12
    assert capped_count(everyone, 5) == 6
    exact = CappedPaginator(everyone, 5, cap=20)
    assert (exact.count, exact.capped, exact.num_pages) == (12, False, 3)
    capped = CappedPaginator(everyone, 5, cap=7)
    assert (capped.count, capped.capped, capped.shown_limit) == (8, True, 7)
    assert capped.get_page(1).has_next()
    # A page beyond the cap counts as far as it needs: every page is reachable and full.
    third = CappedPaginator(everyone, 5, cap=7, number="3")
    assert (third.count, third.capped) == (12, False)
    assert len(third.get_page("3").object_list) == 2
    second = CappedPaginator(everyone, 5, cap=7, number="2")
    assert second.capped and second.get_page("2").has_next()
    assert CappedPaginator(everyone, 5, cap=7, number="junk").shown_limit == 7


def test_list_says_more_than_n_when_the_count_is_capped(client, reception, lees, monkeypatch):
    monkeypatch.setattr(
        clients.views, "paginate_capped", partial(paginate_capped, per_page=2, cap=3)
    )
    client.force_login(reception)
    page = client.get(reverse("clients:list"), {"q": "lee"}, headers=HTMX).content.decode()
    assert "1–2 of more than 3" in page
    assert "Page 1 of" not in page and "Page 1" in page
    assert "?q=lee&amp;page=2" in page
    # Within the cap the count is exact.
    monkeypatch.setattr(clients.views, "paginate_capped", partial(paginate_capped, per_page=2))
    page = client.get(reverse("clients:list"), {"q": "lee"}, headers=HTMX).content.decode()
    assert "1–2 of 8" in page and "Page 1 of 4" in page


def test_the_same_clients_in_the_same_order_everywhere(client, reception, lees):
    client.force_login(reception)
    listed = client.get(reverse("clients:list"), {"q": "lee"}, headers=HTMX).content.decode()
    in_list = re.findall(r'class="client-rows__name"[^>]*>([^<]+)<', listed)
    picker = client.get(
        reverse("calendar_app:client_search"), {"client_query": "lee"}, headers=HTMX
    ).content.decode()
    api = api_client(reception).get("/api/v1/clients/", {"search": "lee", "archived": "false"})
    in_api = [f"{r['first_name']} {r['last_name']}" for r in api.json()["results"]]
    assert in_list == in_api == names(client_search(["lee"]))
    positions = [picker.find(name) for name in in_list]
    assert -1 not in positions[:8] and positions[:8] == sorted(positions[:8])


@pytest.mark.parametrize("query", ["le", "lee", "LEE", "lee e", "ee", "example.com"])
def test_create_appointment_offers_the_first_clients_of_the_search(client, reception, lees, query):
    """Create appointment's picker lists the first CLIENT_RESULTS clients of the one
    search, in its order, by whichever plan (short words, or SQL built once)."""
    for first in ["Dan", "Fay", "Guy", "Hal"]:
        ClientFactory(first_name=first, last_name="Leeds", email=f"{first.lower()}@example.com")
    client.force_login(reception)
    picker = client.get(
        reverse("calendar_app:client_search"), {"client_query": query}, headers=HTMX
    ).content.decode()
    shown = re.findall(r'name="client" value="(\d+)"', picker)
    expected = [str(c.pk) for c in client_search(query.split())[:CLIENT_RESULTS]]
    assert len(expected) == CLIENT_RESULTS and shown == expected


def test_create_appointment_search_keeps_a_chosen_client_only_while_current(
    client, reception, lees
):
    client.force_login(reception)
    zoe, jo = Client.objects.get(first_name="Zoe"), Client.objects.get(first_name="Jo")
    url = reverse("calendar_app:client_search")

    def picked(chosen) -> list[tuple[str, str]]:
        params = {"client_query": "citizen", "client": chosen}
        page = client.get(url, params, headers=HTMX).content.decode()
        return re.findall(r'name="client" value="(\d+)"( checked)?', page)

    assert picked(zoe.pk) == [(str(zoe.pk), " checked"), (str(jo.pk), "")]
    old = Client.objects.get(first_name="Old")  # archived
    for chosen in (old.pk, "abc", "0", "99999999999", ""):
        assert picked(chosen) == [(str(jo.pk), "")], chosen


def test_a_search_as_you_type_only_reads(client, reception, lees):
    """Every statement of the two search partials starts with SELECT: any other first word
    opens an audit context (kernel.middleware), a write's cost on every keystroke."""
    client.force_login(reception)
    urls = [
        (reverse("clients:list"), {"q": "lee amy"}),
        (reverse("calendar_app:client_search"), {"client_query": "lee"}),
    ]
    for url, params in urls:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, params, headers=HTMX).status_code == 200
        sql = [q["sql"] for q in queries.captured_queries]
        assert sql and {s.lstrip()[:6].upper() for s in sql} == {"SELECT"}, url
        assert not [s for s in sql if "pghistory" in s], url  # no context was opened


def test_api_search_count_is_capped_and_next_stays_right(reception, lees, monkeypatch):
    monkeypatch.setattr(clients.api, "CappedPaginator", partial(CappedPaginator, cap=3))
    monkeypatch.setattr("clients.selectors.SEARCH_COUNT_CAP", 3)
    api = api_client(reception)
    body = api.get("/api/v1/clients/", {"search": "lee", "page_size": 2}).json()
    assert body["count"] == 4  # more than 3
    assert body["next"] is not None
    last = api.get("/api/v1/clients/", {"search": "lee", "page_size": 2, "page": 5}).json()
    assert last["count"] == 9 and last["next"] is None and len(last["results"]) == 1
    # Without a search the count is exact.
    assert api.get("/api/v1/clients/", {"page_size": 2}).json()["count"] == 10


@pytest.mark.parametrize("query", ["l", "lee", "lee amy", "zoe@example.com", "0400 111"])
def test_search_query_counts_do_not_grow_with_clients(client, reception, query):
    client.force_login(reception)
    urls = [
        (reverse("clients:list"), {"q": query}),
        (reverse("calendar_app:client_search"), {"client_query": query}),
    ]

    def counts():
        found = []
        for url, params in urls:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url, params, headers=HTMX).status_code == 200
            found.append(len(queries))
        return found

    ClientFactory(first_name="Amy", last_name="Lee", email="zoe@example.com", phone="0400 111")
    few = counts()
    ClientFactory.create_batch(40, first_name="Amy", last_name="Lee")
    assert counts() == few


@pytest.mark.parametrize("search", ["lee", "lee amy", "LEE", "zoe@example.com", "nobody", "le"])
def test_api_search_first_page_is_the_search_as_any_page_reads_it(
    search, reception, lees, monkeypatch
):
    """`?search=` alone on page 1 is read in one statement (page and count); with an
    explicit order (the same one) it goes the filterset's way: the same answer."""
    api = api_client(reception)
    for cap in (1000, 3):  # 3: "more than 3", and the wide plan (the name index's walk)
        monkeypatch.setattr("clients.selectors.SEARCH_COUNT_CAP", cap)
        monkeypatch.setattr("clients.selectors.SEARCH_SORT_CAP", cap)
        monkeypatch.setattr(clients.api, "CappedPaginator", partial(CappedPaginator, cap=cap))
        clients.selectors._FIRST_PAGES.clear()
        for size in (2, 50):
            statements: list[str] = []

            def note(execute, sql, params, many, context, statements=statements):
                statements.append(sql)
                return execute(sql, params, many, context)

            with connection.execute_wrapper(note):
                fast = api.get("/api/v1/clients/", {"search": search, "page_size": size})
            slow = api.get(
                "/api/v1/clients/",
                {"search": search, "page_size": size, "ordering": "last_name,first_name,id"},
            )
            assert fast.status_code == slow.status_code == 200
            fast_body, slow_body = fast.json(), slow.json()
            assert fast_body["count"] == slow_body["count"], (search, cap, size)
            assert fast_body["results"] == slow_body["results"], (search, cap, size)
            assert (fast_body["next"] is None) == (slow_body["next"] is None)
            if cap == 1000 and max(len(word) for word in search.split()) >= 3:
                reads = [
                    s
                    for s in statements
                    if s.lstrip().startswith("SELECT") and 'clients_client"' in s
                ]
                assert len(reads) == 1, reads  # the page and its count in one statement


def test_api_search_refusals_still_apply(reception, lees):
    api = api_client(reception)
    assert api.get("/api/v1/clients/", {"search": "x" * 201}).status_code == 400
    assert api.get("/api/v1/clients/", {"search": "lee", "page_size": 500}).status_code == 400
