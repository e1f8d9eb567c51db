"""Public links to invoices: the token in the URL and what the database keeps of it.

The token is 32 random bytes (unguessable) signed with the project's secret, so a token
that was not made here is refused before any database read; the database keeps only the
SHA-256 of the random part (`InvoiceLink.token_hash`), so a stolen database holds no
usable link, and revoking or expiring a link is a fact about its row.
"""

from __future__ import annotations

import hashlib
import secrets

from django.core import signing

_SALT = "documents.invoice-link"


def new_token() -> tuple[str, str]:
    """(the token for the URL, the hash to store)."""
    raw = secrets.token_urlsafe(32)
    return signing.Signer(salt=_SALT).sign(raw), token_hash(raw)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def raw_part(token: str) -> str | None:
    """The random part of a token made here, or None (forged, altered or truncated)."""
    try:
        return signing.Signer(salt=_SALT).unsign(token[:200])
    except signing.BadSignature:
        return None
