"""The calendar: locations, practitioners and appointments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateTimeRangeField, RangeOperators
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Func, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog.models import MONEY
from kernel.audit import audited
from kernel.changes import updated_at_trigger
from practice.models import FeeKind, LateAction

# The longest appointment (services refuse longer; a constraint holds it).
MAX_LENGTH = dt.timedelta(hours=24)


@audited()
class Location(models.Model):
    name = models.CharField(max_length=200)
    address = models.TextField(blank=True)
    archived = models.BooleanField(default=False)

    # When the row last changed: set by a database trigger on every UPDATE (kernel.changes).
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        triggers = [updated_at_trigger()]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


@audited()
class Practitioner(models.Model):
    """A staff member with a calendar (optionally a user who signs in)."""

    name = models.CharField(max_length=200)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="practitioner",
    )
    colour = models.CharField(max_length=7, default="#2f7d6d")
    archived = models.BooleanField(default=False)
    # Issue 13: printed on invoices (health-fund claims need it).
    provider_number = models.CharField(max_length=40, blank=True)

    # When the row last changed: set by a database trigger on every UPDATE (kernel.changes).
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        triggers = [updated_at_trigger()]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# ---------------------------------------------------------------- services per practitioner
# (issue 11, the front desk: which services each practitioner provides at each location)


@audited()
class PractitionerService(models.Model):
    """`practitioner` provides `service` at `location` (Settings › Practitioners › Services).

    The default, so that a practice that never set this up keeps working: a practitioner
    with no row at a location provides every active service there. Once one service is
    ticked for a location, only the ticked ones are offered and booked there
    (`calendar_app.selectors.services_provided`, checked by the booking services).
    """

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="provided_services", db_index=False
    )
    location = models.ForeignKey(
        Location, on_delete=models.CASCADE, related_name="practitioner_services"
    )
    service = models.ForeignKey(
        "catalog.Service", on_delete=models.CASCADE, related_name="practitioner_services"
    )

    class Meta:
        verbose_name = "service a practitioner provides"
        verbose_name_plural = "services practitioners provide"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["practitioner", "location", "service"],
                name="practitioner_service_once_per_location",
            )
        ]

    def __str__(self) -> str:
        return f"{self.practitioner} provides {self.service} at {self.location}"


@audited()
class CancellationReason(models.Model):
    """A reason staff choose when canceling, with its rule (DOMAIN.md, Cancellation and
    no-show rules): canceled less than `notice_hours` before the start, `late_action`
    applies (release the credit, keep it, or charge a fee of `fee_value`, an amount or a
    percentage of the service price by `fee_kind`). Without a window, or outside it, the
    credit is released. See `calendar_app.selectors.cancellation_outcome`."""

    name = models.CharField(max_length=200, unique=True)
    archived = models.BooleanField(default=False)
    notice_hours = models.PositiveIntegerField(
        "Notice window (hours)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(8760)],
    )
    late_action = models.CharField(
        "Inside the window", max_length=10, choices=LateAction.choices, default=LateAction.RELEASE
    )
    fee_kind = models.CharField(max_length=10, choices=FeeKind.choices, default=FeeKind.FIXED)
    fee_value = models.DecimalField("Fee amount or %", **MONEY, default=Decimal("0"))

    # When the row last changed: set by a database trigger on every UPDATE (kernel.changes).
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        triggers = [updated_at_trigger()]
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(notice_hours__isnull=True) | Q(notice_hours__gte=1),
                name="cancellation_reason_window_positive",
            ),
            models.CheckConstraint(
                condition=Q(fee_value__gte=0)
                & (~Q(fee_kind=FeeKind.PERCENT) | Q(fee_value__lte=100)),
                name="cancellation_reason_fee_in_range",
            ),
            models.CheckConstraint(
                condition=~Q(late_action=LateAction.FEE) | Q(fee_value__gt=0),
                name="cancellation_reason_fee_when_charged",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def rule_label(self) -> str:
        """The rule in a few words, for the Settings list: "Less than 24 h before: Keep
        the credit", "No notice window"."""
        if self.notice_hours is None:
            return "No notice window"
        action = LateAction(self.late_action).label
        if self.late_action == LateAction.FEE:
            value = format(self.fee_value.normalize(), "f")
            action += f" ({value}%)" if self.fee_kind == FeeKind.PERCENT else f" ({self.fee_value})"
        return f"Less than {self.notice_hours} h before: {action}"


@audited()
class AppointmentSeries(models.Model):
    """A repeating booking: every `every_weeks` weeks on `weekdays` (0 = Monday), `count` times."""

    every_weeks = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(4)]
    )
    weekdays = ArrayField(models.PositiveSmallIntegerField())
    count = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(104)]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "appointment series"
        constraints = [
            models.CheckConstraint(
                condition=Q(every_weeks__gte=1, every_weeks__lte=4),
                name="series_every_1_to_4_weeks",
            ),
            models.CheckConstraint(
                condition=Q(count__gte=1, count__lte=104), name="series_count_1_to_104"
            ),
        ]

    def __str__(self) -> str:
        return f"Series #{self.pk}: every {self.every_weeks} week(s), {self.count} times"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    ARRIVED = "arrived", "Arrived"
    MISSED = "missed", "Missed"
    CANCELED = "canceled", "Canceled"


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class ClassSession(models.Model):
    """One session of a class (a service with capacity > 1): a practitioner, location,
    service, start and end that up to `service.capacity` attendees share.

    Each attendee is an `Appointment` pointing here. The row exists to be locked: adding
    an attendee locks it, counts the live attendees and refuses when the class is full
    (`calendar_app.services`), and a trigger repeats that check in the database. The
    attendees' own practitioner, location, service and times always equal the session's
    (a composite foreign key, migration `class_sessions`), so moving one attendee moves
    them to another session. A session whose attendees all canceled or moved stays as an
    empty row: it blocks nothing.
    """

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["practitioner", "location", "service", "starts_at", "ends_at"],
                name="class_session_once",
            ),
            # The target of the attendees' composite foreign key.
            models.UniqueConstraint(
                fields=["id", "practitioner", "location", "service", "starts_at", "ends_at"],
                name="class_session_key",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="class_session_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} ({timezone.localtime(self.starts_at):%Y-%m-%d %H:%M})"


@audited()
class Appointment(models.Model):
    """One booking of a client with a practitioner at a location.

    `client_package` is the (at most one) package whose credit this appointment uses;
    it is set and cleared only by the link/unlink services, which move the credit.
    """

    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="appointments", db_index=False
    )
    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.PROTECT, related_name="appointments", db_index=False
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="appointments", db_index=False
    )
    service = models.ForeignKey(
        "catalog.Service", on_delete=models.PROTECT, related_name="appointments"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    notes = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    series = models.ForeignKey(
        AppointmentSeries,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appointments",
    )
    client_package = models.ForeignKey(
        "packages.ClientPackage",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appointments",
        db_index=False,
    )
    class_session = models.ForeignKey(
        ClassSession,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="attendees",
        help_text="Set for an attendee of a class (a service with capacity > 1).",
        db_index=False,
    )
    cancellation_reason = models.ForeignKey(
        CancellationReason, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kept_credit = models.BooleanField(
        default=False, help_text="Canceled late: the package credit stays consumed."
    )
    canceled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)  # + trigger (kernel.changes)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        triggers = [updated_at_trigger()]
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["practitioner", "starts_at"], name="appt_practitioner_start"),
            models.Index(fields=["location", "starts_at"], name="appt_location_start"),
            models.Index(fields=["client", "starts_at"], name="appt_client_start"),
            models.Index(fields=["client_package"], name="appt_client_package"),
            models.Index(fields=["class_session"], name="appt_class_session"),
            # The calendar's visible range of every practitioner (issue 10): bounded
            # below thanks to the one-day limit (appointment_at_most_a_day).
            models.Index(fields=["starts_at"], name="appt_start"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="appointment_ends_after_start"
            ),
            # The services refuse longer ones with a message; here it is a fact the
            # calendar's range query relies on (selectors.calendar_appointments).
            models.CheckConstraint(
                condition=Q(ends_at__lte=models.F("starts_at") + MAX_LENGTH),
                name="appointment_at_most_a_day",
            ),
            # A practitioner cannot be in two places at once. The service checks first for
            # a friendly message; this constraint holds even for concurrent bookings.
            # Attendees of one class session share it: two rows clash only when their
            # session key differs, which is the class session for attendees and a key of
            # the row's own (-id, never equal to a session id) for everything else.
            ExclusionConstraint(
                name="appointment_no_practitioner_overlap",
                expressions=[
                    ("practitioner", RangeOperators.EQUAL),
                    (TsTzRange("starts_at", "ends_at"), RangeOperators.OVERLAPS),
                    (Coalesce(F("class_session"), -F("id")), RangeOperators.NOT_EQUAL),
                ],
                condition=~Q(status=AppointmentStatus.CANCELED),
            ),
            # Packages cannot be applied to repeating appointments.
            models.CheckConstraint(
                condition=Q(client_package__isnull=True) | Q(series__isnull=True),
                name="appointment_series_has_no_package",
            ),
            # A canceled appointment keeps its package only for a late cancellation.
            models.CheckConstraint(
                condition=~Q(status=AppointmentStatus.CANCELED)
                | Q(client_package__isnull=True)
                | Q(kept_credit=True),
                name="appointment_canceled_keeps_package_only_if_kept_credit",
            ),
            models.CheckConstraint(
                condition=Q(cancellation_reason__isnull=True)
                | Q(status=AppointmentStatus.CANCELED),
                name="appointment_reason_only_when_canceled",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.client} – {self.service} ({timezone.localtime(self.starts_at):%Y-%m-%d %H:%M})"
        )


# ------------------------------------------------------------------ working hours (issue 11)


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


@audited()
class WorkingHours(models.Model):
    """One stretch of a practitioner's week: on `weekday`, from `starts` to `ends` (the
    practice's wall clock) at `location`. A practitioner without any is not shaded and
    never asked about (their hours are simply not set up); with some, the calendar shades
    the rest of the week and a booking outside them asks for a confirmation.

    Stretches of one practitioner's day do not overlap (`working_hours_set` checks it
    under a lock on the practitioner)."""

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="working_hours"
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts = models.TimeField()
    ends = models.TimeField()

    class Meta:
        verbose_name_plural = "working hours"
        ordering = ["practitioner", "weekday", "starts"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends__gt=models.F("starts")), name="working_hours_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="working_hours_weekday_0_to_6"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.practitioner}: {self.get_weekday_display()} "
            f"{self.starts:%H:%M}–{self.ends:%H:%M} at {self.location}"
        )
