"""The form of Create API key. The rules (name, how far ahead an expiry may be) live in
`practice.api_keys`, which the view calls with the cleaned data."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from catalog.forms import PlainForm


class ApiKeyCreateForm(PlainForm):
    name = forms.CharField(
        max_length=100,
        help_text="What the key is for, e.g. “Booking website” or “Accounting export”.",
        error_messages={"required": "Give the key a name."},
    )
    expires_on = forms.DateField(
        label="Expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The key stops working at the end of this day. Leave empty for a key "
        "that works until it is revoked.",
    )

    def clean_expires_on(self) -> dt.date | None:
        value = self.cleaned_data.get("expires_on")
        if value is not None and value < timezone.localdate():
            raise forms.ValidationError("Choose today or a later date.")
        return value

    def expires_at(self) -> dt.datetime | None:
        """The end of the chosen day in the practice's time zone (midnight after it)."""
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        if day >= dt.date.max - dt.timedelta(days=1):
            return dt.datetime.max.replace(tzinfo=dt.UTC)  # refused by the service
        midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
        return timezone.make_aware(midnight)
