"""Idempotency-Key: a retried POST replays the first answer instead of acting twice.

The keys are stored in the model named by the `IDEMPOTENCY_KEY_MODEL` setting (like
`AUTH_USER_MODEL`), so the kernel names no app: the practice app provides it. It needs the
fields `user`, `key`, `fingerprint`, `state` ("in_flight" or "done"), `created_at` and
`response_status`, `response_body`, `response_content_type`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.http.request import RawPostDataException
from django.utils import timezone
from rest_framework import exceptions, status

IN_FLIGHT = "in_flight"
DONE = "done"


def _keys() -> Any:
    """The idempotency key model (`settings.IDEMPOTENCY_KEY_MODEL`)."""
    return apps.get_model(settings.IDEMPOTENCY_KEY_MODEL)


IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_MAX_LENGTH = 255
# A stored response is replayed for this long; `clear_idempotency_keys` removes older rows.
IDEMPOTENCY_TTL = dt.timedelta(hours=24)
# A request still "in flight" after this long died with its process (no request runs
# this long); its key may then be used again rather than answering 409 for a whole day.
IDEMPOTENCY_ABANDONED_AFTER = dt.timedelta(minutes=10)
REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used for a different request. "
        "Use a new key for a new request."
    )
    default_code = "idempotency_key_reused"


class IdempotencyInFlight(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = (
        "A request with this Idempotency-Key is still being processed. Retry in a moment."
    )
    default_code = "idempotency_in_flight"


class _Replay(Exception):
    """Raised to answer with the stored response of an earlier request with the same key."""

    def __init__(self, stored: Any) -> None:
        super().__init__(stored.key)
        self.stored = stored

    def response(self) -> HttpResponse:
        response = HttpResponse(
            self.stored.response_body.encode(),
            status=self.stored.response_status,
            content_type=self.stored.response_content_type or "application/json",
        )
        response[REPLAYED_HEADER] = "true"
        return response


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\n")
    digest.update(request.get_full_path().encode())
    digest.update(b"\n")
    try:
        digest.update(request._request.body)
    except RawPostDataException:
        digest.update(repr(request.data).encode())
    return digest.hexdigest()


def _valid_key(raw: str) -> bool:
    return 1 <= len(raw) <= IDEMPOTENCY_MAX_LENGTH and all(" " <= ch <= "~" for ch in raw)


def idempotency_begin(request) -> Any:
    """Claim the request's Idempotency-Key (POST only) before the view runs.

    The claim is its own transaction, committed at once, so a concurrent request with
    the same key sees it: the unique constraint on (user, key) serializes them across
    processes. Raises `_Replay` for a retry of a finished request, 422 for the key used
    with another request, 409 while the first request is still running.
    """
    raw = request.headers.get(IDEMPOTENCY_HEADER)
    if raw is None or request.method != "POST" or not request.user.is_authenticated:
        return None
    if not _valid_key(raw):
        raise exceptions.ValidationError(
            {
                IDEMPOTENCY_HEADER: [
                    f"Use 1 to {IDEMPOTENCY_MAX_LENGTH} printable ASCII characters, such as a UUID."
                ]
            }
        )
    fingerprint = _fingerprint(request)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                return _keys().objects.create(user=request.user, key=raw, fingerprint=fingerprint)
        except IntegrityError:
            pass
        stored = _keys().objects.filter(user=request.user, key=raw).first()
        if stored is None:
            continue  # removed in the meantime: claim it again
        now = timezone.now()
        expired = stored.created_at < now - IDEMPOTENCY_TTL
        abandoned = (
            stored.state == IN_FLIGHT and stored.created_at < now - IDEMPOTENCY_ABANDONED_AFTER
        )
        if expired or abandoned:
            # Only the request that removes this very row may claim the key next.
            _keys().objects.filter(pk=stored.pk, created_at=stored.created_at).delete()
            continue
        if stored.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if stored.state == IN_FLIGHT:
            raise IdempotencyInFlight()
        raise _Replay(stored)
    raise IdempotencyInFlight()


def idempotency_finish(claim: Any, response) -> None:
    """Store the response for replay, or free the key after a server error (so the
    client's retry runs again)."""
    if response.status_code >= 500:
        idempotency_abandon(claim)
        return
    if hasattr(response, "render"):
        response.render()
    _keys().objects.filter(pk=claim.pk).update(
        state=DONE,
        response_status=response.status_code,
        response_body=response.content.decode("utf-8", errors="replace"),
        response_content_type=response.get("Content-Type", "application/json")[:100],
    )


def idempotency_abandon(claim: Any) -> None:
    _keys().objects.filter(pk=claim.pk).delete()


def clear_expired_idempotency_keys(now: dt.datetime | None = None) -> int:
    """Delete stored keys older than the replay window; returns how many."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL
    deleted, _ = _keys().objects.filter(created_at__lt=cutoff).delete()
    return deleted
