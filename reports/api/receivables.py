"""`GET /api/v1/reports/aged-receivables/` (the totals by age) and
`GET /api/v1/reports/aged-receivables/invoices/` (the invoices, paginated): report 4."""

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
from rest_framework.response import Response

from calendar_app.models import Location, Practitioner
from kernel.api.fields import InputDate
from kernel.api.viewsets import ApiViewSet
from reports.api.common import CanViewReports
from reports.selectors.receivables import AGE_BUCKETS, aged_receivables


class ReceivablesIn(serializers.Serializer):
    """The day to age the invoices on, and the optional filters."""

    on = InputDate(
        required=False,
        help_text="The day to age the invoices on (YYYY-MM-DD); today by default.",
    )
    location = serializers.PrimaryKeyRelatedField(
        queryset=Location.objects.all(), required=False, allow_null=True
    )
    practitioner = serializers.PrimaryKeyRelatedField(
        queryset=Practitioner.objects.all(), required=False, allow_null=True
    )


class BucketOut(serializers.Serializer):
    """The open invoices of one age bucket."""

    count = serializers.IntegerField(help_text="Open invoices with a balance.")
    balance = serializers.DecimalField(
        max_digits=None,
        decimal_places=2,
        coerce_to_string=True,
        help_text="Their balances added up, in the practice's currency.",
    )


class BucketsOut(serializers.Serializer):
    """Open invoices by how overdue they are."""

    current = BucketOut(help_text="Not yet overdue: due on `on` or later, or no due date.")
    d1_30 = BucketOut(help_text="1 to 30 days overdue.")
    d31_60 = BucketOut(help_text="31 to 60 days overdue.")
    d61_90 = BucketOut(help_text="61 to 90 days overdue.")
    d90_plus = BucketOut(help_text="More than 90 days overdue.")


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Today",
            value={
                "on": "2026-03-31",
                "currency": "AUD",
                "buckets": {
                    "current": {"count": 12, "balance": "1840.00"},
                    "d1_30": {"count": 5, "balance": "610.00"},
                    "d31_60": {"count": 2, "balance": "285.00"},
                    "d61_90": {"count": 0, "balance": "0.00"},
                    "d90_plus": {"count": 1, "balance": "140.00"},
                },
                "total": {"count": 20, "balance": "2875.00"},
            },
        )
    ]
)
class ReceivablesOut(serializers.Serializer):
    """Open invoices by age, and in all."""

    on = serializers.DateField()
    currency = serializers.CharField(help_text="The practice's currency (ISO 4217).")
    buckets = BucketsOut()
    total = BucketOut(help_text="All open invoices with a balance.")


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Overdue invoice",
            value={
                "id": 288,
                "number": "INV-00288",
                "client": 42,
                "client_name": "Jo Citizen",
                "due_date": "2026-02-14",
                "days_overdue": 45,
                "bucket": "d31_60",
                "balance": "190.00",
            },
        )
    ]
)
class ReceivableInvoiceOut(serializers.Serializer):
    """An open invoice, with how many days it is overdue."""

    id = serializers.IntegerField(source="pk", help_text="The invoice's id.")
    number = serializers.CharField()
    client = serializers.IntegerField(source="client_id", help_text="The client's id.")
    client_name = serializers.CharField()
    due_date = serializers.DateField(allow_null=True)
    days_overdue = serializers.SerializerMethodField(
        help_text="Days past the due date on `on`; 0 when not yet due or without a due date."
    )
    bucket = serializers.ChoiceField(choices=list(AGE_BUCKETS), help_text="A key of `buckets`.")
    balance = serializers.DecimalField(max_digits=None, decimal_places=2, coerce_to_string=True)

    def get_days_overdue(self, invoice) -> int:
        return max(invoice.days_overdue or 0, 0)


_FILTERS = [
    OpenApiParameter(
        "on", OpenApiTypes.DATE, description="The day to age the invoices on; today by default."
    ),
    OpenApiParameter("location", OpenApiTypes.INT, description="A location's id."),
    OpenApiParameter("practitioner", OpenApiTypes.INT, description="A practitioner's id."),
]
_RULES = (
    "Open invoices (finalized, not paid, not void) with a balance above 0, aged on `on` "
    "(the practice's today by default): days overdue = `on` − the due date. Buckets: "
    "`current` (due on `on` or later, or no due date), `d1_30`, `d31_60`, `d61_90`, "
    "`d90_plus` (over 90 days). Balances are as they stand now: the invoice's total less "
    "its payments, net of refunds. `location` and `practitioner` are the invoice's.\n\n"
)


class AgedReceivablesViewSet(ApiViewSet):
    """The summary (one object) and the invoices (a page of a list). Routed by path (not
    the router), with the actions `report` and `invoices`."""

    permission_classes = [CanViewReports]
    filter_backends: list = []
    serializer_class = ReceivablesOut

    def _report(self, request):
        data = self.validated(ReceivablesIn, data=request.query_params)
        return aged_receivables(
            data.get("on") or timezone.localdate(),
            location=data.get("location"),
            practitioner=data.get("practitioner"),
        )

    @extend_schema(
        summary="Aged receivables: totals by age (Admin, Accountant)",
        description=(
            "The number and the balance of open invoices in each age bucket, and in all.\n\n"
            + _RULES
            + "The invoices themselves: `/api/v1/reports/aged-receivables/invoices/` with "
            "the same parameters. The Aged receivables page under Reports and its CSV show "
            "the same figures. 400 by field for a malformed date, a date outside "
            "1900–2200 or an unknown location or practitioner; 403 for Reception and "
            "Practitioner."
        ),
        parameters=_FILTERS,
        responses=ReceivablesOut,
    )
    def report(self, request):
        report = self._report(request)
        buckets = {key: report.buckets[key] for key in AGE_BUCKETS}
        out = {"on": report.on, "currency": report.currency, "buckets": buckets}
        return Response(ReceivablesOut({**out, "total": report.total}).data)

    @extend_schema(
        summary="Aged receivables: the invoices (Admin, Accountant)",
        description=(
            "The open invoices of `/api/v1/reports/aged-receivables/`, most overdue first "
            "(by due date, then number), a page at a time.\n\n"
            + _RULES
            + "400 by field for a malformed date, a date outside 1900–2200, an unknown "
            "location or practitioner or a bad page size; 403 for Reception and "
            "Practitioner."
        ),
        parameters=_FILTERS,
        responses=ReceivableInvoiceOut(many=True),
    )
    def invoices(self, request):
        return self.paginated(ReceivableInvoiceOut, self._report(request).rows)


urlpatterns = [
    path(
        "aged-receivables/",
        AgedReceivablesViewSet.as_view({"get": "report"}, pagination_class=None),
        name="api-report-aged-receivables",
    ),
    path(
        "aged-receivables/invoices/",
        AgedReceivablesViewSet.as_view({"get": "invoices"}),
        name="api-report-aged-receivables-invoices",
    ),
]
