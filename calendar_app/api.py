"""API v1: the calendar (`locations/`, `practitioners/`, `cancellation-reasons/`,
`appointments/`).

The practice's lists are added to through `practice.services` (the settings pages' own
services).

Every appointment write is a `calendar_app.services` (or `packages.services`) call with
`by=request.user`; the services hold the rules (overlaps, matching packages, series,
cancellation) and refuse with a `DomainError` (409).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from calendar_app import services
from calendar_app.models import (
    Appointment,
    AppointmentStatus,
    CancellationReason,
    Location,
    Practitioner,
)
from catalog.models import Service
from clients.api import ClientReadsLogged
from clients.models import Client
from invoicing.api import InvoiceOut, invoice_for_output
from invoicing.services import (
    appointment_cancel_by_rules,
    appointment_missed_by_rules,
    invoice_for_appointment,
)
from kernel.api.fields import EARLIEST_YEAR, LATEST_YEAR, InputDateTime, InputModelSerializer
from kernel.api.filters import InstantFilter, OrderingFilter, UpdatedSinceFilter
from kernel.api.schema import refusal
from kernel.api.viewsets import ApiViewSet, ReferenceViewSet, reference_filter, reference_schema
from kernel.text import TEXT_MAX_LENGTH
from packages.models import ClientPackage

# ---------------------------------------------------------------- reference lists


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Richmond Clinic",
            value={
                "id": 1,
                "name": "Richmond Clinic",
                "address": "12 Swan Street, Richmond VIC 3121",
                "archived": False,
                "updated_at": "2026-03-02T10:15:00+11:00",
            },
        )
    ]
)
class LocationOut(serializers.ModelSerializer):
    """A place where the practice sees clients."""

    class Meta:
        model = Location
        fields = ["id", "name", "address", "archived", "updated_at"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Richmond Clinic",
            value={"name": "Richmond Clinic", "address": "12 Swan Street, Richmond VIC 3121"},
        )
    ]
)
class LocationIn(InputModelSerializer):
    """A new location."""

    class Meta:
        model = Location
        fields = ["name", "address"]


@reference_schema("locations", LocationOut, LocationIn)
class LocationViewSet(ReferenceViewSet):
    queryset = Location.objects.order_by("name", "id")
    serializer_class = LocationOut
    input_serializer = LocationIn
    filterset_class = reference_filter(Location)
    create_with = services.location_create


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Sam Lee",
            value={
                "id": 3,
                "name": "Sam Lee",
                "colour": "#2f7d6d",
                "provider_number": "2456781A",
                "archived": False,
                "updated_at": "2026-03-02T10:15:00+11:00",
            },
        )
    ]
)
class PractitionerOut(serializers.ModelSerializer):
    """A person who sees clients (a physiotherapist, a massage therapist...)."""

    class Meta:
        model = Practitioner
        fields = ["id", "name", "colour", "provider_number", "archived", "updated_at"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Sam Lee", value={"name": "Sam Lee", "colour": "#2f7d6d", "provider_number": "2456781A"}
        )
    ]
)
class PractitionerIn(InputModelSerializer):
    """A new practitioner."""

    colour = serializers.CharField(
        required=False,
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}\Z", "Enter a colour such as #2f7d6d.")],
    )

    class Meta:
        model = Practitioner
        fields = ["name", "colour", "provider_number"]


@reference_schema("practitioners", PractitionerOut, PractitionerIn)
class PractitionerViewSet(ReferenceViewSet):
    queryset = Practitioner.objects.order_by("name", "id")
    serializer_class = PractitionerOut
    input_serializer = PractitionerIn
    filterset_class = reference_filter(Practitioner)
    create_with = services.practitioner_create


REASON_RULE = ["notice_hours", "late_action", "fee_kind", "fee_value"]


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Late cancellation",
            value={
                "id": 4,
                "name": "Sick",
                "archived": False,
                "notice_hours": 24,
                "late_action": "fee",
                "fee_kind": "fixed",
                "fee_value": "40.00",
                "updated_at": "2026-03-02T10:15:00+11:00",
            },
        )
    ]
)
class CancellationReasonOut(serializers.ModelSerializer):
    """A reason for canceling an appointment, with its rule for late cancellations."""

    class Meta:
        model = CancellationReason
        fields = ["id", "name", "archived", *REASON_RULE, "updated_at"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Late cancellation fee",
            value={
                "name": "Sick",
                "notice_hours": 24,
                "late_action": "fee",
                "fee_kind": "fixed",
                "fee_value": "40.00",
            },
        )
    ]
)
class CancellationReasonIn(InputModelSerializer):
    """A reason and its rule: canceled less than `notice_hours` before the start (null: no
    window), `late_action` applies; a fee is `fee_value`, an amount or a percentage of the
    service's price by `fee_kind`."""

    class Meta:
        model = CancellationReason
        fields = ["name", *REASON_RULE]
        # Unique names (in any case) are the service's rule: 409 name_taken.
        extra_kwargs = {"name": {"validators": []}}


@reference_schema("cancellation reasons", CancellationReasonOut, CancellationReasonIn)
class CancellationReasonViewSet(ReferenceViewSet):
    queryset = CancellationReason.objects.order_by("name", "id")
    serializer_class = CancellationReasonOut
    input_serializer = CancellationReasonIn
    filterset_class = reference_filter(CancellationReason)
    create_with = services.cancellation_reason_create


# ---------------------------------------------------------------------- appointments


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Follow-up using a package credit",
            value={
                "id": 981,
                "client": 42,
                "practitioner": 3,
                "location": 1,
                "service": 3,
                "starts_at": "2026-03-10T09:00:00+11:00",
                "ends_at": "2026-03-10T09:30:00+11:00",
                "status": "booked",
                "client_package": 118,
                "series": None,
                "class_session": None,
                "notes": "Left knee, week 3 of rehab.",
                "cancellation_reason": None,
                "kept_credit": False,
                "updated_at": "2026-03-02T10:15:00+11:00",
            },
        )
    ]
)
class AppointmentOut(serializers.ModelSerializer):
    """An appointment: who, with whom, where, when, for which service, its status and the client package it uses (if any)."""

    class_session = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text=(
            "For an attendee of a class (a service with `capacity` > 1): the id of the class "
            "session it shares with the other attendees (same practitioner, location, "
            "service, `starts_at` and `ends_at`); list them with `?class_session=`. "
            "Null for an ordinary appointment."
        ),
    )

    class Meta:
        model = Appointment
        fields = [
            "id",
            "client",
            "practitioner",
            "location",
            "service",
            "starts_at",
            "ends_at",
            "status",
            "client_package",
            "series",
            "class_session",
            "notes",
            "cancellation_reason",
            "kept_credit",
            "updated_at",
        ]
        read_only_fields = fields


class RepeatIn(serializers.Serializer):
    """How a booking repeats: every 1 to 4 weeks, on the given weekdays, a number of times."""

    every_weeks = serializers.IntegerField(min_value=1, max_value=4)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        allow_empty=False,
        max_length=7,
        help_text="0 = Monday … 6 = Sunday.",
    )
    count = serializers.IntegerField(min_value=1, max_value=104)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Book and use a package credit",
            value={
                "client": 42,
                "practitioner": 3,
                "location": 1,
                "service": 3,
                "starts_at": "2026-03-10T09:00:00+11:00",
                "notes": "Left knee, week 3 of rehab.",
                "client_package": 118,
            },
        ),
        OpenApiExample(
            "Weekly for six weeks",
            value={
                "client": 42,
                "practitioner": 3,
                "location": 1,
                "service": 3,
                "starts_at": "2026-03-10T09:00:00+11:00",
                "repeat": {"every_weeks": 1, "weekdays": [1], "count": 6},
            },
        ),
    ]
)
class AppointmentIn(serializers.Serializer):
    """A booking. With `client_package` the appointment is linked at once and uses one credit."""

    client = serializers.PrimaryKeyRelatedField(queryset=Client.objects.all())
    practitioner = serializers.PrimaryKeyRelatedField(queryset=Practitioner.objects.all())
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all())
    service = serializers.PrimaryKeyRelatedField(queryset=Service.objects.all())
    starts_at = InputDateTime()
    ends_at = InputDateTime(
        required=False, allow_null=True, help_text="Default: start + the service's duration."
    )
    notes = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=TEXT_MAX_LENGTH
    )
    client_package = serializers.PrimaryKeyRelatedField(
        queryset=ClientPackage.objects.all(),
        required=False,
        allow_null=True,
        help_text="Link this client package at once (one credit is consumed).",
    )
    repeat = RepeatIn(
        required=False,
        allow_null=True,
        help_text=(
            "Book a repeating series instead: every 1-4 weeks on the weekdays, `count` "
            "times. Packages cannot be applied to repeating appointments "
            "(409 `repeating_appointment`)."
        ),
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Move it",
            value={
                "starts_at": "2026-03-11T14:00:00+11:00",
                "ends_at": "2026-03-11T14:30:00+11:00",
            },
        )
    ]
)
class AppointmentEditIn(serializers.Serializer):
    """The details of an appointment to change; fields left out stay as they are."""

    client = serializers.PrimaryKeyRelatedField(queryset=Client.objects.all(), required=False)
    practitioner = serializers.PrimaryKeyRelatedField(
        queryset=Practitioner.objects.all(), required=False
    )
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all(), required=False)
    service = serializers.PrimaryKeyRelatedField(queryset=Service.objects.all(), required=False)
    starts_at = InputDateTime(required=False)
    ends_at = InputDateTime(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX_LENGTH)
    scope = serializers.ChoiceField(
        choices=[("this", "This appointment"), ("following", "This and following")],
        default="this",
        help_text="For a repeating appointment: change only this one, or this and following.",
    )

    NOT_EDITABLE = {
        "client_package": (
            "Link or unlink a package with appointments/{id}/link/ and unlink/ "
            "(or unlink-and-edit/)."
        ),
        "status": "Use appointments/{id}/cancel/, arrived/ or missed/ to change the status.",
        "series": "The series of an appointment cannot be changed.",
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(self.initial_data, dict):
            errors = {k: [v] for k, v in self.NOT_EDITABLE.items() if k in self.initial_data}
            if errors:
                raise serializers.ValidationError(errors)
        return attrs


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Admin giving a used credit back",
            value={"reason": "Client was seen for free after a clinic delay."},
        )
    ]
)
class UnlinkIn(serializers.Serializer):
    """Why a used credit is given back (required only to unlink an Arrived or Missed appointment, Admin only)."""

    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=TEXT_MAX_LENGTH,
        help_text=(
            "Needed to unlink an Arrived or Missed appointment (Admin only): its credit was "
            "used; the reason is recorded in the ledger row that gives it back."
        ),
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Change the service", value={"service": 2, "ends_at": "2026-03-10T10:00:00+11:00"}
        )
    ]
)
class UnlinkAndEditIn(AppointmentEditIn):
    """The details to change after unlinking the package; fields left out stay as they are."""

    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=TEXT_MAX_LENGTH,
        help_text=(
            "Needed to unlink an Arrived or Missed appointment (Admin only): its credit was "
            "used; the reason is recorded in the ledger row that gives it back."
        ),
    )


@extend_schema_serializer(
    examples=[OpenApiExample("Use the Physio Starter Pack", value={"client_package": 118})]
)
class LinkIn(serializers.Serializer):
    """The client package to use for the appointment (one credit)."""

    client_package = serializers.PrimaryKeyRelatedField(queryset=ClientPackage.objects.all())
    service = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.all(),
        required=False,
        allow_null=True,
        help_text="The package's service being booked, when not the appointment's own.",
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Client is sick", value={"reason": 4, "keep_credit": None, "charge_fee": None}
        )
    ]
)
class CancelIn(serializers.Serializer):
    """The cancellation reason, whose rule decides what happens to the credit and whether a fee is charged."""

    reason = serializers.PrimaryKeyRelatedField(
        queryset=CancellationReason.objects.all(), help_text="A cancellation reason's id."
    )
    keep_credit = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "Omitted or null: the reason's rule decides (inside its notice window: release, "
            "keep, or charge a fee, which releases). true/false overrides it for a linked "
            "appointment: the package credit stays consumed, or goes back."
        ),
    )
    charge_fee = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "Omitted or null: charge the fee when the rule does. false waives it (only staff "
            "who may edit invoices; 403 otherwise)."
        ),
    )
    scope = serializers.ChoiceField(
        choices=[("this", "This appointment"), ("following", "This and following")],
        default="this",
    )


@extend_schema_serializer(
    examples=[OpenApiExample("Charge the no-show fee", value={"charge_fee": True})]
)
class MissedIn(serializers.Serializer):
    """Whether to charge the practice's no-show fee."""

    charge_fee = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "Omitted or null: the practice's rule for Missed decides (keep the credit, or "
            "charge a fee, which releases it). false waives the fee (staff who may edit "
            "invoices)."
        ),
    )


class AppliedOut(serializers.Serializer):
    """What the cancellation or no-show rule did."""

    rule = serializers.ChoiceField(
        choices=["no_window", "outside_window", "inside_window", "missed", "already_missed"]
    )
    why = serializers.CharField(help_text="The sentence the popup shows, with any override.")
    kept_credit = serializers.BooleanField()
    fee = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    invoice = serializers.IntegerField(
        source="invoice.pk", allow_null=True, default=None, help_text="The fee's Draft invoice."
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Late cancellation: fee charged",
            value={
                "id": 981,
                "client": 42,
                "practitioner": 3,
                "location": 1,
                "service": 3,
                "starts_at": "2026-03-10T09:00:00+11:00",
                "ends_at": "2026-03-10T09:30:00+11:00",
                "status": "canceled",
                "client_package": None,
                "series": None,
                "class_session": None,
                "notes": "Left knee, week 3 of rehab.",
                "cancellation_reason": 4,
                "kept_credit": False,
                "updated_at": "2026-03-02T10:15:00+11:00",
                "applied": {
                    "rule": "inside_window",
                    "why": "Canceled 6 hours before the start (the notice is 24 hours).",
                    "kept_credit": False,
                    "fee": "40.00",
                    "invoice": 306,
                },
            },
        )
    ]
)
class AppointmentAppliedOut(AppointmentOut):
    """The appointment after the change, and what the practice's rule did."""

    applied = serializers.SerializerMethodField()

    class Meta(AppointmentOut.Meta):
        fields = [*AppointmentOut.Meta.fields, "applied"]
        read_only_fields = fields

    @extend_schema_field(AppliedOut)
    def get_applied(self, obj):
        return AppliedOut(self.context["applied"]).data


class DateOrDateTimeField(forms.Field):
    """A date-time (ISO 8601; without an offset in the practice's time zone) or a date.

    A date means the start of that day, or for `end_of_day` the end of it, so
    `?start=2026-12-01&end=2026-12-07` is the whole week.
    """

    default_error_messages = {
        "invalid": "Enter a date (YYYY-MM-DD) or an ISO 8601 date-time.",
        "out_of_range": f"Enter a date between {EARLIEST_YEAR} and {LATEST_YEAR}.",
    }

    def __init__(self, *, end_of_day: bool = False, **kwargs):
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip()
        try:
            # A date first: parse_datetime would read "2026-12-01" as its midnight.
            day = parse_date(text)
            parsed = None if day is not None else parse_datetime(text)
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if parsed is None and day is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        year = (parsed or day).year
        if not EARLIEST_YEAR <= year <= LATEST_YEAR:
            raise ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        if parsed is None:
            if self.end_of_day:
                day += dt.timedelta(days=1)
            parsed = dt.datetime.combine(day, dt.time())
        if timezone.is_naive(parsed):
            return timezone.make_aware(parsed)
        # In UTC: PostgreSQL refuses offsets beyond 15:59 that ISO 8601 allows (-19:23).
        return parsed.astimezone(dt.UTC)


class DateOrDateTimeFilter(django_filters.Filter):
    field_class = DateOrDateTimeField


@extend_schema_field(
    {
        "type": "string",
        "description": (
            "Appointments that end after this moment: an ISO 8601 date-time, or a date "
            "(YYYY-MM-DD: the start of that day)."
        ),
    }
)
class StartFilter(DateOrDateTimeFilter):
    pass


@extend_schema_field(
    {
        "type": "string",
        "description": (
            "Appointments that start before this moment: an ISO 8601 date-time, or a date "
            "(YYYY-MM-DD: the end of that day)."
        ),
    }
)
class EndFilter(DateOrDateTimeFilter):
    pass


class AppointmentFilter(django_filters.FilterSet):
    client = django_filters.ModelChoiceFilter(queryset=Client.objects.all())
    practitioner = django_filters.ModelChoiceFilter(queryset=Practitioner.objects.all())
    location = django_filters.ModelChoiceFilter(queryset=Location.objects.all())
    status = django_filters.ChoiceFilter(choices=AppointmentStatus.choices)
    class_session = django_filters.NumberFilter(
        field_name="class_session",
        help_text="The attendees of one class session (its id, `class_session` of any of them).",
    )
    start = StartFilter(field_name="ends_at", lookup_expr="gt")
    end = EndFilter(field_name="starts_at", lookup_expr="lt", end_of_day=True)
    start_after = InstantFilter(
        field_name="starts_at",
        lookup_expr="gte",
        label="Appointments that start at or after this moment (ISO 8601 date-time).",
    )
    start_before = InstantFilter(
        field_name="starts_at",
        lookup_expr="lt",
        label="Appointments that start before this moment (ISO 8601 date-time).",
    )
    updated_since = UpdatedSinceFilter()
    ordering = OrderingFilter(fields=["starts_at", "updated_at", "id"])

    class Meta:
        model = Appointment
        fields = [
            "client",
            "practitioner",
            "location",
            "status",
            "class_session",
            "start",
            "end",
            "start_after",
            "start_before",
            "updated_since",
        ]


def _appointment(pk: int) -> Appointment:
    return Appointment.objects.get(pk=pk)


@extend_schema_view(
    list=extend_schema(
        summary="List appointments",
        description="The calendar's appointments, earliest first. Filter by client, practitioner, location, status, a time range (`start`/`end`, or `start_after`/`start_before`) or `updated_since` to fetch only what changed.",
        responses=AppointmentOut,
    ),
    retrieve=extend_schema(
        summary="Get an appointment",
        description="One appointment, with its status and the client package it uses.",
        responses=AppointmentOut,
    ),
    create=extend_schema(
        summary="Book an appointment (or a repeating series)",
        description=(
            "Books one appointment; with `client_package` it is linked at once (one credit "
            "consumed, in the same transaction). With `repeat` a series is booked (all or "
            "nothing) and the response is its first appointment (its `series` is set). "
            "For a class (a service with `capacity` > 1) the appointment is one attendee: "
            "attendees with the same practitioner, location, service, `starts_at` and "
            "`ends_at` share a class session (`class_session`). When it has no place left: "
            "409 `class_full` (“This class is full (8 of 8).”); a client already in it: "
            "409 `already_attending`."
        ),
        request=AppointmentIn,
        responses={201: AppointmentOut},
        examples=[
            refusal(
                "Practitioner busy",
                "overlap",
                "Sam Lee already has an appointment at that time (Tue 10 Mar, 9:00 am).",
            ),
            refusal("Class full", "class_full", "This class is full (8 of 8)."),
        ],
    ),
    partial_update=extend_schema(
        summary="Edit an appointment's details",
        description="Not `client_package` (use link/unlink), not `status` (use the actions).",
        request=AppointmentEditIn,
        responses=AppointmentOut,
    ),
    destroy=extend_schema(
        summary="Delete an appointment booked by mistake",
        description="Removes an appointment that should never have been booked (a linked package's credit is released). To record that a client canceled, use `cancel/` instead. Refused with 409 when it is on an invoice (`appointment_invoiced`) or, linked to a package, marked Arrived or Missed (`credit_used`).",
    ),
)
class AppointmentViewSet(
    ClientReadsLogged, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet
):
    queryset = Appointment.objects.order_by("starts_at", "id")
    serializer_class = AppointmentOut
    filterset_class = AppointmentFilter
    action_permissions = {
        "link": ("packages.link_clientpackage",),
        "unlink": ("packages.link_clientpackage",),
        "unlink_and_edit": ("calendar_app.change_appointment", "packages.link_clientpackage"),
        "cancel": ("calendar_app.change_appointment",),
        "arrived": ("calendar_app.change_appointment",),
        "missed": ("calendar_app.change_appointment",),
        "invoice": ("invoicing.add_invoice",),
    }

    def create(self, request):
        data = self.validated(AppointmentIn)
        repeat = data.pop("repeat", None)
        client_package = data.pop("client_package", None)
        data["ends_at"] = data.get("ends_at") or None
        if repeat is None:
            appointment = services.appointment_book(
                **data, client_package=client_package, by=request.user
            )
        else:
            series = services.appointment_book_series(
                **data, **repeat, client_package=client_package, by=request.user
            )
            appointment = series.appointments.order_by("starts_at", "id").first()
        return self.respond(AppointmentOut, appointment, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        appointment = self.get_object()
        data = self.validated(AppointmentEditIn)
        scope = data.pop("scope")
        appointment = services.appointment_edit(
            appointment=appointment, scope=scope, by=request.user, **data
        )
        return self.respond(AppointmentOut, _appointment(appointment.pk))

    def destroy(self, request, pk=None):
        services.appointment_delete(appointment=self.get_object(), by=request.user)
        return self.respond_no_content()

    @extend_schema(
        summary="Link a client package",
        description="Uses one credit of the client's package for this appointment. Find the packages that fit with `GET /api/v1/client-packages/matches/`. Refused with 409: `already_linked` (the appointment already uses a package: unlink it first), `no_credits_left`, `package_expired`, `package_not_eligible` (not this client's, or not for this service), `repeating_appointment`.",
        request=LinkIn,
        responses=AppointmentOut,
        examples=[
            refusal(
                "Already linked",
                "already_linked",
                "This appointment is already linked to Physio Starter Pack.",
            ),
            refusal(
                "No credits left", "no_credits_left", "No credits left in Physio Starter Pack."
            ),
        ],
    )
    @action(detail=True, methods=["post"])
    def link(self, request, pk=None):
        appointment = self.get_object()
        data = self.validated(LinkIn)
        services.appointment_link(appointment=appointment, **data, by=request.user)
        return self.respond(AppointmentOut, _appointment(appointment.pk))

    @extend_schema(
        summary="Unlink the package (its credit is released)",
        description=(
            "An Arrived or Missed appointment used its credit: unlinking it is refused with "
            "409 `credit_used`, except for an Admin giving a `reason` (400 `reason` when "
            "missing), which is recorded in the ledger."
        ),
        request=UnlinkIn,
        responses=AppointmentOut,
        examples=[
            refusal(
                "Credit used",
                "credit_used",
                "This appointment is marked Arrived: its package credit was used. An Admin "
                "can unlink it, giving a reason.",
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def unlink(self, request, pk=None):
        appointment = self.get_object()
        data = self.validated(UnlinkIn)
        appointment = services.appointment_unlink(
            appointment=appointment, reason=data["reason"], by=request.user
        )
        return self.respond(AppointmentOut, _appointment(appointment.pk))

    @extend_schema(
        summary="Unlink the package and edit the details, both or neither",
        description=(
            "What the page's “Edit details” does with the X beside the linked package: the "
            "package is unlinked (its credit released) and the details are changed in one "
            "transaction, so the edit is free of the package's rules (another client, an "
            "uncovered service, a date after the expiry). The body is the same as for "
            "editing (every field optional; none only unlinks), plus `reason` for an Arrived "
            "or Missed appointment (Admin only, as for unlink/). Refused with 409 and "
            "nothing changed: `not_linked` (no package to unlink), `appointment_canceled`, "
            "`credit_used`, or any refusal of the edit itself (`overlap`, `invalid_time`, ...)."
        ),
        request=UnlinkAndEditIn,
        responses=AppointmentOut,
    )
    @action(detail=True, methods=["post"], url_path="unlink-and-edit")
    def unlink_and_edit(self, request, pk=None):
        appointment = self.get_object()
        data = self.validated(UnlinkAndEditIn)
        scope = data.pop("scope")
        appointment = services.appointment_unlink_and_edit(
            appointment=appointment, scope=scope, by=request.user, **data
        )
        return self.respond(AppointmentOut, _appointment(appointment.pk))

    def _applied(self, applied) -> Response:
        out = AppointmentAppliedOut(
            _appointment(applied.appointment.pk),
            context={**self.get_serializer_context(), "applied": applied},
        )
        return Response(out.data)

    @extend_schema(
        summary="Cancel, applying the reason's rule",
        description=(
            "The reason's notice window decides what happens to a linked appointment's "
            "credit and whether a fee goes on a new Draft invoice (the rules are set per "
            "cancellation reason in Settings); `applied` reports what happened. A past appointment: 409 "
            "`past_appointment` (mark it Missed)."
        ),
        request=CancelIn,
        responses=AppointmentAppliedOut,
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        appointment = self.get_object()
        data = self.validated(CancelIn)
        applied = appointment_cancel_by_rules(appointment=appointment, **data, by=request.user)
        return self._applied(applied)

    @extend_schema(
        summary="Mark Arrived",
        description="The client came. A linked package's credit stays used. Refused with 409 for a canceled appointment (`appointment_canceled`) or one that has not started yet (`not_yet`).",
        request=None,
        responses=AppointmentOut,
    )
    @action(detail=True, methods=["post"])
    def arrived(self, request, pk=None):
        appointment = services.appointment_mark_arrived(
            appointment=self.get_object(), by=request.user
        )
        return self.respond(AppointmentOut, appointment)

    @extend_schema(
        summary="Mark Missed (no-show), applying the practice's rule",
        description=(
            "Keeps the credit, or charges the practice's no-show fee on a new Draft invoice "
            "(the credit then goes back); `applied` reports it. Marking it again changes "
            "and charges nothing (`rule` `already_missed`)."
        ),
        request=MissedIn,
        responses=AppointmentAppliedOut,
    )
    @action(detail=True, methods=["post"])
    def missed(self, request, pk=None):
        appointment = self.get_object()
        data = self.validated(MissedIn)
        applied = appointment_missed_by_rules(appointment=appointment, **data, by=request.user)
        return self._applied(applied)

    @extend_schema(
        summary="Create the appointment's Draft invoice",
        description="Creates a Draft invoice for the appointment's service (not for one paid by a package credit). While the appointment is on an invoice that is not void: 409 `already_invoiced` with that invoice's id in `invoice`.",
        request=None,
        responses={201: InvoiceOut},
    )
    @action(detail=True, methods=["post"])
    def invoice(self, request, pk=None):
        invoice = invoice_for_appointment(appointment=self.get_object(), by=request.user)
        return self.respond(InvoiceOut, invoice_for_output(invoice.pk), status.HTTP_201_CREATED)
