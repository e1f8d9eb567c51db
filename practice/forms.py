"""Forms of the Settings pages. They check the input's shape; the rules live in
`practice.services` and `catalog.services`, which the views call with the cleaned data."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.core.validators import RegexValidator
from django.db.models import Q

from calendar_app.models import Practitioner
from catalog.forms import PlainForm
from invoicing.models import PaymentMethod
from invoicing.selectors import LAST_INVOICE_NUMBER, default_payment_method
from kernel.text import TEXT_MAX_LENGTH
from practice import roles
from practice.models import (
    MAX_REMINDER_HOURS,
    FeeKind,
    LateAction,
    PracticeSettings,
    RefundMethod,
)

ROLE_CHOICES = [("", "Choose a role"), *((role, role) for role in roles.ROLES)]
ROLE_HELP = (
    "Admin: everything, including catalog and settings. Reception: clients, calendar, "
    "packages, invoices, payments. Practitioner: calendar and clients. Accountant: "
    "invoices, payments, refunds."
)


class PracticeDetailsForm(PlainForm):
    name = forms.CharField(label="Practice name", max_length=200)
    address = forms.CharField(
        label="Address",
        required=False,
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    phone = forms.CharField(label="Phone", max_length=40, required=False)
    email = forms.EmailField(label="Email", required=False)
    tax_id = forms.CharField(label="Tax / business number", max_length=40, required=False)
    currency = forms.CharField(
        label="Currency",
        max_length=3,
        min_length=3,
        help_text="Three-letter code, such as AUD. It can't change once invoices are issued.",
        validators=[RegexValidator(r"^[A-Za-z]{3}$", "Use a three-letter code such as AUD.")],
    )

    @classmethod
    def for_settings(cls, settings: PracticeSettings, data=None):
        initial = {name: getattr(settings, name) for name in cls.base_fields}
        return cls(data, initial=initial, prefix="practice")


class InvoiceSettingsForm(PlainForm):
    invoice_prefix = forms.CharField(
        label="Invoice number prefix",
        max_length=20,
        required=False,
        strip=False,
        help_text="Such as INV-.",
    )
    invoice_next_number = forms.IntegerField(
        label="Next invoice number",
        min_value=1,
        max_value=LAST_INVOICE_NUMBER,
        help_text=("A number an invoice already has is refused: invoice numbers never repeat."),
    )
    invoice_number_digits = forms.IntegerField(
        label="Number digits",
        min_value=1,
        max_value=12,
        help_text="Zero-padded to this many digits: 4 gives INV-0001. It can't change once "
        "invoices are numbered.",
    )
    payment_terms_days = forms.IntegerField(
        label="Payment terms (days)",
        min_value=0,
        max_value=365,
        help_text="Due date = issue date + this many days.",
    )
    prices_include_tax = forms.BooleanField(
        label="Prices include tax",
        required=False,
        help_text="Catalog prices and invoice lines include tax. Invoices already created keep their setting.",
    )

    default_payment_method = forms.ModelChoiceField(
        label="Default payment method",
        queryset=PaymentMethod.objects.filter(archived=False).order_by("id"),
        required=False,
        empty_label="None",
        help_text="Pay invoice and Create package start with it; staff can choose another.",
    )

    @classmethod
    def for_settings(cls, settings: PracticeSettings, data=None):
        initial = {
            name: getattr(settings, name)
            for name in cls.base_fields
            if name != "default_payment_method"
        }
        initial["default_payment_method"] = default_payment_method()
        return cls(data, initial=initial, prefix="invoices")


class DocumentSettingsForm(PlainForm):
    logo = forms.FileField(
        label="Logo",
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
        help_text="PNG, JPEG, GIF or WebP, up to 1 MB. Printed at the top of every document.",
    )
    remove_logo = forms.BooleanField(label="Remove the logo", required=False)
    payment_instructions = forms.CharField(
        label="Payment instructions",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Printed on invoices and statements while money is owed, such as the bank "
        "account for Direct deposit (account name, BSB, account number).",
    )

    @classmethod
    def for_settings(cls, settings: PracticeSettings, data=None, files=None):
        initial = {"payment_instructions": settings.payment_instructions}
        return cls(data, files, initial=initial, prefix="documents")

    def clean_logo(self):
        upload = self.cleaned_data.get("logo")
        if upload and upload.size > 1_000_000:
            raise forms.ValidationError("The logo must be at most 1 MB.")
        return upload

    def values(self) -> dict:
        """The service's arguments: the uploaded image's bytes, when one was chosen."""
        upload = self.cleaned_data.get("logo")
        return {
            "payment_instructions": self.cleaned_data["payment_instructions"],
            "logo": upload.read() if upload else None,
            "remove_logo": self.cleaned_data["remove_logo"],
        }


class TaxRateForm(PlainForm):
    layout = [("name", "rate")]

    name = forms.CharField(label="Name", max_length=100, help_text="Such as GST.")
    rate = forms.DecimalField(
        label="Rate (%)", min_value=0, max_value=100, max_digits=5, decimal_places=2
    )


class CancellationReasonForm(PlainForm):
    """A cancellation reason and its rule (issue 13)."""

    name = forms.CharField(label="Name", max_length=100)
    notice_hours = forms.IntegerField(
        label="Notice window (hours)",
        required=False,
        min_value=1,
        max_value=8760,
        help_text="Canceled less than this many hours before the start is inside the "
        "window. Leave empty for no window: the credit is always released.",
    )
    # Not sent (a form that knows only the name): no rule, as before rules existed.
    late_action = forms.ChoiceField(
        label="Inside the window",
        choices=LateAction.choices,
        initial=LateAction.RELEASE,
        required=False,
    )
    fee_kind = forms.ChoiceField(
        label="Fee", choices=FeeKind.choices, initial=FeeKind.FIXED, required=False
    )
    fee_value = forms.DecimalField(
        label="Fee amount or %",
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        help_text="For “Charge a fee”: an amount, or a percentage of the service's price. "
        "It is added to a new draft invoice for the client.",
    )

    def clean_late_action(self) -> str:
        return self.cleaned_data.get("late_action") or LateAction.RELEASE

    def clean_fee_kind(self) -> str:
        return self.cleaned_data.get("fee_kind") or FeeKind.FIXED


class CancellationSettingsForm(PlainForm):
    """What Missed does and how a refund of unused credits is valued (issue 13)."""

    missed_action = forms.ChoiceField(
        label="When a client misses an appointment",
        choices=[(LateAction.KEEP, "Keep the credit"), (LateAction.FEE, "Charge a fee")],
    )
    missed_fee_kind = forms.ChoiceField(label="Missed fee", choices=FeeKind.choices)
    missed_fee_value = forms.DecimalField(
        label="Missed fee amount or %",
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        help_text="A fee releases the package credit: the client pays the fee instead.",
    )
    refund_method = forms.ChoiceField(
        label="Refund of unused credits",
        choices=RefundMethod.choices,
        help_text="The amount offered when an Admin cancels a package with a refund.",
    )

    @classmethod
    def for_settings(cls, settings: PracticeSettings, data=None):
        initial = {name: getattr(settings, name) for name in cls.base_fields}
        return cls(data, initial=initial, prefix="cancellations")


class EmailSettingsForm(PlainForm):
    """Appointment emails (issue 14): confirmations at booking, reminders before."""

    confirmation_emails = forms.BooleanField(
        label="Confirmation emails",
        required=False,
        help_text="Email the client when an appointment is booked.",
    )
    reminder_hours = forms.IntegerField(
        label="Reminder emails (hours before)",
        min_value=0,
        max_value=MAX_REMINDER_HOURS,
        help_text="Email the client this many hours before the appointment. 0 sends no reminders.",
    )

    @classmethod
    def for_settings(cls, settings: PracticeSettings, data=None):
        initial = {name: getattr(settings, name) for name in cls.base_fields}
        return cls(data, initial=initial, prefix="emails")


class NameForm(PlainForm):
    """Payment methods: just a name."""

    name = forms.CharField(label="Name", max_length=100)


class LocationForm(PlainForm):
    name = forms.CharField(label="Name", max_length=200)
    address = forms.CharField(
        label="Address",
        required=False,
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class PractitionerForm(PlainForm):
    name = forms.CharField(label="Name", max_length=200)
    colour = forms.CharField(
        label="Colour",
        initial="#2f7d6d",
        widget=forms.TextInput(attrs={"type": "color"}),
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Choose a colour such as #2f7d6d.")],
        help_text="Their appointments show in this colour on the calendar.",
    )
    user = forms.ModelChoiceField(
        label="Staff user",
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label="Not linked",
        help_text="Link the practitioner's sign-in, so their own calendar opens for them.",
    )
    provider_number = forms.CharField(
        label="Provider number",
        max_length=40,
        required=False,
        help_text="Printed on their invoices, for health-fund claims.",
    )

    def __init__(self, *args, practitioner: Practitioner | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # Active users without a practitioner, plus the one already linked.
        free = Q(is_active=True, practitioner__isnull=True)
        if practitioner is not None and practitioner.user_id:
            free |= Q(pk=practitioner.user_id)
        users = (
            get_user_model().objects.filter(free).order_by("first_name", "last_name", "username")
        )
        self.fields["user"].queryset = users
        self.fields["user"].label_from_instance = _user_label


def _user_label(user) -> str:
    full = user.get_full_name()
    return f"{full} ({user.username})" if full else user.username


class StaffUserForm(PlainForm):
    """Edit a staff user: name, email and role."""

    layout = [("first_name", "last_name")]

    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    email = forms.EmailField(label="Email", required=False)
    role = forms.ChoiceField(label="Role", choices=ROLE_CHOICES, help_text=ROLE_HELP)


class StaffUserCreateForm(StaffUserForm):
    """Add a staff user with an initial password (checked by the password validators)."""

    username = forms.CharField(
        label="Username",
        max_length=150,
        help_text="Used to sign in. Letters, digits and @ . + - _ only.",
        validators=[get_user_model().username_validator],
    )
    password1 = forms.CharField(
        label="Initial password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=(
            "At least 8 characters, not a common password, not only digits, and not like "
            "the username or name."
        ),
    )
    password2 = forms.CharField(
        label="Repeat the password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    field_order = ["first_name", "last_name", "username", "email", "role", "password1", "password2"]
    layout = [("first_name", "last_name"), ("username", "email"), ("password1", "password2")]

    def clean(self):
        cleaned = super().clean()
        password, again = cleaned.get("password1"), cleaned.get("password2")
        if password and again and password != again:
            self.add_error("password2", "The two passwords differ.")
        elif password:
            user = get_user_model()(
                username=cleaned.get("username", ""),
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
                email=cleaned.get("email", ""),
            )
            try:
                password_validation.validate_password(password, user=user)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


# ------------------------------------------------------- services per practitioner (issue 11)


class PractitionerServicesForm(PlainForm):
    """Settings › Practitioners › Services: per active location, the services the
    practitioner provides there (`services_<location id>`, ids of active services).
    Nothing ticked for a location = every active service there."""

    def __init__(self, *args, locations, services, **kwargs):
        super().__init__(*args, **kwargs)
        self.locations = list(locations)
        choices = [(str(service.pk), service.name) for service in services]
        for location in self.locations:
            self.fields[f"services_{location.pk}"] = forms.MultipleChoiceField(
                label=location.name,
                choices=choices,
                required=False,
                widget=forms.CheckboxSelectMultiple,
            )

    def chosen(self) -> dict[int, set[int]]:
        """Location id -> the ticked service ids (after is_valid)."""
        return {
            location.pk: {int(pk) for pk in self.cleaned_data.get(f"services_{location.pk}", [])}
            for location in self.locations
        }


# ------------------------------------------------------------ working hours (issue 11)

STRETCHES_PER_DAY = 2


class WorkingHoursForm(PlainForm):
    """A practitioner's week: for each day, up to two stretches (location, from, to).
    A stretch left empty is not worked; a half-filled one says what is missing."""

    def __init__(self, *args, hours=(), **kwargs):
        from calendar_app.models import Location, Weekday

        held = {h.location_id for h in hours}
        locations = Location.objects.filter(Q(archived=False) | Q(pk__in=held)).order_by("name")
        self.only_location = None
        active = [loc for loc in locations if not loc.archived]
        if len(active) == 1:
            self.only_location = active[0]
        initial = kwargs.pop("initial", None) or {}
        per_day: dict[int, int] = {}
        for h in hours:
            n = per_day[h.weekday] = per_day.get(h.weekday, 0) + 1
            if n <= STRETCHES_PER_DAY:
                prefix = f"d{h.weekday}_{n}_"
                initial.update(
                    {
                        prefix + "location": h.location_id,
                        prefix + "starts": h.starts,
                        prefix + "ends": h.ends,
                    }
                )
        super().__init__(*args, initial=initial, **kwargs)
        self.days = []
        for weekday, day in Weekday.choices:
            rows = []
            for n in range(1, STRETCHES_PER_DAY + 1):
                prefix = f"d{weekday}_{n}_"
                self.fields[prefix + "location"] = forms.ModelChoiceField(
                    queryset=locations, required=False, label="At", empty_label="Not working"
                )
                for name, label in (("starts", "From"), ("ends", "To")):
                    self.fields[prefix + name] = forms.TimeField(
                        required=False,
                        label=label,
                        widget=forms.TimeInput(attrs={"type": "time", "step": 900}, format="%H:%M"),
                    )
                rows.append(prefix)
            self.days.append((weekday, day, rows))

    def day_rows(self):
        """For the template: (day, [(location, from, to) bound fields, ...]) per weekday."""
        return [
            (
                weekday,
                day,
                [(self[p + "location"], self[p + "starts"], self[p + "ends"]) for p in rows],
            )
            for weekday, day, rows in self.days
        ]

    def clean(self):
        cleaned = super().clean()
        hours = []
        for weekday, _day, rows in self.days:
            for prefix in rows:
                location = cleaned.get(prefix + "location")
                starts, ends = cleaned.get(prefix + "starts"), cleaned.get(prefix + "ends")
                if location is None and (starts or ends) and self.only_location is not None:
                    location = self.only_location  # one location: no need to choose it
                if location is None and starts is None and ends is None:
                    continue
                if self.has_error(prefix + "starts") or self.has_error(prefix + "ends"):
                    continue
                missing = False
                if location is None:
                    self.add_error(prefix + "location", "Choose where.")
                    missing = True
                if starts is None:
                    self.add_error(prefix + "starts", "Enter a start time.")
                    missing = True
                if ends is None:
                    self.add_error(prefix + "ends", "Enter an end time.")
                    missing = True
                if not missing:
                    hours.append((weekday, location, starts, ends))
        cleaned["hours"] = hours
        return cleaned
