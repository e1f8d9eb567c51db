"""API v1: invoices, their lines and payments (`invoices/`, `payments/`,
`payment-methods/`).

Every write is an `invoicing.services` call with `by=request.user`. Totals and balances
come from `invoicing.selectors.invoices_with_totals` (annotations, so a page of invoices
costs a constant number of queries).
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import django_filters
from django.db.models import BooleanField, Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action

from calendar_app.models import Appointment, Location, Practitioner
from catalog.models import TaxRate
from clients.models import Client
from invoicing import rules, services
from invoicing.models import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceCount,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
)
from invoicing.selectors import (
    invoice_balance,
    invoice_display_status,
    invoices_with_totals,
    refunded_amount,
)
from kernel.api.fields import (
    ColumnsOut,
    ColumnsOutSerializer,
    InputDate,
    InputModelSerializer,
    decimal_text,
    instant_text,
)
from kernel.api.filters import OrderingFilter, RowsFilterBackend, UpdatedSinceFilter
from kernel.api.pagination import (
    PAGE_PARAMETERS,
    KeptCountPagination,
    PreparedPages,
)
from kernel.api.schema import refusal
from kernel.api.viewsets import ApiViewSet, ReferenceViewSet, reference_filter, reference_schema
from kernel.money import ZERO
from kernel.prepared import Prepared
from kernel.rowcount import kept_count, kept_count_expression
from kernel.text import TEXT_MAX_LENGTH
from packages.models import ClientPackage

MONEY = {"max_digits": 12, "decimal_places": 2}


def exceeds_balance_refusal(title: str, *, owing: bool = False) -> OpenApiExample:
    """The 409 example of a payment or credit note above the balance, in the rule's own
    code and words (invoicing/rules.py)."""
    return refusal(
        title, rules.AMOUNT_EXCEEDS_BALANCE, rules.exceeds_balance_message("$95.00", owing=owing)
    )


# Sums (an invoice's totals, a payment's refunds) are read as they are: one invoice is
# capped by the services, but rows written before that cap still answer, not a 500.
SUM = {"max_digits": None, "decimal_places": 2}
# Represents a sum as the fields declared with SUM do (its settings never change).
_SUM_FIELD = serializers.DecimalField(**SUM)

# ------------------------------------------------------------------ payment methods


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Card",
            value={
                "id": 2,
                "name": "Card",
                "archived": False,
                "updated_at": "2026-03-02T10:15:00+11:00",
            },
        )
    ]
)
class PaymentMethodOut(serializers.ModelSerializer):
    """A way clients pay (Cash, Card, Bank transfer...)."""

    class Meta:
        model = PaymentMethod
        fields = ["id", "name", "archived", "updated_at"]
        read_only_fields = fields


@extend_schema_serializer(examples=[OpenApiExample("Gift voucher", value={"name": "Gift voucher"})])
class PaymentMethodIn(InputModelSerializer):
    """A new payment method."""

    class Meta:
        model = PaymentMethod
        fields = ["name"]
        # Unique names (in any case) are the service's rule: 409 name_taken.
        extra_kwargs = {"name": {"validators": []}}


@reference_schema("payment methods", PaymentMethodOut, PaymentMethodIn)
class PaymentMethodViewSet(ReferenceViewSet):
    queryset = PaymentMethod.objects.order_by("id")
    serializer_class = PaymentMethodOut
    input_serializer = PaymentMethodIn
    filterset_class = reference_filter(PaymentMethod)
    create_with = services.payment_method_create


# -------------------------------------------------------------------------- output


class RowsOrRelation(serializers.ListSerializer):
    """A nested list read from the row's `<field>_rows` when its query gave it one (a
    prefetch into a list, `invoices_for_output`), else from the relation. A prefetch into
    the relation's cache builds and filters a queryset for every row of the page (two
    thirds of the invoice list's time); one into a list does not."""

    def get_attribute(self, instance):
        rows = getattr(instance, f"{self.field_name}_rows", None)
        return rows if rows is not None else super().get_attribute(instance)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Part refund",
            value={
                "id": 9,
                "payment": 77,
                "amount": "95.00",
                "date": "2026-03-02",
                "reason": "Session canceled by the clinic.",
            },
        )
    ]
)
class RefundOut(ColumnsOutSerializer):
    """Money given back from a payment."""

    class Meta:
        model = Refund
        fields = ["id", "payment", "amount", "date", "reason"]
        read_only_fields = fields
        list_serializer_class = RowsOrRelation


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Card payment",
            value={
                "id": 77,
                "invoice": 305,
                "amount": "450.00",
                "method": 2,
                "date": "2026-03-01",
                "reference": "EFTPOS 004512",
                "status": "active",
                "refunded": "0.00",
                "refunds": [],
                "updated_at": "2026-03-02T10:15:00+11:00",
            },
        )
    ]
)
class PaymentOut(ColumnsOutSerializer):
    """A payment recorded against an invoice, with its refunds."""

    refunded = serializers.SerializerMethodField(help_text="Sum of the refunds.")
    refunds = RefundOut(many=True, read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice",
            "amount",
            "method",
            "date",
            "reference",
            "status",
            "refunded",
            "refunds",
            "updated_at",
        ]
        read_only_fields = fields
        list_serializer_class = RowsOrRelation

    @extend_schema_field(serializers.DecimalField(**SUM))
    def get_refunded(self, payment: Payment) -> str:
        return _SUM_FIELD.to_representation(refunded_amount(payment))


class InvoiceLineOut(ColumnsOut, serializers.Serializer):
    """A line of an invoice, with its amounts worked out."""

    id = serializers.IntegerField()
    description = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=10, decimal_places=2)
    unit_price = serializers.DecimalField(**MONEY)
    discount = serializers.DecimalField(
        source="discount_percent", max_digits=5, decimal_places=2, help_text="Percent."
    )
    tax_rate = serializers.IntegerField(source="tax_rate_id", allow_null=True)
    tax_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    net_amount = serializers.DecimalField(**MONEY)
    tax_amount = serializers.DecimalField(**MONEY)
    total_amount = serializers.DecimalField(**MONEY)
    client_package = serializers.IntegerField(source="client_package_id", allow_null=True)
    appointment = serializers.IntegerField(source="appointment_id", allow_null=True)

    class Meta:
        list_serializer_class = RowsOrRelation


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Credit line",
            value={
                "id": 31,
                "description": "Credit: Physio Starter Pack (5 sessions)",
                "invoice_line": 611,
                "net_amount": "86.36",
                "tax_amount": "8.64",
                "total_amount": "95.00",
            },
        )
    ]
)
class CreditNoteLineOut(ColumnsOutSerializer):
    """A line of a credit note: the amount taken off one invoice line, tax shown apart."""

    class Meta:
        model = CreditNoteLine
        fields = ["id", "description", "invoice_line", "net_amount", "tax_amount", "total_amount"]
        read_only_fields = fields
        list_serializer_class = RowsOrRelation


CREDIT_NOTE_EXAMPLE = {
    "id": 14,
    "number": "CN-0014",
    "invoice": 305,
    "client_package": None,
    "date": "2026-03-04",
    "reason": "Session canceled by the clinic.",
    "net_amount": "86.36",
    "tax_amount": "8.64",
    "total_amount": "95.00",
    "lines": [
        {
            "id": 31,
            "description": "Credit: Physio Starter Pack (5 sessions)",
            "invoice_line": 611,
            "net_amount": "86.36",
            "tax_amount": "8.64",
            "total_amount": "95.00",
        }
    ],
}


@extend_schema_serializer(examples=[OpenApiExample("Credit note", value=CREDIT_NOTE_EXAMPLE)])
class CreditNoteOut(ColumnsOutSerializer):
    """A credit note: numbered (CN-0001, CN-0002...), issued once and never changed. Its
    `total_amount` is taken off its invoice's balance; `client_package` is set when it was
    issued by canceling that package with a refund."""

    lines = CreditNoteLineOut(many=True, read_only=True)

    class Meta:
        model = CreditNote
        fields = [
            "id",
            "number",
            "invoice",
            "client_package",
            "date",
            "reason",
            "net_amount",
            "tax_amount",
            "total_amount",
            "lines",
        ]
        read_only_fields = fields
        list_serializer_class = RowsOrRelation


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Paid invoice",
            value={
                "id": 305,
                "number": "INV-00305",
                "status": "paid",
                "display_status": "Paid",
                "client": 42,
                "practitioner": 3,
                "location": 1,
                "issue_date": "2026-03-01",
                "due_date": "2026-03-15",
                "prices_include_tax": True,
                "notes": "",
                "subtotal": "409.09",
                "tax": "40.91",
                "total": "450.00",
                "amount_paid": "450.00",
                "balance": "0.00",
                "lines": [
                    {
                        "id": 611,
                        "description": "Physio Starter Pack (5 sessions)",
                        "quantity": "1.00",
                        "unit_price": "450.00",
                        "discount": "0.00",
                        "tax_rate": 2,
                        "tax_percent": "10.00",
                        "net_amount": "409.09",
                        "tax_amount": "40.91",
                        "total_amount": "450.00",
                        "client_package": 118,
                        "appointment": None,
                    }
                ],
                "payments": [
                    {
                        "id": 77,
                        "invoice": 305,
                        "amount": "450.00",
                        "method": 2,
                        "date": "2026-03-01",
                        "reference": "EFTPOS 004512",
                        "status": "active",
                        "refunded": "0.00",
                        "refunds": [],
                        "updated_at": "2026-03-02T10:15:00+11:00",
                    }
                ],
                "credited": "0.00",
                "credit_notes": [],
                "updated_at": "2026-03-02T10:15:00+11:00",
            },
        )
    ]
)
class InvoiceOut(ColumnsOutSerializer):
    """An invoice with its lines, payments, totals and balance."""

    display_status = serializers.SerializerMethodField(
        help_text="What staff see: Draft, Open, Part paid, Overdue, Paid or Void."
    )
    subtotal = serializers.DecimalField(**SUM, read_only=True)
    tax = serializers.DecimalField(**SUM, read_only=True)
    total = serializers.DecimalField(**SUM, read_only=True)
    amount_paid = serializers.DecimalField(
        **SUM, read_only=True, help_text="Active payments minus their refunds."
    )
    balance = serializers.DecimalField(
        **SUM, read_only=True, help_text="Total − amount paid − credited (0 when void)."
    )
    lines = InvoiceLineOut(many=True, read_only=True)
    payments = PaymentOut(many=True, read_only=True)
    credited = serializers.DecimalField(
        **SUM, read_only=True, help_text="The sum of its credit notes."
    )
    credit_notes = CreditNoteOut(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "status",
            "display_status",
            "client",
            "practitioner",
            "location",
            "issue_date",
            "due_date",
            "prices_include_tax",
            "notes",
            "subtotal",
            "tax",
            "total",
            "amount_paid",
            "balance",
            "lines",
            "payments",
            "credited",
            "credit_notes",
            "updated_at",
        ]
        read_only_fields = fields

    def get_display_status(self, invoice: Invoice) -> str:
        return invoice_display_status(invoice)


def invoices_for_output(queryset: QuerySet[Invoice] | None = None) -> QuerySet[Invoice]:
    """Invoices with their totals, lines, payments and refunds: constant queries a page."""
    # The client, practitioner and location go out as ids: no join, no model built for them.
    return (
        invoices_with_totals(queryset)
        .select_related(None)
        # Into lists (`RowsOrRelation`, `refunded_amount` read them), in the relations'
        # own order.
        .prefetch_related(
            Prefetch("lines", to_attr="lines_rows"),
            Prefetch(
                "payments",
                queryset=Payment.objects.prefetch_related(
                    Prefetch("refunds", to_attr="refunds_rows")
                ),
                to_attr="payments_rows",
            ),
            Prefetch(
                "credit_notes",
                queryset=CreditNote.objects.prefetch_related(
                    Prefetch("lines", to_attr="lines_rows")
                ),
                to_attr="credit_notes_rows",
            ),
        )
    )


# ------------------------------------------------------------------ the list's rows
#
# A page of the invoice list is written from plain rows (tuples), not models: the
# page's invoices (their own columns), then their lines, payments (each joined to its
# refunds), credit notes and credit note lines, each level read by the page's ids (each
# in its relation's own order, the models' Meta.ordering, as the detail's prefetches
# read them), one query a level and none for an empty one. The totals are summed from those same rows by the
# rule of `invoices_with_totals` (so the page never compiles its correlated
# subqueries). Each row is the dict `InvoiceOut` gives, value for value (a test compares
# them on every kind of invoice): `InvoiceOut` stays the one description of an invoice
# (the detail, the writes' answers and the schema use it).

_INVOICE_COLUMNS = (
    "id",
    "number",
    "status",
    "client_id",
    "practitioner_id",
    "location_id",
    "issue_date",
    "due_date",
    "prices_include_tax",
    "notes",
    "updated_at",
    # Last: whether it has credit notes (most pages have none: no query for them).
    "has_credit_notes",
)
_LINE_COLUMNS = (
    "invoice_id",
    "id",
    "description",
    "quantity",
    "unit_price",
    "discount_percent",
    "tax_rate_id",
    "tax_percent",
    "net_amount",
    "tax_amount",
    "total_amount",
    "client_package_id",
    "appointment_id",
)
_PAYMENT_COLUMNS = (
    "invoice_id",
    "id",
    "amount",
    "method_id",
    "date",
    "reference",
    "status",
    "updated_at",
)
# Each payment's refunds joined to it (a row per refund, or one with nulls), in their
# own order: one query for both.
_REFUND_COLUMNS = ("refunds__id", "refunds__amount", "refunds__date", "refunds__reason")
_CREDIT_NOTE_COLUMNS = (
    "invoice_id",
    "id",
    "number",
    "client_package_id",
    "date",
    "reason",
    "net_amount",
    "tax_amount",
    "total_amount",
)
_CREDIT_NOTE_LINE_COLUMNS = (
    "credit_note_id",
    "id",
    "description",
    "invoice_line_id",
    "net_amount",
    "tax_amount",
    "total_amount",
)
_PAGE_LINES = Prepared(
    lambda ids: InvoiceLine.objects.filter(invoice_id__in=ids).values_list(*_LINE_COLUMNS),
    ids=list,
)
_PAGE_PAYMENTS = Prepared(
    lambda ids: (
        Payment.objects.filter(invoice_id__in=ids)
        .order_by(
            *Payment._meta.ordering,
            *(f"refunds__{name}" for name in Refund._meta.ordering),
        )
        .values_list(*_PAYMENT_COLUMNS, *_REFUND_COLUMNS)
    ),
    ids=list,
)
_PAGE_CREDIT_NOTES = Prepared(
    lambda ids: CreditNote.objects.filter(invoice_id__in=ids).values_list(*_CREDIT_NOTE_COLUMNS),
    ids=list,
)
_PAGE_CREDIT_NOTE_LINES = Prepared(
    lambda ids: CreditNoteLine.objects.filter(credit_note_id__in=ids).values_list(
        *_CREDIT_NOTE_LINE_COLUMNS
    ),
    ids=list,
)

# The output fields whose representation the rows use (each as its serializer declares
# it; their settings never change).
_QUANTITY = InvoiceLineOut._declared_fields["quantity"]
_MONEY_OUT = InvoiceLineOut._declared_fields["unit_price"]
_PERCENT = InvoiceLineOut._declared_fields["tax_percent"]
_DISCOUNT = InvoiceLineOut._declared_fields["discount"]


@functools.cache
def _invoice_fields() -> dict[str, Any]:
    """InvoiceOut's fields (built once per process: their settings never change)."""
    return dict(InvoiceOut().fields)


def _grouped(rows: list[tuple]) -> dict[int, list[tuple]]:
    """Rows by their first column (the parent's id), each parent's in the rows' order."""
    grouped: dict[int, list[tuple]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    return grouped


def _line_out(row: tuple) -> dict[str, Any]:
    _, pk, description, quantity, unit, discount, tax_rate, percent, net, tax, total, cp, appt = row
    return {
        "id": pk,
        "description": description,
        "quantity": decimal_text(_QUANTITY, quantity),
        "unit_price": decimal_text(_MONEY_OUT, unit),
        "discount": decimal_text(_DISCOUNT, discount),
        "tax_rate": tax_rate,
        "tax_percent": decimal_text(_PERCENT, percent),
        "net_amount": decimal_text(_MONEY_OUT, net),
        "tax_amount": decimal_text(_MONEY_OUT, tax),
        "total_amount": decimal_text(_MONEY_OUT, total),
        "client_package": cp,
        "appointment": appt,
    }


def _refund_out(row: tuple) -> dict[str, Any]:
    payment, pk, amount, date, reason = row
    return {
        "id": pk,
        "payment": payment,
        "amount": decimal_text(_MONEY_OUT, amount),
        "date": date.isoformat(),
        "reason": reason,
    }


def _credit_note_line_out(row: tuple) -> dict[str, Any]:
    _, pk, description, invoice_line, net, tax, total = row
    return {
        "id": pk,
        "description": description,
        "invoice_line": invoice_line,
        "net_amount": decimal_text(_MONEY_OUT, net),
        "tax_amount": decimal_text(_MONEY_OUT, tax),
        "total_amount": decimal_text(_MONEY_OUT, total),
    }


@functools.cache
def _has_credit_notes() -> RawSQL:
    """Whether the invoice row has credit notes (through their invoice index)."""
    invoice, note = Invoice._meta.db_table, CreditNote._meta.db_table
    return RawSQL(  # noqa: S611 - no value in it
        f"EXISTS (SELECT 1 FROM {note} c WHERE c.invoice_id = {invoice}.id)",  # noqa: S608
        (),
        output_field=BooleanField(),
    )


def invoices_for_page(queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """A list's page as rows of `_INVOICE_COLUMNS` (`invoice_list_rows` writes them)."""
    return queryset.annotate(has_credit_notes=_has_credit_notes()).values_list(*_INVOICE_COLUMNS)


# The list unfiltered, in its default order: each page's SQL built once.
INVOICE_LIST_ORDER = ("-created_at", "-id")
UNFILTERED_PAGES = PreparedPages(
    lambda: invoices_for_page(Invoice.objects.order_by(*INVOICE_LIST_ORDER)),
    rows=True,
    count=lambda: kept_count_expression(InvoiceCount),
)


def invoice_list_rows(invoices: list[tuple], *, today: dt.date | None = None) -> list[dict]:
    """The list's JSON rows (as `InvoiceOut` represents each invoice) of a page of
    invoices, given as rows of `_INVOICE_COLUMNS` (`invoices_for_page`): at most 4 queries
    (lines, payments with their refunds, credit notes, their lines; none for an empty
    page or level)."""
    if not invoices:
        return []
    today = today or timezone.localdate()
    ids = [row[0] for row in invoices]
    lines = _grouped(_PAGE_LINES.rows(ids=ids))
    payments: dict[int, list[tuple]] = {}
    refunds: dict[int, list[tuple]] = {}
    for row in _PAGE_PAYMENTS.rows(ids=ids):
        payment, refund = row[: len(_PAYMENT_COLUMNS)], row[len(_PAYMENT_COLUMNS) :]
        mine = refunds.get(payment[1])
        if mine is None:
            payments.setdefault(payment[0], []).append(payment)
            mine = refunds[payment[1]] = []
        if refund[0] is not None:
            mine.append((payment[1], *refund))
    with_notes = [row[0] for row in invoices if row[-1]]
    note_rows = _PAGE_CREDIT_NOTES.rows(ids=with_notes) if with_notes else []
    note_lines = _grouped(_PAGE_CREDIT_NOTE_LINES.rows(ids=[row[1] for row in note_rows]))
    notes = _grouped(note_rows)
    active = PaymentStatus.ACTIVE.value
    fields = _invoice_fields()
    instant = instant_text(fields["updated_at"])
    payment_instant = instant_text(fields["payments"].child.fields["updated_at"])
    out = []
    for invoice in invoices:
        pk, number, status, client, practitioner, location, issued, due = invoice[:8]
        prices_include_tax, notes_text, updated_at, _ = invoice[8:]
        invoice_lines = lines.get(pk, ())
        subtotal = sum((row[8] for row in invoice_lines), ZERO)
        tax = sum((row[9] for row in invoice_lines), ZERO)
        total = sum((row[10] for row in invoice_lines), ZERO)
        paid = refunded = ZERO
        payments_out = []
        for payment in payments.get(pk, ()):
            _, payment_pk, amount, method, date, reference, payment_status, changed = payment
            payment_refunds = refunds.get(payment_pk, ())
            payment_refunded = sum((row[2] for row in payment_refunds), ZERO)
            if payment_status == active:
                paid += amount
                refunded += payment_refunded
            payments_out.append(
                {
                    "id": payment_pk,
                    "invoice": pk,
                    "amount": decimal_text(_MONEY_OUT, amount),
                    "method": method,
                    "date": date.isoformat(),
                    "reference": reference,
                    "status": payment_status,
                    "refunded": decimal_text(_SUM_FIELD, payment_refunded),
                    "refunds": [_refund_out(row) for row in payment_refunds],
                    "updated_at": payment_instant(changed),
                }
            )
        credited = ZERO
        notes_out = []
        for note in notes.get(pk, ()):
            _, note_pk, note_number, package, date, reason, net, note_tax, note_total = note
            credited += note_total
            notes_out.append(
                {
                    "id": note_pk,
                    "number": note_number,
                    "invoice": pk,
                    "client_package": package,
                    "date": date.isoformat(),
                    "reason": reason,
                    "net_amount": decimal_text(_MONEY_OUT, net),
                    "tax_amount": decimal_text(_MONEY_OUT, note_tax),
                    "total_amount": decimal_text(_MONEY_OUT, note_total),
                    "lines": [_credit_note_line_out(row) for row in note_lines.get(note_pk, ())],
                }
            )
        amount_paid = paid - refunded
        balance = invoice_balance(status, total, amount_paid, credited)
        totals = SimpleNamespace(
            status=status,
            due_date=due,
            subtotal=subtotal,
            tax=tax,
            total=total,
            amount_paid=amount_paid,
            credited=credited,
            balance=balance,
        )
        out.append(
            {
                "id": pk,
                "number": number,
                "status": status,
                "display_status": invoice_display_status(cast(Invoice, totals), today),
                "client": client,
                "practitioner": practitioner,
                "location": location,
                "issue_date": None if issued is None else issued.isoformat(),
                "due_date": None if due is None else due.isoformat(),
                "prices_include_tax": prices_include_tax,
                "notes": notes_text,
                "subtotal": decimal_text(_SUM_FIELD, subtotal),
                "tax": decimal_text(_SUM_FIELD, tax),
                "total": decimal_text(_SUM_FIELD, total),
                "amount_paid": decimal_text(_SUM_FIELD, amount_paid),
                "balance": decimal_text(_SUM_FIELD, balance),
                "lines": [_line_out(row) for row in invoice_lines],
                "payments": payments_out,
                "credited": decimal_text(_SUM_FIELD, credited),
                "credit_notes": notes_out,
                "updated_at": instant(updated_at),
            }
        )
    return out


def invoice_for_output(pk: int) -> Invoice:
    return invoices_for_output().get(pk=pk)


def payment_for_output(pk: int) -> Payment:
    return Payment.objects.prefetch_related("refunds").get(pk=pk)


# --------------------------------------------------------------------------- input


class InvoiceLineIn(serializers.Serializer):
    """A line of an invoice."""

    description = serializers.CharField(max_length=500)
    quantity = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0.01"))
    unit_price = serializers.DecimalField(**MONEY, min_value=ZERO)
    discount = serializers.DecimalField(
        source="discount_percent",
        max_digits=5,
        decimal_places=2,
        min_value=ZERO,
        max_value=Decimal("100"),
        required=False,
        default=ZERO,
        help_text="Percent, 0 to 100.",
    )
    tax_rate = serializers.PrimaryKeyRelatedField(
        queryset=TaxRate.objects.all(), required=False, allow_null=True, default=None
    )
    client_package = serializers.PrimaryKeyRelatedField(
        queryset=ClientPackage.objects.all(), required=False, allow_null=True, default=None
    )
    appointment = serializers.PrimaryKeyRelatedField(
        queryset=Appointment.objects.all(), required=False, allow_null=True, default=None
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Two sessions",
            value={
                "client": 42,
                "practitioner": 3,
                "location": 1,
                "notes": "",
                "lines": [
                    {
                        "description": "Physio Follow-up",
                        "quantity": "2.00",
                        "unit_price": "95.00",
                        "tax_rate": 2,
                    }
                ],
            },
        )
    ]
)
class InvoiceIn(serializers.Serializer):
    """A new Draft invoice."""

    client = serializers.PrimaryKeyRelatedField(queryset=Client.objects.all())
    practitioner = serializers.PrimaryKeyRelatedField(queryset=Practitioner.objects.all())
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all())
    issue_date = InputDate(
        required=False, allow_null=True, help_text="Default: the day it is finalized."
    )
    notes = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=TEXT_MAX_LENGTH
    )
    lines = InvoiceLineIn(many=True, required=False, default=list, max_length=500)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Replace the lines",
            value={
                "lines": [
                    {
                        "description": "Initial Consultation",
                        "quantity": "1.00",
                        "unit_price": "140.00",
                        "discount": "10.00",
                    }
                ]
            },
        )
    ]
)
class InvoiceEditIn(serializers.Serializer):
    """The Draft invoice's fields to change; fields left out stay as they are."""

    practitioner = serializers.PrimaryKeyRelatedField(
        queryset=Practitioner.objects.all(), required=False
    )
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all(), required=False)
    issue_date = InputDate(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX_LENGTH)
    lines = InvoiceLineIn(
        many=True,
        required=False,
        max_length=500,
        help_text="When given, replaces all the lines.",
    )


@extend_schema_serializer(
    examples=[OpenApiExample("Entered twice", value={"reason": "Entered twice by mistake."})]
)
class ReasonIn(serializers.Serializer):
    """Why (kept with the change in the record's history)."""

    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=TEXT_MAX_LENGTH
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Card payment",
            value={
                "amount": "450.00",
                "method": 2,
                "date": "2026-03-01",
                "reference": "EFTPOS 004512",
            },
        )
    ]
)
class PaymentIn(InputModelSerializer):
    """A payment received for the invoice."""

    amount = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"))
    method = serializers.PrimaryKeyRelatedField(queryset=PaymentMethod.objects.all())
    date = InputDate(required=False, allow_null=True, help_text="Default: today.")

    class Meta:
        model = Payment
        fields = ["amount", "method", "date", "reference"]


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Canceled session",
            value={"amount": "95.00", "reason": "Session canceled by the clinic."},
        )
    ]
)
class CreditNoteIn(serializers.Serializer):
    """The amount to take off the invoice, and why (printed on the credit note)."""

    amount = serializers.DecimalField(
        **MONEY, min_value=Decimal("0.01"), help_text="At most the balance (amount owing)."
    )
    reason = serializers.CharField(max_length=TEXT_MAX_LENGTH)
    date = InputDate(required=False, allow_null=True, help_text="Default: today.")


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Part refund", value={"amount": "95.00", "reason": "Session canceled by the clinic."}
        )
    ]
)
class RefundIn(serializers.Serializer):
    """Money to give back from the payment."""

    amount = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"))
    reason = serializers.CharField(max_length=TEXT_MAX_LENGTH)
    date = InputDate(required=False, allow_null=True, help_text="Default: today.")


class InvoiceFilter(django_filters.FilterSet):
    client = django_filters.ModelChoiceFilter(queryset=Client.objects.all())
    status = django_filters.ChoiceFilter(choices=InvoiceStatus.choices)
    issued_after = django_filters.DateFilter(
        field_name="issue_date", lookup_expr="gte", label="Issued on or after this day."
    )
    issued_before = django_filters.DateFilter(
        field_name="issue_date", lookup_expr="lte", label="Issued on or before this day."
    )
    updated_since = UpdatedSinceFilter(
        method="filter_updated_since",
        label=(
            "Only invoices created or changed at or after this moment, a payment or refund "
            "of theirs included (ISO 8601 date-time). To sync, ask from a few minutes "
            "before your previous sync started."
        ),
    )
    ordering = OrderingFilter(
        fields=["created_at", "issue_date", "due_date", "number", "updated_at", "id"]
    )

    class Meta:
        model = Invoice
        fields = ["client", "status", "issued_after", "issued_before", "updated_since"]

    def filter_updated_since(self, queryset, name, value):
        # Payments and refunds change the balance without changing the invoice's row.
        payments = Payment.objects.filter(invoice=OuterRef("pk"))
        return queryset.filter(
            Q(updated_at__gte=value)
            | Exists(payments.filter(updated_at__gte=value))
            | Exists(payments.filter(refunds__created_at__gte=value))
        )


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.ModelChoiceFilter):
    """An object's id (an unknown id answers 400); a whole number in the schema, also
    where the filter names a related row's field (the payments of one invoice)."""


class PaymentFilter(django_filters.FilterSet):
    client = IdFilter(
        queryset=Client.objects.all(),
        field_name="invoice__client",
        label="The client's id (of the invoice paid).",
    )
    invoice = IdFilter(queryset=Invoice.objects.all(), label="The invoice's id.")
    method = IdFilter(queryset=PaymentMethod.objects.all(), label="The payment method's id.")
    status = django_filters.ChoiceFilter(choices=PaymentStatus.choices)
    date_from = django_filters.DateFilter(
        field_name="date", lookup_expr="gte", label="Paid on or after this day (YYYY-MM-DD)."
    )
    date_to = django_filters.DateFilter(
        field_name="date", lookup_expr="lte", label="Paid on or before this day (YYYY-MM-DD)."
    )
    updated_since = UpdatedSinceFilter(
        method="filter_updated_since",
        label=(
            "Only payments recorded or changed at or after this moment, a refund included "
            "(ISO 8601 date-time). To sync, ask from a few minutes before your previous "
            "sync started."
        ),
    )
    ordering = OrderingFilter(fields=["date", "created_at", "amount", "updated_at", "id"])

    class Meta:
        model = Payment
        fields = ["client", "invoice", "method", "status", "date_from", "date_to", "updated_since"]

    def filter_updated_since(self, queryset, name, value):
        refunds = Refund.objects.filter(payment=OuterRef("pk"), created_at__gte=value)
        return queryset.filter(Q(updated_at__gte=value) | Exists(refunds))


class InvoicePagination(KeptCountPagination):
    """Unfiltered, the count is the one the database keeps (`InvoiceCount`, exact: every
    invoice, as the list shows them), not a count of the practice's whole history (50 ms
    at 190,000 invoices)."""

    def kept_count(self) -> int:
        return kept_count(InvoiceCount)


# --------------------------------------------------------------------------- views


@extend_schema_view(
    list=extend_schema(
        summary="List invoices",
        description="Invoices, newest first. Filter by client, status, issue date (`issued_after`/`issued_before`) or `updated_since`.",
        responses=InvoiceOut,
    ),
    retrieve=extend_schema(
        summary="Get an invoice",
        description="One invoice with its lines, payments, totals and balance.",
        responses=InvoiceOut,
    ),
    create=extend_schema(
        summary="Create a Draft invoice",
        description="Creates a Draft invoice with its lines. A Draft has no number and can still be changed; `finalize/` numbers it.",
        request=InvoiceIn,
        responses=InvoiceOut,
    ),
    partial_update=extend_schema(
        summary="Change a Draft invoice (409 invoice_not_draft otherwise)",
        description="Changes a Draft invoice's fields you send; `lines`, when sent, replaces all the lines. A finalized invoice cannot change: 409 `invoice_not_draft`.",
        request=InvoiceEditIn,
        responses=InvoiceOut,
    ),
    destroy=extend_schema(
        summary="Delete a Draft invoice (409 invoice_not_draft otherwise)",
        description="Deletes a Draft invoice. A finalized invoice is never deleted (void it instead): 409 `invoice_not_draft`.",
    ),
)
class InvoiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    queryset = invoices_for_output(Invoice.objects.order_by(*INVOICE_LIST_ORDER))
    serializer_class = InvoiceOut
    filterset_class = InvoiceFilter
    pagination_class = InvoicePagination
    # A line's invalid value is reported on `lines` (kernel.api.errors).
    error_fields = dict.fromkeys(services.LINE_FIELDS, "lines")
    action_permissions = {
        "finalize": ("invoicing.finalize_invoice",),
        "void": ("invoicing.void_invoice",),
        "payments": ("invoicing.view_payment",),
        "payments_create": ("invoicing.add_payment",),
        "credit_notes_create": ("invoicing.add_creditnote",),
    }

    def get_queryset(self):
        if self.action == "list":
            # The page's own columns only: its totals and children come with its rows
            # (invoice_list_rows).
            return Invoice.objects.order_by(*INVOICE_LIST_ORDER)
        return super().get_queryset()

    def list(self, request, *args, **kwargs):
        if request.query_params.keys() <= PAGE_PARAMETERS:
            rows: PreparedPages | QuerySet = UNFILTERED_PAGES
        else:
            rows = invoices_for_page(self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(invoice_list_rows(list(page)))

    def create(self, request):
        data = self.validated(InvoiceIn)
        invoice = services.invoice_create(**data, by=request.user)
        return self.respond(InvoiceOut, invoice_for_output(invoice.pk), status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        invoice = self.get_object()
        data = self.validated(InvoiceEditIn)
        lines: list[dict[str, Any]] | None = data.pop("lines", None)
        # invoice_update locks the invoice and refuses unless it is a Draft, even when
        # only the lines change; the view's transaction makes the whole edit one change.
        invoice = services.invoice_update(invoice=invoice, **data, by=request.user)
        if lines is not None:
            for line in invoice.lines.all():
                services.invoice_line_remove(line=line, by=request.user)
            for values in lines:
                services.invoice_line_add(invoice=invoice, **values, by=request.user)
        return self.respond(InvoiceOut, invoice_for_output(invoice.pk))

    def destroy(self, request, pk=None):
        services.invoice_delete(invoice=self.get_object(), by=request.user)
        return self.respond_no_content()

    @extend_schema(
        summary="Finalize (number it)",
        description="Gives the Draft invoice its number and issue date; from then on it can be paid, sent or voided, not changed. An invoice without lines: 409 `invoice_has_no_lines`.",
        request=None,
        responses=InvoiceOut,
    )
    @action(detail=True, methods=["post"])
    def finalize(self, request, pk=None):
        invoice = services.invoice_finalize(invoice=self.get_object(), by=request.user)
        return self.respond(InvoiceOut, invoice_for_output(invoice.pk))

    @extend_schema(
        summary="Void",
        description="Voids a finalized invoice (it keeps its number; its amounts no longer count). "
        f"An invoice with active payments: 409 `{rules.INVOICE_HAS_PAYMENTS}` (void or refund "
        "them first); one with credit notes: "
        f"409 `{rules.INVOICE_HAS_CREDIT_NOTES}`.",
        request=ReasonIn,
        responses=InvoiceOut,
    )
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        invoice = self.get_object()
        data = self.validated(ReasonIn)
        services.invoice_void(invoice=invoice, **data, by=request.user)
        return self.respond(InvoiceOut, invoice_for_output(invoice.pk))

    @extend_schema(
        summary="List the invoice's payments",
        description="The payments recorded against this invoice, oldest first, with their refunds.",
        responses=PaymentOut(many=True),
    )
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[RowsFilterBackend],
        filterset_class=PaymentFilter,
    )
    def payments(self, request, pk=None):
        invoice = self.get_object()
        payments = (
            Payment.objects.filter(invoice=invoice)
            .prefetch_related("refunds")
            .order_by("date", "id")
        )
        return self.paginated(PaymentOut, self.filter_queryset(payments))

    @extend_schema(
        summary="Record a payment (a part payment leaves the balance open)",
        description="Records money received for a finalized invoice. "
        f"More than the balance: 409 `{rules.AMOUNT_EXCEEDS_BALANCE}`; a Draft, Paid or "
        "void invoice: 409 `invoice_not_open`.",
        request=PaymentIn,
        responses={201: PaymentOut},
        examples=[
            exceeds_balance_refusal("More than the balance"),
        ],
    )
    @payments.mapping.post
    def payments_create(self, request, pk=None):
        invoice = self.get_object()
        data = self.validated(PaymentIn)
        data["reference"] = data.get("reference", "")
        payment = services.payment_record(invoice=invoice, **data, by=request.user)
        return self.respond(PaymentOut, payment_for_output(payment.pk), status.HTTP_201_CREATED)

    @extend_schema(
        summary="Issue a credit note on an Open invoice (Admin)",
        description=(
            "Issues a credit note that takes `amount` off an Open invoice, for example for "
            "a session the clinic canceled after the invoice was finalized. The credit "
            "note gets the next number (CN-0001, CN-0002...) and is never changed; the "
            "invoice shows it under `credit_notes` and its `balance` drops by the amount. "
            "Covering the whole balance makes the invoice Paid. More than the amount "
            f"owing: 409 `{rules.AMOUNT_EXCEEDS_BALANCE}`; a Draft, Paid or void invoice: "
            "409 `invoice_not_open`; no reason: 400 under `reason`. Admin only."
        ),
        request=CreditNoteIn,
        responses={201: CreditNoteOut},
        examples=[
            exceeds_balance_refusal("More than the amount owing", owing=True),
        ],
    )
    @action(detail=True, methods=["post"], url_path="credit-notes", filter_backends=[])
    def credit_notes_create(self, request, pk=None):
        invoice = self.get_object()
        data = self.validated(CreditNoteIn)
        note = services.credit_note_issue(invoice=invoice, **data, by=request.user)
        return self.respond(
            CreditNoteOut, CreditNote.objects.prefetch_related("lines").get(pk=note.pk), 201
        )


@extend_schema_view(
    list=extend_schema(
        summary="List payments",
        description=(
            "All payments of the practice, newest first, with their refunds. Filter by "
            "client, invoice, method, status, the day paid (`date_from`/`date_to`) or "
            "`updated_since`. Same permission as reading invoices' payments."
        ),
        responses=PaymentOut,
    ),
    retrieve=extend_schema(
        summary="Get a payment",
        description="One payment, with its refunds.",
        responses=PaymentOut,
    ),
)
class PaymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    queryset = Payment.objects.prefetch_related("refunds").order_by("-date", "-id")
    serializer_class = PaymentOut
    filterset_class = PaymentFilter
    action_permissions = {
        "refund": ("invoicing.refund_payment",),
        "void": ("invoicing.void_payment",),
    }

    @extend_schema(
        summary="Refund all or part of a payment",
        description="Gives back all or part of a payment, with a reason. "
        f"More than is left to refund: 409 `{rules.AMOUNT_EXCEEDS_REFUNDABLE}`; a void payment: 409 `payment_not_active`.",
        request=RefundIn,
        responses={201: RefundOut},
    )
    @action(detail=True, methods=["post"])
    def refund(self, request, pk=None):
        payment = self.get_object()
        data = self.validated(RefundIn)
        refund = services.payment_refund(payment=payment, **data, by=request.user)
        return self.respond(RefundOut, refund, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Void a payment recorded by mistake",
        description="Voids a payment that was recorded by mistake (the invoice's balance opens again). "
        "A payment with refunds: 409 `payment_has_refunds`; already void: "
        f"409 `{rules.PAYMENT_ALREADY_VOID}`.",
        request=ReasonIn,
        responses=PaymentOut,
    )
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        payment = self.get_object()
        data = self.validated(ReasonIn)
        services.payment_void(payment=payment, **data, by=request.user)
        return self.respond(PaymentOut, payment_for_output(payment.pk))


class CreditNoteFilter(django_filters.FilterSet):
    invoice = django_filters.ModelChoiceFilter(
        queryset=Invoice.objects.all(), label="The credited invoice's id."
    )
    client_package = django_filters.ModelChoiceFilter(
        queryset=ClientPackage.objects.all(),
        label="The client package's id (credit notes issued by canceling it with a refund).",
    )

    class Meta:
        model = CreditNote
        fields = ["invoice", "client_package"]


@extend_schema_view(
    list=extend_schema(
        summary="List credit notes",
        description=(
            "Every credit note of the practice, newest first, with its lines. A credit "
            "note is issued with `POST /api/v1/invoices/{id}/credit-notes/`, or by "
            "canceling a client package with a refund of its unused part on a finalized "
            "invoice; it is never changed or deleted. Filter by `invoice` or "
            "`client_package`."
        ),
        responses=CreditNoteOut,
    ),
    retrieve=extend_schema(
        summary="Get a credit note",
        description="One credit note, with its lines.",
        responses=CreditNoteOut,
    ),
)
class CreditNoteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Credit notes, newest first; issued by canceling a package with a refund or by
    `POST /invoices/{id}/credit-notes/`, never changed."""

    queryset = CreditNote.objects.prefetch_related("lines").order_by("-date", "-id")
    serializer_class = CreditNoteOut
    filterset_class = CreditNoteFilter
