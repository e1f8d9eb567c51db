"""`GET /api/v1/reports/revenue/`: report 5 in JSON."""

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
from reports.api.common import CanViewReports
from reports.selectors.revenue import MAX_MONTHS, REVENUE_GROUPINGS, month_count, revenue


class RevenueIn(serializers.Serializer):
    """The period, the grouping and the optional filters."""

    start = InputDate(help_text="First day of the period (YYYY-MM-DD), inclusive.")
    end = InputDate(help_text="Last day of the period (YYYY-MM-DD), inclusive.")
    group_by = serializers.ChoiceField(
        choices=list(REVENUE_GROUPINGS), required=False, default="month"
    )
    location = serializers.PrimaryKeyRelatedField(
        queryset=Location.objects.all(), required=False, allow_null=True
    )
    practitioner = serializers.PrimaryKeyRelatedField(
        queryset=Practitioner.objects.all(), required=False, allow_null=True
    )

    def validate(self, attrs):
        start, end = attrs["start"], attrs["end"]
        if end < start:
            raise serializers.ValidationError({"end": ["The end date is before the start date."]})
        if attrs["group_by"] == "month" and month_count(start, end) > MAX_MONTHS:
            raise serializers.ValidationError(
                {
                    "end": [
                        f"Grouped by month, the period can cover at most {MAX_MONTHS} months "
                        "(10 years)."
                    ]
                }
            )
        return attrs


def _money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=None, decimal_places=2, coerce_to_string=True, **kwargs
    )


MONEY_HELP = {
    "invoiced": "Invoiced, net of tax.",
    "tax": "The tax on what was invoiced.",
    "total": "Invoiced including tax (`invoiced` + `tax`).",
    "paid": "Payments received (null when grouped by item).",
    "refunded": "Refunds made (null when grouped by item).",
}


class RevenueFiguresOut(serializers.Serializer):
    """Invoiced, paid and refunded amounts."""

    invoiced = _money(help_text=MONEY_HELP["invoiced"])
    tax = _money(help_text=MONEY_HELP["tax"])
    total = _money(help_text=MONEY_HELP["total"])
    paid = _money(allow_null=True, help_text=MONEY_HELP["paid"])
    refunded = _money(allow_null=True, help_text=MONEY_HELP["refunded"])


class RevenueRowOut(serializers.Serializer):
    """The revenue figures of one group (a month, a practitioner, a location or an item)."""

    key = serializers.CharField(
        help_text=(
            "The group: `YYYY-MM` (month), a practitioner's or location's id, or "
            "`package:<id>`, `service:<id>` or `other` (item)."
        )
    )
    label = serializers.CharField(help_text="The group's name as the page shows it.")
    invoiced = _money(help_text=MONEY_HELP["invoiced"])
    tax = _money(help_text=MONEY_HELP["tax"])
    total = _money(help_text=MONEY_HELP["total"])
    paid = _money(allow_null=True, help_text=MONEY_HELP["paid"])
    refunded = _money(allow_null=True, help_text=MONEY_HELP["refunded"])


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "By month",
            value={
                "start": "2026-01-01",
                "end": "2026-03-31",
                "currency": "AUD",
                "group_by": "month",
                "rows": [
                    {
                        "key": "2026-03",
                        "label": "March 2026",
                        "invoiced": "12840.00",
                        "tax": "1167.27",
                        "total": "12840.00",
                        "paid": "11920.00",
                        "refunded": "190.00",
                    }
                ],
                "totals": {
                    "invoiced": "12840.00",
                    "tax": "1167.27",
                    "total": "12840.00",
                    "paid": "11920.00",
                    "refunded": "190.00",
                },
            },
        )
    ]
)
class RevenueOut(serializers.Serializer):
    """Revenue for a period, grouped, with the totals."""

    start = serializers.DateField()
    end = serializers.DateField()
    currency = serializers.CharField(help_text="The practice's currency (ISO 4217).")
    group_by = serializers.ChoiceField(choices=list(REVENUE_GROUPINGS))
    rows = RevenueRowOut(many=True)
    totals = RevenueFiguresOut(help_text="The sums of the rows.")


class RevenueViewSet(ApiViewSet):
    """GET /api/v1/reports/revenue/: one object, no paging (at most 120 months, or one
    row per practitioner, location or catalog item). Routed by path with the action
    `report`, so the schema shows an object, not a list."""

    permission_classes = [CanViewReports]
    filter_backends: list = []
    pagination_class = None
    serializer_class = RevenueOut

    @extend_schema(
        summary="Revenue (Admin, Accountant)",
        description=(
            "Invoiced, paid and refunded from `start` to `end` (both inclusive, the "
            "practice's calendar days), grouped by `month` (the default; one row per "
            "month the period touches, 0.00 when nothing happened), `practitioner`, "
            "`location` or `item` (service or package).\n\n"
            "- **Invoiced**: invoices finalized (Open or Paid; not Draft, not Void: an "
            "invoice voided later leaves the report) with an issue date in the period, "
            "the sum of their lines as invoiced: `invoiced` is net of tax, `tax` the tax, "
            "`total` both.\n"
            "- **Paid**: active payments (a voided payment is left out) dated in the "
            "period, whatever the invoice's date.\n"
            "- **Refunded**: refunds dated in the period.\n\n"
            "By practitioner or location: the invoice's (for a payment or a refund, the "
            "invoice it was paid against). By item: the invoice line's package, else its "
            "appointment's service, else `other` (lines typed by hand). Payments are not "
            "split by item: grouped by item, `paid` and `refunded` are null. `totals` "
            "adds up the rows. `location` and `practitioner` keep invoices, payments and "
            "refunds by their invoice's.\n\n"
            "The Revenue page under Reports and its CSV show the same figures. 400 by "
            "field for a missing or malformed date, a date outside 1900–2200, an `end` "
            "before `start`, more than 120 months grouped by month, an unknown "
            "`group_by`, location or practitioner; 403 for Reception and Practitioner."
        ),
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, required=True, description="First day."),
            OpenApiParameter("end", OpenApiTypes.DATE, required=True, description="Last day."),
            OpenApiParameter(
                "group_by",
                OpenApiTypes.STR,
                enum=list(REVENUE_GROUPINGS),
                description="month (default), practitioner, location or item.",
            ),
            OpenApiParameter("location", OpenApiTypes.INT, description="A location's id."),
            OpenApiParameter("practitioner", OpenApiTypes.INT, description="A practitioner's id."),
        ],
        responses=RevenueOut,
    )
    def report(self, request):
        data = self.validated(RevenueIn, data=request.query_params)
        report = revenue(
            data["start"],
            data["end"],
            group_by=data["group_by"],
            location=data.get("location"),
            practitioner=data.get("practitioner"),
        )
        return Response(RevenueOut(report).data)


urlpatterns = [
    path("revenue/", RevenueViewSet.as_view({"get": "report"}), name="api-report-revenue"),
]
