"""Forms of the calendar pages: the calendar's filters, Create appointment, Edit details,
Link package, Cancel.

Forms only parse and validate what staff typed; the rules (overlaps, packages, statuses)
live in the services, whose refusals the views show in these forms.
"""

from __future__ import annotations

import copy
import datetime as dt
import html
import re
from typing import Any, cast

from django import forms
from django.forms.models import ModelChoiceIterator
from django.utils import timezone
from django.utils.safestring import mark_safe

from calendar_app.models import CancellationReason, Location, Practitioner
from calendar_app.selectors import (
    GIVE_BACK_USED_CREDIT,
    UNLINK,
    PlaceFacts,
    booking_choices,
    booking_choices_statement,
    services_provided,
    used_credit_refusal,
    uses_used_credit,
)
from catalog.models import Service
from clients.models import Client
from clients.selectors import current_client
from kernel.money import format_money
from kernel.text import TEXT_MAX_LENGTH
from kernel.time import (
    ambiguous_local_time,
    ambiguous_occurrences,
    missing_local_time,
    occurrence_labels,
)
from kernel.web import QuickSelect
from packages.models import ClientPackage

# Dates outside this window are typing mistakes (and would overflow the date arithmetic).
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2099, 12, 31)

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
EVERY_WEEKS = [(1, "Every week"), (2, "Every 2 weeks"), (3, "Every 3 weeks"), (4, "Every 4 weeks")]
SCOPES = [("this", "This appointment"), ("following", "This and following")]


def local_datetime(day: dt.date, time: dt.time, *, second: bool = False) -> dt.datetime:
    """`day` at `time` on the practice's clock, as an aware datetime (`second`: the second
    time it happens, on the night the clocks go back)."""
    return timezone.make_aware(dt.datetime.combine(day, time).replace(fold=int(second)))


FIRST, SECOND = "first", "second"


def _copy_field(field: Any, memo: dict) -> Any:
    """`Field.__deepcopy__` (the field, its widget and attrs, its messages and
    validators), the widget copied as it is: a choice widget's copy would normalise its
    choices again, option by option (the callers share or replace them)."""
    result = copy.copy(field)
    memo[id(field)] = result
    widget = result.widget = copy.copy(field.widget)
    memo[id(field.widget)] = widget
    widget.attrs = field.widget.attrs.copy()
    result.error_messages = field.error_messages.copy()
    result.validators = field.validators[:]
    return result


class FixedChoices:
    """A choice field whose choices are fixed in the code: kept as a tuple, which the copy
    each form makes of its fields shares instead of deep-copying it (a booking's POST
    copies the 15 fields of Create appointment; issue 10). Choices set later (a list)
    are copied as Django copies them."""

    _choices: Any

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # ChoiceField gave the field and its widget the same normalised list: one tuple.
        self._choices = cast(Any, self).widget._choices = tuple(self._choices)

    def __deepcopy__(self, memo):
        if isinstance(self._choices, tuple):
            return _copy_field(self, memo)  # the tuple shared, by the widget too
        return super().__deepcopy__(memo)  # type: ignore[misc]


class FixedChoiceField(FixedChoices, forms.ChoiceField):
    pass


class FixedTypedChoiceField(FixedChoices, forms.TypedChoiceField):
    pass


class FixedTypedMultipleChoiceField(FixedChoices, forms.TypedMultipleChoiceField):
    pass


def occurrence_field(label: str) -> forms.ChoiceField:
    """Which of the two, for a time that happens twice (the clocks go back): shown only
    then (`AppointmentTimesMixin.asks`), labelled with the two times and zones."""
    return FixedChoiceField(
        label=label,
        choices=[(FIRST, "First"), (SECOND, "Second")],
        widget=forms.RadioSelect,
        required=False,
    )


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


# "Remedial massage (30 min)": a name that already says a duration.
DURATION_IN_NAME = re.compile(r"\s*\(\s*\d+\s*min\s*\)\s*$", re.IGNORECASE)
NO_CATEGORY = "Other services"


def service_label(service: Service) -> str:
    """The service's name with its duration, once: "Remedial massage (30 min)", never
    "Remedial massage (30 min) (30 min)" (a duration in the name gives way to the real one)."""
    base = DURATION_IN_NAME.sub("", service.name).strip() or service.name
    return f"{base} ({service.duration_minutes} min)"


def grouped_service_choices(services, *, empty: str | None) -> list:
    """Choices for a Service <select>: one <optgroup> per category, in the order given
    (category, then name), services without a category last."""
    groups: dict[str, list] = {}
    other: list = []
    for service in services:
        row = (service.pk, service_label(service))
        if service.category_id is None:
            other.append(row)
        else:
            groups.setdefault(service.category.name, []).append(row)
    if other:
        groups[NO_CATEGORY] = other
    choices: list = [("", empty)] if empty is not None else []
    return choices + list(groups.items())


def _pk(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 18 else None


class _LazyModelChoiceIterator(ModelChoiceIterator):
    """ModelChoiceIterator reading its field's queryset only when it lists the choices."""

    def __init__(self, field):
        self.field = field

    @property
    def queryset(self):  # type: ignore[override]
        return self.field.queryset


class PreloadedChoiceField(forms.ModelChoiceField):
    """A choice of an active (not archived) practitioner, location, service or client (or
    any client package) that takes the instance the form already read (`preloaded`) when
    that is the value sent, instead of reading it again (a booking's POST reads them all
    in one query). Anything else is looked up in the queryset as usual.

    Each form's copy of the field shares the declared queryset until it first uses it,
    then takes its own clone (`queryset`), where Django clones it twice for every form:
    a booking's POST, which takes its preloaded choices, never does (issue 10)."""

    preloaded = None
    iterator = _LazyModelChoiceIterator
    _queryset_shared = False

    def __deepcopy__(self, memo):
        # As ModelChoiceField's copy (Field's, then a fresh iterator for the widget),
        # without the clones.
        result = _copy_field(self, memo)
        result._queryset_shared = self._queryset is not None
        result.widget.choices = result.choices
        return result

    def _get_queryset(self):
        if self._queryset_shared:
            self._queryset_shared = False
            self._queryset = self._queryset.all()  # its own, as Django's copy has
        return self._queryset

    def _set_queryset(self, queryset):
        self._queryset_shared = False
        super()._set_queryset(queryset)

    queryset = property(_get_queryset, _set_queryset)

    def to_python(self, value):
        known = self.preloaded
        if (
            known is not None
            and value not in self.empty_values
            and str(value) == str(known.pk)
            and not getattr(known, "archived", False)
        ):
            return known
        return super().to_python(value)


class CurrentClientField(forms.ModelChoiceField):
    """A current (not archived) client, looked up by pk through SQL built once per
    process (`clients.selectors.current_client`) rather than compiled for each request:
    the package part of Create appointment reads it on every change (issue 10). Any value
    that is not a plain pk goes Django's way, and is refused as Django refuses it."""

    def __init__(self, **kwargs):
        super().__init__(queryset=Client.objects.filter(archived=False), **kwargs)

    def to_python(self, value):
        pk = None if isinstance(value, Client) else _pk(value)
        if pk is None:
            return super().to_python(value)
        client = current_client(pk)
        if client is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )
        return client


class ServiceChoiceField(PreloadedChoiceField):
    def label_from_instance(self, obj: Service) -> str:
        return service_label(obj)


class ServiceOfferMixin:
    """The Service list offers only what the chosen practitioner provides at the chosen
    location (calendar_app.selectors.services_provided), grouped by category. The
    queryset still accepts any active service, so a service the practitioner does not
    provide is refused by the booking service with its own message, beside the field.

    `service_note` says when the service chosen before is not offered any more (the
    practitioner or location changed): the list then asks for a service again rather
    than silently selecting another."""

    service_note = ""
    service_dropped = False
    # Set by `offer_services(listed=False)`: the list is made when the form is shown.
    _offer_later: tuple | None = None

    def offer_services(
        self,
        *,
        keep: Service | None = None,
        always_chosen: bool = False,
        listed: bool = True,
        known: tuple[Practitioner | None, Location | None] | None = None,
    ):
        """`listed=False` (a booking's POST, which shows the form again only when it is
        refused): the practitioner and location are read for the fields as usual, but
        the Service list waits for `offer_services_now()` (the view calls it before
        showing the form); the service sent is looked up as any other choice. `known`:
        the practitioner and location sent, already read (None for an id of none)."""
        source = self.data if self.is_bound else self.initial
        practitioner_id, location_id = _pk(source.get("practitioner")), _pk(source.get("location"))
        if known is not None:
            practitioner, location = known
        else:
            practitioner = (
                Practitioner.objects.filter(pk=practitioner_id).first() if practitioner_id else None
            )
            location = Location.objects.filter(pk=location_id).first() if location_id else None
        for name, known in (("practitioner", practitioner), ("location", location)):
            if isinstance(self.fields.get(name), PreloadedChoiceField):
                self.fields[name].preloaded = known
        if not listed:
            self._offer_later = (practitioner, location, keep, always_chosen)
            return
        self._list_services(practitioner, location, keep=keep, always_chosen=always_chosen)

    def offer_services_now(self) -> None:
        """Make the Service list put off by `offer_services(listed=False)`, if it was."""
        if self._offer_later is not None:
            practitioner, location, keep, always_chosen = self._offer_later
            self._offer_later = None
            self._list_services(practitioner, location, keep=keep, always_chosen=always_chosen)

    def _list_services(self, practitioner, location, *, keep, always_chosen) -> None:
        source = self.data if self.is_bound else self.initial
        services = list(services_provided(practitioner, location))
        offered = {service.pk for service in services}
        if keep is not None and keep.pk not in offered:
            services.append(keep)
            offered.add(keep.pk)
        selected = _pk(source.get("service"))
        # The form's own fields take these rather than reading them again.
        self.fields["service"].preloaded = next((x for x in services if x.pk == selected), None)
        show_empty: str | None = None if always_chosen else "Choose a service"
        if selected is not None and selected not in offered:
            dropped = Service.objects.filter(pk=selected).first()
            if dropped is not None and practitioner is not None and location is not None:
                self.service_note = (
                    f"{practitioner} doesn't provide {service_label(dropped)} at {location}: "
                    "choose another service."
                )
            self.service_dropped = True
            # static/js/app.js tells the package part that the service changed.
            self.fields["service"].widget.attrs["data-service-dropped"] = ""
            if not self.is_bound:
                self.initial["service"] = None
            show_empty = "Choose a service"  # never silently select another
        self.fields["service"].choices = grouped_service_choices(services, empty=show_empty)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(
            attrs={"min": EARLIEST.isoformat(), "max": LATEST.isoformat(), **(attrs or {})},
            format="%Y-%m-%d",
        )


class _QuickInput:
    """An <input> rendered as Django's widgets/input.html and attrs.html write it, without
    the template engine (~0.1 ms a field): for the calendar's filter, on every view."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]  # type: ignore[attr-defined]
        parts = [f'<input type="{_escape(widget["type"])}" name="{_escape(widget["name"])}"']
        if widget["value"] is not None:
            parts.append(f' value="{_escape(widget["value"])}"')
        for key, given in widget["attrs"].items():
            if given is not False:
                parts.append(
                    f" {_escape(key)}" if given is True else f' {_escape(key)}="{_escape(given)}"'
                )
        return mark_safe("".join(parts) + ">")  # noqa: S308 - every value escaped above


def _escape(value) -> str:
    return html.escape(str(value))


class _QuickDateInput(_QuickInput, DateInput):
    pass


class _QuickCheckboxInput(_QuickInput, forms.CheckboxInput):
    pass


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
    date = forms.DateField(required=False, widget=_QuickDateInput())
    practitioner = forms.ModelChoiceField(
        queryset=Practitioner.objects.filter(archived=False),
        required=False,
        empty_label="All practitioners",
        widget=QuickSelect,
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(archived=False),
        required=False,
        empty_label="All locations",
        widget=QuickSelect,
    )
    canceled = forms.BooleanField(required=False, label="Show canceled", widget=_QuickCheckboxInput)

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

    client = CurrentClientField(required=False)
    date = forms.DateField(required=False)
    service = forms.ModelChoiceField(
        queryset=Service.objects.filter(archived=False), required=False
    )
    repeat = forms.BooleanField(required=False)
    start_time = forms.TimeField(required=False)
    end_time = forms.TimeField(required=False)
    client_package = forms.IntegerField(required=False, min_value=1, max_value=2**62)
    link_choice = forms.CharField(required=False, max_length=50)

    def clean_date(self):
        return _check_date(self.cleaned_data.get("date"))

    def values(self) -> dict:
        self.is_valid()
        return {name: self.cleaned_data.get(name) for name in self.fields}


class AppointmentTimesMixin:
    """Date, start and optional end on the practice's clock → `starts_at`, `ends_at`.

    A time the clocks skip (daylight saving starts) is refused; a time that happens twice
    (daylight saving ends) is refused until staff choose which one, in `start_occurrence`
    / `end_occurrence` (the forms declare them; the templates show them when `asks`).
    """

    OCCURRENCE_FIELDS = {"start_time": "start_occurrence", "end_time": "end_occurrence"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:  # a bound form asks in clean_times
            self._ask_from_initial()

    def _ask_from_initial(self) -> None:
        """A form shown again (or an appointment being edited) at a time that happens
        twice shows the choice, with the one made (or the appointment's) selected."""
        try:
            day = self.fields["date"].to_python(self.initial.get("date"))
            for name in self.OCCURRENCE_FIELDS:
                time = self.fields[name].to_python(self.initial.get(name))
                if day is not None and time is not None:
                    self.ask_occurrence(name, dt.datetime.combine(day, time))
        except forms.ValidationError:
            return

    @property
    def asks(self) -> set[str]:
        """The occurrence fields to show: their time happens twice."""
        if not hasattr(self, "_asks"):
            self._asks: set[str] = set()
        return self._asks

    def ask_occurrence(self, time_field: str, wall: dt.datetime) -> bool:
        """Show the choice for `time_field` when `wall` happens twice; True if it does."""
        pair = ambiguous_occurrences(wall)
        if pair is None:
            return False
        name = self.OCCURRENCE_FIELDS[time_field]
        first, second = occurrence_labels(pair)
        self.fields[name].choices = [(FIRST, first), (SECOND, second)]
        self.fields[name].required = True  # shown as needed (clean_times checks it)
        self.asks.add(name)
        return True

    def clean_date(self):
        return _check_date(self.cleaned_data.get("date"))

    def clean_times(self, cleaned: dict) -> None:
        day, start, end = cleaned.get("date"), cleaned.get("start_time"), cleaned.get("end_time")
        if day is None or start is None:
            return
        second = {}
        for name, time in (("start_time", start), ("end_time", end)):
            if not time:
                continue
            wall = dt.datetime.combine(day, time)
            # A time the clocks skip would silently become another.
            problem = missing_local_time(wall)
            if problem:
                self.add_error(name, problem)
            elif self.ask_occurrence(name, wall):
                chosen = cleaned.get(self.OCCURRENCE_FIELDS[name])
                if chosen not in (FIRST, SECOND):
                    self.add_error(name, ambiguous_local_time(wall))
                second[name] = chosen == SECOND
        if self.has_error("start_time") or self.has_error("end_time"):
            return
        cleaned["starts_at"] = local_datetime(day, start, second=second.get("start_time", False))
        cleaned["ends_at"] = None
        if end is not None:
            ends_at = local_datetime(day, end, second=second.get("end_time", False))
            if ends_at <= cleaned["starts_at"]:
                self.add_error("end_time", "The end must be after the start.")
                return
            cleaned["ends_at"] = ends_at


# The choices Create appointment's POST reads in one query (`booking_choices`).
CHOICES = ("practitioner", "location", "client", "service", "client_package")


def _choice_ids(data) -> dict[str, int | None]:
    return {name: _pk(data.get(name)) for name in CHOICES}


def booking_choices_ahead(data) -> list[tuple[str, list]]:
    """The read of the choices a booking's POST `data` names, as `AppointmentForm` sends
    it: sent with the form's key (kernel.web.post_once)."""
    return [booking_choices_statement(**_choice_ids(data))]


class AppointmentForm(ServiceOfferMixin, AppointmentTimesMixin, PopupForm):
    """Create appointment: one booking (optionally using a package) or a repeating one."""

    client = PreloadedChoiceField(
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
    practitioner = PreloadedChoiceField(
        queryset=Practitioner.objects.filter(archived=False),
        empty_label="Choose a practitioner",
        widget=QuickSelect,
        error_messages={"required": "Choose a practitioner."},
    )
    location = PreloadedChoiceField(
        queryset=Location.objects.filter(archived=False),
        empty_label="Choose a location",
        widget=QuickSelect,
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
    start_occurrence = occurrence_field("Which start time?")
    end_occurrence = occurrence_field("Which end time?")
    notes = forms.CharField(
        required=False, max_length=TEXT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )
    client_package = PreloadedChoiceField(
        queryset=ClientPackage.objects.all(), required=False, widget=forms.HiddenInput
    )
    repeat = forms.BooleanField(required=False, label="Repeat")
    every_weeks = FixedTypedChoiceField(
        label="How often", choices=EVERY_WEEKS, coerce=int, initial=1, required=False
    )
    weekdays = FixedTypedMultipleChoiceField(
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

    # Whether the practitioner sent has working hours (a bound form: read with its
    # choices); None when not read.
    practitioner_has_hours: bool | None = None
    # What the booking service would otherwise read about the place (a bound form).
    place_facts: PlaceFacts | None = None

    def __init__(self, *args, listed: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.offer_services(listed=listed)
            return
        # A POST: every choice sent (and whether the practitioner has working hours) in
        # one query; the fields take these instead of reading them one by one.
        found = booking_choices(**_choice_ids(self.data))
        for name in CHOICES:
            self.fields[name].preloaded = getattr(found, name)
        self.practitioner_has_hours = found.has_hours
        self.place_facts = found.place
        self.offer_services(listed=listed, known=(found.practitioner, found.location))

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


class EditAppointmentForm(ServiceOfferMixin, AppointmentTimesMixin, PopupForm):
    """Edit details. The client stays: book a new appointment for another client."""

    unlink_package = forms.BooleanField(required=False, label="Remove the package link")
    # Only for an Arrived or Missed appointment (its credit was used): an Admin's reason.
    unlink_reason = forms.CharField(
        label="Reason for giving the credit back",
        required=False,
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="This appointment is marked {status}: its credit was used. The reason is "
        "kept in the package's credit history.",
    )
    service = ServiceChoiceField(
        queryset=Service.objects.filter(archived=False),
        empty_label=None,
        error_messages={"required": "Choose a service."},
    )
    practitioner = PreloadedChoiceField(
        queryset=Practitioner.objects.filter(archived=False), empty_label=None, widget=QuickSelect
    )
    location = PreloadedChoiceField(
        queryset=Location.objects.filter(archived=False), empty_label=None, widget=QuickSelect
    )
    date = forms.DateField(widget=DateInput(), error_messages={"required": "Enter a date."})
    start_time = forms.TimeField(
        label="Start", widget=TimeInput(), error_messages={"required": "Enter a start time."}
    )
    end_time = forms.TimeField(label="End", widget=TimeInput(), required=False)
    start_occurrence = occurrence_field("Which start time?")
    end_occurrence = occurrence_field("Which end time?")
    notes = forms.CharField(
        required=False, max_length=TEXT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )
    scope = forms.ChoiceField(
        label="Change", choices=SCOPES, initial="this", widget=forms.RadioSelect, required=False
    )

    def __init__(self, *args, appointment, user=None, **kwargs):
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
                "start_occurrence": SECOND if start.fold else FIRST,
                "end_occurrence": SECOND if end.fold else FIRST,
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
        # The appointment's own service stays offered while its practitioner and
        # location stay (it may predate the practitioner's services being set up).
        source = self.data if self.is_bound else self.initial
        same_place = _pk(source.get("practitioner")) == appointment.practitioner_id and _pk(
            source.get("location")
        ) == (appointment.location_id)
        self.offer_services(keep=appointment.service if same_place else None, always_chosen=True)
        if appointment.series_id is None:
            del self.fields["scope"]
        if appointment.client_package_id is None:
            del self.fields["unlink_package"]
        # Only an Admin may give back a used credit; for others the service refuses.
        if uses_used_credit(appointment) and (user is None or user.has_perm(GIVE_BACK_USED_CREDIT)):
            field = self.fields["unlink_reason"]
            field.help_text = field.help_text.format(status=appointment.get_status_display())
            # Needed when the link is removed (shown only then); the service checks it too.
            field.required = not self.is_bound or bool(self.data.get("unlink_package"))
            missing = used_credit_refusal(appointment, UNLINK, None)
            if missing is not None:
                field.error_messages["required"] = missing.message
        else:
            del self.fields["unlink_reason"]

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

    charge_fee = forms.BooleanField(required=False, label="Charge the fee")
    # The reason whose rule the popup showed: confirming another reason shows its rule
    # first (issue 13: staff see which rule applies before they confirm).
    rule_seen = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(
        self, *args, appointment, outcome=None, can_waive_fee=False, refresh_url="", **kwargs
    ):
        super().__init__(*args, **kwargs)
        if refresh_url:
            # Choosing a reason shows its rule: the popup is fetched again with it, in
            # place; its boxes are disabled meanwhile, so a tick is never lost to it.
            self.fields["reason"].widget.attrs.update(
                {
                    "hx-get": refresh_url,
                    "hx-trigger": "change",
                    "hx-target": "#cancel-popup",
                    "hx-swap": "outerHTML",
                    "hx-include": "#cancel-popup [name='scope'], #cancel-popup [name='in_modal']",
                    "hx-disabled-elt": "#cancel-popup input[type=checkbox], #cancel-popup button",
                }
            )
        if appointment.series_id is None:
            del self.fields["scope"]
        if appointment.client_package_id is None:
            del self.fields["keep_credit"]
        if outcome is None or outcome.fee is None or not can_waive_fee:
            del self.fields["charge_fee"]
        else:
            self.fields["charge_fee"].label = f"Charge the fee of {format_money(outcome.fee)}"


class MissedForm(PopupForm):
    """Mark Missed: the practice's rule is shown; staff who may edit invoices may waive a
    no-show fee."""

    charge_fee = forms.BooleanField(required=False, label="Charge the fee")

    def __init__(self, *args, outcome, can_waive_fee=False, **kwargs):
        super().__init__(*args, **kwargs)
        if outcome.fee is None or not can_waive_fee:
            del self.fields["charge_fee"]
        else:
            self.fields[
                "charge_fee"
            ].label = f"Charge the no-show fee of {format_money(outcome.fee)}"
            self.fields["charge_fee"].initial = True


# ------------------------------------------------------------------ calendar moves (issue 11)


def _grid_time(value: str, *, label: str) -> dt.datetime:
    """A time the calendar grid sends ("2026-12-07T10:30", the practice's wall clock) as
    an aware datetime. A time the clocks skip, or one they repeat, is refused: a drag
    cannot say which of the two it means (Edit details can)."""
    wall = parse_local_datetime(value)
    if wall is None or wall.tzinfo is not None:
        raise forms.ValidationError(f"The {label} is not a date and time.")
    problem = missing_local_time(wall)
    if problem:
        raise forms.ValidationError(problem)
    if ambiguous_occurrences(wall) is not None:
        raise forms.ValidationError(
            f"{ambiguous_local_time(wall)} Use Edit details to choose which one."
        )
    return local_datetime(wall.date(), wall.time())


class MoveForm(forms.Form):
    """A drag on the calendar: the new start (and, for a resize, the new end), and the
    column's practitioner. `outside_ok` confirms a move outside working hours."""

    start = forms.CharField(max_length=40)
    end = forms.CharField(max_length=40, required=False)
    practitioner = forms.ModelChoiceField(
        queryset=Practitioner.objects.all(),
        required=False,
        error_messages={"invalid_choice": "That practitioner is not in the calendar any more."},
    )
    outside_ok = forms.BooleanField(required=False)
    undo = forms.BooleanField(required=False)

    def clean_start(self):
        return _grid_time(self.cleaned_data["start"], label="start")

    def clean_end(self):
        value = self.cleaned_data.get("end")
        return _grid_time(value, label="end") if value else None

    def changes(self, appointment) -> dict:
        """What the move changes, as `appointment_edit` takes it: the start (the service
        keeps the duration), the end for a resize, the practitioner for another column."""
        data = self.cleaned_data
        changes: dict = {}
        if data["start"] != appointment.starts_at:
            changes["starts_at"] = data["start"]
        end = data.get("end")
        if end is not None and end - data["start"] != appointment.ends_at - appointment.starts_at:
            changes["ends_at"] = end
        practitioner = data.get("practitioner")
        if practitioner is not None and practitioner.pk != appointment.practitioner_id:
            changes["practitioner"] = practitioner
        return changes
