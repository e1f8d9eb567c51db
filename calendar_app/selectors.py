"""Reads for the calendar: the grid's appointments and columns, what a new booking starts
with, and which actions an appointment allows now.

`appointment_refusal` is the one place the booking state machine is written: the services
raise what it returns, and the appointment panel shows only the actions it allows
(`appointment_actions`), so a refusal text is never copied into a view.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from calendar_app.models import (
    MAX_LENGTH,
    Appointment,
    AppointmentStatus,
    Location,
    Practitioner,
    PractitionerService,
    Weekday,
    WorkingHours,
)
from catalog.models import Service
from kernel.errors import DomainError

# ------------------------------------------------------------------ the calendar grid


def active_practitioners() -> list[Practitioner]:
    return list(Practitioner.objects.filter(archived=False))


def practitioner_colours() -> list[tuple[int, str]]:
    """(pk, colour) of every practitioner, archived too (their old appointments show)."""
    return list(Practitioner.objects.order_by("pk").values_list("pk", "colour"))


def own_practitioner(user) -> Practitioner | None:
    """The signed-in user's own practitioner, if they have one that is not archived."""
    if user is None or not user.is_authenticated:
        return None
    return Practitioner.objects.filter(user=user, archived=False).first()


def calendar_appointments(
    *,
    start: dt.datetime,
    end: dt.datetime,
    practitioner: Practitioner | None = None,
    location: Location | None = None,
    canceled: bool = False,
) -> list[Appointment]:
    """Appointments overlapping [start, end), in time order, with what the grid shows.

    None lasts more than MAX_LENGTH (a constraint), so none that overlaps starts before
    `start - MAX_LENGTH`: that lower bound lets the start indexes read only the range."""
    queryset = Appointment.objects.filter(
        starts_at__gte=start - MAX_LENGTH, starts_at__lt=end, ends_at__gt=start
    ).select_related("client", "service", "practitioner", "location")
    if practitioner is not None:
        queryset = queryset.filter(practitioner=practitioner)
    if location is not None:
        queryset = queryset.filter(location=location)
    if not canceled:
        queryset = queryset.exclude(status=AppointmentStatus.CANCELED)
    return list(queryset.order_by("starts_at", "id"))


def calendar_columns(
    practitioners: list[Practitioner], appointments: list[Appointment]
) -> list[Practitioner]:
    """Columns for every active practitioner, plus anyone archived since who still has
    one of `appointments`, by name."""
    shown = list(practitioners)
    known = {p.pk for p in shown}
    for appointment in appointments:
        if appointment.practitioner_id not in known:
            known.add(appointment.practitioner_id)
            shown.append(appointment.practitioner)
    shown.sort(key=lambda p: p.name.lower())
    return shown


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
    user, *, practitioner_id: int | None = None, location_id: int | None = None
) -> dict[str, int]:
    """The practitioner and location a new booking (or invoice) form starts with.

    One precedence, everywhere:
    1. the one asked for (a link's `?practitioner=` / `?location=`), if it is an active one;
    2. for the practitioner, the signed-in user's own active practitioner;
    3. the only active practitioner (location) there is.
    Otherwise nothing is preselected. Returns only the keys it sets.
    """
    initial: dict[str, int] = {}
    practitioners = Practitioner.objects.filter(archived=False)
    if practitioner_id and practitioners.filter(pk=practitioner_id).exists():
        initial["practitioner"] = practitioner_id
    else:
        own = own_practitioner(user)
        only = list(practitioners.values_list("pk", flat=True)[:2])
        if own is not None:
            initial["practitioner"] = own.pk
        elif len(only) == 1:
            initial["practitioner"] = only[0]
    locations = Location.objects.filter(archived=False)
    if location_id and locations.filter(pk=location_id).exists():
        initial["location"] = location_id
    else:
        only = list(locations.values_list("pk", flat=True)[:2])
        if len(only) == 1:
            initial["location"] = only[0]
    return initial


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
    appointment: Appointment, action: str, *, now: dt.datetime | None = None
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
    appointment: Appointment, user, now: dt.datetime | None = None
) -> AppointmentActions:
    """The actions `appointment_refusal` allows and `user` may take.

    Marking Arrived (Missed) is not offered again to an appointment already Arrived
    (Missed): the service accepts it, but there is nothing to do.
    """
    now = now or timezone.now()

    def allowed(action: str) -> bool:
        return user.has_perm(ACTION_PERMS[action]) and (
            appointment_refusal(appointment, action, now=now) is None
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
