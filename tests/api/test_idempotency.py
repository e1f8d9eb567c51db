"""`Idempotency-Key` on POSTs (API.md): the first response for a key (per user) is
stored and replayed for a retry with the same body; the same key with another body is
422; a retry while the first request runs waits for it and replays its answer; keys
expire after 24 hours. (Killed connections: tests/trust/exactly_once/.)"""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from clients import services as client_services
from clients.models import Client
from practice.models import IdempotencyKey, IdempotencyKeyState
from tests.api.conftest import api_client

V1 = "/api/v1"
NEW_CLIENT = {"first_name": "Mia", "last_name": "Nguyen"}


def post(client, path, body, key):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retry_gets_the_stored_response_and_nothing_is_done_twice(as_reception):
    first = post(as_reception, f"{V1}/clients/", NEW_CLIENT, "key-1")
    retry = post(as_reception, f"{V1}/clients/", NEW_CLIENT, "key-1")
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Client.objects.count() == 1


def test_the_same_key_with_another_body_is_422(as_reception):
    post(as_reception, f"{V1}/clients/", NEW_CLIENT, "key-1")
    response = post(as_reception, f"{V1}/clients/", {**NEW_CLIENT, "first_name": "Max"}, "key-1")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Client.objects.count() == 1


def test_the_same_key_on_another_path_is_422(as_reception, world):
    post(as_reception, f"{V1}/clients/", NEW_CLIENT, "key-1")
    response = post(as_reception, f"{V1}/locations/", {"name": "Annex"}, "key-1")
    assert response.status_code in (403, 422)  # Reception may not add locations anyway
    response = post(
        as_reception, f"{V1}/client-packages/{world.flexi.pk}/cancel/", {"reason": "x"}, "key-1"
    )
    assert response.status_code == 422


def test_keys_belong_to_their_user(as_reception, as_practitioner):
    assert post(as_reception, f"{V1}/clients/", NEW_CLIENT, "shared").status_code == 201
    response = post(as_practitioner, f"{V1}/clients/", NEW_CLIENT, "shared")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Client.objects.count() == 2


def test_a_key_left_in_flight_by_the_old_design_is_never_run_again(as_reception):
    """Keys used to be claimed apart from their work: a row left "in flight" may belong
    to work that was saved, so it answers 409 (outcome unknown) even after ten minutes,
    instead of running the work a second time (the duplicate payment of issue 9)."""
    post(as_reception, f"{V1}/clients/", NEW_CLIENT, "key-1")
    IdempotencyKey.objects.update(
        state=IdempotencyKeyState.IN_FLIGHT,
        created_at=timezone.now() - dt.timedelta(minutes=11),
    )
    response = post(as_reception, f"{V1}/clients/", NEW_CLIENT, "key-1")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_outcome_unknown"
    assert Client.objects.count() == 1


def test_refusals_are_replayed_too(as_reception, world):
    path = f"{V1}/client-packages/{world.flexi.pk}/cancel/"
    assert post(as_reception, path, {"reason": "Moved"}, "cancel-1").status_code == 200
    second = post(as_reception, path, {"reason": "Moved"}, "cancel-2")
    assert second.status_code == 409
    assert second.json()["code"] == "package_canceled"
    replay = post(as_reception, path, {"reason": "Moved"}, "cancel-2")
    assert replay.status_code == 409
    assert replay.json() == second.json()
    assert replay["Idempotent-Replayed"] == "true"


def test_a_server_error_is_not_stored_so_the_retry_runs(as_reception, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(client_services, "client_create", broken)
    as_reception.raise_request_exception = False
    assert post(as_reception, f"{V1}/clients/", NEW_CLIENT, "key-1").status_code == 500
    assert not IdempotencyKey.objects.exists()

    monkeypatch.undo()
    assert post(as_reception, f"{V1}/clients/", NEW_CLIENT, "key-1").status_code == 201
    assert Client.objects.count() == 1


@pytest.mark.parametrize(
    "key", ["", "x" * 256, "clé", "a b\tc"], ids=["empty", "long", "non-ascii", "tab"]
)
def test_keys_must_be_1_to_255_printable_ascii_characters(as_reception, key):
    response = post(as_reception, f"{V1}/clients/", NEW_CLIENT, key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert not Client.objects.exists()


def test_a_key_of_255_characters_is_fine(as_reception):
    assert post(as_reception, f"{V1}/clients/", NEW_CLIENT, "k" * 255).status_code == 201


def test_without_a_key_every_post_acts(as_reception):
    as_reception.post(f"{V1}/clients/", NEW_CLIENT, format="json")
    as_reception.post(f"{V1}/clients/", NEW_CLIENT, format="json")
    assert Client.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


def test_stored_keys_expire_after_24_hours(as_reception):
    post(as_reception, f"{V1}/clients/", NEW_CLIENT, "old")
    post(as_reception, f"{V1}/clients/", NEW_CLIENT, "recent")
    IdempotencyKey.objects.filter(key="old").update(
        created_at=timezone.now() - dt.timedelta(hours=25)
    )
    # An expired key is a new request again...
    response = post(as_reception, f"{V1}/clients/", NEW_CLIENT, "old")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Client.objects.count() == 3
    # ...and the command removes expired rows, keeping the rest.
    IdempotencyKey.objects.filter(key="old").update(
        created_at=timezone.now() - dt.timedelta(hours=25)
    )
    call_command("clear_idempotency_keys")
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["recent"]


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_object(reception, monkeypatch):
    """Eight retries of one POST at the same instant, each on its own connection: one
    creates the client; the others wait for it (on the key's unique index) and replay
    its answer. None is told 409."""
    original = client_services.client_create

    def slow_create(**kwargs):
        time.sleep(0.3)  # keep the first request running while the others arrive
        return original(**kwargs)

    monkeypatch.setattr(client_services, "client_create", slow_create)
    token_client = api_client(reception)
    headers = dict(token_client._credentials)
    threads = 8
    barrier = threading.Barrier(threads)

    def attempt(_):
        client = api_client()
        client.credentials(**headers)
        try:
            barrier.wait(timeout=10)
            response = post(client, f"{V1}/clients/", NEW_CLIENT, "same-key")
            return response.status_code, response.get("Idempotent-Replayed"), response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(attempt, range(threads)))

    assert Client.objects.count() == 1
    assert [r[0] for r in results] == [201] * threads
    assert sorted(str(r[1]) for r in results) == ["None"] + ["true"] * (threads - 1)
    assert all(body == results[0][2] for _status, _replayed, body in results)
    # A retry after the dust settles gets the stored response.
    replay = post(token_client, f"{V1}/clients/", NEW_CLIENT, "same-key")
    assert (replay.status_code, replay["Idempotent-Replayed"]) == (201, "true")


def test_a_key_costs_a_fixed_handful_of_queries(as_reception):
    """Two statements in the request's transaction, however many keys are stored: the
    claim (one INSERT ... ON CONFLICT DO NOTHING) and the stored answer (UPDATE). The
    work's savepoint costs none of its own: its SAVEPOINT and RELEASE go with the
    statements after them (kernel/db/postgresql/base.py)."""
    from django.test.utils import CaptureQueriesContext

    def queries(key=None) -> int:
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        with CaptureQueriesContext(connection) as captured:
            response = as_reception.post(f"{V1}/clients/", NEW_CLIENT, format="json", **headers)
            assert response.status_code == 201
        return len(captured)

    queries()  # the first request reads the user's permissions; later ones find them kept
    unkeyed = queries()
    keyed = queries("first")
    for n in range(30):
        post(as_reception, f"{V1}/clients/", NEW_CLIENT, f"more-{n}")
    assert queries("last") == keyed
    assert keyed - unkeyed == 2, (unkeyed, keyed)
