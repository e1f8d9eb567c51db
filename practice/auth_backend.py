"""Django's ModelBackend with each user's permissions (and role name) kept per process,
stamped with the permissions version counter (practice.versions): a request costs one
small version read instead of two permission queries and a role query, and any change of
a role, its permissions or a user's groups takes effect on the next request, in every
process. A user's own row (active, superuser) is read fresh on every request, as before.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models.expressions import RawSQL

from kernel.prepared import Prepared
from practice import versions

_MAX_USERS = 2000
# (user id, is_superuser) -> (version, permissions); user id -> (version, role name)
_permissions: dict[tuple[int, bool], tuple[int, frozenset[str]]] = {}
_roles: dict[int, tuple[int, str | None]] = {}


def _keep(cache: dict, key, version: int | None, value) -> None:
    if version is None or not versions.may_keep():
        return
    if len(cache) >= _MAX_USERS:
        cache.clear()
    cache[key] = (version, value)


def _with_versions():
    return get_user_model()._default_manager.annotate(
        _auth_version=RawSQL(versions.AUTH_SQL, ()),  # noqa: S611 (constant SQL)
        _settings_version=RawSQL(versions.SETTINGS_SQL, ()),  # noqa: S611
    )


def user_read(pk: int):
    """The read of the user `pk` with the version counters (at most 2 rows)."""
    return _with_versions().filter(pk=pk)[:2]


# The signed-in user's read, made by every request: its SQL built once per process.
_USER = Prepared(user_read, pk=int).planned()

# The request memo's key (practice.versions.request_memo) of the user that
# practice.sessions read along with the session: the user row, with the version counters.
SESSION_USER = "session_user"


class CachedModelBackend(ModelBackend):
    def get_user(self, user_id):
        """The signed-in user, with the version counters read in the same query (the
        request then needs no query of its own for them)."""
        memo = versions.request_memo()
        read = memo.pop(SESSION_USER, None) if memo is not None else None
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            found = list(_with_versions().filter(pk=user_id)[:2])
        elif read is not None and read.pk == user_id:
            # Read by this request with its session, in the same statement
            # (practice.sessions): the row as fresh as a read of its own.
            found = [read]
        else:
            found = _USER.objects(pk=user_id)
        if len(found) != 1:
            return None
        user = found[0]
        versions.prime(versions.Versions(user._auth_version, user._settings_version))
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            version = versions.current().auth
            key = (user_obj.pk, bool(user_obj.is_superuser))
            kept = _permissions.get(key)
            if version is not None and kept is not None and kept[0] == version:
                user_obj._perm_cache = set(kept[1])
            else:
                perms = super().get_all_permissions(user_obj)
                _keep(_permissions, key, version, frozenset(perms))
        return user_obj._perm_cache


def role_name(user) -> str | None:
    """The name of the user's role (first group), kept like the permissions."""
    if not getattr(user, "is_authenticated", False):
        return None
    version = versions.current().auth
    kept = _roles.get(user.pk)
    if version is not None and kept is not None and kept[0] == version:
        return kept[1]
    name = user.groups.order_by("pk").values_list("name", flat=True).first()
    _keep(_roles, user.pk, version, name)
    return name


def keep_on_sign_in(sender, request, user, **kwargs) -> None:
    """user_logged_in receiver: read the user's permissions and role now, so the pages
    after sign-in find them kept (as every later page does)."""
    with versions.versions_scope():
        user.get_all_permissions()
        role_name(user)
