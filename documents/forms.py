"""Forms of the document pages: the address to email a document to, and a statement's
period. They check the input's shape; the rules live in `documents.services`."""

from __future__ import annotations

import datetime as dt

from django import forms

from catalog.forms import PlainForm
from documents.selectors import default_statement_period


class ConfirmForm(PlainForm):
    """Create or revoke a link asks nothing but a confirmation (a POST)."""


class SendForm(PlainForm):
    to = forms.EmailField(
        label="Send to",
        max_length=254,
        required=False,
        help_text="The client's email address unless you type another.",
    )

    def __init__(self, *args, client_email: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].widget.attrs["placeholder"] = client_email or "name@example.com"
        if client_email:
            self.fields["to"].initial = client_email


class PeriodForm(PlainForm):
    layout = [("start", "end")]

    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The period ends before it starts.")
            elif (end - start).days > 3660:
                self.add_error("start", "Choose a period of at most ten years.")
        return data

    def period(self) -> tuple[dt.date, dt.date]:
        """The period asked for, or the default (the last 90 days) when it is invalid."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data["start"], self.cleaned_data["end"]
        return default_statement_period()


def period_form(data) -> PeriodForm:
    """Bound when the request names a period, else showing the default one."""
    if data.get("start") or data.get("end"):
        return PeriodForm(data)
    start, end = default_statement_period()
    return PeriodForm(initial={"start": start, "end": end})
