"""`GET /api/v1/reports/expiring-packages/`: report 2, Expiring soon, in JSON."""

from __future__ import annotations

from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers

from calendar_app.models import Location, Practitioner
from kernel.api.viewsets import ApiViewSet
from reports.api.common import CanViewReports
from reports.selectors.expiring import (
    EXPIRING_WITHIN_DAYS,
    expiring_packages,
    recently_expired_packages,
)

# The page's second list: expired in the last 30 days (reports.views.expiring).
EXPIRED_DAYS = 30


class ExpiringIn(serializers.Serializer):
    """Which packages to list."""

    within = serializers.ChoiceField(
        choices=EXPIRING_WITHIN_DAYS,
        default=30,
        error_messages={"invalid_choice": "Choose 7, 30 or 60 days."},
        help_text="Expiring within 7, 30 or 60 days (30 by default).",
    )
    expired = serializers.BooleanField(
        default=False,
        help_text="true: packages that expired in the last 30 days instead.",
    )
    location = serializers.PrimaryKeyRelatedField(
        queryset=Location.objects.all(), required=False, allow_null=True
    )
    practitioner = serializers.PrimaryKeyRelatedField(
        queryset=Practitioner.objects.all(), required=False, allow_null=True
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Expiring soon",
            value={
                "client_package": 118,
                "client": 42,
                "client_name": "Jo Citizen",
                "phone": "0412 345 678",
                "package_name": "Physio Starter Pack",
                "remaining_credits": 2,
                "remaining_value": "180.00",
                "expires_on": "2026-04-10",
            },
        )
    ]
)
class ExpiringPackageOut(serializers.Serializer):
    """A client package expiring soon with credits left."""

    client_package = serializers.IntegerField(source="pk", help_text="The client package's id.")
    client = serializers.IntegerField(source="client_id", help_text="The client's id.")
    client_name = serializers.CharField(help_text="First and last name.")
    phone = serializers.CharField(source="client_phone", help_text="The client's phone.")
    package_name = serializers.CharField(source="name", help_text="The package as sold.")
    remaining_credits = serializers.IntegerField(help_text="Credits not yet used.")
    remaining_value = serializers.DecimalField(
        max_digits=None,
        decimal_places=2,
        coerce_to_string=True,
        help_text="Their value net of tax, in the practice's currency.",
    )
    expires_on = serializers.DateField(help_text="The last day the package can be used.")


class ExpiringPackagesViewSet(ApiViewSet):
    """GET /api/v1/reports/expiring-packages/: a paged list. Routed by path with the
    action `list`, so the schema shows the paged list and its `page` parameters."""

    permission_classes = [CanViewReports]
    filter_backends: list = []
    serializer_class = ExpiringPackageOut

    @extend_schema(
        summary="Expiring soon (Admin, Accountant)",
        description=(
            "Client packages with credits left, not canceled, that expire within the next "
            "`within` days (7, 30 or 60; 30 by default), counted from today in the "
            "practice's time zone: today <= `expires_on` <= today + `within`. A package "
            "can be used up to and including its expiry date. Soonest first.\n\n"
            "With `expired=true`, the packages that expired in the last 30 days with "
            "credits left instead (`expires_on` from today − 30 to yesterday; `within` is "
            "then not used); their `remaining_value` is what the credits would hold again "
            "if the expiry date were extended.\n\n"
            "`remaining_value` is net of tax and computed as in Package liability: a "
            "client package with price P (excluding tax) and C credits holds P − V(k) "
            "when k credits are used, V(k) = P × k ÷ C rounded half up to the cent. "
            "`location` and `practitioner` keep whole packages by their current, non-void "
            "invoice (a package not invoiced is only in the unfiltered list).\n\n"
            "The Expiring soon page under Reports and its CSV show the same rows. 400 by "
            "field for a `within` other than 7, 30 or 60, an `expired` that is not a "
            "boolean or an unknown location or practitioner; 403 for Reception and "
            "Practitioner."
        ),
        parameters=[
            OpenApiParameter(
                "within",
                OpenApiTypes.INT,
                enum=list(EXPIRING_WITHIN_DAYS),
                description="Days ahead: 7, 30 or 60 (30 by default).",
            ),
            OpenApiParameter(
                "expired",
                OpenApiTypes.BOOL,
                description="true: expired in the last 30 days with credits left.",
            ),
            OpenApiParameter("location", OpenApiTypes.INT, description="A location's id."),
            OpenApiParameter("practitioner", OpenApiTypes.INT, description="A practitioner's id."),
        ],
        responses=ExpiringPackageOut(many=True),
    )
    def list(self, request):
        data = self.validated(ExpiringIn, data=request.query_params)
        today = timezone.localdate()
        place = {"location": data.get("location"), "practitioner": data.get("practitioner")}
        if data["expired"]:
            rows = recently_expired_packages(today, EXPIRED_DAYS, **place)
        else:
            rows = expiring_packages(today, data["within"], **place)
        return self.paginated(ExpiringPackageOut, rows)


urlpatterns = [
    path(
        "expiring-packages/",
        ExpiringPackagesViewSet.as_view({"get": "list"}),
        name="api-report-expiring-packages",
    ),
]
