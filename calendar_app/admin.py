"""Admin for the calendar: locations, practitioners, cancellation reasons, series and
appointments.

Appointments are written only by `calendar_app.services` (and linking by
`packages.services`): adding books through `appointment_book`, saving a change goes
through `appointment_edit`, deleting through `appointment_delete`, and status and
package changes are the actions below. A refusal is shown as the service's message.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils import timezone

from calendar_app.models import (
    Appointment,
    AppointmentSeries,
    AppointmentStatus,
    CancellationReason,
    Location,
    Practitioner,
    PractitionerService,
    WorkingHours,
)
from calendar_app.services import (
    EDITABLE_FIELDS,
    appointment_book,
    appointment_cancel,
    appointment_delete,
    appointment_edit,
    appointment_mark_arrived,
    appointment_mark_missed,
    appointment_unlink,
)
from kernel.admin import (
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


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "address", "archived"]
    list_filter = ["archived"]
    search_fields = ["name", "address"]


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "colour", "archived"]
    list_select_related = ["user"]
    list_filter = ["archived"]
    search_fields = ["name", "user__username", "user__email"]
    autocomplete_fields = ["user"]


@admin.register(PractitionerService)
class PractitionerServiceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Which services each practitioner provides where: shown here, changed in Settings ›
    Practitioners › Services (`practitioner_services_set`, which keeps the audit's
    sentences and the "nothing ticked = every service" rule)."""

    list_display = ["practitioner", "location", "service"]
    list_select_related = ["practitioner", "location", "service"]
    list_filter = ["practitioner", "location"]
    search_fields = ["practitioner__name", "location__name", "service__name"]


@admin.register(WorkingHours)
class WorkingHoursAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only here: Settings → Practitioners → Working hours edits them through
    `working_hours_set` (it checks overlaps under a lock) (issue 11)."""

    list_display = ["practitioner", "weekday", "starts", "ends", "location"]
    list_select_related = ["practitioner", "location"]
    list_filter = ["weekday", "location"]
    search_fields = ["practitioner__name"]


@admin.register(CancellationReason)
class CancellationReasonAdmin(admin.ModelAdmin):
    list_display = ["name", "archived"]
    list_filter = ["archived"]
    search_fields = ["name"]


class SeriesAppointmentInline(ReadOnlyInline):
    model = Appointment
    fk_name = "series"
    fields = ["starts_at", "client", "practitioner", "service", "status"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("client", "practitioner", "service")


@admin.register(AppointmentSeries)
class AppointmentSeriesAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Series are created by booking a repeating appointment; shown here, not edited."""

    list_display = ["__str__", "every_weeks", "weekdays", "count", "created_at", "created_by"]
    list_select_related = ["created_by"]
    date_hierarchy = "created_at"
    inlines = [SeriesAppointmentInline]


class LinkedFilter(admin.SimpleListFilter):
    title = "linked to a package"
    parameter_name = "linked"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(client_package__isnull=self.value() == "no")
        return queryset


class AppointmentForm(ServiceModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "ends_at" in self.fields:
            self.fields["ends_at"].required = False
            self.fields["ends_at"].help_text = "Empty: start + the service's duration."
        if "client_package" in self.fields:
            self.fields["client_package"].label = "Use package"
            self.fields[
                "client_package"
            ].help_text = "Optional: the client package whose credit this appointment uses."


class CancelAppointmentForm(ActionForm):
    reason = forms.ModelChoiceField(
        CancellationReason.objects.filter(archived=False), label="Cancellation reason"
    )
    keep_credit = forms.BooleanField(
        required=False,
        label="Keep the package credit (late cancellation)",
        help_text="Otherwise a linked appointment's credit returns to its package.",
    )


class UnlinkPackageForm(ActionForm):
    reason = forms.CharField(
        required=False,
        max_length=500,
        label="Reason",
        help_text="Needed, and kept in the ledger, to give back the credit of an Arrived or "
        "Missed appointment (Admin only). Not needed for a Booked one.",
    )


@admin.register(Appointment)
class AppointmentAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = AppointmentForm
    list_display = [
        "starts_at",
        "client",
        "practitioner",
        "service",
        "location",
        "status",
        "linked_package",
    ]
    list_display_links = ["starts_at", "client"]
    list_select_related = ["client", "practitioner", "service", "location", "client_package"]
    list_filter = ["status", LinkedFilter, "practitioner", "location", "service"]
    search_fields = [
        "client__first_name",
        "client__last_name",
        "client__email",
        "client__phone",
        "practitioner__name",
        "service__name",
        "notes",
    ]
    date_hierarchy = "starts_at"
    show_full_result_count = False
    autocomplete_fields = ["client"]
    raw_id_fields = ["client_package"]
    fieldsets = [
        (None, {"fields": ["client", "practitioner", "location", "service"]}),
        ("When", {"fields": ["starts_at", "ends_at"]}),
        (None, {"fields": ["notes"]}),
        (
            "Status",
            {
                "fields": [
                    "status",
                    "client_package",
                    "class_session",
                    "series",
                    "cancellation_reason",
                    "kept_credit",
                ]
            },
        ),
        ("Record", {"fields": ["canceled_at", "created_at", "updated_at", "created_by"]}),
    ]
    add_fieldsets = [
        (None, {"fields": ["client", "practitioner", "location", "service"]}),
        ("When", {"fields": ["starts_at", "ends_at"]}),
        (None, {"fields": ["notes", "client_package"]}),
    ]
    # Status, package and cancellation change only through the actions (services).
    readonly_fields = [
        "status",
        "client_package",
        "class_session",
        "series",
        "cancellation_reason",
        "kept_credit",
        "canceled_at",
        "created_at",
        "updated_at",
        "created_by",
    ]
    actions = [
        "mark_arrived",
        "mark_missed",
        "cancel_appointments",
        "unlink_package",
        "delete_selected",
    ]

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None) -> bool:
        # appointment_edit refuses canceled appointments: show them read-only.
        if obj is not None and obj.status == AppointmentStatus.CANCELED:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            created = appointment_book(
                client=data["client"],
                practitioner=data["practitioner"],
                location=data["location"],
                service=data["service"],
                starts_at=data["starts_at"],
                ends_at=data.get("ends_at"),
                notes=data.get("notes", ""),
                client_package=data.get("client_package"),
                by=request.user,
            )
            adopt(obj, created)
            return
        changes = {name: data[name] for name in form.changed_data if name in EDITABLE_FIELDS}
        if changes:
            appointment_edit(appointment=obj, by=request.user, **changes)
            obj.refresh_from_db()

    def delete_model(self, request, obj):
        appointment_delete(appointment=obj, by=request.user)

    # "delete_selected" (below) replaces Django's action of that name, which would delete
    # rows without the service; this covers any other bulk delete.
    def delete_queryset(self, request, queryset):
        for appointment in queryset:
            appointment_delete(appointment=appointment, by=request.user)

    def action_label(self, obj: Appointment) -> str:
        return f"{obj.client} – {obj.service} ({timezone.localtime(obj.starts_at):%d %b %Y %H:%M})"

    @admin.display(description="Linked package", ordering="client_package__name")
    def linked_package(self, obj: Appointment) -> str:
        return obj.client_package.name if obj.client_package_id else ""

    @service_action(description="Mark arrived", done="Marked {count} {items} Arrived.")
    def mark_arrived(self, request, obj):
        appointment_mark_arrived(appointment=obj, by=request.user)

    @service_action(description="Mark missed", done="Marked {count} {items} Missed.")
    def mark_missed(self, request, obj):
        appointment_mark_missed(appointment=obj, by=request.user)

    @form_action(
        description="Cancel (release credits)",
        form_class=CancelAppointmentForm,
        title="Cancel appointments",
        intro="Cancel these appointments. A linked appointment's credit returns to its "
        "package unless you keep it (late cancellation):",
        submit="Cancel appointments",
        done="Canceled {count} {items}.",
        perm="calendar_app.change_appointment",
    )
    def cancel_appointments(self, request, obj, data):
        appointment_cancel(
            appointment=obj, reason=data["reason"], keep_credit=data["keep_credit"], by=request.user
        )

    @form_action(
        description="Unlink package (release credit)",
        form_class=UnlinkPackageForm,
        title="Unlink package",
        intro="Unlink these appointments from their packages; each credit returns to its "
        "package. An Arrived or Missed appointment used its credit: only an Admin may give "
        "it back, with a reason.",
        submit="Unlink package",
        done="Unlinked {count} {items}; their credits are back in their packages.",
        perm="packages.link_clientpackage",
    )
    def unlink_package(self, request, obj, data):
        appointment_unlink(appointment=obj, reason=data["reason"].strip(), by=request.user)

    delete_selected = service_delete_action(
        delete=lambda obj, by: appointment_delete(appointment=obj, by=by),
        intro="Delete these appointments (booked by mistake)? A linked appointment's "
        "credit returns to its package. Invoiced appointments are kept: cancel them.",
    )
