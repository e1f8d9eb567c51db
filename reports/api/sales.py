"""`GET /api/v1/reports/package-sales/`: report 3 in JSON."""

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

from kernel.api.viewsets import ApiViewSet
from reports.api.common import CanViewReports
from reports.api.liability import LiabilityIn
from reports.selectors.sales import SALES_GROUPS, package_sales


class PackageSalesIn(LiabilityIn):
    """The period, the grouping and the optional filters."""

    group_by = serializers.ChoiceField(
        choices=list(SALES_GROUPS),
        required=False,
        default="package",
        help_text="package (the default), month or seller.",
    )


def _money(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=None, decimal_places=2, coerce_to_string=True, help_text=help_text
    )


class SalesRowOut(serializers.Serializer):
    """Package sales of one group."""

    package = serializers.IntegerField(
        allow_null=True, help_text="By package: the catalog package's id; else null."
    )
    month = serializers.CharField(
        allow_null=True, help_text="By month: the month (YYYY-MM); else null."
    )
    seller = serializers.IntegerField(
        allow_null=True,
        help_text="By seller: the id of the user who sold them; null when not recorded "
        "(label `Unknown`) or when grouped otherwise.",
    )
    label = serializers.CharField(
        help_text="The package's name, the month (`March 2026`) or the seller's name."
    )
    count = serializers.IntegerField(help_text="Client packages sold.")
    credits = serializers.IntegerField(help_text="Their credits as sold.")
    revenue = _money("Their amounts net of tax, in the practice's currency.")


class SalesTotalOut(serializers.Serializer):
    """All the package sales of the period."""

    count = serializers.IntegerField()
    credits = serializers.IntegerField()
    revenue = _money("Net of tax.")


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "By package",
            value={
                "start": "2026-01-01",
                "end": "2026-03-31",
                "group_by": "package",
                "currency": "AUD",
                "rows": [
                    {
                        "package": 7,
                        "month": None,
                        "seller": None,
                        "label": "Physio Starter Pack",
                        "count": 14,
                        "credits": 70,
                        "revenue": "6300.00",
                    }
                ],
                "totals": {"count": 14, "credits": 70, "revenue": "6300.00"},
            },
        )
    ]
)
class PackageSalesOut(serializers.Serializer):
    """Client packages sold in a period, grouped."""

    start = serializers.DateField()
    end = serializers.DateField()
    group_by = serializers.ChoiceField(choices=list(SALES_GROUPS))
    currency = serializers.CharField(help_text="The practice's currency (ISO 4217).")
    rows = SalesRowOut(many=True)
    totals = SalesTotalOut()


def _row(row, group_by: str) -> dict:
    return {
        "package": row.key if group_by == "package" else None,
        "month": f"{row.key:%Y-%m}" if group_by == "month" else None,
        "seller": row.key if group_by == "seller" else None,
        "label": row.label,
        "count": row.count,
        "credits": row.credits,
        "revenue": row.revenue,
    }


class PackageSalesViewSet(ApiViewSet):
    """GET /api/v1/reports/package-sales/: one object (the groups are few), no paging."""

    permission_classes = [CanViewReports]
    filter_backends: list = []
    pagination_class = None
    serializer_class = PackageSalesOut

    @extend_schema(
        summary="Package sales (Admin, Accountant)",
        description=(
            "Client packages sold from `start` to `end` (both inclusive, in the practice's "
            "time zone), grouped by catalog package, by month or by who sold them "
            "(`group_by`): for each group the number sold, their credits as sold and "
            "their revenue, net of tax; and the totals.\n\n"
            "A sale counts on the day it was recorded (its grant in the credit ledger), "
            "whatever its start date, and stays a sale when the package is later "
            "canceled; credits added or removed later are not sales. Revenue is the "
            "package's amount net of tax (when the practice's prices include tax: "
            "amount − round(amount × rate ÷ (100 + rate), 2)), so the totals equal the "
            "`sold` line of `/api/v1/reports/package-liability/` for the same period, "
            "except for a package sold with its expiry date already past. By month, "
            "every month the period touches is listed, months without sales included; "
            "by package or seller, the groups with sales, highest revenue first. "
            "`location` and `practitioner` keep whole packages by their current, "
            "non-void invoice.\n\n"
            "The Package sales page under Reports and its CSV show the same figures. "
            "400 by field for a missing or malformed date, a date outside 1900–2200, an "
            "`end` before `start`, an unknown `group_by`, location or practitioner; 403 "
            "for Reception and Practitioner."
        ),
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, required=True, description="First day."),
            OpenApiParameter("end", OpenApiTypes.DATE, required=True, description="Last day."),
            OpenApiParameter(
                "group_by",
                OpenApiTypes.STR,
                enum=list(SALES_GROUPS),
                description="package (the default), month or seller.",
            ),
            OpenApiParameter("location", OpenApiTypes.INT, description="A location's id."),
            OpenApiParameter("practitioner", OpenApiTypes.INT, description="A practitioner's id."),
        ],
        responses=PackageSalesOut,
    )
    def report(self, request):
        data = self.validated(PackageSalesIn, data=request.query_params)
        report = package_sales(
            data["start"],
            data["end"],
            location=data.get("location"),
            practitioner=data.get("practitioner"),
            group_by=data["group_by"],
        )
        out = {
            "start": report.start,
            "end": report.end,
            "group_by": report.group_by,
            "currency": report.currency,
            "rows": [_row(row, report.group_by) for row in report.rows],
            "totals": report.total,
        }
        return Response(PackageSalesOut(out).data)


urlpatterns = [
    path(
        "package-sales/",
        PackageSalesViewSet.as_view({"get": "report"}),
        name="api-report-package-sales",
    ),
]
