"""Invoices, their lines, payments and refunds."""

from __future__ import annotations

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.models import MONEY
from kernel.audit import audited
from kernel.changes import updated_at_trigger
from kernel.rowcount import RowCounter


@audited()
class PaymentMethod(models.Model):
    """A way clients pay. At most one is the practice's default (Settings → Invoice
    settings → Default payment method): Pay invoice and the one-popup package sale start
    with it."""

    name = models.CharField(max_length=100, unique=True)
    archived = models.BooleanField(default=False)
    is_default = models.BooleanField("Default", default=False)

    # When the row last changed: set by a database trigger on every UPDATE (kernel.changes).
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        triggers = [updated_at_trigger()]
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="payment_method_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SaleInvoicing(models.TextChoices):
    """What the Create package popup does about the invoice when it sells a package."""

    LATER = "later", "Invoice later"
    INVOICE = "invoice", "Create invoice"
    PAY = "pay", "Create invoice and take payment"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    VOID = "void", "Void"


@audited()
class Invoice(models.Model):
    """An invoice. Draft: editable, no number. Open: finalized, numbered, lines frozen.

    Paid when the balance reaches 0; Void keeps its number and leaves the totals.
    Totals and balance are computed from lines and payments (see selectors), never stored.
    `prices_include_tax` is copied from the practice when the invoice is created, so a
    later change of the setting never changes an issued invoice.
    """

    number = models.CharField(max_length=40, null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="invoices", db_index=False
    )
    practitioner = models.ForeignKey(
        "calendar_app.Practitioner", on_delete=models.PROTECT, related_name="invoices"
    )
    location = models.ForeignKey(
        "calendar_app.Location", on_delete=models.PROTECT, related_name="invoices"
    )
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    prices_include_tax = models.BooleanField(default=True)
    notes = models.TextField(blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    finalized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    void_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # When the row last changed: set by a database trigger on every UPDATE (kernel.changes).
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        triggers = [updated_at_trigger()]
        ordering = ["-created_at", "-id"]
        permissions = [
            ("finalize_invoice", "Can finalize an invoice"),
            ("void_invoice", "Can void an invoice"),
        ]
        indexes = [
            # The billing list and the API's invoices, newest first: a page walks this
            # index and stops at its last row instead of sorting every invoice.
            models.Index(fields=["-created_at", "-id"], name="invoice_created"),
            models.Index(fields=["client", "-created_at"], name="invoice_client"),
            models.Index(fields=["status", "-created_at"], name="invoice_status"),
            models.Index(fields=["issue_date"], name="invoice_issue_date"),
            # Open invoices by due date (most overdue first, as Aged receivables lists
            # them): a page of that report walks this index and stops at its last row.
            models.Index(
                fields=["due_date", "number", "id"],
                condition=Q(status=InvoiceStatus.OPEN),
                name="invoice_open_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="invoice_number_unique"),
            models.CheckConstraint(
                condition=(Q(status=InvoiceStatus.DRAFT) & Q(number__isnull=True))
                | (~Q(status=InvoiceStatus.DRAFT) & Q(number__isnull=False)),
                name="invoice_number_iff_finalized",
            ),
            models.CheckConstraint(
                condition=Q(due_date__isnull=True)
                | Q(issue_date__isnull=True)
                | Q(due_date__gte=models.F("issue_date")),
                name="invoice_due_not_before_issue",
            ),
            # Backstops for the services: a finalized invoice records when, a void one
            # records when it was voided.
            models.CheckConstraint(
                condition=Q(status=InvoiceStatus.DRAFT) | Q(finalized_at__isnull=False),
                name="invoice_finalized_at_when_finalized",
            ),
            models.CheckConstraint(
                condition=(Q(status=InvoiceStatus.VOID) & Q(voided_at__isnull=False))
                | (~Q(status=InvoiceStatus.VOID) & Q(voided_at__isnull=True)),
                name="invoice_voided_at_iff_void",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft #{self.pk}"

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT


@audited()
class InvoiceLine(models.Model):
    """A line: description, quantity, unit price, discount (%) and tax rate.

    `net_amount`, `tax_amount` and `total_amount` are computed by the service from the
    other fields (rounded half-up to cents per line) and frozen with the invoice.
    """

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=500)
    quantity = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    unit_price = models.DecimalField(**MONEY, validators=[MinValueValidator(0)])
    discount_percent = models.DecimalField(
        "Discount (%)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    tax_rate = models.ForeignKey(
        "catalog.TaxRate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tax_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    net_amount = models.DecimalField(**MONEY, default=Decimal("0"))
    tax_amount = models.DecimalField(**MONEY, default=Decimal("0"))
    total_amount = models.DecimalField(**MONEY, default=Decimal("0"))
    client_package = models.ForeignKey(
        "packages.ClientPackage",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice_lines",
    )
    appointment = models.ForeignKey(
        "calendar_app.Appointment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice_lines",
    )

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="invoice_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="invoice_line_price_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0, discount_percent__lte=100),
                name="invoice_line_discount_0_to_100",
            ),
            models.CheckConstraint(
                condition=Q(tax_percent__gte=0, tax_percent__lte=100),
                name="invoice_line_tax_0_to_100",
            ),
        ]

    def __str__(self) -> str:
        return self.description


class PaymentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    VOID = "void", "Void"


@audited()
class Payment(models.Model):
    """Money received against an invoice. Voided payments stay, excluded from totals."""

    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    amount = models.DecimalField(**MONEY)
    method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, related_name="+")
    date = models.DateField(default=timezone.localdate)
    reference = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.ACTIVE
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    void_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # When the row last changed: set by a database trigger on every UPDATE (kernel.changes).
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        triggers = [updated_at_trigger()]
        ordering = ["date", "id"]
        permissions = [
            ("refund_payment", "Can refund a payment"),
            ("void_payment", "Can void a payment"),
        ]
        indexes = [
            models.Index(fields=["invoice", "status"], name="payment_invoice"),
            # Revenue (reports): payments by the day they were received.
            models.Index(fields=["date"], name="payment_date"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=(Q(status=PaymentStatus.VOID) & Q(voided_at__isnull=False))
                | (~Q(status=PaymentStatus.VOID) & Q(voided_at__isnull=True)),
                name="payment_voided_at_iff_void",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} on {self.invoice}"


@audited()
class Refund(models.Model):
    """Money given back against a payment; the invoice's balance grows again."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(**MONEY)
    date = models.DateField(default=timezone.localdate)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["date", "id"]
        # Revenue (reports): refunds by the day they were given.
        indexes = [models.Index(fields=["date"], name="refund_date")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(condition=~Q(reason=""), name="refund_needs_reason"),
        ]

    def __str__(self) -> str:
        return f"Refund {self.amount} of {self.payment}"


class InvoiceDayTotal(models.Model):
    """The finalized invoices of one issue date, summed by status (Open, Paid): how many,
    their total and their balance. The billing list's summary reads these rows instead of
    summing every invoice of the practice's history on every view.

    Maintained by database triggers (migration 0008) on invoices, lines, payments and
    refunds, in the same transaction and under the same lock as the change, whatever
    writes it (services, the demo's bulk loads, the admin): never stale. Each trigger adds
    the exact delta of its row (a line's total, a payment's amount, a refund's amount; an
    invoice row's whole contribution out under its old date and status, in under the new
    ones), so the rows always equal `invoices_summary` grouped by issue date and status
    (tests prove it after every kind of change). One row a day, so a change locks one row
    (no lock-order deadlock between an Open and a Paid row). Never written by Python code.
    """

    issue_date = models.DateField(null=True)
    open_invoices = models.BigIntegerField(default=0)
    open_total = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("0.00"))
    open_balance = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("0.00"))
    paid_invoices = models.BigIntegerField(default=0)
    paid_total = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("0.00"))
    paid_balance = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["issue_date"], name="invoice_day_total_date", nulls_distinct=False
            ),
        ]

    def __str__(self) -> str:
        return f"Invoices issued {self.issue_date}"


@audited()
class CreditNote(models.Model):
    """A credit note: an issued document that takes an amount off what an invoice asks
    for (issue 13). It reduces the invoice's balance (balance = total − payments + refunds
    − credit notes) without moving money; money given back is a `Refund`.

    Numbered from its own gapless series (CN-0001, CN-0002...: `sequence` is taken under
    the practice settings row's lock, as invoice numbers are), dated, with who issued it
    and why. Issued once and never changed nor deleted (database triggers refuse both,
    and the app's database role may only read and insert), like the credit ledger.
    """

    NUMBER_PREFIX = "CN-"

    sequence = models.PositiveIntegerField(unique=True)
    number = models.CharField(max_length=40, unique=True)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="credit_notes", db_index=False
    )
    client_package = models.ForeignKey(
        "packages.ClientPackage",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_notes",
        help_text="The package whose unused part it credits, when issued on cancellation.",
    )
    date = models.DateField(default=timezone.localdate)
    reason = models.TextField()
    net_amount = models.DecimalField(**MONEY)
    tax_amount = models.DecimalField(**MONEY, default=Decimal("0"))
    total_amount = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["date", "id"]
        indexes = [
            models.Index(fields=["invoice"], name="credit_note_invoice"),
            models.Index(fields=["date"], name="credit_note_date"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_amount__gt=0), name="credit_note_total_positive"
            ),
            models.CheckConstraint(
                condition=Q(net_amount__gte=0, tax_amount__gte=0),
                name="credit_note_parts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(total_amount=models.F("net_amount") + models.F("tax_amount")),
                name="credit_note_total_is_net_plus_tax",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="credit_note_needs_reason"),
        ]
        triggers = [
            pgtrigger.Protect(
                name="credit_note_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
        ]

    def __str__(self) -> str:
        return self.number


@audited()
class CreditNoteLine(models.Model):
    """A line of a credit note: what it credits (usually the invoice line of a package),
    its amount net of tax, the tax and the total. Append-only like its credit note."""

    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="lines")
    invoice_line = models.ForeignKey(
        InvoiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(max_length=500)
    net_amount = models.DecimalField(**MONEY)
    tax_amount = models.DecimalField(**MONEY, default=Decimal("0"))
    total_amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_amount=models.F("net_amount") + models.F("tax_amount")),
                name="credit_note_line_total_is_net_plus_tax",
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="credit_note_line_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
            ),
        ]

    def __str__(self) -> str:
        return self.description


class InvoiceCount(RowCounter):
    """How many invoices there are (any status), kept by database triggers
    (kernel.rowcount): the sum of `n` over the slots. The API's unfiltered invoice list
    reads it instead of counting every invoice of the practice's history."""

    counted = "invoices"
