"""Role permissions: model permissions per HTTP method, or per action."""

from __future__ import annotations

from rest_framework.permissions import DjangoModelPermissions


class RolePermission(DjangoModelPermissions):
    """The user's role (Django groups and their model permissions) decides.

    Reading needs the model's `view_` permission, writing its `add_`/`change_`/`delete_`
    permission; actions name theirs in the viewset's `action_permissions`. Anonymous
    requests get 401. Services check their permission again (NotAllowed → 403), so the
    rule book stays in one place even where this check is coarser.
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        action_perms = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if action_perms is not None:
            return user.has_perms(action_perms)
        return super().has_permission(request, view)

    def _queryset(self, view):
        # Only the model is needed: the class's queryset names it, without building the
        # view's get_queryset() (client packages annotate a dozen subqueries there, all
        # compiled again for the list itself).
        queryset = getattr(type(view), "queryset", None)
        if queryset is not None:
            return queryset
        return super()._queryset(view)
