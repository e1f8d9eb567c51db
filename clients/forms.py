"""Forms of the client pages. They validate input; the services in clients/services.py
apply the rules and write."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from clients.services import EARLIEST_BIRTH, PHONE_PATTERN

MAX_SEARCH_WORDS = 6


class ClientSearchForm(forms.Form):
    """`?q=` words (each must match the first name, last name, email or phone) and
    `?archived=1` to list archived clients instead of current ones."""

    q = forms.CharField(
        label="Search clients",
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, email or phone", "autocomplete": "off"}
        ),
    )
    archived = forms.BooleanField(label="Show archived", required=False)

    def words(self) -> list[str]:
        if not self.is_valid():
            return []
        return self.cleaned_data["q"].split()[:MAX_SEARCH_WORDS]


class ClientForm(forms.Form):
    """Add client / Edit client. A plain form (not a ModelForm) so a refused edit never
    touches the client object the page header shows."""

    first_name = forms.CharField(
        max_length=100, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    last_name = forms.CharField(
        max_length=100, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    email = forms.EmailField(required=False, max_length=254)
    email_opt_out = forms.BooleanField(
        label="No email",
        required=False,
        help_text="Send this client no appointment confirmations or reminders.",
    )
    phone = forms.CharField(
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    date_of_birth = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    notes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        help_text="Visible to staff only.",
    )

    def clean_first_name(self) -> str:
        return " ".join(self.cleaned_data["first_name"].split())

    def clean_last_name(self) -> str:
        return " ".join(self.cleaned_data["last_name"].split())

    def clean_phone(self) -> str:
        phone = " ".join(self.cleaned_data["phone"].split())
        if phone and not PHONE_PATTERN.match(phone):
            raise forms.ValidationError("Use digits, spaces, +, - or brackets.")
        return phone

    def clean_date_of_birth(self):
        value = self.cleaned_data["date_of_birth"]
        if value is not None and value > timezone.localdate():
            raise forms.ValidationError("The date of birth can't be in the future.")
        if value is not None and value < EARLIEST_BIRTH:
            raise forms.ValidationError("Check the year: it is before 1900.")
        return value

    @classmethod
    def initial_for(cls, client) -> dict:
        return {name: getattr(client, name) for name in cls.base_fields}


class ArchiveForm(forms.Form):
    """The confirmation: which way the client should go (guards double submits)."""

    action = forms.ChoiceField(choices=[("archive", "Archive"), ("restore", "Restore")])
