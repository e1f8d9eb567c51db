"""Idempotency-Key on API POSTs: a retried POST replays the first answer instead of acting
twice (API.md).

The key, the work and the stored answer commit in one transaction (kernel/idempotency.py
explains how); `ApiViewSet.dispatch` (kernel/api/viewsets.py) runs them. A retry with the
same key and body replays the stored status and body with `Idempotent-Replayed: true`; the
same key with another request is 422; a retry sent while the first is still running waits
for it and then replays its answer (or, if the first failed, runs itself).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.db import transaction
from django.http import HttpResponse
from django.http.request import RawPostDataException
from rest_framework import exceptions, status

from kernel import idempotency

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_MAX_LENGTH = 255
IDEMPOTENCY_TTL = idempotency.IDEMPOTENCY_TTL
REPLAYED_HEADER = idempotency.REPLAYED_HEADER


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used for a different request. "
        "Use a new key for a new request."
    )
    default_code = "idempotency_key_reused"


class IdempotencyOutcomeUnknown(exceptions.APIException):
    """A key left by the previous design (claimed apart from its work) without an answer:
    its work may have been saved, so it is never run again."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = (
        "An earlier request with this Idempotency-Key did not record its answer, so "
        "whether it took effect is unknown. Check the data, then send a new key."
    )
    default_code = "idempotency_outcome_unknown"


class _Replay(Exception):
    """Raised to answer with the stored response of an earlier request with the same key."""

    def __init__(self, stored: Any) -> None:
        super().__init__(stored.key)
        self.stored = stored

    def response(self) -> HttpResponse:
        return idempotency.replay(self.stored)


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


def idempotency_key(request) -> str | None:
    """The request's Idempotency-Key (POST by a signed-in user only), checked: 400 for a
    malformed one."""
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
    return raw


def idempotency_claim(request, key: str) -> Any:
    """Claim `key` inside the request's transaction (waiting for a concurrent request with
    the same key). Returns the new row; raises `_Replay` for a retry of a request that
    committed, 422 for the key used with another request."""
    fingerprint = _fingerprint(request)
    row, stored = idempotency.claim(user=request.user, key=key, fingerprint=fingerprint)
    if row is not None:
        return row
    if stored.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    if not idempotency.answered(stored):
        raise IdempotencyOutcomeUnknown()
    raise _Replay(stored)


def idempotency_finish(row: Any, response) -> None:
    """In the same transaction: store the answer for replays; after a server error keep
    nothing, neither the key nor any of the work, so the retry runs."""
    if response.status_code >= 500:
        transaction.set_rollback(True)
    else:
        idempotency.store(row, response)


def clear_expired_idempotency_keys(now: dt.datetime | None = None) -> int:
    """Delete stored keys older than the replay window; returns how many."""
    return idempotency.clear_expired(now)
