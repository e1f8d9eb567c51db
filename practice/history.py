"""The audit of staff users, roles and permissions (Django's auth models).

Django's `User` and `Group` and the tables behind their many-to-many fields (a user's
groups, a user's own permissions, a group's permissions) belong to `django.contrib.auth`,
so their event models live in this app (label "caspen") and its migrations create their
tables and triggers. Like every audited model, a change records who, when and from where.

- `caspen.UserEvent`: a user created, changed or deleted: names, email, active,
  staff and superuser flags. `last_login` and the password hash are not copied; a new
  password is recorded as a separate "password_changed" event with no data.
- `caspen.UserGroupsEvent`: a user added to or removed from a role (group).
- `caspen.UserPermissionsEvent`: a permission given to or taken from one user.
- `caspen.GroupEvent` and `caspen.GroupPermissionsEvent`: a role created, renamed or
  deleted, and a permission given to or taken from a role.

Imported by `practice.models`, so the event models exist whenever the app's models do.
"""

from __future__ import annotations

import pghistory
import pgtrigger
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from kernel.audit import audit_trackers

User = get_user_model()

USER_FIELDS = [
    "username",
    "first_name",
    "last_name",
    "email",
    "is_active",
    "is_staff",
    "is_superuser",
]


# The triggers go on proxies of the auth models (pghistory's and pgtrigger's way of
# tracking another app's tables), so their migrations are this app's, not Django's.
class AuditedUser(User):  # type: ignore[misc, valid-type]
    class Meta:
        proxy = True
        app_label = "caspen"


class AuditedUserGroups(User.groups.through):  # type: ignore[misc, name-defined]
    class Meta:
        proxy = True
        app_label = "caspen"


class AuditedUserPermissions(User.user_permissions.through):  # type: ignore[misc, name-defined]
    class Meta:
        proxy = True
        app_label = "caspen"


class AuditedGroup(Group):
    class Meta:
        proxy = True
        app_label = "caspen"


class AuditedGroupPermissions(Group.permissions.through):  # type: ignore[misc, name-defined]
    class Meta:
        proxy = True
        app_label = "caspen"


def _track(model, name: str, *extra, **kwargs) -> None:
    pghistory.track(
        *audit_trackers(), *extra, append_only=True, app_label="caspen", model_name=name, **kwargs
    )(model)


_track(
    AuditedUser,
    "UserEvent",
    pghistory.UpdateEvent("password_changed", condition=pgtrigger.AnyChange("password")),
    fields=["id", *USER_FIELDS],
)
_track(AuditedUserGroups, "UserGroupsEvent")
_track(AuditedUserPermissions, "UserPermissionsEvent")
_track(AuditedGroup, "GroupEvent")
_track(AuditedGroupPermissions, "GroupPermissionsEvent")
