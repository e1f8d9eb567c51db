"""API keys: created by each user for themselves, shown once, stored only as a hash.

A key reads `csk_<prefix>_<secret>`: the prefix (8 hex characters) is not secret and
finds the row; the secret is 43 random letters and digits (over 256 bits), of which only
the SHA-256 hash is kept. A
plain hash (not a slow password hash) is enough because the secret is random, not chosen
by a person: there is nothing to guess. Hashes are compared in constant time.

Keys are revoked, never deleted or revived: by their owner or an Admin, and
automatically when their user's password changes or the user is deactivated (whatever
the path: the Settings pages, the Django admin, `set_password()` + `save()`), see
`_user_saved`. Deactivation also ends every session of the user, for good.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.hashers import get_hasher, identify_hasher
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

from kernel.errors import DomainError, NotAllowed
from kernel.prepared import Prepared
from practice import versions
from practice.models import ApiKey

if TYPE_CHECKING:
    from django.contrib.auth.models import User

KEY_PREFIX = "csk"
# Letters and digits, so a double-click selects the whole key; 43 of 62 is > 256 bits.
SECRET_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 43
NAME_MAX_LENGTH = 100  # ApiKey.name
LAST_USED_PRECISION = dt.timedelta(minutes=1)
MANAGE_OTHERS_PERM = "caspen.change_apikey"
VIEW_OTHERS_PERM = "caspen.view_apikey"
# How far ahead an expiry may be set (also keeps the date far from year 9999).
MAX_LIFETIME = dt.timedelta(days=5 * 366)

REASON_BY_OWNER = "Revoked by its owner"
REASON_BY_ADMIN = "Revoked by an Admin"
REASON_BY_OPERATOR = "Revoked by the server operator"
REASON_PASSWORD = "Password changed"
REASON_DEACTIVATED = "User deactivated"


@dataclass(frozen=True)
class CreatedKey:
    """A new key and its full text, which exists only here: show it once."""

    api_key: ApiKey
    key: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _parse(key: str) -> tuple[str, str] | None:
    scheme, _, rest = key.partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != KEY_PREFIX or len(prefix) != 8 or not secret:
        return None
    return prefix, secret


def api_key_create(
    *,
    user: User,
    name: str,
    expires_at: dt.datetime | None = None,
    by: User | None,
) -> CreatedKey:
    """A new key for `user`, made by `user` themselves (or by the server operator,
    `by=None`, from the command line). Nobody creates a key for someone else: that would
    let them act, and be audited, as that person."""
    if by is not None and by.pk != user.pk:
        raise NotAllowed("You can only create API keys for yourself.")
    name = " ".join((name or "").split())
    if not name:
        raise DomainError("name_required", "Give the key a name.", field="name")
    if "\x00" in name:
        raise DomainError("invalid", "Null characters are not allowed.", field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise DomainError("name_too_long", "Use at most 100 characters.", field="name")
    now = timezone.now()
    if expires_at is not None:
        if expires_at <= now:
            raise DomainError(
                "expiry_in_the_past", "The expiry must be in the future.", field="expires_at"
            )
        if expires_at > now + MAX_LIFETIME:
            raise DomainError(
                "expiry_too_far",
                "The expiry can be at most five years ahead.",
                field="expires_at",
            )
    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    for _attempt in range(5):
        prefix = secrets.token_hex(4)
        try:
            with transaction.atomic():
                # Lock the user, as deactivating does: a key is never made for someone
                # deactivated meanwhile (whose keys that deactivation already revoked).
                locked = get_user_model().objects.select_for_update().get(pk=user.pk)
                if not locked.is_active:
                    raise DomainError("user_inactive", "A deactivated user cannot have API keys.")
                api_key = ApiKey.objects.create(
                    name=name,
                    user=user,
                    prefix=prefix,
                    secret_hash=_hash(secret),
                    created_at=now,
                    expires_at=expires_at,
                )
        except IntegrityError:  # the prefix is taken (1 in 4 billion): draw another
            continue
        return CreatedKey(api_key=api_key, key=f"{KEY_PREFIX}_{prefix}_{secret}")
    raise RuntimeError("Could not find a free API key prefix")


def can_manage(*, api_key: ApiKey, user: User) -> bool:
    """The owner, or an Admin (who may revoke, never read or create, others' keys)."""
    return api_key.user_id == user.pk or user.has_perm(MANAGE_OTHERS_PERM)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, by: User | None) -> ApiKey:
    """Revoke a key for good (revoking a revoked key changes nothing)."""
    if by is not None and not can_manage(api_key=api_key, user=by):
        raise NotAllowed("You can only revoke your own API keys.")
    locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.revoked_by = by
        if by is None:
            locked.revoked_reason = REASON_BY_OPERATOR
        else:
            locked.revoked_reason = REASON_BY_OWNER if by.pk == locked.user_id else REASON_BY_ADMIN
        locked.save(update_fields=["revoked_at", "revoked_by", "revoked_reason"])
    return locked


def api_keys_revoke_all(*, user: User, reason: str) -> int:
    """Revoke every live key of `user` (one UPDATE, so each row gets an audit event)."""
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )


def api_keys_visible_to(user: User) -> QuerySet[ApiKey]:
    """The keys `user` sees on the API keys page: their own, or everyone's for an Admin;
    newest first."""
    keys = ApiKey.objects.select_related("user", "revoked_by")
    if not user.has_perm(VIEW_OTHERS_PERM):
        keys = keys.filter(user=user)
    return keys.order_by("-created_at", "-pk")


class KeyRefused(Exception):
    """Why a presented key does not authenticate: `code` and a message for the client."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# The presented key with its user and the version counters of what processes keep
# (practice.versions), read fresh by every API request (so a revoked key or a deactivated
# user fails on the next one): its SQL built once per process.
_KEY_WITH_USER = Prepared(
    lambda prefix: (
        ApiKey.objects.select_related("user")
        .annotate(
            _auth_version=RawSQL(versions.AUTH_SQL, ()),  # noqa: S611 (constant SQL)
            _settings_version=RawSQL(versions.SETTINGS_SQL, ()),  # noqa: S611
        )
        .filter(prefix=prefix)
        .order_by("pk")[:1]
    ),
    prefix=str,
).planned()


def api_key_authenticate(key: str) -> tuple[User, ApiKey]:
    """The user a presented key acts for, or `KeyRefused`.

    One query (the key with its user, its SQL built once per process: `_KEY_WITH_USER`);
    `last_used_at` is written at most once a minute per key, so the hot path stays a
    read. Why a key is refused (revoked, expired, deactivated user) is told only to
    whoever holds the full, correct key.
    """
    parsed = _parse(key)
    invalid = KeyRefused("authentication_failed", "Invalid API key.")
    if parsed is None:
        raise invalid
    prefix, secret = parsed
    found = _KEY_WITH_USER.objects(prefix=prefix)
    api_key = found[0] if found else None
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, _hash(secret)):
        raise invalid
    if api_key.revoked_at is not None:
        raise KeyRefused(
            "api_key_revoked",
            f"This API key was revoked ({api_key.revoked_reason.lower()}). "
            "Create a new one on the API keys page.",
        )
    now = timezone.now()
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise KeyRefused(
            "api_key_expired",
            "This API key has expired. Create a new one on the API keys page.",
        )
    if not api_key.user.is_active:
        raise KeyRefused("user_inactive", "The user of this API key is deactivated.")
    if api_key.last_used_at is None or api_key.last_used_at <= now - LAST_USED_PRECISION:
        # Conditional, so concurrent requests write it once; excluded from the audit.
        ApiKey.objects.filter(pk=api_key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_PRECISION)
        ).update(last_used_at=now)
        api_key.last_used_at = now
    versions.prime(versions.Versions(api_key._auth_version, api_key._settings_version))
    return api_key.user, api_key


# ------------------------------------------------------------ sessions


def sessions_end_all(*, user: User) -> int:
    """Delete every unexpired session of `user` (database sessions), so no old cookie
    works again, even after the user is reactivated.

    Sessions do not index their user, so the unexpired ones are read and decoded here:
    two queries whatever their number; deactivating someone is rare, and idle sessions
    expire after SESSION_IDLE_MINUTES, so there are few to read.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore
    model = store.get_model_class()
    live = model.objects.filter(expire_date__gt=timezone.now())
    decoder = store()
    mine = [
        session_key
        for session_key, data in live.values_list("session_key", "session_data")
        if str(decoder.decode(data).get(SESSION_KEY)) == str(user.pk)
    ]
    if not mine:
        return 0
    deleted, _ = model.objects.filter(session_key__in=mine).delete()
    return deleted


# ------------------------------------------------------------ password and deactivation


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="api_keys_user_before")
def _user_saving(sender, instance, update_fields=None, raw=False, **kwargs) -> None:
    """Remember the stored password hash and active flag, to compare after the save.
    Saves that cannot change them (sign-in's `last_login`) cost no query."""
    instance._api_keys_before = None
    if raw or instance.pk is None:
        return
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return
    instance._api_keys_before = (
        sender.objects.filter(pk=instance.pk).values_list("password", "is_active").first()
    )


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="api_keys_user_after")
def _user_saved(sender, instance, created=False, raw=False, **kwargs) -> None:
    """A new password revokes the user's keys (Django's session hash already ends their
    other sessions); a deactivation revokes the keys and deletes every session."""
    before = getattr(instance, "_api_keys_before", None)
    instance._api_keys_before = None
    if raw or created or before is None:
        return
    password, was_active = before
    if was_active and not instance.is_active:
        api_keys_revoke_all(user=instance, reason=REASON_DEACTIVATED)
        sessions_end_all(user=instance)
    elif password != instance.password and not _is_rehash(instance, password):
        api_keys_revoke_all(user=instance, reason=REASON_PASSWORD)


def _is_rehash(user, old_hash: str) -> bool:
    """Whether a new hash is Django re-hashing the same password with stronger settings,
    which happens when the user signs in after the hashers changed (check_password's
    setter clears `_password`, "hash upgrades shouldn't be considered password changes").
    A new password set with set_password() keeps `_password` until the save ends."""
    if getattr(user, "_password", None) is not None:
        return False
    try:
        hasher = identify_hasher(old_hash)
    except ValueError:
        return False
    return hasher.algorithm != get_hasher().algorithm or hasher.must_update(old_hash)
