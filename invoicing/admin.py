"""Admin for invoices, payments, refunds and payment methods.

Invoices are written only by `invoicing.services`: a Draft is created with
`invoice_create`, its details saved with `invoice_update` and its lines with
`invoice_line_add` / `_update` / `_remove`; finalizing, voiding and deleting drafts are
actions. A finalized invoice is shown read-only (its lines are frozen). Payments and
refunds are history: read-only, with "Void payment" as the one action; credit notes
are read-only too. Totals and
balances come from `invoices_with_totals`, one query per page.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import QuerySet

from invoicing.models import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentMethod,
    Refund,
)
from invoicing.rules import why_not_deletable, why_not_editable
from invoicing.selectors import (
    DISPLAY_STATUSES,
    invoice_display_status,
    invoices_with_display_status,
    payments_with_refunded,
)
from invoicing.services import (
    INVOICE_FIELDS,
    LINE_FIELDS,
    invoice_create,
    invoice_delete,
    invoice_finalize,
    invoice_line_add,
    invoice_line_remove,
    invoice_line_update,
    invoice_update,
    invoice_void,
    payment_void,
)
from kernel.admin import (
    _REFUSAL,
    ActionForm,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    ServiceAdminMixin,
    ServiceModelForm,
    adopt,
    form_action,
    service_action,
    service_delete_action,
)
from kernel.errors import DomainError


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin):
    list_display = ["name", "archived"]
    list_filter = ["archived"]
    search_fields = ["name"]


class DisplayStatusFilter(admin.SimpleListFilter):
    """The status staff see, filtered on `invoices_with_display_status` (the billing
    list's filter): Overdue wins over Part paid, as on the invoice pages."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [
            ("draft", "Draft"),
            ("open", "Open"),
            ("part_paid", "Part paid"),
            ("overdue", "Overdue"),
            ("paid", "Paid"),
            ("void", "Void"),
        ]

    def queryset(self, request, queryset):
        # The admin's lookup "part_paid" is the billing list's "partpaid".
        value = {"part_paid": "partpaid"}.get(self.value() or "", self.value())
        if value in DISPLAY_STATUSES:
            return queryset.filter(display_status=value)
        return queryset


# The context key naming the inline form of a refused line.
_LINE_FORM = "admin_line_form"


def _refuse_in(form: forms.Form, refusal: DomainError) -> None:
    """Show `refusal` beside its field in `form` when it has that field, else on the form."""
    clean = form.clean

    def clean_with_refusal():
        cleaned = clean()
        form.add_error(refusal.field if refusal.field in form.fields else None, refusal.message)
        return cleaned

    form.clean = clean_with_refusal  # type: ignore[method-assign]


class InvoiceLineInline(admin.TabularInline):
    """Lines of a Draft, saved through the line services; frozen once finalized."""

    model = InvoiceLine
    form = ServiceModelForm
    fields = [
        "description",
        "quantity",
        "unit_price",
        "discount_percent",
        "tax_rate",
        "client_package",
        "appointment",
        "net_amount",
        "tax_amount",
        "total_amount",
    ]
    readonly_fields = ["net_amount", "tax_amount", "total_amount"]
    raw_id_fields = ["client_package", "appointment"]
    extra = 1

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tax_rate")

    def _editable(self, obj) -> bool:
        return obj is None or why_not_editable(obj) is None

    def has_add_permission(self, request, obj) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)

    def get_extra(self, request, obj=None, **kwargs):
        return self.extra if self._editable(obj) else 0


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["date", "amount", "method", "reference", "status", "voided_at", "created_by"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("method", "created_by")


class CreditNoteInline(ReadOnlyInline):
    model = CreditNote
    fields = ["number", "date", "total_amount", "reason", "created_by"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")


class VoidForm(ActionForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="Kept for audit."
    )


class InvoiceForm(ServiceModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "issue_date" in self.fields:
            self.fields["issue_date"].help_text = "Empty: the day it is finalized."


@admin.register(Invoice)
class InvoiceAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = InvoiceForm
    list_display = [
        "number_display",
        "client",
        "display_status",
        "total",
        "balance",
        "issue_date",
        "due_date",
        "practitioner",
        "location",
    ]
    list_display_links = ["number_display", "client"]
    list_filter = [DisplayStatusFilter, "practitioner", "location"]
    search_fields = ["number", "client__first_name", "client__last_name", "client__email"]
    date_hierarchy = "issue_date"
    show_full_result_count = False
    autocomplete_fields = ["client"]
    add_fieldsets = [
        (None, {"fields": ["client", "practitioner", "location", "issue_date", "notes"]}),
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    "display_status",
                    "client",
                    "practitioner",
                    "location",
                    "issue_date",
                    "due_date",
                    "notes",
                ]
            },
        ),
        ("Totals", {"fields": ["subtotal", "tax", "total", "amount_paid", "credited", "balance"]}),
        (
            "Record",
            {
                "fields": [
                    "prices_include_tax",
                    "created_at",
                    "created_by",
                    "finalized_at",
                    "finalized_by",
                    "voided_at",
                    "voided_by",
                    "void_reason",
                ],
                "classes": ["collapse"],
            },
        ),
    ]
    # Number, status and dates are the services' (finalize, void); a Draft's practitioner,
    # location, issue date and notes are edited through invoice_update.
    readonly_fields = [
        "number",
        "display_status",
        "client",
        "due_date",
        "subtotal",
        "tax",
        "total",
        "amount_paid",
        "credited",
        "balance",
        "prices_include_tax",
        "created_at",
        "created_by",
        "finalized_at",
        "finalized_by",
        "voided_at",
        "voided_by",
        "void_reason",
    ]
    inlines = [InvoiceLineInline, PaymentInline, CreditNoteInline]
    actions = ["finalize", "void_invoices", "delete_selected"]

    def get_queryset(self, request) -> QuerySet[Invoice]:
        return invoices_with_display_status(super().get_queryset(request))

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        if obj is None:
            return [InvoiceLineInline]
        if obj.is_draft:  # a Draft has no credit notes (only an Open invoice is credited)
            return [InvoiceLineInline, PaymentInline]
        return self.inlines

    def has_change_permission(self, request, obj=None) -> bool:
        # A finalized invoice cannot be edited: shown read-only.
        if obj is not None and why_not_editable(obj) is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Only drafts can be deleted; finalized invoices are voided.
        if obj is not None and why_not_deletable(obj) is not None:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            created = invoice_create(
                client=data["client"],
                practitioner=data["practitioner"],
                location=data["location"],
                issue_date=data.get("issue_date"),
                notes=data.get("notes", ""),
                by=request.user,
            )
            adopt(obj, created)
            return
        fields = {name: data[name] for name in form.changed_data if name in INVOICE_FIELDS}
        if fields:
            invoice_update(invoice=obj, by=request.user, **fields)

    def save_formset(self, request, form, formset, change):
        if formset.model is not InvoiceLine:
            return super().save_formset(request, form, formset, change)
        invoice = form.instance
        new, changed, deleted = [], [], []
        for line_form in formset.deleted_forms:
            if line_form.instance.pk is not None:
                invoice_line_remove(line=line_form.instance, by=request.user)
                deleted.append(line_form.instance)
        for line_form in formset.forms:
            if line_form in formset.deleted_forms or not line_form.has_changed():
                continue
            data = line_form.cleaned_data
            try:
                if line_form.instance.pk is None:
                    values = {name: data.get(name) for name in LINE_FIELDS}
                    new.append(invoice_line_add(invoice=invoice, by=request.user, **values))
                else:
                    values = {
                        name: data[name] for name in line_form.changed_data if name in LINE_FIELDS
                    }
                    if values:
                        invoice_line_update(line=line_form.instance, by=request.user, **values)
                        changed.append((line_form.instance, list(values)))
            except DomainError as exc:
                # Which line was refused: the form is shown again with the message
                # beside that line's field (see _create_formsets).
                exc.context.setdefault(_LINE_FORM, line_form.prefix)
                raise
        # What Django's formset.save() would leave for the change message.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = (
            new,
            changed,
            deleted,
        )
        return None

    def _create_formsets(self, request, obj, change):
        """After a line was refused (see save_formset), its message goes beside the
        field of that line, as well as on top of the form."""
        formsets, inlines = super()._create_formsets(request, obj, change)
        refusal = getattr(request, _REFUSAL, None)
        prefix = refusal.context.get(_LINE_FORM) if refusal is not None else None
        for formset in formsets if prefix else []:
            for line_form in formset.forms:
                if line_form.prefix == prefix:
                    _refuse_in(line_form, refusal)
        return formsets, inlines

    def delete_model(self, request, obj):
        invoice_delete(invoice=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for invoice in queryset:
            invoice_delete(invoice=invoice, by=request.user)

    def action_label(self, obj: Invoice) -> str:
        return f"{obj} ({obj.client})"

    @admin.display(description="Number", ordering="number")
    def number_display(self, obj: Invoice) -> str:
        return str(obj)

    @admin.display(description="Status", ordering="status")
    def display_status(self, obj: Invoice) -> str:
        return invoice_display_status(obj)

    @admin.display(description="Subtotal")
    def subtotal(self, obj: Invoice):
        return obj.subtotal

    @admin.display(description="Tax")
    def tax(self, obj: Invoice):
        return obj.tax

    @admin.display(description="Total", ordering="total")
    def total(self, obj: Invoice):
        return obj.total

    @admin.display(description="Paid")
    def amount_paid(self, obj: Invoice):
        return obj.amount_paid

    @admin.display(description="Credited")
    def credited(self, obj: Invoice):
        return obj.credited

    @admin.display(description="Balance", ordering="balance")
    def balance(self, obj: Invoice):
        return obj.balance

    @service_action(
        description="Finalize (number and freeze)",
        done="Finalized {count} {items}.",
        perm="invoicing.finalize_invoice",
    )
    def finalize(self, request, obj):
        invoice_finalize(invoice=obj, by=request.user)

    @form_action(
        description="Void",
        form_class=VoidForm,
        title="Void invoices",
        intro="Void these invoices? They keep their numbers and leave every total. "
        "Invoices with payments on them are refused: refund or void the payments first.",
        submit="Void invoices",
        done="Voided {count} {items}.",
        perm="invoicing.void_invoice",
    )
    def void_invoices(self, request, obj, data):
        invoice_void(invoice=obj, reason=data["reason"], by=request.user)

    delete_selected = service_delete_action(
        delete=lambda obj, by: invoice_delete(invoice=obj, by=by),
        description="Delete drafts",
        intro="Delete these draft invoices and their lines? Only drafts can be deleted; "
        "finalized invoices are voided instead.",
    )


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ["date", "amount", "reason", "created_by"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Payments are recorded on invoice pages (`payment_record`); here they are shown,
    and a payment recorded by mistake can be voided (kept for audit)."""

    list_display = [
        "date",
        "invoice",
        "client",
        "amount",
        "refunded",
        "method",
        "reference",
        "status",
    ]
    list_select_related = ["invoice__client", "method"]
    list_filter = ["status", "method"]
    search_fields = [
        "invoice__number",
        "invoice__client__first_name",
        "invoice__client__last_name",
        "reference",
    ]
    date_hierarchy = "date"
    show_full_result_count = False
    inlines = [RefundInline]
    actions = ["void_payments"]

    def get_queryset(self, request):
        return payments_with_refunded(super().get_queryset(request))

    def action_label(self, obj: Payment) -> str:
        return f"{obj.amount} on {obj.invoice} ({obj.invoice.client}), {obj.date:%d %b %Y}"

    @admin.display(description="Client", ordering="invoice__client__last_name")
    def client(self, obj: Payment) -> str:
        return str(obj.invoice.client)

    @admin.display(description="Refunded", ordering="refunded_total")
    def refunded(self, obj: Payment):
        return obj.refunded_total

    @form_action(
        description="Void payment",
        form_class=VoidForm,
        title="Void payments",
        intro="Void these payments (recorded by mistake)? They stay for audit and leave "
        "the invoice's totals; a Paid invoice becomes Open again.",
        submit="Void payments",
        done="Voided {count} {items}.",
        perm="invoicing.void_payment",
    )
    def void_payments(self, request, obj, data):
        payment_void(payment=obj, reason=data["reason"], by=request.user)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["date", "payment", "invoice", "client", "amount", "reason", "created_by"]
    list_select_related = ["payment__invoice__client", "created_by"]
    search_fields = [
        "payment__invoice__number",
        "payment__invoice__client__first_name",
        "payment__invoice__client__last_name",
        "reason",
    ]
    date_hierarchy = "date"

    @admin.display(description="Invoice", ordering="payment__invoice__number")
    def invoice(self, obj: Refund) -> str:
        return str(obj.payment.invoice)

    @admin.display(description="Client", ordering="payment__invoice__client__last_name")
    def client(self, obj: Refund) -> str:
        return str(obj.payment.invoice.client)


class CreditNoteLineInline(ReadOnlyInline):
    model = CreditNoteLine
    fields = ["description", "net_amount", "tax_amount", "total_amount"]
    readonly_fields = fields


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Credit notes are issued on invoice pages and by canceling a package with a refund
    (`invoicing.services`); issued, they are never changed (database triggers refuse it),
    so here they are only shown."""

    list_display = ["number", "date", "invoice", "client", "total_amount", "reason", "created_by"]
    list_select_related = ["invoice__client", "created_by"]
    search_fields = [
        "number",
        "invoice__number",
        "invoice__client__first_name",
        "invoice__client__last_name",
        "reason",
    ]
    date_hierarchy = "date"
    show_full_result_count = False
    inlines = [CreditNoteLineInline]

    @admin.display(description="Client", ordering="invoice__client__last_name")
    def client(self, obj: CreditNote) -> str:
        return str(obj.invoice.client)
