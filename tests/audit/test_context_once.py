"""The audit context is set once per transaction (kernel/db/audit_context.py, issue 10),
yet every change is still recorded with its context: after a rolled-back savepoint, in a
new transaction, with changed metadata, in a new context, and outside any transaction."""

from __future__ import annotations

import contextlib

import pghistory
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clients.models import Client
from packages.models import ClientPackage
from tests.audit.helpers import events_of

pytestmark = pytest.mark.django_db


def _sent(query) -> str:
    """A statement as sent: what went in front of it (the context, in a transaction:
    kernel/db/postgresql/base.py, `queue_audit_context`) and itself."""
    return f"{query.get('with', '')}; {query['sql']}"


def _tags(queries) -> int:
    return sum("set_config('pghistory.context_id'" in _sent(q) for q in queries)


def _context_of(client: Client, label: str = "insert") -> dict:
    event = events_of("clients.ClientEvent").get(pgh_obj_id=client.pk, pgh_label=label)
    return event.pgh_context or {}


@contextlib.contextmanager
def _reception_transaction():
    """A transaction in reception's audit context, its statements captured."""
    with (
        pghistory.context(who="reception"),
        CaptureQueriesContext(connection) as queries,
        transaction.atomic(),
    ):
        yield queries


def _new(name: str) -> Client:
    return Client.objects.create(first_name=name, last_name="Once")


def test_one_transaction_is_tagged_once_and_every_write_keeps_the_context():
    with _reception_transaction() as queries:
        first = _new("Ada")
        with transaction.atomic():  # a savepoint, released
            second = _new("Bea")
        first.notes = "changed"
        first.save(update_fields=["notes"])
    assert _tags(queries.captured_queries) == 1
    assert _context_of(first)["who"] == "reception"
    assert _context_of(second)["who"] == "reception"
    assert _context_of(first, "update")["who"] == "reception"


def test_a_rolled_back_savepoint_takes_the_context_with_it_so_the_next_write_sets_it_again():
    with _reception_transaction() as queries:
        try:
            with transaction.atomic():
                _new("Gone")  # sets the context inside the savepoint
                raise RuntimeError("refused")
        except RuntimeError:
            pass
        kept = _new("Kept")
    assert _tags(queries.captured_queries) == 2
    assert _context_of(kept)["who"] == "reception"


def test_a_context_set_inside_a_released_savepoint_holds_after_it():
    with _reception_transaction() as queries:
        with transaction.atomic():
            inner = _new("Inner")
        outer = _new("Outer")
    assert _tags(queries.captured_queries) == 1
    assert _context_of(inner)["who"] == _context_of(outer)["who"] == "reception"


def test_changed_metadata_is_set_again_before_the_next_write():
    with _reception_transaction() as queries:
        before = _new("Before")
        pghistory.context(api_key="abc")  # adds to the open context (as DRF's sign-in)
        after = _new("After")
    tagged = [_sent(q) for q in queries.captured_queries if "set_config(" in _sent(q)]
    assert len(tagged) == 2 and "abc" not in tagged[0] and "abc" in tagged[1]
    # One context row, its metadata as it ended (pghistory's own rule): both changes
    # carry the API key, set before the second one was written.
    assert _context_of(after)["api_key"] == "abc"
    assert _context_of(before)["who"] == "reception"


def test_each_context_is_set_in_its_own_right():
    with transaction.atomic():
        with pghistory.context(who="first"):
            one = _new("One")
        with pghistory.context(who="second"):
            two = _new("Two")
    assert _context_of(one)["who"] == "first"
    assert _context_of(two)["who"] == "second"


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_every_write_is_tagged_and_a_commit_ends_the_context():
    with pghistory.context(who="reception"), CaptureQueriesContext(connection) as queries:
        one = _new("One")  # autocommit: its own transaction
        two = _new("Two")
        with transaction.atomic():
            three = _new("Three")
        with transaction.atomic():  # a new transaction: tagged again
            four = _new("Four")
    assert _tags(queries.captured_queries) == 4
    for client in (one, two, three, four):
        assert _context_of(client)["who"] == "reception"


def test_a_booking_is_tagged_once_and_its_changes_carry_who_and_where(client, practice, reception):
    package = practice.sell()
    client.force_login(reception)
    data = practice.booking_form(package, form_key="once")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(reverse("calendar_app:create"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert _tags(queries.captured_queries) == 1
    update = events_of("packages.ClientPackageEvent").filter(
        pgh_obj_id=package.pk, pgh_label="update"
    )
    context = update.latest("pgh_id").pgh_context
    assert context["user"] == reception.pk and context["method"] == "POST"
    assert context["url"] == reverse("calendar_app:create")
    assert ClientPackage.objects.get(pk=package.pk).consumed == 1


def test_a_context_with_quotes_and_percent_signs_is_recorded_as_it_is():
    """Set by a statement of its own, its values quoted into the text (not bound)."""
    url = "/clients/?q=O'Brien%20%s&x=\\n"
    with (
        pghistory.context(url=url),
        CaptureQueriesContext(connection) as queries,
        transaction.atomic(),
    ):
        client = _new("Quote")
    assert _tags(queries.captured_queries) == 1
    assert _context_of(client)["url"] == url
