"""Admin for the catalog: tax rates, service categories, services and packages.

Catalog rows are templates: client packages copy what was sold, so editing a package
here never changes one already sold. Archive (rather than delete) what is no longer
offered; rows that were sold or booked protect their service or package.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

from catalog.models import (
    MAX_CAPACITY,
    Package,
    PackageKind,
    PackageService,
    Service,
    ServiceCategory,
    TaxRate,
)
from catalog.services import MAX_CREDITS, MAX_DURATION, MAX_PERIOD


def _bound(form: forms.BaseForm, name: str, high: int) -> None:
    """Hold `name` to 1..`high`, as the Catalog pages and the API do (catalog.services):
    a package lasting 2,000,000,000 years could be saved here, then every sale of it
    failed computing the expiry date."""
    field = form.fields.get(name)
    if isinstance(field, forms.IntegerField):
        field.min_value, field.max_value = 1, high
        field.validators += [MinValueValidator(1), MaxValueValidator(high)]
        field.widget.attrs.update(min=1, max=high)


class ServiceForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bound(self, "duration_minutes", MAX_DURATION)
        _bound(self, "capacity", MAX_CAPACITY)


class PackageServiceForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bound(self, "allowance", MAX_CREDITS)


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ["name", "rate", "archived"]
    list_filter = ["archived"]
    search_fields = ["name"]


class ServiceInline(admin.TabularInline):
    model = Service
    form = ServiceForm
    fields = ["name", "duration_minutes", "price", "tax_rate", "capacity", "archived"]
    extra = 0
    show_change_link = True


@admin.register(ServiceCategory)
class ServiceCategoryAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
    inlines = [ServiceInline]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceForm
    list_display = [
        "name",
        "category",
        "duration_minutes",
        "price",
        "tax_rate",
        "capacity",
        "archived",
    ]
    list_select_related = ["category", "tax_rate"]
    list_filter = ["archived", "category"]
    search_fields = ["name", "category__name"]


class PackageServiceFormSet(forms.BaseInlineFormSet):
    """A package includes at least one service. Fixed packages ("Define quantities") give
    each service an allowance and the allowances add up to the package's credits;
    flexible packages share the credits, so their services have no allowance."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        rows = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if not rows:
            raise ValidationError("Include at least one service.")
        package = self.instance
        if package.kind == PackageKind.FIXED:
            if any(not row.get("allowance") for row in rows):
                raise ValidationError("Give every service of a fixed package its quantity.")
            total = sum(row["allowance"] for row in rows)
            if package.credits is not None and total != package.credits:
                raise ValidationError(
                    f"The quantities add up to {total}, but the package has "
                    f"{package.credits} credits."
                )
        elif any(row.get("allowance") for row in rows):
            raise ValidationError(
                "A flexible package shares its credits: leave the quantities empty, or "
                "choose “Define quantities” (fixed)."
            )


class PackageServiceInline(admin.TabularInline):
    model = PackageService
    form = PackageServiceForm
    formset = PackageServiceFormSet
    fields = ["service", "allowance"]
    extra = 1
    verbose_name = "included service"
    verbose_name_plural = "included services (quantity: fixed packages only)"


class PackageForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bound(self, "credits", MAX_CREDITS)
        _bound(self, "expires_after_value", MAX_PERIOD)

    def clean(self):
        cleaned = super().clean()
        value, unit = cleaned.get("expires_after_value"), cleaned.get("expires_after_unit")
        if (value is None) != (not unit):
            raise ValidationError(
                "For a package that expires give both the period and its unit "
                "(e.g. 3 months); for one that never expires leave both empty."
            )
        return cleaned


@admin.register(Package)
class PackageAdmin(admin.ModelAdmin):
    form = PackageForm
    list_display = ["name", "kind", "credits", "price", "tax_rate", "expiry", "archived"]
    list_select_related = ["tax_rate"]
    list_filter = ["archived", "kind"]
    search_fields = ["name", "description"]
    readonly_fields = ["created_at"]
    fieldsets = [
        (None, {"fields": ["name", "description", "archived"]}),
        ("What is sold", {"fields": ["kind", "credits", "price", "tax_rate"]}),
        (
            "This package expires",
            {
                "fields": ["expires_after_value", "expires_after_unit"],
                "description": "Leave both empty for a package that never expires.",
            },
        ),
        ("Record", {"fields": ["created_at"], "classes": ["collapse"]}),
    ]
    inlines = [PackageServiceInline]

    @admin.display(description="Expires after")
    def expiry(self, obj: Package) -> str:
        return obj.expiry_label
