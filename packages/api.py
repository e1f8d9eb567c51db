"""API v1: client packages (`client-packages/`): sell, match, cancel, adjust, extend,
invoice, and read the credit ledger.

Every write is a `packages.services` (or `invoicing.services`) call with
`by=request.user`. Status comes from `packages.selectors` (computed in the query, so
`?status=` filters in the database and is always current).
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any, NamedTuple, cast

import django_filters
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import (
    Case,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from calendar_app.models import Appointment, Location, Practitioner
from catalog.models import Package, PackageKind, Service
from clients.api import ClientReadsLogged
from clients.models import Client
from invoicing.api import MONEY, InvoiceOut, invoice_for_output
from invoicing.models import InvoiceLine, PaymentMethod, SaleInvoicing
from invoicing.selectors import (
    PACKAGE_PAYMENT_CHOICES,
    client_packages_add_payment,
    client_packages_with_payment,
)
from invoicing.services import (
    client_package_cancel_with_refund,
    client_package_sell,
    invoice_for_client_package,
)
from kernel.api.fields import (
    ColumnsOut,
    ColumnsOutSerializer,
    InputDate,
    decimal_text,
    instant_text,
)
from kernel.api.filters import OrderingFilter, RowsFilterBackend, UpdatedSinceFilter
from kernel.api.pagination import (
    PAGE_PARAMETERS,
    KeptCountPagination,
    PreparedPages,
)
from kernel.api.viewsets import ApiViewSet
from kernel.prepared import Prepared
from kernel.rowcount import kept_count_expression
from packages import services
from packages.models import (
    ClientPackage,
    ClientPackageCount,
    ClientPackageService,
    ClientPackageStatus,
    CreditLedgerEntry,
    LedgerKind,
)
from packages.selectors import (
    client_package_count,
    client_package_matches,
    client_packages_with_status,
)
from practice.models import PracticeSettings
from reports.selectors.liability import (
    client_packages_add_remaining_value,
    client_packages_with_remaining_value,
)

# --------------------------------------------------------------------------- output


class ClientPackageServiceOut(ColumnsOut, serializers.Serializer):
    """A service a client package covers, with what has been used and what is left."""

    service = serializers.IntegerField(source="service_id")
    name = serializers.CharField()
    allowance = serializers.IntegerField(
        allow_null=True, help_text="Uses of this service (fixed packages); null when flexible."
    )
    used = serializers.SerializerMethodField(help_text="Credits this service has consumed.")
    remaining = serializers.IntegerField(
        allow_null=True,
        help_text="Allowance left (fixed packages); null when flexible (see the package's).",
    )

    @extend_schema_field(serializers.IntegerField())
    def get_used(self, row: ClientPackageService) -> int:
        # Fixed packages keep a proven counter per service; a flexible package's use of
        # each service is read from its ledger (annotated, see client_packages_for_output).
        if row.allowance is not None:
            return row.used
        used = getattr(row, "ledger_used", None)
        return row.used if used is None else used


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Physio Starter Pack",
            value={
                "id": 118,
                "client": 42,
                "package": 7,
                "name": "Physio Starter Pack",
                "kind": "flexible",
                "status": "active",
                "credits": 5,
                "consumed": 1,
                "remaining": 4,
                "price": "450.00",
                "start_date": "2026-03-01",
                "expires_on": "2026-09-01",
                "canceled_at": None,
                "cancel_reason": "",
                "services": [
                    {
                        "service": 3,
                        "name": "Physio Follow-up",
                        "allowance": None,
                        "used": 1,
                        "remaining": None,
                    }
                ],
                "appointments": [981],
                "invoices": [305],
                "payment_status": "paid",
                "remaining_value": "360.00",
                "updated_at": "2026-03-02T10:15:00+11:00",
            },
        )
    ]
)
class ClientPackageOut(ColumnsOutSerializer):
    """A package sold to a client: its credits, what is left, its status, expiry, payment status and linked appointments."""

    status = serializers.SerializerMethodField()
    remaining = serializers.IntegerField(read_only=True)
    services = ClientPackageServiceOut(many=True, read_only=True)
    appointments = serializers.SerializerMethodField(help_text="Ids of the linked appointments.")
    invoices = serializers.SerializerMethodField(
        help_text="Ids of the invoices with a line for this package (void ones too)."
    )
    payment_status = serializers.ChoiceField(
        choices=PACKAGE_PAYMENT_CHOICES,
        read_only=True,
        help_text=(
            "From the package's current (non-void) invoice: `paid` (the invoice is Paid), "
            "`part_paid` (money paid and a balance left), `unpaid` (a Draft, or Open with "
            "nothing paid), `not_invoiced` (no invoice)."
        ),
    )
    remaining_value = serializers.DecimalField(
        **MONEY,
        read_only=True,
        help_text=(
            "What the unused credits are worth, net of tax: P − V(k), V(k) = P × k ÷ C "
            "rounded half up to the cent (the Package liability rule). 0.00 when canceled; "
            "an expired package keeps the value an extension would bring back."
        ),
    )

    class Meta:
        model = ClientPackage
        fields = [
            "id",
            "client",
            "package",
            "name",
            "kind",
            "status",
            "credits",
            "consumed",
            "remaining",
            "price",
            "start_date",
            "expires_on",
            "canceled_at",
            "cancel_reason",
            "services",
            "appointments",
            "invoices",
            "payment_status",
            "remaining_value",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=ClientPackageStatus.choices))
    def get_status(self, client_package: ClientPackage) -> str:
        return getattr(client_package, "status_value", None) or client_package.status

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_appointments(self, client_package: ClientPackage) -> list[int]:
        ids = getattr(client_package, "appointment_ids", None)
        if ids is not None:  # client_packages_for_output's array
            return ids
        return [appointment.pk for appointment in client_package.appointments.all()]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_invoices(self, client_package: ClientPackage) -> list[int]:
        ids = getattr(client_package, "invoice_ids", None)
        if ids is not None:  # client_packages_for_output's array
            return ids
        return sorted({line.invoice_id for line in client_package.invoice_lines.all()})


def _services_with_use() -> QuerySet[ClientPackageService]:
    """Client package services, each with `ledger_used` (a flexible package's use of the
    service, read from its ledger)."""
    used = (
        CreditLedgerEntry.objects.filter(
            client_package=OuterRef("client_package_id"),
            service=OuterRef("service_id"),
            kind__in=[LedgerKind.CONSUME, LedgerKind.RELEASE],
        )
        .order_by()
        .values("client_package")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    # Only a flexible package's service (no allowance) reads its ledger; a fixed one has
    # its proven counter, and the CASE leaves the ledger unread for it.
    services_qs = ClientPackageService.objects.annotate(
        ledger_used=Case(
            When(
                allowance__isnull=True,
                then=Coalesce(-Subquery(used, output_field=IntegerField()), 0),
            ),
            default=None,
            output_field=IntegerField(),
        )
    ).order_by("id")
    return services_qs


# Built once per process (nothing in it depends on the request or the day): a page's
# prefetch only filters it by the page's ids.
SERVICES_WITH_USE = _services_with_use()


def client_packages_for_output(
    queryset: QuerySet[ClientPackage] | None = None,
) -> QuerySet[ClientPackage]:
    """Client packages with status, payment status, remaining value, services (and each
    one's use), linked appointments and invoices: a constant number of queries for any
    number of packages (three: the practice's settings, the packages, with their
    appointment and invoice ids as arrays, and their services)."""
    queryset = ClientPackage.objects.all() if queryset is None else queryset
    # The ids as arrays in the packages' own query (read through the client_package
    # indexes): no model built per appointment, however many a package has.
    appointment_ids = ArraySubquery(
        Appointment.objects.filter(client_package=OuterRef("pk"))
        .order_by("starts_at", "id")
        .values("id")
    )
    invoice_ids = ArraySubquery(
        InvoiceLine.objects.filter(client_package=OuterRef("pk"))
        .order_by("invoice_id")
        .values("invoice_id")
        .distinct()
    )
    queryset = client_packages_with_status(queryset.prefetch_related(None))
    queryset = client_packages_with_remaining_value(client_packages_with_payment(queryset))
    return queryset.annotate(
        appointment_ids=appointment_ids, invoice_ids=invoice_ids
    ).prefetch_related(Prefetch("services", queryset=SERVICES_WITH_USE.all()))


# The columns a page of the list reads, under ClientPackage's names (the tax rate's rate
# for the remaining value).
_PAGE_COLUMNS = (
    "id",
    "client_id",
    "package_id",
    "name",
    "kind",
    "price",
    "tax_rate__rate",
    "credits",
    "consumed",
    "start_date",
    "expires_on",
    "canceled_at",
    "cancel_reason",
    "updated_at",
)


_PAGE_ARRAYS = ("appointment_ids", "invoice_ids", "prices_include_tax")


@functools.cache
def _page_arrays() -> dict[str, RawSQL]:
    """A page row's linked appointment ids (by time) and invoice ids (void ones too),
    read as arrays in the page's own query (through the client_package indexes: no row
    built per appointment, however many a package has), and the practice's tax
    setting (the remaining value's rule needs it). Built once per process (annotate
    copies them)."""
    package, appointment, line, practice = (
        m._meta.db_table for m in (ClientPackage, Appointment, InvoiceLine, PracticeSettings)
    )
    ids = ArrayField(models.BigIntegerField())
    return {
        "appointment_ids": RawSQL(  # noqa: S611 - no value in it
            f"ARRAY(SELECT a.id FROM {appointment} a WHERE a.client_package_id = {package}.id"  # noqa: S608 - table names
            " ORDER BY a.starts_at, a.id)",
            (),
            output_field=ids,
        ),
        "invoice_ids": RawSQL(  # noqa: S611 - no value in it
            f"ARRAY(SELECT DISTINCT l.invoice_id FROM {line} l"  # noqa: S608 - table names
            f" WHERE l.client_package_id = {package}.id ORDER BY l.invoice_id)",
            (),
            output_field=ids,
        ),
        "prices_include_tax": RawSQL(  # noqa: S611 - no value in it
            f"(SELECT s.prices_include_tax FROM {practice} s WHERE s.id = 1)",  # noqa: S608
            (),
            output_field=models.BooleanField(null=True),
        ),
    }


class _Rate(NamedTuple):
    rate: Decimal


class PageRow:
    """A client package of a list's page, read as values (no model built, no column the
    list does not write loaded), with what the selectors read of a package: `pk`,
    `client_id`, `remaining`, `tax_rate.rate`, and the model's own status rule. The
    selectors give it their annotations as they give a model's."""

    status_on = ClientPackage.status_on
    # Given by client_packages_add_output (and the selectors it calls).
    payment_status: str
    remaining_value: Decimal

    def __init__(self, values: tuple) -> None:
        (
            self.pk,
            self.client_id,
            self.package_id,
            self.name,
            self.kind,
            self.price,
            rate,
            self.credits,
            self.consumed,
            self.start_date,
            self.expires_on,
            self.canceled_at,
            self.cancel_reason,
            self.updated_at,
            self.appointment_ids,
            self.invoice_ids,
            self.prices_include_tax,
            *status,
        ) = values
        self.tax_rate = None if rate is None else _Rate(rate)
        # With `?status=`, the query's status (the filter's); else the model's rule.
        self.status_value = status[0] if status else None

    @property
    def remaining(self) -> int:
        return self.credits - self.consumed


def client_packages_for_page(
    queryset: QuerySet[ClientPackage], *, with_status: bool
) -> QuerySet[ClientPackage]:
    """What a list reads for its page (`PageRow`s' values): the packages' columns, and
    their status in the query when `?status=` filters on it (the rows' status is
    otherwise the model's own rule, `ClientPackage.status_on`, the one `get_status` falls
    back to); `client_package_list_rows` gives the page's rows the rest. The correlated
    subqueries of `client_packages_for_output` cost more to build and compile than to
    run."""
    queryset = queryset.prefetch_related(None).annotate(**_page_arrays())
    columns = (*_PAGE_COLUMNS, *_PAGE_ARRAYS)
    if with_status:
        return client_packages_with_status(queryset).values_list(*columns, "status_value")
    return queryset.values_list(*columns)


# The list unfiltered, in its default order: each page's SQL built once.
PACKAGE_LIST_ORDER = ("-start_date", "-id")
UNFILTERED_PAGES = PreparedPages(
    lambda: client_packages_for_page(
        ClientPackage.objects.order_by(*PACKAGE_LIST_ORDER), with_status=False
    ),
    rows=True,
    count=lambda: kept_count_expression(ClientPackageCount),
)


# A page's services, with each one's use (`SERVICES_WITH_USE`'s rule), as rows.
_PAGE_SERVICES = Prepared(
    lambda ids: SERVICES_WITH_USE.filter(client_package_id__in=ids).values_list(
        "client_package_id", "service_id", "name", "allowance", "used", "ledger_used"
    ),
    ids=list,
)


def client_packages_add_output(packages: list[PageRow]) -> dict[int, list[dict]]:
    """Give a page of `client_packages_for_page` rows the rest of what
    `client_packages_for_output` annotates, by the same rules: payment status
    (`client_packages_add_payment`, one query) and remaining value
    (`client_packages_add_remaining_value`, in Python). Returns the packages' services
    with their use (one query), as `ClientPackageServiceOut` represents them, by
    package id."""
    if not packages:
        return {}
    ids = [package.pk for package in packages]
    include_tax = packages[0].prices_include_tax
    if include_tax is None:  # no settings row yet: load() creates it
        include_tax = PracticeSettings.load().prices_include_tax
    # The selectors read (and annotate) a page row as they would a package.
    as_packages = cast(list[ClientPackage], packages)
    client_packages_add_remaining_value(as_packages, prices_include_tax=include_tax)
    # A package the page read with no invoice at all needs no look-up (invoice_ids is
    # read with the row).
    client_packages_add_payment(
        as_packages, never_invoiced={p.pk for p in packages if not p.invoice_ids}
    )
    services: dict[int, list[dict]] = {pk: [] for pk in ids}
    for package, service, name, allowance, used, ledger_used in _PAGE_SERVICES.rows(ids=ids):
        # ClientPackageServiceOut's fields, get_used's rule.
        services[package].append(
            {
                "service": service,
                "name": name,
                "allowance": allowance,
                "used": used if allowance is not None or ledger_used is None else ledger_used,
                "remaining": None if allowance is None else allowance - used,
            }
        )
    return services


@functools.cache
def _package_fields() -> dict[str, Any]:
    """ClientPackageOut's fields (built once per process: their settings never change)."""
    return dict(ClientPackageOut().fields)


def client_package_list_rows(packages: list[PageRow]) -> list[dict]:
    """The list's JSON rows of a page of `client_packages_for_page` rows, each the dict
    `ClientPackageOut` gives (a test compares them), written directly: no serializer
    built per request, no field looked up per value. Two queries (none when empty)."""
    services = client_packages_add_output(packages)
    fields = _package_fields()
    price, remaining_value = fields["price"], fields["remaining_value"]
    canceled, updated = instant_text(fields["canceled_at"]), instant_text(fields["updated_at"])
    today = timezone.localdate()
    out = []
    for package in packages:
        expires_on, canceled_at = package.expires_on, package.canceled_at
        out.append(
            {
                "id": package.pk,
                "client": package.client_id,
                "package": package.package_id,
                "name": package.name,
                "kind": package.kind,
                "status": package.status_value or package.status_on(today),
                "credits": package.credits,
                "consumed": package.consumed,
                "remaining": package.credits - package.consumed,
                "price": decimal_text(price, package.price),
                "start_date": package.start_date.isoformat(),
                "expires_on": None if expires_on is None else expires_on.isoformat(),
                "canceled_at": None if canceled_at is None else canceled(canceled_at),
                "cancel_reason": package.cancel_reason,
                "services": services[package.pk],
                "appointments": package.appointment_ids,
                "invoices": package.invoice_ids,
                "payment_status": package.payment_status,
                "remaining_value": decimal_text(remaining_value, package.remaining_value),
                "updated_at": updated(package.updated_at),
            }
        )
    return out


def client_package_for_output(pk: int) -> ClientPackage:
    return client_packages_for_output().get(pk=pk)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Consumed by an appointment",
            value={
                "id": 1204,
                "kind": "consume",
                "quantity": -1,
                "service": 3,
                "appointment": 981,
                "reason": "",
                "created_at": "2026-03-02T10:15:00+11:00",
                "created_by": "reception.amy",
            },
        )
    ]
)
class LedgerEntryOut(serializers.ModelSerializer):
    """One movement of a client package's credits (granted, consumed, released, adjusted...)."""

    appointment = serializers.IntegerField(source="appointment_id", allow_null=True)
    created_by = serializers.CharField(
        source="created_by.username", allow_null=True, help_text="Who (null: the system)."
    )

    class Meta:
        model = CreditLedgerEntry
        fields = [
            "id",
            "kind",
            "quantity",
            "service",
            "appointment",
            "reason",
            "created_at",
            "created_by",
        ]
        read_only_fields = fields


# ---------------------------------------------------------------------------- input


class SalePaymentIn(serializers.Serializer):
    """A payment taken at the sale (a deposit or the full price)."""

    amount = serializers.DecimalField(
        **MONEY,
        min_value=Decimal("0.01"),
        required=False,
        allow_null=True,
        help_text="A deposit (at most the total); omitted or null: the full amount.",
    )
    method = serializers.PrimaryKeyRelatedField(queryset=PaymentMethod.objects.all())
    reference = serializers.CharField(max_length=200, required=False, allow_blank=True)


class SaleInvoiceIn(serializers.Serializer):
    """The invoice for the sale; with `take_payment` it is finalized and paid at once."""

    practitioner = serializers.PrimaryKeyRelatedField(queryset=Practitioner.objects.all())
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all())
    take_payment = SalePaymentIn(
        required=False,
        allow_null=True,
        help_text="Finalize the invoice and record this payment, in the same transaction.",
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Sell, invoice and take payment",
            value={
                "client": 42,
                "package": 7,
                "start_date": "2026-03-01",
                "invoice": {
                    "practitioner": 3,
                    "location": 1,
                    "take_payment": {"amount": "450.00", "method": 2, "reference": "EFTPOS 004512"},
                },
            },
        ),
        OpenApiExample("Sell only", value={"client": 42, "package": 7}),
    ]
)
class ClientPackageIn(serializers.Serializer):
    """A sale of a catalog package to a client."""

    client = serializers.PrimaryKeyRelatedField(queryset=Client.objects.all())
    package = serializers.PrimaryKeyRelatedField(
        queryset=Package.objects.all(), help_text="The catalog package sold."
    )
    start_date = InputDate(required=False, allow_null=True, help_text="Default: today.")
    invoice = SaleInvoiceIn(
        required=False,
        help_text=(
            "Invoice the package in the same step: a Draft invoice, or with `take_payment` "
            "a finalized invoice and a payment. All or nothing: a refusal (e.g. 409 "
            "`amount_exceeds_balance`) leaves no package, invoice or payment."
        ),
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Extend after an injury",
            value={"expires_on": "2026-10-01", "reason": "Client was in hospital for four weeks."},
        )
    ]
)
class ExpiryIn(serializers.Serializer):
    """A new expiry date and why it changes."""

    expires_on = InputDate(help_text="The new expiry date (the last day it may be used).")
    reason = serializers.CharField(max_length=2000)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Cancel and refund the unused part",
            value={"reason": "Client moved interstate.", "refund_unused": True},
        )
    ]
)
class CancelPackageIn(serializers.Serializer):
    """Why the package is canceled, and whether to refund the unused part."""

    reason = serializers.CharField(max_length=2000)
    refund_unused = serializers.BooleanField(
        default=False,
        help_text=(
            "Also give back the unused part (Admin: needs the refund permission too), in the "
            "same transaction: against the package invoice's payments, newest first, or by "
            "reducing its Draft invoice. The practice's setting values it: the unused "
            "credits' value (net, as the liability report holds it, plus its tax) or the "
            "price minus the full price of the services used."
        ),
    )
    refund_amount = serializers.DecimalField(
        **MONEY,
        required=False,
        min_value=Decimal("0"),
        help_text=(
            "Less than the computed amount, to give back less (default: all of it that can "
            "be). More than the unused value: 409 `refund_exceeds_unused`; more than the invoice "
            "still bills (or any amount when not invoiced): 409 `refund_exceeds_paid`."
        ),
    )

    def validate(self, attrs):
        if "refund_amount" in attrs and not attrs.get("refund_unused"):
            raise serializers.ValidationError(
                {"refund_amount": ["Send “refund_unused”: true with a refund amount."]}
            )
        return attrs


class PackageRefundOut(serializers.Serializer):
    """The refund of a package's unused part (`cancel/` with `refund_unused`)."""

    method = serializers.CharField(
        source="unused.method", help_text="liability or price_less_services"
    )
    unused_credits = serializers.IntegerField(source="unused.unused_credits")
    unused_value = serializers.DecimalField(
        **MONEY, source="unused.value", help_text="Tax included."
    )
    unused_net = serializers.DecimalField(
        **MONEY, source="unused.net", help_text="Net of tax: the liability released."
    )
    amount = serializers.DecimalField(
        **MONEY, help_text="What was given back (0.00: nothing to refund)."
    )
    invoice = serializers.IntegerField(source="unused.invoice.pk", allow_null=True, default=None)
    credited_draft = serializers.BooleanField(
        source="unused.credit_note", help_text="The Draft invoice was reduced instead of refunded."
    )
    refunds = serializers.SerializerMethodField()
    refunded = serializers.DecimalField(
        **MONEY, help_text="The part of `amount` paid back against the invoice's payments."
    )
    credit_note = serializers.SerializerMethodField(
        help_text=(
            "On a finalized invoice, the credit note that took `amount` off it (the rest "
            "of what was paid is refunded); null otherwise."
        )
    )

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {
                "id": {"type": "integer"},
                "number": {"type": "string", "example": "CN-0001"},
                "amount": {"type": "string", "example": "77.00"},
            },
        }
    )
    def get_credit_note(self, obj):
        note = obj.credit_note
        if note is None:
            return None
        return {"id": note.pk, "number": note.number, "amount": f"{note.total_amount:.2f}"}

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "payment": {"type": "integer"},
                    "amount": {"type": "string", "example": "77.00"},
                },
            },
        }
    )
    def get_refunds(self, obj):
        return [
            {"id": r.pk, "payment": r.payment_id, "amount": f"{r.amount:.2f}"} for r in obj.refunds
        ]


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Canceled with a refund",
            value={
                "id": 118,
                "client": 42,
                "package": 7,
                "name": "Physio Starter Pack",
                "kind": "flexible",
                "status": "canceled",
                "credits": 5,
                "consumed": 1,
                "remaining": 4,
                "price": "450.00",
                "start_date": "2026-03-01",
                "expires_on": "2026-09-01",
                "canceled_at": "2026-03-02T10:15:00+11:00",
                "cancel_reason": "Client moved interstate.",
                "services": [
                    {
                        "service": 3,
                        "name": "Physio Follow-up",
                        "allowance": None,
                        "used": 1,
                        "remaining": None,
                    }
                ],
                "appointments": [981],
                "invoices": [305],
                "payment_status": "paid",
                "remaining_value": "360.00",
                "updated_at": "2026-03-02T10:15:00+11:00",
                "refund": {
                    "method": "Card",
                    "unused_credits": 4,
                    "unused_value": "360.00",
                    "unused_net": "327.27",
                    "amount": "360.00",
                    "invoice": 305,
                    "credited_draft": False,
                    "refunds": [{"id": 9, "payment": 77, "amount": "360.00"}],
                    "refunded": "360.00",
                    "credit_note": {"id": 14, "number": "CN-0014", "amount": "360.00"},
                },
            },
        )
    ]
)
class CancelPackageOut(ClientPackageOut):
    """The canceled client package, and the refund of its unused part if one was asked for."""

    refund = serializers.SerializerMethodField()

    class Meta(ClientPackageOut.Meta):
        fields = [*ClientPackageOut.Meta.fields, "refund"]

    @extend_schema_field(PackageRefundOut(allow_null=True))
    def get_refund(self, obj):
        refund = self.context.get("refund")
        return PackageRefundOut(refund).data if refund is not None else None


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "One free session",
            value={"quantity": 1, "reason": "Goodwill after a rescheduled appointment."},
        )
    ]
)
class AdjustIn(serializers.Serializer):
    """Credits to add (positive) or take away (negative), and why."""

    quantity = serializers.IntegerField(
        min_value=-10_000, max_value=10_000, help_text="Credits to add (> 0) or remove (< 0)."
    )
    reason = serializers.CharField(max_length=2000)
    service = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.all(),
        required=False,
        allow_null=True,
        help_text="Required for fixed packages: whose allowance changes.",
    )

    def validate_quantity(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("Enter a whole number of credits other than 0.")
        return value


@extend_schema_serializer(
    examples=[
        OpenApiExample("Invoice from Sam Lee at Richmond", value={"practitioner": 3, "location": 1})
    ]
)
class PackageInvoiceIn(serializers.Serializer):
    """Who issues the invoice, and where."""

    practitioner = serializers.PrimaryKeyRelatedField(queryset=Practitioner.objects.all())
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all())


class MatchQuery(serializers.Serializer):
    """The appointment to find packages for."""

    client = serializers.PrimaryKeyRelatedField(queryset=Client.objects.all())
    date = InputDate(help_text="The appointment's date.")
    service = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.all(), required=False, allow_null=True
    )


class ClientPackagePagination(KeptCountPagination):
    """Unfiltered, the count is the one the database keeps (`client_package_count`, exact),
    not a count of every package ever sold (10 ms at 150,000)."""

    def kept_count(self) -> int:
        return client_package_count()

    def counts_kept(self, request, view) -> bool:
        # The list only: the detail actions' pages (the ledger, matches) count their rows.
        return getattr(view, "action", None) == "list" and super().counts_kept(request, view)

    def paginate_queryset(self, queryset, request, view=None):
        page = super().paginate_queryset(queryset, request, view)
        if page is not None and getattr(view, "action", None) == "list":
            # The list reads values (client_packages_for_page): its page is PageRows.
            return [PageRow(values) for values in page]
        return page


class ClientPackageFilter(django_filters.FilterSet):
    client = django_filters.ModelChoiceFilter(queryset=Client.objects.all())
    package = django_filters.ModelChoiceFilter(queryset=Package.objects.all())
    status = django_filters.ChoiceFilter(
        choices=ClientPackageStatus.choices, field_name="status_value"
    )
    kind = django_filters.ChoiceFilter(choices=PackageKind.choices)
    start_after = django_filters.DateFilter(
        field_name="start_date", lookup_expr="gte", label="Starting on or after this day."
    )
    start_before = django_filters.DateFilter(
        field_name="start_date", lookup_expr="lte", label="Starting on or before this day."
    )
    updated_since = UpdatedSinceFilter()
    ordering = OrderingFilter(fields=["start_date", "expires_on", "created_at", "updated_at", "id"])

    class Meta:
        model = ClientPackage
        fields = ["client", "package", "status", "kind", "start_after", "start_before"]


class LedgerFilter(django_filters.FilterSet):
    # Ledger rows never change once written: "changed since" is "written since".
    updated_since = UpdatedSinceFilter(
        field_name="created_at",
        label="Only movements recorded at or after this moment (ISO 8601 date-time).",
    )

    class Meta:
        model = CreditLedgerEntry
        fields = ["updated_since"]


# ---------------------------------------------------------------------------- views


@extend_schema_view(
    list=extend_schema(
        summary="List client packages",
        description="Packages sold to clients, newest first. Filter by client, catalog package, status, kind, start date (`start_after`/`start_before`) or `updated_since`.",
        responses=ClientPackageOut,
    ),
    retrieve=extend_schema(
        summary="Get a client package",
        description="One client package: credits, what is left per service, expiry, payment status and linked appointments.",
        responses=ClientPackageOut,
    ),
    create=extend_schema(
        summary="Sell (assign) a package to a client",
        description=(
            "With `invoice`, also invoice it (a Draft), or with `invoice.take_payment` "
            "finalize that invoice and record a payment (a deposit or the full amount), in "
            "one transaction: a refusal at any step writes nothing."
        ),
        request=ClientPackageIn,
        responses={201: ClientPackageOut},
    ),
    partial_update=extend_schema(
        summary="Change the expiry date, with a reason (Admin)",
        description="Moves the expiry date (the last day the package may be used), with a reason kept in its history. Admin only. Refused with 409 when the date is before the start (`expiry_before_start`), before a linked appointment (`expiry_before_linked_appointment`) or unchanged (`expiry_unchanged`).",
        request=ExpiryIn,
        responses=ClientPackageOut,
    ),
)
class ClientPackageViewSet(
    ClientReadsLogged, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet
):
    queryset = ClientPackage.objects.order_by(*PACKAGE_LIST_ORDER)
    serializer_class = ClientPackageOut
    filterset_class = ClientPackageFilter
    pagination_class = ClientPackagePagination
    action_permissions = {
        "partial_update": ("packages.extend_expiry",),
        "cancel": ("packages.cancel_clientpackage",),
        "adjust": ("packages.adjust_credits",),
        "invoice": ("invoicing.add_invoice",),
        "ledger": ("packages.view_creditledgerentry",),
    }

    def get_queryset(self):
        # Built per request: the status annotation compares with today's date.
        if self.action == "list":
            with_status = "status" in self.request.query_params
            return client_packages_for_page(super().get_queryset(), with_status=with_status)
        return client_packages_for_output(super().get_queryset())

    def list(self, request, *args, **kwargs):
        if request.query_params.keys() <= PAGE_PARAMETERS:
            rows: PreparedPages | QuerySet = UNFILTERED_PAGES
        else:
            rows = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(client_package_list_rows(page))

    def create(self, request):
        data = self.validated(ClientPackageIn)
        invoice = data.pop("invoice", None)
        if invoice is not None:
            payment = invoice.pop("take_payment", None)
            if payment is not None:
                invoice.update(invoicing=SaleInvoicing.PAY, **payment)
            else:
                invoice["invoicing"] = SaleInvoicing.INVOICE
            data.update(invoice)
        sale = client_package_sell(**data, by=request.user)
        client_package = sale.client_package
        return self.respond(
            ClientPackageOut,
            client_package_for_output(client_package.pk),
            status.HTTP_201_CREATED,
        )

    def partial_update(self, request, pk=None):
        client_package = self.get_object()
        data = self.validated(ExpiryIn)
        services.client_package_extend_expiry(
            client_package=client_package, **data, by=request.user
        )
        return self.respond(ClientPackageOut, client_package_for_output(client_package.pk))

    @extend_schema(
        summary="The client packages an appointment could use",
        description=(
            "Step 1 of booking with a package: the client's active packages with credit "
            "left (for the service, when given) that cover the service and have not "
            "expired by the appointment's date. Link one with "
            "`POST /api/v1/appointments/{id}/link/`, or book with `client_package`."
        ),
        parameters=[MatchQuery],
        responses=ClientPackageOut(many=True),
    )
    @action(detail=False, methods=["get"], filter_backends=[])
    def matches(self, request):
        query = self.validated(MatchQuery, data=request.query_params)
        matches = client_package_matches(
            client=query["client"], on_date=query["date"], service=query.get("service")
        )
        return self.paginated(ClientPackageOut, client_packages_for_output(matches))

    @extend_schema(
        summary="Cancel, with a reason; optionally refund the unused part",
        description=(
            "With `refund_unused`, the package is canceled and its unused part given back in "
            "one transaction, and `refund` says how much and how (`null` otherwise). A second "
            "call is refused with 409 `package_canceled`, so nothing is refunded twice."
        ),
        request=CancelPackageIn,
        responses=CancelPackageOut,
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        client_package = self.get_object()
        data = self.validated(CancelPackageIn)
        refund = None
        if data["refund_unused"]:
            refund = client_package_cancel_with_refund(
                client_package=client_package,
                reason=data["reason"],
                refund_amount=data.get("refund_amount"),
                by=request.user,
            )
        else:
            services.client_package_cancel(
                client_package=client_package, reason=data["reason"], by=request.user
            )
        out = CancelPackageOut(
            client_package_for_output(client_package.pk),
            context={**self.get_serializer_context(), "refund": refund},
        )
        return Response(out.data)

    @extend_schema(
        summary="Adjust credits, with a reason (Admin)",
        description="Adds credits (a positive `quantity`) or takes them away (negative), with a reason kept in the credit ledger. Admin only. Taking away more than is left: 409 `adjust_below_consumed`.",
        request=AdjustIn,
        responses=ClientPackageOut,
    )
    @action(detail=True, methods=["post"])
    def adjust(self, request, pk=None):
        client_package = self.get_object()
        data = self.validated(AdjustIn)
        services.client_package_adjust(client_package=client_package, **data, by=request.user)
        return self.respond(ClientPackageOut, client_package_for_output(client_package.pk))

    @extend_schema(
        summary="Create the package's Draft invoice",
        description=(
            "While the package is on a non-void invoice: 409 `already_invoiced` with that "
            "invoice's id in `invoice`."
        ),
        request=PackageInvoiceIn,
        responses={201: InvoiceOut},
    )
    @action(detail=True, methods=["post"])
    def invoice(self, request, pk=None):
        client_package = self.get_object()
        data = self.validated(PackageInvoiceIn)
        invoice = invoice_for_client_package(client_package=client_package, **data, by=request.user)
        return self.respond(InvoiceOut, invoice_for_output(invoice.pk), status.HTTP_201_CREATED)

    @extend_schema(
        summary="The credit ledger",
        description="Every movement of the package's credits, oldest first: granted at the sale, used by appointments, released, adjusted, expired.",
        responses=LedgerEntryOut(many=True),
    )
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[RowsFilterBackend],
        filterset_class=LedgerFilter,
    )
    def ledger(self, request, pk=None):
        client_package = self.get_object()
        rows = (
            CreditLedgerEntry.objects.filter(client_package=client_package)
            .select_related("created_by")
            .order_by("created_at", "id")
        )
        return self.paginated(LedgerEntryOut, self.filter_queryset(rows))
