"""`GET /api/v1/reports/package-liability/`: report 1 in JSON."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response

from calendar_app.models import Location, Practitioner
from kernel.api.fields import InputDate
from kernel.api.viewsets import ApiViewSet
from reports.api.common import AmountOut, CanViewReports
from reports.selectors import package_liability


class LiabilityIn(serializers.Serializer):
    """The period and the optional filters."""

    start = InputDate(help_text="First day of the period (YYYY-MM-DD), inclusive.")
    end = InputDate(help_text="Last day of the period (YYYY-MM-DD), inclusive.")
    location = serializers.PrimaryKeyRelatedField(
        queryset=Location.objects.all(), required=False, allow_null=True
    )
    practitioner = serializers.PrimaryKeyRelatedField(
        queryset=Practitioner.objects.all(), required=False, allow_null=True
    )

    def validate(self, attrs):
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["The end date is before the start date."]})
        return attrs


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "March",
            value={
                "start": "2026-03-01",
                "end": "2026-03-31",
                "currency": "AUD",
                "opening": {"credits": 310, "value": "27140.00"},
                "sold": {"credits": 85, "value": "7650.00"},
                "redeemed": {"credits": 72, "value": "6480.00"},
                "expired": {"credits": 6, "value": "540.00"},
                "canceled": {"credits": 4, "value": "360.00"},
                "adjusted": {"credits": 2, "value": "0.00"},
                "closing": {"credits": 315, "value": "27410.00"},
            },
        )
    ]
)
class LiabilityOut(serializers.Serializer):
    """Prepaid credits for a period: opening + sold - redeemed - expired - canceled + adjusted = closing."""

    start = serializers.DateField()
    end = serializers.DateField()
    currency = serializers.CharField(help_text="The practice's currency (ISO 4217).")
    opening = AmountOut(help_text="Held at the end of the day before `start`.")
    sold = AmountOut(help_text="Packages sold in the period (on the day recorded).")
    redeemed = AmountOut(help_text="Credits used, net of credits given back (unlinked).")
    expired = AmountOut(
        help_text="Held when an expiry date passed; negative when an extension brought it back."
    )
    canceled = AmountOut(help_text="Held when a package was canceled.")
    adjusted = AmountOut(help_text="The change manual credit adjustments caused (signed).")
    closing = AmountOut(help_text="Held at the end of `end`.")


class PackageLiabilityViewSet(ApiViewSet):
    """GET /api/v1/reports/package-liability/: one object, no paging. Routed by path (not
    the router) with the action `report`, so the schema shows an object, not a list."""

    permission_classes = [CanViewReports]
    filter_backends: list = []
    pagination_class = None
    serializer_class = LiabilityOut

    @extend_schema(
        summary="Package liability (Admin, Accountant)",
        description=(
            "The roll-forward of prepaid package credits for a period, in credits and in "
            "money: opening + sold − redeemed − expired − canceled + adjusted = closing, "
            "exactly, to the cent. The period runs from `start` to `end`, both inclusive, "
            "in the practice's time zone.\n\n"
            "Values are net of tax. A client package with price P (excluding tax) and C "
            "credits (as sold, plus or minus adjustments) holds P − V(k) when k credits "
            "are used, where V(k) = P × k ÷ C rounded half up to the cent; each movement "
            "is worth the change it causes in that amount, so a package's movements add "
            "up to exactly P. `location` and `practitioner` keep whole packages by their "
            "current, non-void invoice.\n\n"
            "The Package liability page under Reports and its CSV show the same figures. "
            "400 by field for a missing or malformed date, a date outside 1900–2200, an "
            "`end` before `start` or an unknown location or practitioner; 403 for "
            "Reception and Practitioner."
        ),
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, required=True, description="First day."),
            OpenApiParameter("end", OpenApiTypes.DATE, required=True, description="Last day."),
            OpenApiParameter("location", OpenApiTypes.INT, description="A location's id."),
            OpenApiParameter("practitioner", OpenApiTypes.INT, description="A practitioner's id."),
        ],
        responses=LiabilityOut,
    )
    def report(self, request):
        data = self.validated(LiabilityIn, data=request.query_params)
        report = package_liability(
            data["start"],
            data["end"],
            location=data.get("location"),
            practitioner=data.get("practitioner"),
        )
        return Response(LiabilityOut(report).data)


urlpatterns = [
    path(
        "package-liability/",
        PackageLiabilityViewSet.as_view({"get": "report"}),
        name="api-report-package-liability",
    ),
]
