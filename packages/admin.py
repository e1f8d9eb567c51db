"""Admin for client packages, the credit ledger and expiry changes.

A client package is written only by `packages.services`: it is added through
`client_package_assign` (client, package, start date), and its credits, status and
expiry change only through the actions below, which call the services with
`by=request.user` so each role's permissions hold. The ledger and the expiry changes
are history: read-only.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminDateWidget
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from calendar_app.models import Appointment, Location, Practitioner
from catalog.models import Package, Service
from invoicing.services import invoice_for_client_package
from kernel.admin import (
    ActionForm,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    ServiceAdminMixin,
    ServiceModelForm,
    adopt,
    form_action,
    remove_delete_selected,
)
from kernel.time import DATE_RANGE_MESSAGE, EARLIEST_DATE, LATEST_DATE
from packages.models import (
    ClientPackage,
    ClientPackageService,
    ClientPackageStatus,
    CreditLedgerEntry,
    ExpiryChange,
)
from packages.selectors import client_packages_with_status, status_condition
from packages.services import (
    client_package_adjust,
    client_package_assign,
    client_package_cancel,
    client_package_extend_expiry,
)


class StatusFilter(admin.SimpleListFilter):
    """Active / Completed / Expired / Canceled, evaluated today (DOMAIN.md order)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return ClientPackageStatus.choices

    def queryset(self, request, queryset):
        if self.value() in ClientPackageStatus.values:
            return queryset.filter(status_condition(self.value(), timezone.localdate()))
        return queryset


def appointment_reference(appointment_id: int | None, appointment: Appointment | None) -> str:
    """A link to the appointment a ledger row concerns; the row keeps the id even after
    the appointment was deleted (the ledger is never touched)."""
    if appointment_id is None:
        return "–"
    if appointment is None:
        return f"#{appointment_id} (deleted)"
    when = timezone.localtime(appointment.starts_at).strftime("%d %b %Y %H:%M")
    url = reverse("admin:calendar_app_appointment_change", args=[appointment.pk])
    return format_html('<a href="{}">{}</a>', url, when)


# ------------------------------------------------------------------------------ inlines


class ClientPackageServiceInline(ReadOnlyInline):
    model = ClientPackageService
    fields = ["name", "allowance", "used", "usage"]
    readonly_fields = fields
    show_change_link = False
    verbose_name = "included service"
    verbose_name_plural = "included services"

    @admin.display(description="Usage")
    def usage(self, obj: ClientPackageService) -> str:
        return obj.usage_label or "shares the package's credits"


class LedgerInline(ReadOnlyInline):
    model = CreditLedgerEntry
    fields = [
        "created_at",
        "kind",
        "quantity",
        "service",
        "appointment_ref",
        "reason",
        "created_by",
    ]
    readonly_fields = fields
    show_change_link = False
    verbose_name_plural = "credit ledger"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("service", "appointment", "created_by")

    @admin.display(description="Appointment")
    def appointment_ref(self, obj: CreditLedgerEntry) -> str:
        return appointment_reference(obj.appointment_id, obj.appointment)


class ExpiryChangeInline(ReadOnlyInline):
    model = ExpiryChange
    fields = ["created_at", "old_expires_on", "new_expires_on", "reason", "created_by"]
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")


class LinkedAppointmentInline(ReadOnlyInline):
    model = Appointment
    fk_name = "client_package"
    fields = ["starts_at", "service", "practitioner", "status"]
    readonly_fields = fields
    verbose_name = "appointment using this package"
    verbose_name_plural = "appointments using this package"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("service", "practitioner")


# ------------------------------------------------------------------------ action forms


class CancelForm(ActionForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required. Remaining credits can no longer be used; appointments "
        "already linked keep their credit until unlinked.",
    )


# As the API's adjust (a package never holds more than 10,000 credits: the service).
MAX_ADJUST = 10_000


def _in_practice_years(value: dt.date) -> None:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise forms.ValidationError(DATE_RANGE_MESSAGE)


class ExtendExpiryForm(ActionForm):
    expires_on = forms.DateField(
        label="New expiry date", widget=AdminDateWidget, validators=[_in_practice_years]
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class AdjustCreditsForm(ActionForm):
    quantity = forms.IntegerField(
        min_value=-MAX_ADJUST,
        max_value=MAX_ADJUST,
        help_text="Credits to add; a negative number removes credits (never below what "
        "is already consumed).",
    )
    service = forms.ModelChoiceField(
        queryset=Service.objects.none(),
        required=False,
        help_text="Fixed packages: the service whose quantity changes. Flexible packages: "
        "leave empty.",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, queryset, **kwargs):
        super().__init__(*args, queryset=queryset, **kwargs)
        covered = ClientPackageService.objects.filter(
            client_package__in=queryset.values("pk")
        ).values("service")
        self.fields["service"].queryset = Service.objects.filter(pk__in=covered)

    def clean_quantity(self):
        quantity = self.cleaned_data["quantity"]
        if quantity == 0:
            raise forms.ValidationError("Enter a number of credits other than 0.")
        return quantity


class InvoiceForPackageForm(ActionForm):
    practitioner = forms.ModelChoiceField(Practitioner.objects.filter(archived=False))
    location = forms.ModelChoiceField(Location.objects.filter(archived=False))


class ClientPackageAddForm(ServiceModelForm):
    """Assign a package: client, package, start date; optionally invoice it at once."""

    invoice_practitioner = forms.ModelChoiceField(
        Practitioner.objects.filter(archived=False),
        required=False,
        label="Practitioner",
    )
    invoice_location = forms.ModelChoiceField(
        Location.objects.filter(archived=False), required=False, label="Location"
    )

    class Meta:
        model = ClientPackage
        fields = ["client", "package", "start_date"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["package"].queryset = Package.objects.filter(archived=False)
        self.fields["start_date"].initial = timezone.localdate

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("invoice_practitioner")) != bool(cleaned.get("invoice_location")):
            raise forms.ValidationError(
                "To create an invoice for the package choose both a practitioner and a "
                "location; leave both empty to skip."
            )
        return cleaned


# ------------------------------------------------------------------------ model admins


@admin.register(ClientPackage)
class ClientPackageAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = [
        "client",
        "name",
        "kind",
        "status",
        "credits",
        "consumed",
        "remaining",
        "start_date",
        "expires_on",
    ]
    list_display_links = ["client", "name"]
    list_select_related = ["client"]
    list_filter = [StatusFilter, "kind", "package"]
    search_fields = ["client__first_name", "client__last_name", "client__email", "name"]
    date_hierarchy = "start_date"
    show_full_result_count = False
    add_form = ClientPackageAddForm
    add_fieldsets = [
        (None, {"fields": ["client", "package", "start_date"]}),
        (
            "Create invoice for package",
            {
                "fields": ["invoice_practitioner", "invoice_location"],
                "description": "Choose a practitioner and a location to create a draft "
                "invoice for the package now; leave both empty to skip.",
            },
        ),
    ]
    autocomplete_fields = ["client"]
    readonly_fields = [
        "client",
        "package",
        "name",
        "kind",
        "price",
        "tax_rate",
        "start_date",
        "expires_on",
        "status",
        "credits",
        "consumed",
        "remaining",
        "canceled_at",
        "cancel_reason",
        "canceled_by",
        "created_at",
        "created_by",
    ]
    fieldsets = [
        (None, {"fields": ["client", "package", "name", "kind", "price", "tax_rate"]}),
        (
            "Usage",
            {"fields": ["status", "credits", "consumed", "remaining", "start_date", "expires_on"]},
        ),
        ("Canceled", {"fields": ["canceled_at", "cancel_reason", "canceled_by"]}),
        ("Record", {"fields": ["created_at", "created_by"]}),
    ]
    inlines = [
        ClientPackageServiceInline,
        LedgerInline,
        ExpiryChangeInline,
        LinkedAppointmentInline,
    ]
    actions = ["cancel_packages", "extend_expiry", "adjust_credits", "create_invoice"]

    def get_queryset(self, request) -> QuerySet[ClientPackage]:
        return client_packages_with_status(super().get_queryset(request))

    # Credits, consumed, status and expiry belong to the services: a client package is
    # never edited in a form, only through the actions.
    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_inlines(self, request, obj):
        return [] if obj is None else self.inlines

    def get_actions(self, request):
        return remove_delete_selected(super().get_actions(request))

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        created = client_package_assign(
            client=data["client"],
            package=data["package"],
            start_date=data["start_date"],
            by=request.user,
        )
        if data.get("invoice_practitioner"):
            invoice_for_client_package(
                client_package=created,
                practitioner=data["invoice_practitioner"],
                location=data["invoice_location"],
                by=request.user,
            )
        adopt(obj, created)

    def action_label(self, obj: ClientPackage) -> str:
        return f"{obj.client} – {obj.name}"

    @admin.display(description="Status", ordering="status_value")
    def status(self, obj: ClientPackage) -> str:
        value = getattr(obj, "status_value", None) or obj.status
        return ClientPackageStatus(value).label

    @admin.display(description="Remaining", ordering="remaining_credits")
    def remaining(self, obj: ClientPackage) -> int:
        return obj.remaining

    @form_action(
        description="Cancel selected packages",
        form_class=CancelForm,
        title="Cancel packages",
        intro="Cancel these client packages:",
        submit="Cancel packages",
        done="Canceled {count} {items}.",
        perm="packages.cancel_clientpackage",
    )
    def cancel_packages(self, request, obj, data):
        client_package_cancel(client_package=obj, reason=data["reason"], by=request.user)

    @form_action(
        description="Extend expiry",
        form_class=ExtendExpiryForm,
        title="Change the expiry date",
        intro="Give these client packages a new expiry date (the change is recorded):",
        submit="Change expiry date",
        done="Changed the expiry date of {count} {items}.",
        perm="packages.extend_expiry",
    )
    def extend_expiry(self, request, obj, data):
        client_package_extend_expiry(
            client_package=obj,
            expires_on=data["expires_on"],
            reason=data["reason"],
            by=request.user,
        )

    @form_action(
        description="Adjust credits",
        form_class=AdjustCreditsForm,
        title="Adjust credits",
        intro="Add or remove credits by hand (recorded in the credit ledger):",
        submit="Adjust credits",
        done="Adjusted the credits of {count} {items}.",
        perm="packages.adjust_credits",
    )
    def adjust_credits(self, request, obj, data):
        client_package_adjust(
            client_package=obj,
            quantity=data["quantity"],
            service=data["service"],
            reason=data["reason"],
            by=request.user,
        )

    @form_action(
        description="Create invoice",
        form_class=InvoiceForPackageForm,
        title="Create invoice for package",
        intro="Create a draft invoice (one line: the package at its amount) for:",
        submit="Create invoices",
        done="Created a draft invoice for {count} {items}.",
        perm="invoicing.add_invoice",
    )
    def create_invoice(self, request, obj, data):
        invoice_for_client_package(
            client_package=obj,
            practitioner=data["practitioner"],
            location=data["location"],
            by=request.user,
        )


@admin.register(CreditLedgerEntry)
class CreditLedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Append-only: every consume, release, grant and adjustment, never edited."""

    list_display = [
        "created_at",
        "client",
        "client_package",
        "kind",
        "quantity",
        "service",
        "appointment_ref",
        "reason",
        "created_by",
    ]
    list_select_related = ["client_package__client", "service", "appointment", "created_by"]
    list_filter = ["kind"]
    search_fields = [
        "client_package__client__first_name",
        "client_package__client__last_name",
        "client_package__name",
        "reason",
    ]
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description="Client", ordering="client_package__client__last_name")
    def client(self, obj: CreditLedgerEntry) -> str:
        return str(obj.client_package.client)

    @admin.display(description="Appointment")
    def appointment_ref(self, obj: CreditLedgerEntry) -> str:
        return appointment_reference(obj.appointment_id, obj.appointment)


@admin.register(ExpiryChange)
class ExpiryChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "client",
        "client_package",
        "old_expires_on",
        "new_expires_on",
        "reason",
        "created_by",
    ]
    list_select_related = ["client_package__client", "created_by"]
    search_fields = [
        "client_package__client__first_name",
        "client_package__client__last_name",
        "client_package__name",
        "reason",
    ]
    date_hierarchy = "created_at"

    @admin.display(description="Client", ordering="client_package__client__last_name")
    def client(self, obj: ExpiryChange) -> str:
        return str(obj.client_package.client)
