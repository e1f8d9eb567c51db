"""Forms of the calendar pages: the calendar's filters, Create appointment, Edit details,
Link package, Cancel.

Forms only parse and validate what staff typed; the rules (overlaps, packages, statuses)
live in the services, whose refusals the views show in these forms.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from calendar_app.models import CancellationReason, Location, Practitioner
from catalog.models import Service
from clients.models import Client
from kernel.text import TEXT_MAX_LENGTH
from kernel.time import missing_local_time
from packages.models import ClientPackage

# Dates outside this window are typing mistakes (and would overflow the date arithmetic).
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2099, 12, 31)

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
EVERY_WEEKS = [(1, "Every week"), (2, "Every 2 weeks"), (3, "Every 3 weeks"), (4, "Every 4 weeks")]
SCOPES = [("this", "This appointment"), ("following", "This and following")]


def local_datetime(day: dt.date, time: dt.time) -> dt.datetime:
    """`day` at `time` on the practice's clock, as an aware datetime."""
    return timezone.make_aware(dt.datetime.combine(day, time))


def parse_local_datetime(value: str | None) -> dt.datetime | None:
    """`2026-11-24T10:30` (the `start` query parameter) as a naive local datetime, or None."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = timezone.localtime(parsed).replace(tzinfo=None)
    if not EARLIEST <= parsed.date() <= LATEST:
        return None
    return parsed


def parse_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        parsed = dt.date.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if EARLIEST <= parsed <= LATEST else None


class ServiceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Service) -> str:
        return f"{obj.name} ({obj.duration_minutes} min)"


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(
            attrs={"min": EARLIEST.isoformat(), "max": LATEST.isoformat(), **(attrs or {})},
            format="%Y-%m-%d",
        )


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs=None):
        super().__init__(attrs={"step": 300, **(attrs or {})}, format="%H:%M")


class PopupForm(forms.Form):
    """Forms shown in the popup: ids of their own (appt_*), so they never clash with a
    form of the page behind the popup (a label `for` must find its own field)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "appt_%s")
        super().__init__(*args, **kwargs)


def _check_date(value: dt.date | None) -> dt.date | None:
    if value is not None and not EARLIEST <= value <= LATEST:
        raise forms.ValidationError(
            "Enter a date between %(first)s and %(last)s.",
            params={"first": EARLIEST.year, "last": LATEST.year},
        )
    return value


class CalendarFilterForm(forms.Form):
    """The calendar's query string. Junk values are dropped, never an error page."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "cal_%s")
        super().__init__(*args, **kwargs)

    view = forms.ChoiceField(choices=[("day", "Day"), ("week", "Week")], required=False)
    date = forms.DateField(required=False, widget=DateInput())
    practitioner = forms.ModelChoiceField(
        queryset=Practitioner.objects.filter(archived=False),
        required=False,
        empty_label="All practitioners",
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(archived=False),
        required=False,
        empty_label="All locations",
    )
    canceled = forms.BooleanField(required=False, label="Show canceled")

    def clean_date(self):
        return _check_date(self.cleaned_data.get("date"))

    def values(self) -> dict:
        """The valid filters (invalid ones are ignored)."""
        self.is_valid()
        return {
            "view": self.cleaned_data.get("view") or "day",
            "date": self.cleaned_data.get("date"),
            "practitioner": self.cleaned_data.get("practitioner"),
            "location": self.cleaned_data.get("location"),
            "canceled": bool(self.cleaned_data.get("canceled")),
        }


class PackageAreaForm(forms.Form):
    """The Create appointment values the package part depends on, read leniently: a value
    that does not parse (yet) counts as not chosen."""

    client = forms.ModelChoiceField(queryset=Client.objects.filter(archived=False), required=False)
    date = forms.DateField(required=False)
    service = forms.ModelChoiceField(
        queryset=Service.objects.filter(archived=False), required=False
    )
    repeat = forms.BooleanField(required=False)
    client_package = forms.IntegerField(required=False, min_value=1, max_value=2**62)
    link_choice = forms.CharField(required=False, max_length=50)

    def clean_date(self):
        return _check_date(self.cleaned_data.get("date"))

    def values(self) -> dict:
        self.is_valid()
        return {name: self.cleaned_data.get(name) for name in self.fields}


class AppointmentTimesMixin:
    """Date, start and optional end on the practice's clock → `starts_at`, `ends_at`."""

    def clean_date(self):
        return _check_date(self.cleaned_data.get("date"))

    def clean_times(self, cleaned: dict) -> None:
        day, start, end = cleaned.get("date"), cleaned.get("start_time"), cleaned.get("end_time")
        if day is None or start is None:
            return
        # A time the clocks skip (daylight saving starts) would silently become another.
        for name, time in (("start_time", start), ("end_time", end)):
            problem = missing_local_time(dt.datetime.combine(day, time)) if time else None
            if problem:
                self.add_error(name, problem)
        if self.has_error("start_time") or self.has_error("end_time"):
            return
        cleaned["starts_at"] = local_datetime(day, start)
        cleaned["ends_at"] = None
        if end is not None:
            if end <= start:
                self.add_error("end_time", "The end must be after the start.")
                return
            cleaned["ends_at"] = local_datetime(day, end)


class AppointmentForm(AppointmentTimesMixin, PopupForm):
    """Create appointment: one booking (optionally using a package) or a repeating one."""

    client = forms.ModelChoiceField(
        queryset=Client.objects.filter(archived=False),
        error_messages={
            "required": "Choose a client: type a name or phone number, then pick the client.",
            "invalid_choice": "That client can't be booked; choose another.",
        },
    )
    service = ServiceChoiceField(
        queryset=Service.objects.filter(archived=False),
        empty_label="Choose a service",
        error_messages={"required": "Choose a service."},
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
    date = forms.DateField(widget=DateInput(), error_messages={"required": "Enter a date."})
    start_time = forms.TimeField(
        label="Start", widget=TimeInput(), error_messages={"required": "Enter a start time."}
    )
    end_time = forms.TimeField(
        label="End",
        required=False,
        widget=TimeInput(),
        help_text="Leave empty to use the service's duration.",
    )
    notes = forms.CharField(
        required=False, max_length=TEXT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )
    client_package = forms.ModelChoiceField(
        queryset=ClientPackage.objects.all(), required=False, widget=forms.HiddenInput
    )
    repeat = forms.BooleanField(required=False, label="Repeat")
    every_weeks = forms.TypedChoiceField(
        label="How often", choices=EVERY_WEEKS, coerce=int, initial=1, required=False
    )
    weekdays = forms.TypedMultipleChoiceField(
        label="On",
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    count = forms.IntegerField(
        label="Occurrences",
        min_value=1,
        max_value=104,
        initial=6,
        required=False,
        help_text="How many appointments in total (up to 104).",
    )

    def clean(self):
        cleaned = super().clean()
        self.clean_times(cleaned)
        if cleaned.get("repeat"):
            # DOMAIN.md: packages cannot be applied to any appointment of a series.
            cleaned["client_package"] = None
            if not cleaned.get("weekdays"):
                self.add_error("weekdays", "Choose at least one weekday.")
            if not cleaned.get("count"):
                self.add_error("count", "Enter how many appointments to book (1 to 104).")
            cleaned["every_weeks"] = cleaned.get("every_weeks") or 1
        package, client = cleaned.get("client_package"), cleaned.get("client")
        if package is not None and client is not None and package.client_id != client.pk:
            cleaned["client_package"] = None
            self.add_error(
                None, "That package belongs to another client; choose the package again."
            )
        return cleaned


class EditAppointmentForm(AppointmentTimesMixin, PopupForm):
    """Edit details. The client stays: book a new appointment for another client."""

    unlink_package = forms.BooleanField(required=False, label="Remove the package link")
    service = ServiceChoiceField(queryset=Service.objects.filter(archived=False), empty_label=None)
    practitioner = forms.ModelChoiceField(
        queryset=Practitioner.objects.filter(archived=False), empty_label=None
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(archived=False), empty_label=None
    )
    date = forms.DateField(widget=DateInput(), error_messages={"required": "Enter a date."})
    start_time = forms.TimeField(
        label="Start", widget=TimeInput(), error_messages={"required": "Enter a start time."}
    )
    end_time = forms.TimeField(label="End", widget=TimeInput(), required=False)
    notes = forms.CharField(
        required=False, max_length=TEXT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )
    scope = forms.ChoiceField(
        label="Change", choices=SCOPES, initial="this", widget=forms.RadioSelect, required=False
    )

    def __init__(self, *args, appointment, **kwargs):
        self.appointment = appointment
        start = timezone.localtime(appointment.starts_at)
        end = timezone.localtime(appointment.ends_at)
        kwargs.setdefault(
            "initial",
            {
                "service": appointment.service_id,
                "practitioner": appointment.practitioner_id,
                "location": appointment.location_id,
                "date": start.date(),
                "start_time": start.time().replace(second=0, microsecond=0),
                "end_time": end.time().replace(second=0, microsecond=0),
                "notes": appointment.notes,
                "scope": "this",
            },
        )
        super().__init__(*args, **kwargs)
        # An archived service/practitioner/location the appointment already has stays
        # selectable, so other details can still be edited.
        for name, model in (
            ("service", Service),
            ("practitioner", Practitioner),
            ("location", Location),
        ):
            current = getattr(appointment, f"{name}_id")
            self.fields[name].queryset = model.objects.filter(
                archived=False
            ) | model.objects.filter(pk=current)
        if appointment.series_id is None:
            del self.fields["scope"]
        if appointment.client_package_id is None:
            del self.fields["unlink_package"]

    def clean(self):
        cleaned = super().clean()
        self.clean_times(cleaned)
        return cleaned

    def changes(self) -> dict:
        """Only what changed, so "this and following" moves the others by the same offset
        and keeps their durations unless the end or the service was changed."""
        data, appointment = self.cleaned_data, self.appointment
        changes: dict = {}
        for name in ("service", "practitioner", "location"):
            if data[name].pk != getattr(appointment, f"{name}_id"):
                changes[name] = data[name]
        if data["notes"] != appointment.notes:
            changes["notes"] = data["notes"]
        if data["starts_at"] != appointment.starts_at:
            changes["starts_at"] = data["starts_at"]
        ends_at = data.get("ends_at")
        new_start = data["starts_at"]
        if (
            ends_at is not None
            and ends_at - new_start != appointment.ends_at - appointment.starts_at
        ):
            changes["ends_at"] = ends_at
        return changes


class LinkPackageForm(PopupForm):
    """Link package: one choice "<client package>:<service>" (the package, then the
    Service it covers)."""

    link_choice = forms.CharField(
        error_messages={"required": "Select a package, then the service it covers."}
    )

    def __init__(self, *args, client_id: int, **kwargs):
        self.client_id = client_id
        super().__init__(*args, **kwargs)

    def clean_link_choice(self):
        package, service = parse_link_choice(self.cleaned_data["link_choice"], self.client_id)
        if package is None:
            raise forms.ValidationError("Select a package, then the service it covers.")
        self.cleaned_data["client_package"] = package
        self.cleaned_data["service"] = service
        return self.cleaned_data["link_choice"]


def parse_link_choice(value: str | None, client_id: int | None):
    """("12:3") → (client package 12 of that client, service 3 it covers), or (None, None)."""
    if not value or client_id is None:
        return None, None
    try:
        package_id, service_id = (int(part) for part in value.split(":", 1))
    except ValueError:
        return None, None
    package = (
        ClientPackage.objects.filter(pk=package_id, client_id=client_id)
        .prefetch_related("services__service")
        .first()
    )
    if package is None:
        return None, None
    covered = next((s for s in package.services.all() if s.service_id == service_id), None)
    if covered is None:
        return None, None
    return package, covered.service


class CancelForm(PopupForm):
    reason = forms.ModelChoiceField(
        label="Cancellation reason",
        queryset=CancellationReason.objects.filter(archived=False),
        empty_label="Choose a reason",
        error_messages={"required": "Choose a cancellation reason."},
    )
    keep_credit = forms.BooleanField(
        required=False, label="Keep the package credit (late cancellation)"
    )
    scope = forms.ChoiceField(
        label="Cancel", choices=SCOPES, initial="this", widget=forms.RadioSelect, required=False
    )

    def __init__(self, *args, appointment, **kwargs):
        super().__init__(*args, **kwargs)
        if appointment.series_id is None:
            del self.fields["scope"]
        if appointment.client_package_id is None:
            del self.fields["keep_credit"]
