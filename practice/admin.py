"""The practice settings in the Django admin, saved through the same services as the
Settings page, so every rule (currency locked once invoices are issued, invoice numbers
never reused, the digit and payment-terms limits) holds here too, with the same messages.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from kernel.admin import ServiceAdminMixin
from practice import services
from practice.models import PracticeSettings


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
