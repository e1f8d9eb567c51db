"""What every report's API view shares: the permission and an amount of credits and money."""

from __future__ import annotations

from rest_framework import permissions, serializers

REPORTS_PERM = "reports.view_reports"


class AmountOut(serializers.Serializer):
    """A number of credits and their value."""

    credits = serializers.IntegerField(help_text="Credits.")
    value = serializers.DecimalField(
        max_digits=None,
        decimal_places=2,
        coerce_to_string=True,
        help_text="Their value net of tax, in the practice's currency.",
    )


class CanViewReports(permissions.BasePermission):
    """`reports.view_reports` (Admin, Accountant) for every method: reports have no model
    whose permissions RolePermission could map, and any other method then answers 405."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(REPORTS_PERM))
