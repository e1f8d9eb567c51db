"""Reads for the calendar: the grid's appointments and columns, what a new booking starts
with, and which actions an appointment allows now.

`appointment_refusal` is the one place the booking state machine is written: the services
raise what it returns, and the appointment panel shows only the actions it allows
(`appointment_actions`), so a refusal text is never copied into a view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, TypeVar

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from calendar_app.models import (
    MAX_LENGTH,
    Appointment,
    AppointmentStatus,
    CancellationReason,
    Location,
    Practitioner,
    PractitionerService,
    Weekday,
    WorkingHours,
)
from catalog.models import Service
from clients.models import Client, full_name
from kernel.errors import DomainError
from kernel.money import format_money, to_money
from kernel.prepared import Prepared, rows_by_pk, rows_by_pk_statement
from packages.models import ClientPackage
from practice import versions
from practice.models import FeeKind, LateAction, PracticeSettings

# ------------------------------------------------------------------ the calendar grid


def active_practitioners() -> list[Practitioner]:
    return list(Practitioner.objects.filter(archived=False))


def calendar_locations() -> list[tuple[int, str, bool]]:
    """(pk, name, archived) of every location, by name: the calendar's filter offers the
    active ones, and its appointments show the names of any (so the appointments' query
    need not join the locations). Kept per process under the settings version (`_kept`)."""
    return list(_kept("locations", _CALENDAR_LOCATIONS.rows))


_CALENDAR_LOCATIONS = Prepared(
    lambda: Location.objects.order_by("name", "pk").values_list("pk", "name", "archived")
)

T = TypeVar("T")


def _kept(name: str, read: Callable[[], T]) -> T:
    """`read()` kept per process under the settings version (`practice.versions.kept`),
    which migration calendar_app.0013 bumps with any change of practitioners, locations
    or working hours."""
    return versions.kept(f"calendar:{name}", read)


def practitioner_colours() -> list[tuple[int, str]]:
    """(pk, colour) of every practitioner, archived too (their old appointments show)."""
    return list(Practitioner.objects.order_by("pk").values_list("pk", "colour"))


def own_practitioner(user) -> Practitioner | None:
    """The signed-in user's own practitioner, if they have one that is not archived."""
    if user is None or not user.is_authenticated:
        return None
    return Practitioner.objects.filter(user=user, archived=False).first()


class CalendarAppointment(NamedTuple):
    """An appointment as the calendar shows it: a tuple of the columns the grid and its
    list use, not a model with four related models (a busy week is hundreds of them)."""

    pk: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    practitioner_id: int
    class_session_id: int | None
    client_package_id: int | None
    client_first_name: str
    client_last_name: str
    service_name: str
    service_capacity: int
    location_id: int
    location_name: str
    practitioner_name: str

    @property
    def client_name(self) -> str:
        return full_name(self.client_first_name, self.client_last_name)

    @property
    def status_label(self) -> str:
        return AppointmentStatus(self.status).label


# CalendarAppointment's fields, in order, as the ORM names them.
_APPOINTMENT_COLUMNS = [
    "pk",
    "starts_at",
    "ends_at",
    "status",
    "practitioner_id",
    "class_session_id",
    "client_package_id",
    "client__first_name",
    "client__last_name",
    "service__name",
    "service__capacity",
    "location_id",
]


def calendar_appointments(
    *,
    start: dt.datetime,
    end: dt.datetime,
    practitioner: Practitioner | None = None,
    location: Location | None = None,
    canceled: bool = False,
    practitioners: Sequence[Practitioner | PractitionerRow] | None = None,
    practitioner_names: dict[int, str],
    location_names: dict[int, str],
) -> list[CalendarAppointment]:
    """Appointments overlapping [start, end), in time order, with what the grid shows
    (only those of `practitioners` when given: the day view's page of columns).

    The names of their practitioners and locations come from the lists the calendar has
    read already (`calendar_practitioners`, `calendar_locations`): two joins fewer to
    plan. One missing there (added since those were read) is read here.

    None lasts more than MAX_LENGTH (a constraint), so none that overlaps starts before
    `start - MAX_LENGTH`: that lower bound lets the start indexes read only the range."""
    if practitioner is not None:
        ids: list[int] | None = [practitioner.pk]
    elif practitioners is not None:
        ids = [p.pk for p in practitioners]
    else:
        ids = None
    rows = _CALENDAR_APPOINTMENTS.rows(
        practitioners=ids, **_range_values(start, end, location, canceled)
    )
    missing = {row[4] for row in rows if row[4] not in practitioner_names}
    if missing:
        practitioner_names = {
            **practitioner_names,
            **dict(Practitioner.objects.filter(pk__in=missing).values_list("pk", "name")),
        }
    missing = {row[-1] for row in rows if row[-1] not in location_names}
    if missing:
        location_names = {
            **location_names,
            **dict(Location.objects.filter(pk__in=missing).values_list("pk", "name")),
        }
    return [
        CalendarAppointment._make((*row, location_names[row[-1]], practitioner_names[row[4]]))
        for row in rows
    ]


def _calendar_appointments(*, practitioners: list[int] | None, **range_filters) -> QuerySet:
    queryset = _in_range(**range_filters)
    if practitioners is not None:
        queryset = queryset.filter(practitioner_id__in=practitioners)
    return queryset.order_by("starts_at", "id").values_list(*_APPOINTMENT_COLUMNS)


# The ORM writes the SQL once per shape (kernel.prepared): compiling these joins took
# longer than running them.
_RANGE = {
    "earliest": dt.datetime,
    "start": dt.datetime,
    "end": dt.datetime,
    "location": int | None,
    "canceled": bool,
}
_CALENDAR_APPOINTMENTS = Prepared(_calendar_appointments, practitioners=list | None, **_RANGE)


def _range_values(
    start: dt.datetime, end: dt.datetime, location: Location | None, canceled: bool
) -> dict:
    """The values of `_RANGE` for the calendar's [start, end) at `location`."""
    return {
        "earliest": start - MAX_LENGTH,
        "start": start,
        "end": end,
        "location": location.pk if location is not None else None,
        "canceled": canceled,
    }


def _in_range(
    *,
    earliest: dt.datetime,
    start: dt.datetime,
    end: dt.datetime,
    location: int | None,
    canceled: bool,
) -> QuerySet[Appointment]:
    """Appointments overlapping [start, end) (`earliest`: start - MAX_LENGTH, a value of
    its own for Prepared), at `location` if given, canceled ones only if `canceled`."""
    queryset = Appointment.objects.filter(
        starts_at__gte=earliest, starts_at__lt=end, ends_at__gt=start
    )
    if location is not None:
        queryset = queryset.filter(location_id=location)
    if not canceled:
        queryset = queryset.exclude(status=AppointmentStatus.CANCELED)
    return queryset


class PractitionerRow(NamedTuple):
    """A practitioner as the calendar lists them (a tuple: the calendar reads every
    practitioner on each view, hundreds in a large practice, and shows a dozen)."""

    pk: int
    name: str
    user_id: int | None
    colour: str
    archived: bool
    provider_number: str

    def model(self) -> Practitioner:
        """The practitioner as a model instance (for the columns shown), without a query."""
        return Practitioner.from_db(None, _ROW_FIELDS, (*self,))


_ROW_FIELDS = ["id", "name", "user_id", "colour", "archived", "provider_number"]


def calendar_practitioners(
    *, start: dt.datetime, end: dt.datetime, location: Location | None, canceled: bool
) -> list[PractitionerRow]:
    """Every active practitioner, plus anyone archived since who still has an appointment
    overlapping [start, end) that the calendar shows (same filters), by name (the day view
    pages its columns from this). Every practitioner is kept per process (`_kept`); only
    when some are archived is there a query, for which of them to show."""
    every = _kept("practitioners", _every_practitioner)
    archived = [p.pk for p in every if p.archived]
    if not archived:
        return list(every)
    shown = {
        pk
        for (pk,) in _ARCHIVED_SHOWN.rows(
            archived=archived, **_range_values(start, end, location, canceled)
        )
    }
    return [p for p in every if not p.archived or p.pk in shown]


def _every_practitioner() -> tuple[PractitionerRow, ...]:
    rows = _EVERY_PRACTITIONER.rows()
    return tuple(map(PractitionerRow._make, rows))  # (a tuple's own constructor: hundreds)


_EVERY_PRACTITIONER = Prepared(
    lambda: Practitioner.objects.order_by("name", "pk").values_list(*_ROW_FIELDS)
)


def _archived_shown(*, archived: list[int], **range_filters) -> QuerySet:
    shown = _in_range(**range_filters).filter(practitioner=OuterRef("pk"))
    return Practitioner.objects.filter(pk__in=archived).filter(Exists(shown)).values_list("pk")


_ARCHIVED_SHOWN = Prepared(_archived_shown, archived=list, **_RANGE)


def class_session_attendees(session_id: int) -> list[Appointment]:
    """The attendees of a class session for its panel: live ones first, then canceled,
    each by client name, with what the panel shows (one query whatever their number)."""
    attendees = Appointment.objects.filter(class_session_id=session_id).select_related(
        "client", "client_package", "cancellation_reason"
    )
    return sorted(
        attendees,
        key=lambda a: (
            a.status == AppointmentStatus.CANCELED,
            a.client.last_name.lower(),
            a.client.first_name.lower(),
            a.pk,
        ),
    )


def class_session_live_count(session_id: int) -> int:
    """The attendees of a class session who hold a place (not canceled)."""
    return (
        Appointment.objects.filter(class_session_id=session_id)
        .exclude(status=AppointmentStatus.CANCELED)
        .count()
    )


def calendar_columns(practitioners: list[PractitionerRow]) -> list[PractitionerRow]:
    """The day view's columns (from `calendar_practitioners`), by name ignoring case."""
    return sorted(practitioners, key=lambda p: (p.name.lower(), p.pk))


# ------------------------------------------------------------------ services per practitioner
# (issue 11) Which services a practitioner provides at a location. The default keeps a
# practice that never set this up working: no row for the practitioner at that location
# means every active service.


def services_provided(practitioner: Practitioner | None, location: Location | None):
    """The active services `practitioner` provides at `location`, by category then name
    (category joined): all of them when nothing is set up for the pair, or when the
    practitioner or the location is not chosen yet."""
    services = Service.objects.filter(archived=False).select_related("category")
    if practitioner is not None and location is not None:
        chosen = PractitionerService.objects.filter(practitioner=practitioner, location=location)
        if chosen.exists():
            services = services.filter(pk__in=chosen.values("service_id"))
    return services.order_by("category__name", "name", "id")


def provides(practitioner: Practitioner, location: Location, service: Service) -> bool:
    """Whether `practitioner` provides `service` at `location` (one query)."""
    rows = PractitionerService.objects.filter(practitioner=practitioner, location=location)
    return not rows.exists() or rows.filter(service=service).exists()


class PlaceFacts(NamedTuple):
    """Read with a booking's choices, for the service that books it (`appointment_book`'s
    `known`): whether the practitioner provides the service at the location (`provides`),
    and whether any class session exists for the three (one an appointment might join).
    They hold for these ids only. `new_id`: an appointment id drawn from its sequence, for
    the booking's INSERT, which then need not wait for the database to give one."""

    practitioner_id: int
    location_id: int
    service_id: int
    provided: bool
    any_session: bool
    new_id: int | None = None


class BookingChoices(NamedTuple):
    """What a booking's form names, as `booking_choices` read it (None: no such row)."""

    practitioner: Practitioner | None
    location: Location | None
    client: Client | None
    service: Service | None
    client_package: ClientPackage | None
    # Whether the practitioner has working hours (none: never "outside" them).
    has_hours: bool
    # None unless the practitioner, location and service were all found.
    place: PlaceFacts | None = None


_HAS_HOURS = "SELECT EXISTS (SELECT 1 FROM calendar_app_workinghours WHERE practitioner_id = %s)"
# `provides`'s rule, and whether any session exists (practitioner, location, service).
_PROVIDED = (
    "SELECT NOT EXISTS (SELECT 1 FROM calendar_app_practitionerservice"
    " WHERE practitioner_id = %s AND location_id = %s)"
    " OR EXISTS (SELECT 1 FROM calendar_app_practitionerservice"
    " WHERE practitioner_id = %s AND location_id = %s AND service_id = %s)"
)
_ANY_SESSION = (
    "SELECT EXISTS (SELECT 1 FROM calendar_app_classsession"
    " WHERE practitioner_id = %s AND location_id = %s AND service_id = %s)"
)
# An id for the appointment the form books (a failed booking leaves a gap, as any
# rolled-back INSERT does).
_NEW_ID = "SELECT nextval(pg_get_serial_sequence('calendar_app_appointment', 'id'))"


def _choices(practitioner, location, client, service, client_package) -> tuple[list, list]:
    """`booking_choices`'s rows by key, and its extras."""
    place = [practitioner, location, practitioner, location, service]
    return (
        [
            (Practitioner, practitioner),
            (Location, location),
            (Client, client),
            (Service, service),
            (ClientPackage, client_package),
        ],
        [
            (_HAS_HOURS, [practitioner]),
            (_PROVIDED, place),
            (_ANY_SESSION, [practitioner, location, service]),
            (_NEW_ID, []),
        ],
    )


def booking_choices_statement(
    *,
    practitioner: int | None,
    location: int | None,
    client: int | None,
    service: int | None,
    client_package: int | None,
) -> tuple[str, list]:
    """The statement `booking_choices` sends for these ids: to send it ahead."""
    return rows_by_pk_statement(*_choices(practitioner, location, client, service, client_package))


def booking_choices(
    *,
    practitioner: int | None,
    location: int | None,
    client: int | None,
    service: int | None,
    client_package: int | None,
) -> BookingChoices:
    """The practitioner, location, client, service and client package of these ids (each
    as `Model.objects.filter(pk=...).first()`, archived or not), whether the
    practitioner has working hours, and the `PlaceFacts` of the practitioner, location
    and service, with an id drawn for the appointment: one query where they took seven
    (a booking's POST)."""
    found, (has_hours, provided, any_session, new_id) = rows_by_pk(
        *_choices(practitioner, location, client, service, client_package)
    )
    practitioner_row, location_row, client_row, service_row, package_row = found
    facts = None
    if practitioner_row and location_row and service_row:
        facts = PlaceFacts(
            practitioner_row.pk,
            location_row.pk,
            service_row.pk,
            bool(provided),
            bool(any_session),
            new_id,
        )
    return BookingChoices(
        practitioner_row,
        location_row,
        client_row,
        service_row,
        package_row,
        bool(has_hours),
        facts,
    )


def provided_service_ids(practitioner: Practitioner) -> dict[int, set[int]]:
    """Location id -> the ids of the services ticked for `practitioner` there (only the
    locations with a choice; a location missing here offers every service)."""
    result: dict[int, set[int]] = {}
    rows = PractitionerService.objects.filter(practitioner=practitioner)
    for location_id, service_id in rows.values_list("location_id", "service_id"):
        result.setdefault(location_id, set()).add(service_id)
    return result


# ------------------------------------------------------------------ prefill


def practitioner_and_location_defaults(
    user,
    *,
    practitioner_id: int | None = None,
    location_id: int | None = None,
    client: Client | None = None,
) -> dict[str, int]:
    """The practitioner and location a new booking (or invoice) form starts with.

    One precedence, everywhere:
    1. the one asked for (a link's `?practitioner=` / `?location=`), if it is an active one;
    2. for the practitioner, the signed-in user's own active practitioner;
    3. when a `client` is given (selling them a package), the practitioner and location
       of their last booking (the latest non-canceled appointment that has started), if
       still active;
    4. the only active practitioner (location) there is.
    Otherwise nothing is preselected. Returns only the keys it sets.
    """
    initial: dict[str, int] = {}
    last = _last_booking(client) if client is not None else None
    practitioners = Practitioner.objects.filter(archived=False)
    if not (practitioner_id and practitioners.filter(pk=practitioner_id).exists()):
        own = own_practitioner(user)
        if own is not None:
            practitioner_id = own.pk
        elif last is not None and not last.practitioner.archived:
            practitioner_id = last.practitioner_id
        else:
            practitioner_id = _the_only(practitioners)
    locations = Location.objects.filter(archived=False)
    if not (location_id and locations.filter(pk=location_id).exists()):
        if last is not None and not last.location.archived:
            location_id = last.location_id
        else:
            location_id = _the_only(locations)
    for key, value in (("practitioner", practitioner_id), ("location", location_id)):
        if value:
            initial[key] = value
    return initial


def _the_only(queryset) -> int | None:
    """The pk of the only row of `queryset`, or None when there are none or several."""
    only = list(queryset.values_list("pk", flat=True)[:2])
    return only[0] if len(only) == 1 else None


def _booked(client: Client) -> QuerySet[Appointment]:
    return (
        Appointment.objects.filter(client=client)
        .exclude(status=AppointmentStatus.CANCELED)
        .select_related("practitioner", "location", "service")
    )


def _last_booking(client: Client, now: dt.datetime | None = None) -> Appointment | None:
    return (
        _booked(client)
        .filter(starts_at__lt=now or timezone.now())
        .order_by("-starts_at", "-id")
        .first()
    )


@dataclass(frozen=True)
class NextAndLast:
    next: Appointment | None
    last: Appointment | None


def client_next_and_last_appointment(client: Client) -> NextAndLast:
    """The client's next appointment (the soonest not yet started) and last one (the
    latest that has started), canceled ones left out. Two queries."""
    now = timezone.now()
    upcoming = _booked(client).filter(starts_at__gte=now).order_by("starts_at", "id").first()
    return NextAndLast(next=upcoming, last=_last_booking(client, now))


# ------------------------------------------------------------------ actions

# Also shown beside Repeat in Create appointment, before anything is refused.
REPEAT_NO_PACKAGE = (
    "Packages can't be applied to repeating appointments. "
    "Book each appointment separately to use package credits."
)

EDIT, ARRIVE, MISS, CANCEL, DELETE, LINK, UNLINK = (
    "edit",
    "arrive",
    "miss",
    "cancel",
    "delete",
    "link",
    "unlink",
)
ACTION_PERMS = {
    EDIT: "calendar_app.change_appointment",
    ARRIVE: "calendar_app.change_appointment",
    MISS: "calendar_app.change_appointment",
    CANCEL: "calendar_app.change_appointment",
    DELETE: "calendar_app.delete_appointment",
    LINK: "packages.link_clientpackage",
    UNLINK: "packages.link_clientpackage",
}


def appointment_refusal(
    appointment: Appointment,
    action: str,
    *,
    now: dt.datetime | None = None,
    invoiced: bool | None = None,
) -> DomainError | None:
    """Why `appointment`, as it is now, refuses `action` (None: it allows it).

    Permissions aside (see `appointment_actions`), in this order:
    - edit: not canceled;
    - arrive: not canceled, and not before the appointment's day;
    - miss: not canceled, and it has started;
    - cancel: not already canceled, and not in the past (mark it Missed instead);
    - delete: not on an invoice (cancel it instead), so invoices stay whole;
    - link: not linked already, not part of a series, not canceled;
    - unlink: linked.

    `invoiced=False` says the appointment is on no invoice (one just booked in this
    transaction), sparing delete's query.
    """
    now = now or timezone.now()
    canceled = appointment.status == AppointmentStatus.CANCELED
    if action == EDIT:
        if canceled:
            return DomainError(
                "appointment_canceled", "This appointment is canceled; book a new one."
            )
    elif action == ARRIVE:
        if canceled:
            return DomainError("appointment_canceled", "This appointment is canceled.")
        if timezone.localdate(appointment.starts_at) > timezone.localdate(now):
            return DomainError(
                "not_yet", "A client can't be marked Arrived before the appointment's day."
            )
    elif action == MISS:
        if canceled:
            return DomainError("appointment_canceled", "This appointment is canceled.")
        if appointment.starts_at > now:
            return DomainError(
                "not_yet",
                "Only an appointment that has started can be marked Missed; cancel it instead.",
            )
    elif action == CANCEL:
        if canceled:
            return DomainError("appointment_canceled", "This appointment is already canceled.")
        if appointment.starts_at < now:
            return DomainError(
                "past_appointment",
                "A past appointment cannot be canceled: mark it Missed instead.",
            )
    elif action == DELETE:
        if invoiced is False:
            return None
        line = appointment.invoice_lines.select_related("invoice").first()
        if line is not None:
            return DomainError(
                "appointment_invoiced",
                f"This appointment is on invoice {line.invoice}; cancel it instead of deleting it.",
            )
    elif action == LINK:
        if appointment.client_package_id is not None:
            return DomainError(
                "already_linked",
                "This appointment is already linked to a package. Unlink it first to link another.",
            )
        if appointment.series_id is not None:
            return DomainError("repeating_appointment", REPEAT_NO_PACKAGE)
        if canceled:
            return DomainError(
                "appointment_canceled", "This appointment is canceled; it cannot use a package."
            )
    elif action == UNLINK:
        if appointment.client_package_id is None:
            return DomainError("not_linked", "This appointment is not linked to a package.")
    else:
        raise ValueError(f"unknown action {action!r}")
    return None


# Arrived and Missed appointments used their credit (DOMAIN.md: Missed keeps it).
USED_CREDIT = (AppointmentStatus.ARRIVED, AppointmentStatus.MISSED)
# Who may still give such a credit back, with a reason: an Admin (who adjusts credits).
GIVE_BACK_USED_CREDIT = "packages.adjust_credits"


def used_credit_refusal(
    appointment: Appointment, action: str, user, reason: str = ""
) -> DomainError | None:
    """Why `action` (unlink, delete, cancel) may not give back the credit of `appointment`,
    which is Arrived or Missed (None: it gives none back, or may).

    - unlink: only an Admin, giving a `reason` (recorded in the ledger row of the release);
    - delete: unlink first (so the Admin's reason is recorded), then delete;
    - cancel: only keeping the credit; or unlink first.
    `user` None is the system (demo data), which still gives a reason.
    """
    if not uses_used_credit(appointment):
        return None
    status = AppointmentStatus(appointment.status).label
    if action == UNLINK:
        if user is not None and not user.has_perm(GIVE_BACK_USED_CREDIT):
            return DomainError(
                "credit_used",
                f"This appointment is marked {status}: its package credit was used and stays "
                "used. Only an Admin can unlink it, giving a reason.",
            )
        if not (reason or "").strip():
            return DomainError(
                "reason_required",
                f"Give a reason: this appointment is marked {status}, so unlinking it gives "
                "back a credit that was used.",
                field="reason",
            )
        return None
    if action == DELETE:
        return DomainError(
            "credit_used",
            f"This appointment is marked {status} and used a package credit; deleting it "
            "would give the credit back. An Admin can unlink it first, giving a reason.",
        )
    if action == CANCEL:
        return DomainError(
            "credit_used",
            f"This appointment is marked {status}: its package credit stays used. Tick "
            "“Keep the package credit”, or ask an Admin to unlink it first, giving a reason.",
            field="keep_credit",
        )
    raise ValueError(f"unknown action {action!r}")


def uses_used_credit(appointment: Appointment) -> bool:
    """Linked and Arrived or Missed: unlinking gives back a used credit (Admin, reason)."""
    return appointment.client_package_id is not None and appointment.status in USED_CREDIT


def used_credit_reason(appointment: Appointment, reason: str) -> str:
    """The ledger reason of giving back the credit of an Arrived or Missed appointment."""
    status = AppointmentStatus(appointment.status).label
    return f"Unlinked after it was marked {status}: {reason.strip()}"


@dataclass(frozen=True)
class AppointmentActions:
    """What the appointment panel may offer `user` now (each: permission and no refusal)."""

    edit: bool
    arrive: bool
    miss: bool
    cancel: bool
    delete: bool
    link: bool
    unlink: bool


def appointment_actions(
    appointment: Appointment, user, now: dt.datetime | None = None, *, invoiced: bool | None = None
) -> AppointmentActions:
    """The actions `appointment_refusal` allows and `user` may take.

    Marking Arrived (Missed) is not offered again to an appointment already Arrived
    (Missed): the service accepts it, but there is nothing to do.
    """
    now = now or timezone.now()

    def allowed(action: str) -> bool:
        return user.has_perm(ACTION_PERMS[action]) and (
            appointment_refusal(appointment, action, now=now, invoiced=invoiced) is None
        )

    return AppointmentActions(
        edit=allowed(EDIT),
        arrive=appointment.status != AppointmentStatus.ARRIVED and allowed(ARRIVE),
        miss=appointment.status != AppointmentStatus.MISSED and allowed(MISS),
        cancel=allowed(CANCEL),
        delete=allowed(DELETE),
        link=allowed(LINK),
        unlink=allowed(UNLINK)
        and (not uses_used_credit(appointment) or user.has_perm(GIVE_BACK_USED_CREDIT)),
    )


# ------------------------------------------------------------------ working hours (issue 11)


def working_hours_of(practitioner_ids) -> dict[int, list[WorkingHours]]:
    """Each practitioner's working hours (with their location), in week order: one query."""
    found: dict[int, list[WorkingHours]] = {}
    rows = (
        WorkingHours.objects.filter(practitioner_id__in=list(practitioner_ids))
        .select_related("location")
        .order_by("practitioner_id", "weekday", "starts")
    )
    for row in rows:
        found.setdefault(row.practitioner_id, []).append(row)
    return found


class HoursRow(NamedTuple):
    """Working hours as the calendar grid reads them (the fields of WorkingHours it uses)."""

    practitioner_id: int
    weekday: int
    starts: dt.time
    ends: dt.time
    location_id: int


def calendar_working_hours(practitioner_ids: list[int]) -> dict[int, list[HoursRow]]:
    """`working_hours_of` for the calendar grid: tuples, without the locations. Every
    practitioner's are kept per process (`_kept`: a few thousand rows at most), so a
    calendar reads none."""
    every = _kept("working_hours", _every_working_hours)
    return {pk: list(every[pk]) for pk in practitioner_ids if pk in every}


def _every_working_hours() -> dict[int, tuple[HoursRow, ...]]:
    found: dict[int, list[HoursRow]] = {}
    for row in _CALENDAR_WORKING_HOURS.rows():
        hours = HoursRow(*row)
        found.setdefault(hours.practitioner_id, []).append(hours)
    return {pk: tuple(rows) for pk, rows in found.items()}


_CALENDAR_WORKING_HOURS = Prepared(
    lambda: WorkingHours.objects.order_by("practitioner_id", "weekday", "starts").values_list(
        *HoursRow._fields
    )
)


def _minutes(value: dt.time) -> int:
    return value.hour * 60 + value.minute


def hours_text(hours: list[WorkingHours], weekday: int) -> str:
    """ "09:00–12:00 at Main clinic, 13:00–17:00 at North" for one weekday ("" if none)."""
    return ", ".join(
        f"{h.starts:%H:%M}–{h.ends:%H:%M} at {h.location.name}"
        for h in hours
        if h.weekday == weekday
    )


def outside_working_hours(
    *,
    practitioner: Practitioner,
    location: Location | None,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    hours: list[WorkingHours] | None = None,
) -> str | None:
    """Why a booking from `starts_at` to `ends_at` is outside `practitioner`'s working
    hours (at `location`), in words, or None when it is inside them.

    A practitioner without working hours is never "outside": their hours are not set up.
    A booking is inside when one stretch of that weekday, at that location, holds all of
    it (on the practice's clock). Booking outside is allowed after a confirmation: this
    only says why to ask.
    """
    if hours is None:
        hours = working_hours_of([practitioner.pk]).get(practitioner.pk, [])
    if not hours:
        return None
    start, end = timezone.localtime(starts_at), timezone.localtime(ends_at)
    weekday = start.weekday()
    first = _minutes(start.time())
    # An end at midnight (or the next day) counts as the end of the day.
    last = _minutes(end.time()) if end.date() == start.date() else 24 * 60
    for stretch in hours:
        if stretch.weekday != weekday:
            continue
        if location is not None and stretch.location_id != location.pk:
            continue
        if _minutes(stretch.starts) <= first and last <= _minutes(stretch.ends):
            return None
    day = Weekday(weekday).label
    today = hours_text(hours, weekday)
    if not today:
        return f"{practitioner.name} doesn't work on {day}s."
    return f"This is outside {practitioner.name}'s working hours ({day}: {today})."


# ------------------------------------------- cancellation and no-show rules (issue 13)


@dataclass(frozen=True)
class LateOutcome:
    """What canceling (or marking Missed) an appointment does by the practice's rules:
    `keep_credit` (a linked appointment's credit stays used) and `fee` (an amount to
    charge on a draft invoice line, or None), with `why`, the sentence the popups show
    before staff confirm and the API reports after. `rule` names what decided it:
    "no_window", "outside_window", "inside_window" or "missed"."""

    rule: str
    keep_credit: bool
    fee: Decimal | None
    why: str


def _notice(delta: dt.timedelta) -> str:
    """How long before the start, for people: "3 hours", "23 hours 59 minutes", "2 days"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        days = hours // 24
        return f"{days} days"
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes or not hours:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def late_fee(appointment: Appointment, kind: str, value: Decimal) -> Decimal:
    """A fee: `value` itself (fixed), or that percentage of the service's price, rounded
    half up to the cent."""
    if kind == FeeKind.PERCENT:
        return to_money(appointment.service.price * value / Decimal(100))
    return to_money(value)


def _consequence(appointment: Appointment, keep_credit: bool, fee: Decimal | None) -> str:
    package = appointment.client_package
    credit = ""
    if package is not None:
        credit = (
            f"the credit of {package.name} is kept"
            if keep_credit
            else f"the credit goes back to {package.name}"
        )
    if fee is not None:
        charged = f"a fee of {format_money(fee)} is charged (a draft invoice line)"
        return f"{charged} and {credit}" if credit else charged
    return credit or "nothing is charged"


def cancellation_outcome(
    appointment: Appointment, reason: CancellationReason, now: dt.datetime | None = None
) -> LateOutcome:
    """The rule of `reason` for canceling `appointment` at `now` (DOMAIN.md, Cancellation
    and no-show rules). Inside the window means strictly less than `notice_hours` before
    the start: canceled exactly 24 hours before is outside a 24-hour window. Outside the
    window, or for a reason without one, the credit is released and nothing is charged.
    A fee releases the credit: the client pays the fee instead of losing the session."""
    now = now or timezone.now()
    before = appointment.starts_at - now
    if reason.notice_hours is None:
        keep, fee, rule = False, None, "no_window"
        why = f"“{reason.name}” has no notice window: " + _consequence(appointment, keep, fee)
        return LateOutcome(rule=rule, keep_credit=keep, fee=fee, why=why + ".")
    window = f"the {reason.notice_hours}-hour window"
    head = f"Canceled {_notice(before)} before the start"
    if before >= dt.timedelta(hours=reason.notice_hours):
        keep, fee = False, None
        why = f"{head}: outside {window}, so {_consequence(appointment, keep, fee)}."
        return LateOutcome(rule="outside_window", keep_credit=keep, fee=fee, why=why)
    keep = reason.late_action == LateAction.KEEP
    fee = (
        late_fee(appointment, reason.fee_kind, reason.fee_value)
        if reason.late_action == LateAction.FEE
        else None
    )
    why = f"{head}: inside {window}, so {_consequence(appointment, keep, fee)}."
    return LateOutcome(rule="inside_window", keep_credit=keep, fee=fee, why=why)


def missed_outcome(appointment: Appointment, practice: PracticeSettings) -> LateOutcome:
    """The practice's rule for a no-show: keep the credit (the default), or charge a fee
    (which releases the credit, as a late-cancellation fee does)."""
    if practice.missed_action == LateAction.FEE:
        fee: Decimal | None = late_fee(
            appointment, practice.missed_fee_kind, practice.missed_fee_value
        )
        keep = False
    else:
        fee, keep = None, True
    why = f"The practice's rule for a missed appointment: {_consequence(appointment, keep, fee)}."
    return LateOutcome(rule="missed", keep_credit=keep, fee=fee, why=why)
