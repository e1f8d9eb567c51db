"""Forms of the catalog pages. They check the input's shape (types, ranges, what is
required); the rules live in `catalog.services`, which the views call with the cleaned
data."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q

from catalog.models import (
    MAX_CAPACITY,
    Package,
    PackageKind,
    PeriodUnit,
    Service,
    ServiceCategory,
    TaxRate,
)
from catalog.services import MAX_CREDITS, MAX_PERIOD, package_quantities_problem
from kernel.text import TEXT_MAX_LENGTH

MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": 0}


def tax_rate_choices(current: TaxRate | None = None):
    """Tax rates in use, plus the one already set (even when archived since)."""
    query = Q(archived=False)
    if current is not None:
        query |= Q(pk=current.pk)
    return TaxRate.objects.filter(query).order_by("name")


class PlainForm(forms.Form):
    """Labels without Django's trailing colon, as on every Caspen page."""

    # Optional rows of field names shown side by side, e.g. [("first_name", "last_name")].
    layout: list[tuple[str, ...]] = []

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def rows(self) -> list[list]:
        """The bound fields in rows: those of `layout` together, every other one alone."""
        placed = {name for row in self.layout for name in row}
        rows, done = [], set()
        for name in self.fields:
            if name in done:
                continue
            row = (
                next((r for r in self.layout if name in r), (name,)) if name in placed else (name,)
            )
            rows.append([self[n] for n in row if n in self.fields])
            done.update(row)
        return rows


class CategoryForm(PlainForm):
    name = forms.CharField(label="Name", max_length=100)


class ServiceForm(PlainForm):
    layout = [("category", "duration_minutes"), ("price", "tax_rate"), ("capacity",)]

    name = forms.CharField(label="Name", max_length=200)
    category = forms.ModelChoiceField(
        label="Category",
        queryset=ServiceCategory.objects.order_by("name"),
        required=False,
        empty_label="No category",
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)",
        min_value=1,
        max_value=24 * 60,
        initial=30,
        help_text="New appointments for this service last this long by default.",
    )
    price = forms.DecimalField(label="Price", **MONEY)
    tax_rate = forms.ModelChoiceField(
        label="Tax rate", queryset=TaxRate.objects.none(), required=False, empty_label="No tax"
    )
    capacity = forms.IntegerField(
        label="Capacity",
        min_value=1,
        max_value=MAX_CAPACITY,
        initial=1,
        required=False,  # left out: 1 for a new service, unchanged for an edit
        help_text="Clients per session: 1 is an ordinary appointment, more makes it a class.",
    )

    def __init__(self, *args, service: Service | None = None, **kwargs):
        if service is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": service.name,
                    "category": service.category_id,
                    "duration_minutes": service.duration_minutes,
                    "price": service.price,
                    "tax_rate": service.tax_rate_id,
                    "capacity": service.capacity,
                },
            )
        super().__init__(*args, **kwargs)
        self.fields["tax_rate"].queryset = tax_rate_choices(service.tax_rate if service else None)


class PackageForm(PlainForm):
    """The package form of the help page: Name, Description, Credits, Amount, Tax rate,
    the services, "Define quantities" with a quantity per service, and "This package
    expires" with its period.

    A quantity input exists for every service offered (`qty_<id>`), so the form works
    without JavaScript; the quantities are read only when "Define quantities" is ticked
    and only for the services chosen. static/js/app.js shows them when they matter.
    """

    name = forms.CharField(label="Name", max_length=200)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Internal: for staff only, never shown to clients.",
    )
    credits = forms.IntegerField(
        label="Credits",
        min_value=1,
        max_value=MAX_CREDITS,
        help_text="1 credit = 1 session of an included service.",
    )
    price = forms.DecimalField(
        label="Amount", **MONEY, help_text="What the client pays for the whole package."
    )
    tax_rate = forms.ModelChoiceField(
        label="Tax rate", queryset=TaxRate.objects.none(), required=False, empty_label="No tax"
    )
    services = forms.ModelMultipleChoiceField(
        label="Services",
        queryset=Service.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one service."},
    )
    define_quantities = forms.BooleanField(
        label="Define quantities",
        required=False,
        help_text=(
            "Give each service its own number of sessions, adding up to Credits (a fixed "
            "package). Leave it unticked to share the credits across the services (a "
            "flexible package)."
        ),
    )
    expires = forms.BooleanField(label="This package expires", required=False)
    expires_after_value = forms.IntegerField(
        label="Expires after", required=False, min_value=1, max_value=MAX_PERIOD
    )
    expires_after_unit = forms.ChoiceField(
        label="Period", choices=PeriodUnit.choices, required=False, initial=PeriodUnit.MONTHS
    )

    def __init__(self, *args, package: Package | None = None, **kwargs):
        self.package = package
        included: dict[int, int | None] = {}
        if package is not None:
            included = {ps.service_id: ps.allowance for ps in package.package_services.all()}
            kwargs.setdefault("initial", self._initial(package, included))
        super().__init__(*args, **kwargs)
        # Services on sale, plus any this package already includes (so editing an
        # archived package never silently drops one).
        offered = (
            Service.objects.filter(Q(archived=False) | Q(pk__in=list(included)))
            .select_related("category")
            .order_by("category__name", "name", "id")
        )
        self.service_list: list[Service] = list(offered)
        self.fields["services"].queryset = offered
        self.fields["tax_rate"].queryset = tax_rate_choices(package.tax_rate if package else None)
        for service in self.service_list:
            self.fields[self.qty_name(service)] = forms.IntegerField(
                label=f"Quantity of {service.name}",
                required=False,
                min_value=1,
                max_value=MAX_CREDITS,
                initial=included.get(service.pk),
                widget=forms.NumberInput(attrs={"class": "qty-input"}),
            )

    @staticmethod
    def _initial(package: Package, included: dict[int, int | None]) -> dict[str, Any]:
        return {
            "name": package.name,
            "description": package.description,
            "credits": package.credits,
            "price": package.price,
            "tax_rate": package.tax_rate_id,
            "services": list(included),
            "define_quantities": package.kind == PackageKind.FIXED,
            "expires": package.expires,
            "expires_after_value": package.expires_after_value,
            "expires_after_unit": package.expires_after_unit or PeriodUnit.MONTHS,
        }

    @staticmethod
    def qty_name(service: Service) -> str:
        return f"qty_{service.pk}"

    def main_fields(self):
        return [self[name] for name in ("name", "description", "credits", "price", "tax_rate")]

    def chosen_ids(self) -> set[str]:
        value = self["services"].value() or []
        return {str(v) for v in value}

    def service_rows(self):
        """One row per service offered: the service, whether it is chosen, its quantity."""
        chosen = self.chosen_ids()
        return [
            {
                "service": service,
                "checked": str(service.pk) in chosen,
                "qty": self[self.qty_name(service)],
                "index": index,
            }
            for index, service in enumerate(self.service_list)
        ]

    def clean(self):
        cleaned = super().clean()
        chosen = cleaned.get("services") or []
        chosen_ids = {s.pk for s in chosen}
        # Quantities matter only when "Define quantities" is ticked, and only for the
        # services chosen; anything else typed in them is ignored, errors included.
        for service in self.service_list:
            name = self.qty_name(service)
            if not cleaned.get("define_quantities") or service.pk not in chosen_ids:
                self._errors.pop(name, None)
                cleaned.pop(name, None)
        if cleaned.get("define_quantities") and chosen:
            missing = False
            for service in chosen:
                name = self.qty_name(service)
                if name not in self._errors and cleaned.get(name) is None:
                    self.add_error(name, "Enter a quantity of at least 1.")
                    missing = True
                elif name in self._errors:
                    missing = True
            credits = cleaned.get("credits")
            if not missing and credits is not None:
                problem = package_quantities_problem(
                    credits=credits,
                    quantities={s.pk: cleaned.get(self.qty_name(s)) for s in chosen},
                )
                if problem:
                    self.add_error("define_quantities", problem)
        if cleaned.get("expires"):
            if (
                cleaned.get("expires_after_value") is None
                and "expires_after_value" not in self._errors
            ):
                self.add_error("expires_after_value", "Enter how long the package lasts, e.g. 3.")
            if not cleaned.get("expires_after_unit"):
                self.add_error("expires_after_unit", "Choose days, weeks, months or years.")
        else:
            for name in ("expires_after_value", "expires_after_unit"):
                self._errors.pop(name, None)
        return cleaned

    # The service's arguments, from the cleaned data.

    def quantities(self) -> dict[Service, int] | None:
        if not self.cleaned_data.get("define_quantities"):
            return None
        return {s: self.cleaned_data[self.qty_name(s)] for s in self.cleaned_data["services"]}

    def expires_after(self) -> tuple[int, str] | None:
        if not self.cleaned_data.get("expires"):
            return None
        return self.cleaned_data["expires_after_value"], self.cleaned_data["expires_after_unit"]

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "credits": data["credits"],
            "price": data["price"],
            "tax_rate": data["tax_rate"],
            "services": list(data["services"]),
            "quantities": self.quantities(),
            "expires_after": self.expires_after(),
        }
