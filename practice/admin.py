"""The practice settings in the Django admin, saved through the same services as the
Settings page, so every rule (currency locked once invoices are issued, invoice numbers
never reused, the digit and payment-terms limits) holds here too, with the same messages.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from kernel.admin import (
    ReadOnlyAdminMixin,
    ServiceAdminMixin,
    remove_delete_selected,
    service_action,
)
from practice import services
from practice.api_keys import api_key_revoke
from practice.models import ApiKey, PracticeSettings


@admin.register(PracticeSettings)
class PracticeSettingsAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """One row (pk=1): no adding a second, never deleted."""

    list_display = [
        "name",
        "currency",
        "prices_include_tax",
        "invoice_prefix",
        "payment_terms_days",
    ]
    fieldsets = [
        (None, {"fields": ["name", "address", "phone", "email", "tax_id"]}),
        ("Money", {"fields": ["currency", "prices_include_tax", "payment_terms_days"]}),
        (
            "Invoice numbers",
            {
                "fields": ["invoice_prefix", "invoice_number_digits", "invoice_next_number"],
                "description": "Finalizing an invoice takes the next number. Raising it "
                "leaves a gap in the sequence; it can't be set to a number already used.",
            },
        ),
        ("Appointment emails", {"fields": ["confirmation_emails", "reminder_hours"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not PracticeSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        # Only what the form changed is passed: finalizing moves `invoice_next_number`
        # under the row's lock, so a form loaded earlier must not put an old counter back.
        changes = {field: form.cleaned_data[field] for field in form.changed_data}
        saved = services.practice_settings_update(changes=changes, by=request.user)
        obj.pk = saved.pk
        obj.refresh_from_db()


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """API keys: listed and revoked here, never added (each user creates their own on the
    API keys page) and never readable: the secret is not stored, and the hash is not
    shown."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "expires_at", "state"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    fields = [
        "name",
        "user",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "revoked_by",
        "revoked_reason",
    ]
    readonly_fields = fields
    actions = ["revoke_keys"]

    @admin.display(description="Status")
    def state(self, obj: ApiKey) -> str:
        return obj.status()

    def get_actions(self, request: HttpRequest):
        return remove_delete_selected(super().get_actions(request))

    @service_action(
        description="Revoke selected API keys",
        done="Revoked {count} {items}.",
        perm="caspen.change_apikey",
    )
    def revoke_keys(self, request, api_key):
        api_key_revoke(api_key=api_key, by=request.user)
