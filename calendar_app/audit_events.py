"""What audit events of the calendar mean, in words (the Activity pages; see kernel.audit).

"Rosa Nguyen canceled the appointment of 7 Dec 08:00: Client unwell", "Sam Lee linked
the appointment of 9 Dec 10:00 to Physio 10-pack".
"""

from __future__ import annotations

from kernel.audit import AuditEvent, describes, record_sentence, when_text

STATUS_WORDS = {"booked": "Booked", "arrived": "Arrived", "missed": "Missed"}


def _appointment_refs(event: AuditEvent):
    yield "clients.Client", event.data.get("client_id")
    yield "calendar_app.CancellationReason", event.data.get("cancellation_reason_id")
    yield "catalog.Service", event.data.get("service_id")
    yield "calendar_app.Practitioner", event.data.get("practitioner_id")
    for pk in {event.before("client_package_id"), event.after("client_package_id")}:
        yield "packages.ClientPackage", pk
    if event.changed("practitioner_id"):
        yield "calendar_app.Practitioner", event.before("practitioner_id")


def _canceled_with(event: AuditEvent) -> bool:
    """Whether another event of the same request canceled this appointment."""
    return any(
        other.pgh_model == event.model
        and (other.pgh_data or {}).get("id") == event.data.get("id")
        and (other.pgh_data or {}).get("status") == "canceled"
        and other.pgh_id > event.event.pgh_id
        for other in event.siblings
    )


def appointment_of(event: AuditEvent, *, before: bool = False) -> str:
    starts = event.before("starts_at") if before else event.after("starts_at")
    return f"the appointment of {when_text(starts)}"


@describes("calendar_app.AppointmentEvent", kind="Appointments", refs=_appointment_refs)
def appointment_sentence(event: AuditEvent) -> str | None:
    data = event.data
    client = event.name_of("clients.Client", data.get("client_id"), "a client")
    if event.label == "insert":
        service = event.name_of("catalog.Service", data.get("service_id"))
        practitioner = event.name_of("calendar_app.Practitioner", data.get("practitioner_id"))
        with_whom = f" with {practitioner}" if practitioner else ""
        package = event.name_of("packages.ClientPackage", data.get("client_package_id"))
        linked = f", linked to {package}" if package else ""
        return f"booked {client} for {service}{with_whom} on {when_text(data.get('starts_at'))}{linked}"
    if event.label == "delete":
        return f"deleted {appointment_of(event)} of {client}"
    parts: list[str] = []
    if event.changed("status"):
        status = event.after("status")
        if status == "canceled":
            reason = event.name_of(
                "calendar_app.CancellationReason", data.get("cancellation_reason_id")
            )
            kept = " (the package credit was kept)" if data.get("kept_credit") else ""
            parts.append(
                f"canceled {appointment_of(event, before=True)}{f': {reason}' if reason else ''}{kept}"
            )
        else:
            parts.append(
                f"marked {appointment_of(event, before=True)} as {STATUS_WORDS.get(status, status)}"
            )
    if event.changed("client_package_id") and _canceled_with(event):
        return None  # canceling unlinks first: the cancellation tells it
    if event.changed("client_package_id") and event.after("status") != "canceled":
        before, after = event.diff["client_package_id"]
        if before is not None:
            old = event.name_of("packages.ClientPackage", before, "a package")
            parts.append(f"unlinked {appointment_of(event, before=True)} from {old}")
        if after is not None:
            new = event.name_of("packages.ClientPackage", after, "a package")
            parts.append(f"linked {appointment_of(event)} to {new}")
    if event.changed("starts_at"):
        parts.append(
            f"moved {appointment_of(event, before=True)} to {when_text(event.after('starts_at'))}"
        )
    if event.changed("practitioner_id"):
        who = event.name_of("calendar_app.Practitioner", event.after("practitioner_id"))
        parts.append(f"gave {appointment_of(event)} to {who}")
    others = [
        label
        for field, label in (
            ("service_id", "service"),
            ("location_id", "location"),
            ("ends_at", "end time"),
            ("notes", "notes"),
        )
        if event.changed(field)
    ]
    if others:
        parts.append(f"changed the {' and '.join(others)} of {appointment_of(event)}")
    if not parts:
        if event.diff or event.label != "update":
            return None  # only bookkeeping fields (updated_at) changed
        return f"changed {appointment_of(event)} of {client}"
    return "; ".join(parts)


@describes("calendar_app.AppointmentSeriesEvent", kind="Appointments")
def series_sentence(event: AuditEvent) -> str | None:
    if event.label == "insert":
        return (
            f"booked a repeating series: every {event.after('every_weeks')} week(s), "
            f"{event.after('count')} times"
        )
    return None  # its appointments tell what happened


@describes("calendar_app.LocationEvent", kind="Settings")
def location_sentence(event: AuditEvent) -> str:
    return record_sentence(event, "location", {"name": "name", "address": "address"})


def _practitioner_refs(event: AuditEvent):
    for pk in {event.before("user_id"), event.after("user_id")}:
        yield "auth.User", pk


@describes("calendar_app.PractitionerEvent", kind="Settings", refs=_practitioner_refs)
def practitioner_sentence(event: AuditEvent) -> str:
    if event.changed("user_id"):
        before, after = event.diff["user_id"]
        event.diff["user_id"] = [
            event.name_of("auth.User", before, "nobody") if before is not None else None,
            event.name_of("auth.User", after, "nobody") if after is not None else None,
        ]
    return record_sentence(
        event,
        "practitioner",
        {
            "name": "name",
            "colour": "colour",
            "user_id": "user",
            "provider_number": "provider number",
        },
    )


@describes("calendar_app.CancellationReasonEvent", kind="Settings")
def cancellation_reason_sentence(event: AuditEvent) -> str:
    return record_sentence(event, "cancellation reason", {"name": "name"})


def _practitioner_service_refs(event: AuditEvent):
    yield "calendar_app.Practitioner", event.data.get("practitioner_id")
    yield "calendar_app.Location", event.data.get("location_id")
    yield "catalog.Service", event.data.get("service_id")


@describes(
    "calendar_app.PractitionerServiceEvent", kind="Settings", refs=_practitioner_service_refs
)
def practitioner_service_sentence(event: AuditEvent) -> str | None:
    """ "added Remedial massage to the services Sam Lee provides at City clinic" """
    data = event.data
    practitioner = event.name_of(
        "calendar_app.Practitioner", data.get("practitioner_id"), "a practitioner"
    )
    location = event.name_of("calendar_app.Location", data.get("location_id"), "a location")
    service = event.name_of("catalog.Service", data.get("service_id"), "a service")
    where = f"the services {practitioner} provides at {location}"
    if event.label == "insert":
        return f"added {service} to {where}"
    if event.label == "delete":
        return f"removed {service} from {where}"
    return None


def _working_hours_refs(event: AuditEvent):
    yield "calendar_app.Practitioner", event.data.get("practitioner_id")
    yield "calendar_app.Location", event.data.get("location_id")


WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@describes("calendar_app.WorkingHoursEvent", kind="Settings", refs=_working_hours_refs)
def working_hours_sentence(event: AuditEvent) -> str | None:
    """ "added working hours of Ava Chen: Monday 08:00–18:00 at Manly" (issue 11)."""
    data = event.data
    who = event.name_of("calendar_app.Practitioner", data.get("practitioner_id"), "a practitioner")
    where = event.name_of("calendar_app.Location", data.get("location_id"), "a location")
    weekday = data.get("weekday")
    day = WEEKDAY_NAMES[weekday] if isinstance(weekday, int) and 0 <= weekday < 7 else "a day"
    stretch = f"{day} {str(data.get('starts'))[:5]}–{str(data.get('ends'))[:5]} at {where}"
    if event.label == "insert":
        return f"added working hours of {who}: {stretch}"
    if event.label == "delete":
        return f"removed working hours of {who}: {stretch}"
    return None  # the settings page replaces stretches; it never updates one
