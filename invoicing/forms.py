"""Forms of the Billing pages. They check the shape of the input (numbers, dates, choices);
the rules (balance, draft-only, numbering) are the services' to check."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import Location, Practitioner
from catalog.models import Package, Service, TaxRate
from clients.models import Client
from invoicing.models import Invoice, InvoiceLine, PaymentMethod
from invoicing.rules import CREDIT_NOTE_REASON_REQUIRED, REFUND_REASON_REQUIRED
from invoicing.selectors import DISPLAY_STATUSES, default_payment_method
from kernel.money import format_money
from kernel.time import DATE_RANGE_MESSAGE, EARLIEST_DATE, LATEST_DATE

MONEY = {"max_digits": 12, "decimal_places": 2}
CENT = Decimal("0.01")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        # ISO is what <input type="date"> sends and expects, whatever the locale.
        super().__init__(attrs, format="%Y-%m-%d")


class Form(forms.Form):
    """Labels without the trailing colon, like every page of the product."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def sane_date(value: dt.date) -> None:
    """Dates outside the practice's years (kernel.time) are typos (2206 for 2026)."""
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise forms.ValidationError(DATE_RANGE_MESSAGE)


def _active_or_current(queryset, current_pk: int | None):
    """Non-archived rows, plus the one already chosen (so editing never drops it)."""
    condition = Q(archived=False)
    if current_pk is not None:
        condition |= Q(pk=current_pk)
    return queryset.filter(condition)


class InvoiceFilterForm(Form):
    """The list's filters. Invalid values are reported beside the field and ignored."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Number or client name", "autocomplete": "off"}
        ),
    )
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "All statuses"), *DISPLAY_STATUSES.items()]
    )
    issued_from = forms.DateField(
        label="Issued from", required=False, widget=DateInput(), validators=[sane_date]
    )
    issued_to = forms.DateField(
        label="Issued to", required=False, widget=DateInput(), validators=[sane_date]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Search as you type (the form's own hx-get fires on change and submit).
        self.fields["q"].widget.attrs.update(
            {
                "hx-get": reverse("invoicing:list"),
                "hx-trigger": "input changed delay:300ms, search",
                "hx-include": "closest form",
            }
        )

    def clean(self):
        data = super().clean()
        start, end = data.get("issued_from"), data.get("issued_to")
        if start and end and end < start:
            self.add_error("issued_to", "The end date is before the start date.")
        return data

    def filters(self) -> dict:
        """The valid filters (a bad date or unknown status is left out, not fatal)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "search": (data.get("q") or "").strip(),
            "status": data.get("status") or "",
            "issued_from": data.get("issued_from"),
            "issued_to": data.get("issued_to"),
        }

    @property
    def is_filtered(self) -> bool:
        return any(self.filters().values())

    # The unbound form's field groups (the billing page without filters), rendered once
    # per process: nothing in them depends on the request or the data.
    _unbound_groups: dict[str, str] | None = None

    def field_groups(self) -> dict[str, str]:
        """Each field's `as_field_group()` HTML, by name (rendered once per form)."""
        groups = getattr(self, "_groups", None)
        if groups is None:
            if self.is_bound or self.initial:
                groups = {name: self[name].as_field_group() for name in self.fields}
            else:
                groups = InvoiceFilterForm._unbound_groups
                if groups is None:
                    groups = {name: self[name].as_field_group() for name in self.fields}
                    InvoiceFilterForm._unbound_groups = groups
            self._groups = groups
        return groups


class InvoiceCreateForm(Form):
    """New invoice: a client (found by search), a practitioner and a location."""

    client = forms.ModelChoiceField(
        queryset=Client.objects.all(),
        error_messages={
            "required": "Choose a client: search by name, then pick one.",
            "invalid_choice": "That client no longer exists. Search again.",
        },
    )
    practitioner = forms.ModelChoiceField(
        queryset=Practitioner.objects.filter(archived=False),
        empty_label="Choose a practitioner",
        error_messages={"required": "Choose a practitioner."},
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(archived=False),
        empty_label="Choose a location",
        error_messages={"required": "Choose a location."},
    )


class InvoiceDetailsForm(Form):
    """A draft's practitioner, location, issue date and notes."""

    practitioner = forms.ModelChoiceField(queryset=Practitioner.objects.none(), empty_label=None)
    location = forms.ModelChoiceField(queryset=Location.objects.none(), empty_label=None)
    issue_date = forms.DateField(
        label="Issue date",
        required=False,
        widget=DateInput(),
        validators=[sane_date],
        help_text="Leave empty to date it on the day it is finalized.",
    )
    notes = forms.CharField(
        label="Notes (printed on the invoice)",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, invoice: Invoice, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "practitioner": invoice.practitioner_id,
                "location": invoice.location_id,
                "issue_date": invoice.issue_date,
                "notes": invoice.notes,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].queryset = _active_or_current(
            Practitioner.objects.all(), invoice.practitioner_id
        )
        self.fields["location"].queryset = _active_or_current(
            Location.objects.all(), invoice.location_id
        )


class LineForm(Form):
    """One invoice line. Amounts are computed by the service, never typed."""

    description = forms.CharField(max_length=500)
    quantity = forms.DecimalField(
        max_digits=10, decimal_places=2, min_value=CENT, initial=Decimal("1")
    )
    unit_price = forms.DecimalField(label="Unit price", min_value=Decimal("0"), **MONEY)
    discount_percent = forms.DecimalField(
        label="Discount %",
        required=False,
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        initial=Decimal("0"),
    )
    tax_rate = forms.ModelChoiceField(
        label="Tax rate", queryset=TaxRate.objects.none(), required=False, empty_label="No tax"
    )

    def __init__(self, *args, line: InvoiceLine | None = None, **kwargs):
        if line is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount_percent": line.discount_percent,
                "tax_rate": line.tax_rate_id,
            }
        super().__init__(*args, **kwargs)
        self.fields["tax_rate"].queryset = _active_or_current(
            TaxRate.objects.all(), line.tax_rate_id if line is not None else None
        )
        for name in ("quantity", "unit_price", "discount_percent"):
            self.fields[name].widget.attrs["inputmode"] = "decimal"

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        if data.get("discount_percent") is None:
            data["discount_percent"] = Decimal("0")
        return data


class CatalogPickForm(Form):
    """ "Add a line" from the catalog (issue 13): pick a service or a package and the
    line's description, unit price and tax rate are filled in, still editable; or leave
    it at "Type a free line". Only a prefill: the line keeps what was typed or filled in
    (invoice lines snapshot what was sold, so a later price change never changes them)."""

    catalog = forms.ChoiceField(label="From the catalog", required=False)

    def __init__(self, *args, pick_url: str, **kwargs):
        super().__init__(*args, **kwargs)
        # Picking asks for the filled-in form, which replaces this one (HTMX).
        self.fields["catalog"].widget.attrs.update(
            {
                "hx-get": pick_url,
                "hx-trigger": "change",
                "hx-include": "this",
                "hx-target": "closest form",
                "hx-swap": "outerHTML",
                "form": "add-line-pick",  # without JavaScript, "Fill in" sends it by GET
            }
        )
        services = Service.objects.filter(archived=False).order_by("name", "id")
        packages = Package.objects.filter(archived=False).order_by("name", "id")
        self._items = {f"service:{s.pk}": s for s in services} | {
            f"package:{p.pk}": p for p in packages
        }
        self.fields["catalog"].choices = [
            ("", "Type a free line"),
            *(
                (group, [(key, f"{item.name} · {format_money(item.price)}") for key, item in items])
                for group, items in (
                    ("Services", [(k, i) for k, i in self._items.items() if k[0] == "s"]),
                    ("Packages", [(k, i) for k, i in self._items.items() if k[0] == "p"]),
                )
                if items
            ),
        ]

    def line_initial(self) -> dict:
        """The Add a line form's values for the picked item (nothing for a free line or
        an item no longer in the catalog)."""
        if not self.is_valid():
            return {}
        item = self._items.get(self.cleaned_data["catalog"])
        if item is None:
            return {}
        return {
            "description": item.name,
            "quantity": Decimal("1"),
            "unit_price": item.price,
            "tax_rate": item.tax_rate_id,
            "discount_percent": Decimal("0"),
        }


def _payment_methods():
    return PaymentMethod.objects.filter(archived=False)


class PaymentForm(Form):
    """Pay invoice: amount (the balance by default), method, date, reference."""

    amount = forms.DecimalField(min_value=CENT, **MONEY)
    method = forms.ModelChoiceField(
        label="Payment method",
        queryset=PaymentMethod.objects.none(),
        empty_label="Choose a payment method",
        error_messages={"required": "Choose a payment method."},
    )
    date = forms.DateField(widget=DateInput(), validators=[sane_date])
    reference = forms.CharField(
        required=False,
        max_length=200,
        help_text="Optional: a receipt or transaction number.",
    )

    def __init__(self, *args, balance: Decimal, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "amount": balance,
                "date": timezone.localdate(),
                "method": None if args and args[0] is not None else default_payment_method(),
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["method"].queryset = _payment_methods()
        self.fields["amount"].widget.attrs["inputmode"] = "decimal"
        self.fields[
            "amount"
        ].help_text = "A smaller amount is recorded as a deposit; the balance stays open."


class RefundForm(Form):
    """Refund a payment, in full or in part."""

    amount = forms.DecimalField(min_value=CENT, **MONEY)
    date = forms.DateField(widget=DateInput(), validators=[sane_date])
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": REFUND_REASON_REQUIRED},
    )

    def __init__(self, *args, refundable: Decimal, **kwargs):
        kwargs.setdefault("initial", {"amount": refundable, "date": timezone.localdate()})
        super().__init__(*args, **kwargs)
        self.fields["amount"].widget.attrs["inputmode"] = "decimal"
        self.fields["amount"].help_text = "Up to the amount not yet refunded."


class CreditNoteForm(Form):
    """Issue credit note: an amount (up to the amount owing) and why."""

    amount = forms.DecimalField(min_value=CENT, **MONEY)
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": CREDIT_NOTE_REASON_REQUIRED},
    )

    def __init__(self, *args, balance: Decimal, **kwargs):
        kwargs.setdefault("initial", {"amount": balance})
        super().__init__(*args, **kwargs)
        self.fields["amount"].widget.attrs["inputmode"] = "decimal"
        self.fields["amount"].help_text = (
            f"Up to the amount owing, {format_money(balance)}. It is taken off the invoice; "
            "no money moves."
        )


class ReasonForm(Form):
    """Voiding an invoice or a payment: an optional reason, kept for the record."""

    reason = forms.CharField(
        label="Reason (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ConfirmForm(Form):
    """Finalize and Delete ask nothing but a confirmation (a POST)."""
