"""Writes for appointments: book, repeat, edit, link/unlink a package, arrive, miss,
cancel, delete.

Package credits move through `packages.services` (`consume`, `release`, `move`) in the
same transaction as the appointment change, with the appointment row locked before the
package row.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.models import User as UserModel
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Exists, Q, Value
from django.utils import timezone
from django.utils.formats import date_format

from calendar_app.models import (
    MAX_LENGTH,
    Appointment,
    AppointmentSeries,
    AppointmentStatus,
    CancellationReason,
    ClassSession,
    Location,
    Practitioner,
    PractitionerService,
    Weekday,
    WorkingHours,
)
from calendar_app.selectors import (
    ARRIVE,
    CANCEL,
    DELETE,
    EDIT,
    LINK,
    MISS,
    REPEAT_NO_PACKAGE,
    UNLINK,
    PlaceFacts,
    appointment_refusal,
    provides,
    used_credit_reason,
    used_credit_refusal,
)
from catalog.models import Service
from clients.models import Client
from kernel import hooks
from kernel.errors import DomainError, require_perm
from kernel.money import to_money
from kernel.prepared import Prepared, insert_row
from kernel.records import clean_name, save_named, set_archived, unique_name
from kernel.time import ambiguous_occurrences, check_date_in_range
from packages import services as credits
from packages.models import ClientPackage
from packages.services import check_package_covers
from practice.models import FeeKind, LateAction

User = AbstractBaseUser
OVERLAP_CONSTRAINT = "appointment_no_practitioner_overlap"
CAPACITY_CONSTRAINT = "class_session_capacity"
SCOPES = ("this", "following")
EDITABLE_FIELDS = ("client", "practitioner", "location", "service", "starts_at", "ends_at", "notes")


def _when(value: dt.datetime) -> str:
    return date_format(timezone.localtime(value), "D j M Y, H:i")


def _user(by):
    return by if by is not None and by.is_authenticated else None


def _check_bookable(
    *, client: Client, practitioner: Practitioner, location: Location, service: Service
) -> None:
    if client.archived:
        raise DomainError("client_archived", f"{client} is archived and cannot be booked.")
    if practitioner.archived:
        raise DomainError("practitioner_archived", f"{practitioner} is no longer taking bookings.")
    if location.archived:
        raise DomainError("location_archived", f"{location} is no longer in use.")
    if service.archived:
        raise DomainError("service_archived", f"{service.name} is archived and cannot be booked.")


def _check_provided(*, practitioner: Practitioner, location: Location, service: Service) -> None:
    """Refuse a service the practitioner does not provide at that location (Settings ›
    Practitioners › Services; nothing ticked there means every service)."""
    if not provides(practitioner, location, service):
        raise _not_provided(practitioner, location, service)


def _not_provided(practitioner: Practitioner, location: Location, service: Service) -> DomainError:
    return DomainError(
        "service_not_provided",
        f"{practitioner} does not provide {service.name} at {location}. "
        "Choose another service or practitioner.",
        field="service",
    )


def _check_times(starts_at: dt.datetime, ends_at: dt.datetime) -> None:
    check_date_in_range(starts_at, field="starts_at")
    check_date_in_range(ends_at, field="ends_at")
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise DomainError("invalid_time", "Times must include a time zone.")
    # Compare instants: two times of one time zone compare (and subtract) by their wall
    # clocks, which is wrong across a daylight-saving change.
    starts_at, ends_at = starts_at.astimezone(dt.UTC), ends_at.astimezone(dt.UTC)
    if ends_at <= starts_at:
        raise DomainError(
            "invalid_time", "The appointment must end after it starts.", field="ends_at"
        )
    if ends_at - starts_at > MAX_LENGTH:
        raise DomainError(
            "invalid_time", "An appointment cannot last more than 24 hours.", field="ends_at"
        )


def _default_end(starts_at: dt.datetime, service: Service) -> dt.datetime:
    """Start + the service's duration in real time (not on a clock that may skip an hour)."""
    check_date_in_range(starts_at, field="starts_at")
    return starts_at.astimezone(dt.UTC) + dt.timedelta(minutes=service.duration_minutes)


def _first_clash(
    *,
    practitioner: Practitioner,
    slots: Iterable[tuple[dt.datetime, dt.datetime]],
    exclude=(),
    sessions: Iterable[ClassSession | None] = (),
) -> Appointment | None:
    """The practitioner's earliest other live appointment overlapping one of `slots`.

    The attendees of `sessions` (the class sessions being joined) are not a clash."""
    conditions = [Q(starts_at__lt=end, ends_at__gt=start) for start, end in slots]
    if not conditions:
        return None
    joined = [session.pk for session in sessions if session is not None]
    return (
        Appointment.objects.filter(practitioner=practitioner)
        .exclude(status=AppointmentStatus.CANCELED)
        .exclude(pk__in=list(exclude))
        .exclude(class_session_id__in=joined)
        .filter(reduce(or_, conditions))
        .order_by("starts_at")
        .first()
    )


def _check_no_overlap(
    *,
    practitioner: Practitioner,
    slots: Iterable[tuple[dt.datetime, dt.datetime]],
    exclude=(),
    sessions: Iterable[ClassSession | None] = (),
) -> None:
    """Friendly pre-check; the exclusion constraint is what holds under concurrency."""
    clash = _first_clash(practitioner=practitioner, slots=slots, exclude=exclude, sessions=sessions)
    if clash is not None:
        raise _overlap_error(practitioner, clash.starts_at)


def _overlap_error(practitioner: Practitioner, when: dt.datetime | None = None) -> DomainError:
    at = f" ({_when(when)})" if when else ""
    return DomainError("overlap", f"{practitioner} already has an appointment at that time{at}.")


def _constraint(exc: IntegrityError) -> str | None:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def _class_full(live: int, capacity: int) -> DomainError:
    return DomainError("class_full", f"This class is full ({live} of {capacity}).")


def _is_deadlock(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "40P01"


def _save_guarding_overlap(
    save,
    practitioner: Practitioner,
    slots: Sequence[tuple[dt.datetime, dt.datetime]] = (),
    sessions: Iterable[ClassSession | None] = (),
) -> None:
    """Run `save()` in a savepoint and turn an overlap violation into a DomainError
    (naming the clash's time when `slots`, the times saved, are given: one query, only
    when refused; the attendees of `sessions`, those joined, are not the clash).

    Concurrent inserts checked by one exclusion constraint can deadlock (each waits for
    the other's row; PostgreSQL then aborts one of them). Rolling back to the savepoint
    drops our row and its locks, so trying again waits for the other booking and ends
    in the true answer: saved, or refused as an overlap."""
    _guarding_overlap(save, practitioner, slots, sessions)


def _guarding_overlap(
    run,
    practitioner: Practitioner,
    slots: Sequence[tuple[dt.datetime, dt.datetime]] = (),
    sessions: Iterable[ClassSession | None] = (),
):
    """`_save_guarding_overlap` for any atomic `run()` (its own savepoint): its result,
    after at most three retries of a deadlock; an overlap or a full class refused."""
    for attempt in range(4):
        try:
            with transaction.atomic():
                return run()
        except IntegrityError as exc:
            if _constraint(exc) == OVERLAP_CONSTRAINT:
                clash = (
                    _first_clash(practitioner=practitioner, slots=slots, sessions=sessions)
                    if slots
                    else None
                )
                raise _overlap_error(practitioner, clash.starts_at if clash else None) from exc
            if _constraint(exc) == CAPACITY_CONSTRAINT:  # the backstop of `_class_session`
                raise DomainError("class_full", "This class is full.") from exc
            raise
        except OperationalError as exc:
            if not _is_deadlock(exc) or attempt == 3:
                raise
    raise AssertionError("unreachable")  # the last attempt returned or raised


def _capacity_query(practitioner, location, service, starts_at, ends_at, provided: bool):
    key = Q(
        practitioner_id=practitioner,
        location_id=location,
        service_id=service,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    ticked = PractitionerService.objects.filter(practitioner_id=practitioner, location_id=location)
    return (
        Service.objects.filter(pk=service)
        .annotate(
            _session=Exists(ClassSession.objects.filter(key)),
            # As `provides`: nothing ticked for the pair, or this service ticked.
            _provided=(~Exists(ticked) | Exists(ticked.filter(service_id=service)))
            if provided
            else Value(True),
        )
        .values_list("capacity", "_session", "_provided")
    )


_CAPACITY = Prepared(
    _capacity_query,
    practitioner=int,
    location=int,
    service=int,
    starts_at=dt.datetime,
    ends_at=dt.datetime,
    provided=bool,
)


def _class_session(
    *,
    practitioner: Practitioner,
    location: Location,
    service: Service,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    client: Client,
    attendee: Appointment | None = None,
    check_provided: bool = False,
    known: PlaceFacts | None = None,
) -> ClassSession | None:
    """The class session an appointment with these details joins, locked; None when
    `service` is not a class (capacity 1). `check_provided`: first refuse, as
    `_check_provided`, a service the practitioner does not provide there (read with the
    capacity, in one query).

    Lock, re-check, act: the session row (created on first use; a concurrent first use
    waits on its unique key) is locked, so attendees join one at a time and the count of
    live attendees is exact. Refused with `class_full` when no place is left; `attendee`
    (an appointment moving within or into the session) does not count against itself.
    """
    key = {
        "practitioner": practitioner,
        "location": location,
        "service": service,
        "starts_at": starts_at,
        "ends_at": ends_at,
    }
    if attendee is not None and attendee.class_session_id is not None:
        staying = ClassSession.objects.filter(pk=attendee.class_session_id, **key).first()
        if staying is not None:
            return staying  # same session (notes, client...): the place is kept
    if (
        known is not None
        and (known.practitioner_id, known.location_id, known.service_id)
        == (practitioner.pk, location.pk, service.pk)
        and service.capacity <= 1
        and not known.any_session
    ):
        # Not a class, and no session of these three to join (the caller read it with
        # the booking's choices, in this transaction): no query (issue 10).
        if check_provided and not known.provided:
            raise _not_provided(practitioner, location, service)
        return None
    # The capacity as it is now, whether the session exists (and whether the service is
    # provided there), in one query.
    capacity, session_exists, provided = _CAPACITY.rows(
        practitioner=practitioner.pk,
        location=location.pk,
        service=service.pk,
        starts_at=starts_at,
        ends_at=ends_at,
        provided=check_provided,
    )[0]
    if check_provided and not provided:
        raise _not_provided(practitioner, location, service)
    if capacity <= 1 and not session_exists:
        return None  # an ordinary appointment (a class made ordinary keeps its sessions)
    ClassSession.objects.bulk_create([ClassSession(**key)], ignore_conflicts=True)
    session = ClassSession.objects.select_for_update().get(**key)
    live = session.attendees.exclude(status=AppointmentStatus.CANCELED)
    if attendee is not None and attendee.pk is not None:
        live = live.exclude(pk=attendee.pk)
    if live.filter(client=client).exists():
        raise DomainError(
            "already_attending", f"{client} is already booked in this class.", field="client"
        )
    booked = live.count()
    if booked >= capacity:
        raise _class_full(booked, capacity)
    return session


def appointment_book(
    *,
    client: Client,
    practitioner: Practitioner,
    location: Location,
    service: Service,
    starts_at: dt.datetime,
    ends_at: dt.datetime | None = None,
    notes: str = "",
    client_package: ClientPackage | None = None,
    by: User | None,
    known: PlaceFacts | None = None,
) -> Appointment:
    """Book one appointment; with `client_package`, link it (consuming a credit) at once.

    `known`: what the caller read with its choices about the practitioner, location and
    service (`booking_choices`), in this transaction: for a service that is not a class,
    no query is sent to learn it again.

    For a class (a service with capacity > 1) the appointment is one attendee of the
    session with the same practitioner, location, service and times: refused with
    `class_full` when it has no place left (DOMAIN.md, Classes)."""
    # The times booked and the session joined, filled in by `book` (for the refusal of
    # an overlap, which names the clash's time).
    slots: list[tuple[dt.datetime, dt.datetime]] = []
    sessions: list[ClassSession | None] = []

    def book() -> Appointment:
        nonlocal ends_at
        slots.clear()
        sessions.clear()
        require_perm(by, "calendar_app.add_appointment")
        if client_package is not None:
            require_perm(by, "packages.link_clientpackage")
        _check_bookable(
            client=client, practitioner=practitioner, location=location, service=service
        )
        try:
            ends_at = ends_at or _default_end(starts_at, service)
            _check_times(starts_at, ends_at)
        except DomainError:
            # Refused in the order it always was: a service not provided first.
            _check_provided(practitioner=practitioner, location=location, service=service)
            raise
        slots.append((starts_at, ends_at))
        session = _class_session(
            practitioner=practitioner,
            location=location,
            service=service,
            starts_at=starts_at,
            ends_at=ends_at,
            client=client,
            check_provided=True,
            known=known,
        )
        sessions.append(session)
        # No overlap pre-check: the exclusion constraint refuses a clash on insert
        # (attendees of one session share its key, so never clash with each other), and
        # the refusal then names the clash's time (one query fewer; issue 10).
        appointment = Appointment(
            client=client,
            practitioner=practitioner,
            location=location,
            service=service,
            starts_at=starts_at,
            ends_at=ends_at,
            notes=notes,
            class_session=session,
            created_by=_user(by),
        )
        if client_package is not None:
            # Saved linked (one UPDATE fewer than linking after the INSERT); the credit
            # is taken below, in this transaction, or the booking is refused as a whole.
            _refuse(appointment, LINK)
            appointment.client_package = client_package
        # As save(), from SQL written once. With an id drawn with the form's choices,
        # sent without waiting (issue 10): its confirmation job, the package's lock and
        # services go in the same round trip, and an overlap is refused by the first
        # of them that waits, or below, in this savepoint either way.
        new_id = known.new_id if known is not None else None
        appointment.pk = new_id
        sent = insert_row(appointment, behind=new_id is not None)
        hooks.emit("appointment.booked", appointment, by=by)
        if client_package is not None:
            # Last: the package's row lock is held from here to COMMIT, so the booking's
            # other writes (the appointment, its event and jobs) come before it (issue
            # 10). The package as consume() locked and updated it: callers show it as it
            # is now.
            appointment.client_package = _consume_for(appointment, client_package.pk, by)
        if sent is not None:
            sent()  # refused here if nothing waited for it yet
        hooks.send_on_commit(
            hooks.appointments_booked, Appointment, appointments=[appointment], series=None, by=by
        )
        return appointment

    # One savepoint for the whole booking (none of its own around the INSERT): an overlap
    # rolls it all back, then the clash is read.
    return _guarding_overlap(book, practitioner, slots, sessions)


def series_occurrences(
    *, starts_at: dt.datetime, every_weeks: int, weekdays: Iterable[int], count: int
) -> list[dt.datetime]:
    """The start times of a repeating booking, in the practice's local time.

    Weeks are counted from the week of `starts_at` (Monday first); occurrences before
    `starts_at` in that first week are skipped. The local clock time is kept across
    daylight-saving changes; a series that would meet a time the clocks skip, or (after
    its first) one they repeat, is refused.
    """
    local = timezone.localtime(starts_at)
    days = sorted(set(weekdays))
    week_start = local.date() - dt.timedelta(days=local.weekday())
    occurrences: list[dt.datetime] = []
    week = 0
    while len(occurrences) < count:
        base = week_start + dt.timedelta(weeks=week * every_weeks)
        for weekday in days:
            day = base + dt.timedelta(days=weekday)
            if day < local.date():
                continue
            wall = dt.datetime.combine(day, local.time().replace(tzinfo=None, fold=0))
            start = timezone.make_aware(wall)
            # Through UTC: astimezone() to the datetime's own zone would change nothing.
            if timezone.localtime(start.astimezone(dt.UTC)).replace(tzinfo=None) != wall:
                # The clocks go forward over this time on that day: it never happens.
                raise DomainError(
                    "time_in_dst_gap",
                    f"The repeat reaches {date_format(wall, 'H:i')} on "
                    f"{date_format(wall, 'D j M Y')}, a time that does not exist: the clocks "
                    "go forward that night. Choose another time or fewer occurrences.",
                    field="starts_at",
                )
            if day == local.date():
                start = starts_at  # the time chosen, either one on a night it happens twice
            elif ambiguous_occurrences(wall) is not None:
                # The clocks go back over this time on that day: it happens twice.
                raise DomainError(
                    "time_ambiguous",
                    f"The repeat reaches {date_format(wall, 'H:i')} on "
                    f"{date_format(wall, 'D j M Y')}, a time that happens twice: the clocks "
                    "go back that night. Choose another time or fewer occurrences.",
                    field="starts_at",
                )
            occurrences.append(start)
            if len(occurrences) == count:
                break
        week += 1
    return occurrences


@transaction.atomic
def appointment_book_series(
    *,
    client: Client,
    practitioner: Practitioner,
    location: Location,
    service: Service,
    starts_at: dt.datetime,
    ends_at: dt.datetime | None = None,
    notes: str = "",
    every_weeks: int,
    weekdays: Iterable[int],
    count: int,
    client_package: ClientPackage | None = None,
    by: User | None,
) -> AppointmentSeries:
    """Book a repeating appointment: every 1-4 weeks on the chosen weekdays, `count` times.

    All or nothing: if any occurrence clashes, nothing is booked. Repeating appointments
    never use packages: asking for one (`client_package`) is refused before anything is
    written.
    """
    require_perm(by, "calendar_app.add_appointment")
    if client_package is not None:
        raise DomainError("repeating_appointment", REPEAT_NO_PACKAGE)
    _check_bookable(client=client, practitioner=practitioner, location=location, service=service)
    _check_provided(practitioner=practitioner, location=location, service=service)
    weekdays = list(weekdays)
    if not isinstance(every_weeks, int) or not 1 <= every_weeks <= 4:
        raise DomainError("invalid_repeat", "Repeat every 1, 2, 3 or 4 weeks.")
    if not weekdays or any(not isinstance(d, int) or not 0 <= d <= 6 for d in weekdays):
        raise DomainError("invalid_repeat", "Choose at least one weekday (Monday to Sunday).")
    if not isinstance(count, int) or not 1 <= count <= 104:
        raise DomainError("invalid_repeat", "A series has between 1 and 104 occurrences.")
    ends_at = ends_at or _default_end(starts_at, service)
    _check_times(starts_at, ends_at)
    duration = ends_at.astimezone(dt.UTC) - starts_at.astimezone(dt.UTC)
    starts = series_occurrences(
        starts_at=starts_at, every_weeks=every_weeks, weekdays=weekdays, count=count
    )
    # In UTC: aware arithmetic in a local zone is wall-clock arithmetic, which would
    # stretch or shrink an appointment that spans a daylight-saving change.
    slots = [(start, start.astimezone(dt.UTC) + duration) for start in starts]
    # A class: each occurrence joins the session at its time (locked in time order).
    sessions = [
        _class_session(
            practitioner=practitioner,
            location=location,
            service=service,
            starts_at=start,
            ends_at=end,
            client=client,
        )
        for start, end in slots
    ]
    _check_no_overlap(practitioner=practitioner, slots=slots, sessions=sessions)
    series = AppointmentSeries.objects.create(
        every_weeks=every_weeks, weekdays=sorted(set(weekdays)), count=count, created_by=_user(by)
    )
    appointments = [
        Appointment(
            client=client,
            practitioner=practitioner,
            location=location,
            service=service,
            starts_at=start,
            ends_at=end,
            notes=notes,
            series=series,
            class_session=session,
            created_by=_user(by),
        )
        for (start, end), session in zip(slots, sessions, strict=True)
    ]
    _save_guarding_overlap(lambda: Appointment.objects.bulk_create(appointments), practitioner)
    for booked in appointments:
        hooks.emit("appointment.booked", booked, by=by)
    hooks.send_on_commit(
        hooks.appointments_booked, Appointment, appointments=appointments, series=series, by=by
    )
    return series


def _lock_appointment(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("service", "client")
        .get(pk=appointment.pk)
    )


def _refuse(appointment: Appointment, action: str, *, now: dt.datetime | None = None) -> None:
    """Raise the refusal `calendar_app.selectors.appointment_refusal` gives, if any."""
    refusal = appointment_refusal(appointment, action, now=now)
    if refusal is not None:
        raise refusal


def _consume_for(
    appointment: Appointment, client_package_id: int, by: User | None
) -> ClientPackage:
    return credits.consume(
        client_package_id=client_package_id,
        appointment_id=appointment.pk,
        client_id=appointment.client_id,
        service=appointment.service,
        on_date=timezone.localdate(appointment.starts_at),
        by=by,
    )


def _release_for(appointment: Appointment, reason: str, by: User | None) -> None:
    assert appointment.client_package_id is not None  # callers release a linked appointment
    credits.release(
        client_package_id=appointment.client_package_id,
        appointment_id=appointment.pk,
        service_id=appointment.service_id,
        reason=reason,
        by=by,
    )


# ------------------------------------------------------------------ packages


def link_locked(
    *, appointment: Appointment, client_package: ClientPackage, by: User | None
) -> Appointment:
    """Link an appointment the caller has locked (or just created) in its transaction."""
    if appointment.client_package_id == client_package.pk:
        raise DomainError(
            "already_linked", f"This appointment is already linked to {client_package.name}."
        )
    _refuse(appointment, LINK)
    # The package as consume() locked and updated it: callers may show it as it is now.
    appointment.client_package = _consume_for(appointment, client_package.pk, by)
    appointment.save(update_fields=["client_package", "updated_at"])
    return appointment


@transaction.atomic
def appointment_link(
    *,
    appointment: Appointment,
    client_package: ClientPackage,
    service: Service | None = None,
    by: User | None,
) -> Appointment:
    """Link `appointment` to `client_package`, consuming one credit in the same transaction.

    `service` is the Service chosen in the Link package popup; when it differs from the
    appointment's, the appointment is for that service from now on (and must be covered
    and provided by its practitioner there), and it lasts that service's duration from
    the same start, as a new booking would (the overlap rule applies to the longer slot).
    """
    require_perm(by, "packages.link_clientpackage")
    locked = _lock_appointment(appointment)
    if service is not None and service.pk != locked.service_id and locked.client_package_id is None:
        _refuse(locked, LINK)
        _check_bookable(
            client=locked.client,
            practitioner=locked.practitioner,
            location=locked.location,
            service=service,
        )
        _check_provided(practitioner=locked.practitioner, location=locked.location, service=service)
        locked.service = service
        locked.ends_at = _default_end(locked.starts_at, service)
        _place(locked)
        _check_no_overlap(
            practitioner=locked.practitioner,
            slots=[(locked.starts_at, locked.ends_at)],
            exclude=[locked.pk],
            sessions=[locked.class_session],
        )
        _save_guarding_overlap(
            lambda: locked.save(
                update_fields=["service", "ends_at", "class_session", "updated_at"]
            ),
            locked.practitioner,
        )
    link_locked(appointment=locked, client_package=client_package, by=by)
    _refresh(appointment, locked)
    return appointment


@transaction.atomic
def appointment_unlink(
    *, appointment: Appointment, by: User | None, reason: str = ""
) -> Appointment:
    """Remove the package from `appointment` and give its credit back.

    A Completed package becomes Active again (its status is computed from the credits).
    An Arrived or Missed appointment used its credit: only an Admin may unlink it, with a
    `reason`, recorded in the ledger row of the release (`used_credit_refusal`).
    """
    require_perm(by, "packages.link_clientpackage")
    locked = _lock_appointment(appointment)
    _refuse(locked, UNLINK)
    refusal = used_credit_refusal(locked, UNLINK, by, reason)
    if refusal is not None:
        raise refusal
    note = "Appointment unlinked"
    if locked.status in (AppointmentStatus.ARRIVED, AppointmentStatus.MISSED):
        note = used_credit_reason(locked, reason)
    unlink_locked(appointment=locked, reason=note, by=by)
    _refresh(appointment, locked)
    return appointment


def unlink_locked(*, appointment: Appointment, reason: str, by: User | None) -> None:
    """Unlink an appointment the caller has locked in its transaction (credit released)."""
    _release_for(appointment, reason, by)
    appointment.client_package = None
    appointment.kept_credit = False
    appointment.save(update_fields=["client_package", "kept_credit", "updated_at"])


def _place(appointment: Appointment) -> None:
    """Put an edited appointment in the class session its details now name (locked, with
    a place for it), or in none when its service is not a class. The database requires
    an attendee's details to be its session's, so a moved attendee changes session."""
    appointment.class_session = _class_session(
        practitioner=appointment.practitioner,
        location=appointment.location,
        service=appointment.service,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        client=appointment.client,
        attendee=appointment,
    )


def _refresh(target: Appointment, source: Appointment) -> None:
    for field in (
        "client_package_id",
        "class_session_id",
        "service_id",
        "ends_at",
        "kept_credit",
        "status",
        "updated_at",
    ):
        setattr(target, field, getattr(source, field))
    for cached in ("client_package", "class_session", "service"):
        target._state.fields_cache.pop(cached, None)


# ------------------------------------------------------------------ edit, status


def _targets(appointment: Appointment, scope: str) -> list[Appointment]:
    """`appointment` locked, plus the later live occurrences of its series for "following"."""
    if scope not in SCOPES:
        raise DomainError("invalid_scope", "Choose this appointment or this and following.")
    locked = _lock_appointment(appointment)
    if scope == "this" or locked.series_id is None:
        return [locked]
    following = list(
        Appointment.objects.select_for_update(of=("self",))
        .select_related("service", "client")
        .filter(series_id=locked.series_id, starts_at__gt=locked.starts_at)
        .exclude(status=AppointmentStatus.CANCELED)
        .order_by("starts_at")
    )
    return [locked, *following]


@transaction.atomic
def appointment_edit(
    *, appointment: Appointment, by: User | None, scope: str = "this", **changes
) -> Appointment:
    """Change details of an appointment (or of it and the following ones in its series).

    Times move by the same offset for each following occurrence. A linked appointment may
    not be edited so that its package no longer pays for it: unlink first.
    """
    require_perm(by, "calendar_app.change_appointment")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise DomainError(
            "invalid_field", f"These details cannot be edited: {', '.join(sorted(unknown))}."
        )
    check_date_in_range(changes.get("starts_at"), field="starts_at")
    check_date_in_range(changes.get("ends_at"), field="ends_at")
    targets = _targets(appointment, scope)
    first = targets[0]
    _refuse(first, EDIT)
    shift = changes["starts_at"] - first.starts_at if "starts_at" in changes else dt.timedelta(0)
    new_service = changes.get("service")
    for target in targets:
        old_service_id = target.service_id
        duration = target.ends_at - target.starts_at
        for field in ("client", "practitioner", "location", "service", "notes"):
            if field in changes:
                setattr(target, field, changes[field])
        target.starts_at = target.starts_at + shift
        if target is first and "ends_at" in changes and changes["ends_at"] is not None:
            target.ends_at = changes["ends_at"]
        elif (
            new_service is not None
            and new_service.pk != old_service_id
            and "ends_at" not in changes
        ):
            target.ends_at = target.starts_at + dt.timedelta(minutes=new_service.duration_minutes)
        else:
            target.ends_at = target.starts_at + duration
        _check_bookable(
            client=target.client,
            practitioner=target.practitioner,
            location=target.location,
            service=target.service,
        )
        if {"practitioner", "location", "service"} & set(changes):
            # Only a change of who, where or what is checked: an appointment booked before
            # the practitioner's services were set up can still be moved or annotated.
            _check_provided(
                practitioner=target.practitioner, location=target.location, service=target.service
            )
        _check_times(target.starts_at, target.ends_at)
        if target.client_package_id is not None:
            _recheck_linked(target, old_service_id, by)
        _place(target)
    for target in targets:
        _check_no_overlap(
            practitioner=target.practitioner,
            slots=[(target.starts_at, target.ends_at)],
            exclude=[t.pk for t in targets],
            sessions=[target.class_session],
        )

    def save_all():
        for target in targets:
            target.save()

    _save_guarding_overlap(save_all, targets[0].practitioner)
    for target in targets:
        hooks.emit("appointment.changed", target, by=by)
    hooks.send_on_commit(
        hooks.appointments_changed, Appointment, appointments=targets, fields=set(changes), by=by
    )
    return first


@transaction.atomic
def appointment_unlink_and_edit(
    *,
    appointment: Appointment,
    by: User | None,
    scope: str = "this",
    reason: str = "",
    **changes,
) -> Appointment:
    """ "Edit details with the X": unlink the package (its credit goes back) and apply
    `changes`, in one transaction: both or neither.

    Refused, with nothing changed, when the appointment is canceled (`appointment_canceled`),
    is not linked (`not_linked`: unlinked meanwhile, by a second tab or a double submit),
    is Arrived or Missed and `by` is not an Admin giving a `reason` (`credit_used`,
    `reason_required`: see `appointment_unlink`), or when the edit itself is refused
    (overlap, archived choices, bad times...). Once
    unlinked, the edit is free of the package's rules (another client, an uncovered
    service, a date after the expiry). Returns the appointment as saved (`appointment`
    itself is left as it was: read it again).
    """
    require_perm(by, "calendar_app.change_appointment")
    locked = _lock_appointment(appointment)
    _refuse(locked, EDIT)
    appointment_unlink(appointment=locked, by=by, reason=reason)
    edited = locked
    if changes:
        edited = appointment_edit(appointment=locked, scope=scope, by=by, **changes)
    return edited


def _recheck_linked(appointment: Appointment, old_service_id: int, by: User | None) -> None:
    """Refuse an edit after which the linked package would no longer pay for the appointment.

    Moving a fixed package's credit to another covered service re-checks that service's
    allowance: the credit is released from the old service and consumed from the new.
    """
    assert appointment.client_package_id is not None  # called for linked appointments only
    client_package = ClientPackage.objects.select_for_update().get(pk=appointment.client_package_id)
    try:
        check_package_covers(
            client_package=client_package,
            client_id=appointment.client_id,
            service=appointment.service,
            on_date=timezone.localdate(appointment.starts_at),
            consuming=False,
        )
    except DomainError as exc:
        raise DomainError(
            "unlink_first",
            f"This appointment uses {client_package.name}: {exc.message} "
            "Unlink the package first (Edit details, X beside the package).",
        ) from exc
    if appointment.service_id != old_service_id and client_package.is_fixed:
        try:
            credits.move(
                appointment_id=appointment.pk,
                client_id=appointment.client_id,
                from_package_id=client_package.pk,
                from_service_id=old_service_id,
                to_package_id=client_package.pk,
                service=appointment.service,
                on_date=timezone.localdate(appointment.starts_at),
                reason="Service changed",
                by=by,
            )
        except DomainError as exc:
            raise DomainError(
                "unlink_first",
                f"This appointment uses {client_package.name}: {exc.message} Unlink the package first.",
            ) from exc


@transaction.atomic
def appointment_mark_arrived(*, appointment: Appointment, by: User | None) -> Appointment:
    """The client has arrived. Not before the appointment's day."""
    require_perm(by, "calendar_app.change_appointment")
    locked = _lock_appointment(appointment)
    _refuse(locked, ARRIVE)
    locked.status = AppointmentStatus.ARRIVED
    locked.save(update_fields=["status", "updated_at"])
    return locked


@transaction.atomic
def class_session_mark_arrived(*, session: ClassSession, by: User | None) -> list[Appointment]:
    """ "All arrived": every Booked attendee of the class session becomes Arrived, in one
    transaction (refused, with nothing changed, before the session's day). Attendees
    already Arrived, Missed or Canceled keep their status."""
    require_perm(by, "calendar_app.change_appointment")
    attendees = list(
        Appointment.objects.select_for_update(of=("self",))
        .select_related("service", "client")
        .filter(class_session=session, status=AppointmentStatus.BOOKED)
        .order_by("pk")
    )
    for attendee in attendees:
        _refuse(attendee, ARRIVE)
        attendee.status = AppointmentStatus.ARRIVED
        attendee.save(update_fields=["status", "updated_at"])
    return attendees


@transaction.atomic
def appointment_mark_missed(*, appointment: Appointment, by: User | None) -> Appointment:
    """A no-show. The package credit stays consumed."""
    require_perm(by, "calendar_app.change_appointment")
    locked = _lock_appointment(appointment)
    _refuse(locked, MISS)
    locked.status = AppointmentStatus.MISSED
    locked.save(update_fields=["status", "updated_at"])
    return locked


@transaction.atomic
def appointment_cancel(
    *,
    appointment: Appointment,
    reason: CancellationReason | None,
    keep_credit: bool = False,
    scope: str = "this",
    by: User | None,
) -> Appointment:
    """Cancel with a reason. A linked appointment's credit returns to its package unless
    `keep_credit` (a late cancellation). A past appointment is marked Missed instead."""
    require_perm(by, "calendar_app.change_appointment")
    if reason is None:
        raise DomainError("reason_required", "Choose a cancellation reason.")
    if reason.archived:
        raise DomainError("reason_archived", f"“{reason}” is no longer a cancellation reason.")
    targets = _targets(appointment, scope)
    first = targets[0]
    now = timezone.now()
    _refuse(first, CANCEL, now=now)
    if not keep_credit:
        for target in targets:  # an Arrived one keeps its used credit
            refusal = used_credit_refusal(target, CANCEL, by)
            if refusal is not None:
                raise refusal
    for target in targets:
        if target.client_package_id is not None and not keep_credit:
            unlink_locked(appointment=target, reason="Appointment canceled", by=by)
        target.status = AppointmentStatus.CANCELED
        target.cancellation_reason = reason
        target.kept_credit = bool(keep_credit and target.client_package_id)
        target.canceled_at = now
        target.save(
            update_fields=[
                "status",
                "cancellation_reason",
                "kept_credit",
                "canceled_at",
                "updated_at",
            ]
        )
    for target in targets:
        hooks.emit("appointment.canceled", target, by=by)
    hooks.send_on_commit(
        hooks.appointments_canceled, Appointment, appointments=targets, reason=reason, by=by
    )
    return first


@transaction.atomic
def appointment_delete(*, appointment: Appointment, by: User | None) -> None:
    """Delete an appointment booked by mistake; a linked one gives its credit back.

    An appointment on an invoice is kept (cancel it instead), so invoices stay whole. A
    linked Arrived or Missed one is kept too: its credit was used (an Admin may unlink it
    first, giving a reason).
    """
    require_perm(by, "calendar_app.delete_appointment")
    locked = _lock_appointment(appointment)
    _refuse(locked, DELETE)
    refusal = used_credit_refusal(locked, DELETE, by)
    if refusal is not None:
        raise refusal
    if locked.client_package_id is not None:
        _release_for(locked, "Appointment deleted", by)
    locked.delete()


COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

# ------------------------------------------------------------------ locations


@transaction.atomic
def location_create(*, name: str, address: str = "", by: User | None) -> Location:
    require_perm(by, "calendar_app.add_location")
    return Location.objects.create(
        name=clean_name(name, what="location", max_length=200), address=(address or "").strip()
    )


@transaction.atomic
def location_update(
    *, location: Location, name: str, address: str = "", by: User | None
) -> Location:
    require_perm(by, "calendar_app.change_location")
    locked = Location.objects.select_for_update().get(pk=location.pk)
    locked.name = clean_name(name, what="location", max_length=200)
    locked.address = (address or "").strip()
    locked.save(update_fields=["name", "address"])
    return locked


@transaction.atomic
def location_archive(*, location: Location, by: User | None) -> Location:
    """No new appointments at an archived location; booked ones stay where they are."""
    require_perm(by, "calendar_app.change_location")
    return set_archived(Location, location, True)


@transaction.atomic
def location_restore(*, location: Location, by: User | None) -> Location:
    require_perm(by, "calendar_app.change_location")
    return set_archived(Location, location, False)


# ------------------------------------------------------------------ practitioners


def _practitioner_user(user: UserModel | None, *, practitioner_pk: int | None) -> UserModel | None:
    if user is None:
        return None
    linked = Practitioner.objects.filter(user=user)
    if practitioner_pk is not None:
        linked = linked.exclude(pk=practitioner_pk)
    other = linked.first()
    if other is not None:
        raise DomainError(
            "user_already_linked",
            f"{user.get_username()} is already linked to the practitioner {other.name}.",
            field="user",
        )
    return user


def _colour(value: str) -> str:
    if not COLOUR.match(value or ""):
        raise DomainError("invalid_colour", "Choose a colour such as #2f7d6d.", field="colour")
    return value.lower()


def _provider_number(value: str) -> str:
    value = " ".join((value or "").split())
    if len(value) > 40:
        raise DomainError(
            "provider_number_too_long",
            "A provider number has at most 40 characters.",
            field="provider_number",
        )
    return value


def _save_practitioner(practitioner: Practitioner, fields: list[str] | None) -> Practitioner:
    try:
        with transaction.atomic():
            practitioner.save(update_fields=fields)
    except IntegrityError as exc:  # the same user linked by a concurrent request
        raise DomainError(
            "user_already_linked",
            "That staff user is already linked to a practitioner.",
            field="user",
        ) from exc
    return practitioner


@transaction.atomic
def practitioner_create(
    *,
    name: str,
    colour: str = "#2f7d6d",
    user: UserModel | None = None,
    provider_number: str = "",
    by: User | None,
) -> Practitioner:
    """A practitioner has a calendar; linking a staff user lets them sign in to it. The
    provider number is printed on their invoices (health-fund claims need it)."""
    require_perm(by, "calendar_app.add_practitioner")
    practitioner = Practitioner(
        name=clean_name(name, what="practitioner", max_length=200),
        colour=_colour(colour),
        user=_practitioner_user(user, practitioner_pk=None),
        provider_number=_provider_number(provider_number),
    )
    return _save_practitioner(practitioner, None)


@transaction.atomic
def practitioner_update(
    *,
    practitioner: Practitioner,
    name: str,
    colour: str,
    user: UserModel | None = None,
    provider_number: str | None = None,
    by: User | None,
) -> Practitioner:
    """Change a practitioner; `provider_number` None keeps theirs (API callers that do
    not send it)."""
    require_perm(by, "calendar_app.change_practitioner")
    locked = Practitioner.objects.select_for_update().get(pk=practitioner.pk)
    locked.name = clean_name(name, what="practitioner", max_length=200)
    locked.colour = _colour(colour)
    locked.user = _practitioner_user(user, practitioner_pk=locked.pk)
    fields = ["name", "colour", "user"]
    if provider_number is not None:
        locked.provider_number = _provider_number(provider_number)
        fields.append("provider_number")
    return _save_practitioner(locked, fields)


@transaction.atomic
def practitioner_archive(*, practitioner: Practitioner, by: User | None) -> Practitioner:
    """An archived practitioner takes no new bookings; their appointments stay."""
    require_perm(by, "calendar_app.change_practitioner")
    return set_archived(Practitioner, practitioner, True)


@transaction.atomic
def practitioner_services_set(
    *,
    practitioner: Practitioner,
    location: Location,
    services: Iterable[Service],
    by: User | None,
) -> list[PractitionerService]:
    """The services `practitioner` provides at `location` become exactly `services`;
    none means every active service (the default, see `PractitionerService`).

    Archived services are refused: they cannot be booked anyway. Only the rows that change
    are written, so the audit tells what was added and removed.
    """
    require_perm(by, "calendar_app.change_practitioner")
    locked = Practitioner.objects.select_for_update().get(pk=practitioner.pk)
    wanted = {service.pk: service for service in services}
    archived = [s.name for s in wanted.values() if s.archived]
    if archived:
        raise DomainError(
            "service_archived",
            f"{', '.join(sorted(archived))} is archived and cannot be offered.",
            field="services",
        )
    rows = PractitionerService.objects.filter(practitioner=locked, location=location)
    current = set(rows.values_list("service_id", flat=True))
    rows.exclude(service_id__in=list(wanted)).delete()
    PractitionerService.objects.bulk_create(
        [
            PractitionerService(practitioner=locked, location=location, service=service)
            for pk, service in wanted.items()
            if pk not in current
        ]
    )
    return list(rows.select_related("service"))


@transaction.atomic
def practitioner_restore(*, practitioner: Practitioner, by: User | None) -> Practitioner:
    require_perm(by, "calendar_app.change_practitioner")
    return set_archived(Practitioner, practitioner, False)


# ------------------------------------------------------------------ working hours (issue 11)


@transaction.atomic
def working_hours_set(
    *,
    practitioner: Practitioner,
    hours: Iterable[tuple[int, Location, dt.time, dt.time]],
    by: User | None,
) -> list[WorkingHours]:
    """Replace `practitioner`'s working hours with `hours`: (weekday 0 = Monday, location,
    start, end) stretches on the practice's clock.

    Refused, with nothing changed, when a stretch ends before it starts, is at an
    archived location it did not already have, or overlaps another of the same day.
    Stretches that stay the same are kept (the audit trail shows only what changed).
    The practitioner row is locked so two Admins saving at once cannot interleave.
    """
    require_perm(by, "calendar_app.change_practitioner")
    locked = Practitioner.objects.select_for_update().get(pk=practitioner.pk)
    existing = list(WorkingHours.objects.filter(practitioner=locked))
    had_locations = {row.location_id for row in existing}
    wanted: list[tuple[int, int, dt.time, dt.time]] = []
    by_day: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for weekday, location, starts, ends in hours:
        if weekday not in Weekday.values:
            raise DomainError("invalid_hours", "Choose a day from Monday to Sunday.")
        day = Weekday(weekday).label
        if ends <= starts:
            raise DomainError(
                "invalid_hours",
                f"{day}: the end ({ends:%H:%M}) must be after the start ({starts:%H:%M}).",
                weekday=weekday,
            )
        if location.archived and location.pk not in had_locations:
            raise DomainError(
                "location_archived", f"{location} is no longer in use.", weekday=weekday
            )
        for other_start, other_end in by_day.get(weekday, []):
            if starts < other_end and other_start < ends:
                raise DomainError(
                    "hours_overlap",
                    f"{day}: {other_start:%H:%M}–{other_end:%H:%M} and "
                    f"{starts:%H:%M}–{ends:%H:%M} overlap.",
                    weekday=weekday,
                )
        by_day.setdefault(weekday, []).append((starts, ends))
        wanted.append((weekday, location.pk, starts, ends))

    def key(row: WorkingHours) -> tuple[int, int, dt.time, dt.time]:
        return (row.weekday, row.location_id, row.starts, row.ends)

    keep = set(wanted)
    stale = [row.pk for row in existing if key(row) not in keep]
    if stale:
        WorkingHours.objects.filter(pk__in=stale).delete()
    present = {key(row) for row in existing}
    WorkingHours.objects.bulk_create(
        WorkingHours(practitioner=locked, weekday=w, location_id=loc, starts=s, ends=e)
        for w, loc, s, e in wanted
        if (w, loc, s, e) not in present
    )
    return list(WorkingHours.objects.filter(practitioner=locked).select_related("location"))


# ------------------------------------------------------------------ cancellation reasons


def _reason_rule(
    *,
    notice_hours: int | None,
    late_action: str,
    fee_kind: str,
    fee_value: Decimal | int | str | None,
) -> dict[str, Any]:
    """A cancellation reason's rule, checked: a window of 1 to 8760 hours (or none), an
    action, and for a fee a positive amount (fixed) or a percentage up to 100."""
    if notice_hours is not None and (
        isinstance(notice_hours, bool)
        or not isinstance(notice_hours, int)
        or not 1 <= notice_hours <= 8760
    ):
        raise DomainError(
            "invalid_window",
            "Enter the notice window in whole hours, from 1 to 8760, or leave it empty.",
            field="notice_hours",
        )
    if late_action not in LateAction.values:
        raise DomainError(
            "invalid_action", "Choose what happens inside the window.", field="late_action"
        )
    if fee_kind not in FeeKind.values:
        raise DomainError("invalid_fee", "Choose a fixed fee or a percentage.", field="fee_kind")
    try:
        fee = to_money(fee_value if fee_value not in (None, "") else 0)
    except ValueError:
        raise DomainError(
            "invalid_fee", "Enter the fee, such as 25.00.", field="fee_value"
        ) from None
    if fee < 0 or fee > Decimal("9999999999.99") or (fee_kind == FeeKind.PERCENT and fee > 100):
        raise DomainError(
            "invalid_fee",
            "Enter a percentage from 0 to 100."
            if fee_kind == FeeKind.PERCENT
            else "Enter a fee of 0.00 or more.",
            field="fee_value",
        )
    if late_action == LateAction.FEE and fee == 0:
        raise DomainError(
            "fee_required", "Enter the fee to charge inside the window.", field="fee_value"
        )
    if late_action != LateAction.RELEASE and notice_hours is None:
        raise DomainError(
            "window_required",
            "Give the notice window the rule applies inside, such as 24 hours.",
            field="notice_hours",
        )
    return {
        "notice_hours": notice_hours,
        "late_action": late_action,
        "fee_kind": fee_kind,
        "fee_value": fee,
    }


@transaction.atomic
def cancellation_reason_create(
    *,
    name: str,
    notice_hours: int | None = None,
    late_action: str = LateAction.RELEASE,
    fee_kind: str = FeeKind.FIXED,
    fee_value: Decimal | int | str | None = 0,
    by: User | None,
) -> CancellationReason:
    """A reason, with its rule (DOMAIN.md, Cancellation and no-show rules): without a
    notice window, canceling releases the credit."""
    require_perm(by, "calendar_app.add_cancellationreason")
    what = "cancellation reason"
    reason = CancellationReason(
        name=unique_name(CancellationReason, name, what=what, max_length=200),
        **_reason_rule(
            notice_hours=notice_hours,
            late_action=late_action,
            fee_kind=fee_kind,
            fee_value=fee_value,
        ),
    )
    return save_named(reason, None, what=what)


@transaction.atomic
def cancellation_reason_rename(
    *, reason: CancellationReason, name: str, by: User | None
) -> CancellationReason:
    """Appointments canceled with this reason show the new name."""
    require_perm(by, "calendar_app.change_cancellationreason")
    what = "cancellation reason"
    locked = CancellationReason.objects.select_for_update().get(pk=reason.pk)
    locked.name = unique_name(
        CancellationReason, name, what=what, max_length=200, exclude_pk=locked.pk
    )
    return save_named(locked, ["name"], what=what)


@transaction.atomic
def cancellation_reason_update(
    *,
    reason: CancellationReason,
    name: str,
    notice_hours: int | None = None,
    late_action: str = LateAction.RELEASE,
    fee_kind: str = FeeKind.FIXED,
    fee_value: Decimal | int | str | None = 0,
    by: User | None,
) -> CancellationReason:
    """Rename a reason and change its rule. Appointments already canceled keep what was
    applied to them; the new rule applies from now on."""
    require_perm(by, "calendar_app.change_cancellationreason")
    what = "cancellation reason"
    locked = CancellationReason.objects.select_for_update().get(pk=reason.pk)
    locked.name = unique_name(
        CancellationReason, name, what=what, max_length=200, exclude_pk=locked.pk
    )
    rule = _reason_rule(
        notice_hours=notice_hours, late_action=late_action, fee_kind=fee_kind, fee_value=fee_value
    )
    for field, value in rule.items():
        setattr(locked, field, value)
    return save_named(locked, ["name", *rule], what=what)


@transaction.atomic
def cancellation_reason_archive(
    *, reason: CancellationReason, by: User | None
) -> CancellationReason:
    """No longer offered when canceling; appointments canceled with it keep it."""
    require_perm(by, "calendar_app.change_cancellationreason")
    return set_archived(CancellationReason, reason, True)


@transaction.atomic
def cancellation_reason_restore(
    *, reason: CancellationReason, by: User | None
) -> CancellationReason:
    require_perm(by, "calendar_app.change_cancellationreason")
    return set_archived(CancellationReason, reason, False)
