"""Forms of the client package pages: Create package, Create invoice for package, Cancel
package, Adjust credits, Extend expiry. They validate input; packages.services and
invoicing.services apply the rules and write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms

from calendar_app.models import Location, Practitioner
from catalog.models import Package
from invoicing.models import PaymentMethod, SaleInvoicing
from packages.models import ClientPackage, ClientPackageService

MAX_ADJUST = 1000
LATEST_EXPIRY = dt.date(2100, 12, 31)


class CreatePackageForm(forms.Form):
    """Step 3 of the help page: select a package from the catalog."""

    package = forms.ModelChoiceField(
        queryset=Package.objects.none(),
        empty_label=None,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Select a package.",
            "invalid_choice": "That package is no longer in the catalog; select another.",
        },
    )

    def __init__(self, *args, packages, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["package"].queryset = packages


FULL, DEPOSIT = "full", "deposit"


class SellPackageForm(CreatePackageForm):
    """The one-popup sale (issue 13): the package, then Practitioner and Location and
    what to do about the invoice: Invoice later, Create invoice, or Create invoice and
    take payment (the full amount or a deposit, by a payment method). Roles that may not
    invoice (take payments) get fewer choices; `invoicing.services.client_package_sell`
    applies the rules."""

    practitioner = forms.ModelChoiceField(
        queryset=Practitioner.objects.filter(archived=False).order_by("name"),
        required=False,
        empty_label="Choose a practitioner",
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(archived=False).order_by("name"),
        required=False,
        empty_label="Choose a location",
    )
    invoicing = forms.ChoiceField(
        label="Invoice",
        choices=SaleInvoicing.choices,
        widget=forms.RadioSelect,
        initial=SaleInvoicing.LATER,
        required=False,  # not sent: Invoice later (the help page's Cancel)
    )
    amount_choice = forms.ChoiceField(
        label="Amount",
        choices=[(FULL, "Full amount"), (DEPOSIT, "Deposit")],
        widget=forms.RadioSelect,
        initial=FULL,
        required=False,
    )
    amount = forms.DecimalField(
        label="Deposit amount",
        required=False,
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
        error_messages={"invalid": "Enter an amount of money, such as 50.00."},
    )
    method = forms.ModelChoiceField(
        label="Payment method",
        queryset=PaymentMethod.objects.filter(archived=False).order_by("id"),
        required=False,
        empty_label="Choose a payment method",
    )

    def __init__(self, *args, can_invoice: bool, can_pay: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_invoice:
            for name in (
                "practitioner",
                "location",
                "invoicing",
                "amount_choice",
                "amount",
                "method",
            ):
                del self.fields[name]
        elif not can_pay:
            for name in ("amount_choice", "amount", "method"):
                del self.fields[name]
            self.fields["invoicing"].choices = SaleInvoicing.choices[:2]

    def clean(self):
        data = super().clean()
        deposit = data.get("amount_choice") == DEPOSIT
        if (
            deposit
            and data.get("invoicing") == SaleInvoicing.PAY
            and data.get("amount") is None
            and "amount" not in self.errors
        ):
            self.add_error("amount", "Enter the deposit, such as 100.00.")
        return data

    def sale(self) -> dict:
        """The keywords of `client_package_sell` (the view adds client and by)."""
        data = self.cleaned_data
        invoicing = data.get("invoicing") or SaleInvoicing.LATER
        deposit = data.get("amount_choice") == DEPOSIT
        return {
            "package": data["package"],
            "invoicing": invoicing,
            "practitioner": data.get("practitioner"),
            "location": data.get("location"),
            "amount": data.get("amount") if deposit else None,
            "method": data.get("method"),
        }


class InvoiceForPackageForm(forms.Form):
    """Step 4: "Create invoice for package" (Practitioner and Location)."""

    practitioner = forms.ModelChoiceField(
        queryset=Practitioner.objects.filter(archived=False).order_by("name"),
        empty_label="Choose a practitioner",
        error_messages={"required": "Choose the practitioner the invoice is from."},
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(archived=False).order_by("name"),
        empty_label="Choose a location",
        error_messages={"required": "Choose the location the invoice is from."},
    )


class CancelPackageForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded with the package, e.g. “Refunded: client moved away”.",
        error_messages={"required": "Give a reason for canceling the package."},
    )
    # Only for staff who may refund, when there is something to give back (issue 13).
    refund_unused = forms.BooleanField(label="Refund the unused part", required=False)
    refund_amount = forms.DecimalField(
        label="Amount to refund",
        min_value=0,
        max_digits=12,
        decimal_places=2,
        required=False,
        help_text="Lower it if you give back less; it can't be more than shown.",
    )

    def __init__(self, *args, unused=None, **kwargs):
        super().__init__(*args, **kwargs)
        if unused is None or unused.limit <= 0:
            del self.fields["refund_unused"]
            del self.fields["refund_amount"]
        else:
            # The service refuses more than the limit, with the reason why (beside the field).
            self.fields["refund_amount"].widget.attrs["max"] = str(unused.limit)
            self.fields["refund_amount"].initial = unused.limit
            self.fields["refund_unused"].initial = True


class AdjustCreditsForm(forms.Form):
    """Adjust credits: + adds, - removes. Fixed packages adjust one service's allowance."""

    quantity = forms.IntegerField(
        label="Credits to add or remove",
        min_value=-MAX_ADJUST,
        max_value=MAX_ADJUST,
        help_text="A positive number adds credits; a negative one (e.g. -1) removes them.",
        widget=forms.NumberInput(attrs={"step": 1}),
        error_messages={"required": "Enter the number of credits, e.g. 1 or -1."},
    )
    service = forms.ModelChoiceField(
        queryset=ClientPackageService.objects.none(),
        label="Service",
        empty_label="Choose a service",
        error_messages={"required": "Choose which service's quantity to adjust."},
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown in the credit history.",
        error_messages={"required": "Give a reason for the adjustment."},
    )

    def __init__(self, *args, client_package: ClientPackage, **kwargs):
        super().__init__(*args, **kwargs)
        if client_package.is_fixed:
            field = self.fields["service"]
            field.queryset = client_package.services.select_related("service").order_by("id")
            field.label_from_instance = lambda row: f"{row.name} ({row.usage_label})"
        else:
            del self.fields["service"]
        self.order_fields(["quantity", "service", "reason"])

    def clean_quantity(self) -> int:
        quantity = self.cleaned_data["quantity"]
        if quantity == 0:
            raise forms.ValidationError("Enter a number other than 0.")
        return quantity


class ExtendExpiryForm(forms.Form):
    expires_on = forms.DateField(
        label="New expiry date",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The last day an appointment may use the package.",
        error_messages={"required": "Enter the new expiry date."},
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded with the change.",
        error_messages={"required": "Give a reason for changing the expiry date."},
    )

    def clean_expires_on(self) -> dt.date:
        value = self.cleaned_data["expires_on"]
        if value > LATEST_EXPIRY:
            raise forms.ValidationError("Check the year: that date is too far ahead.")
        return value
