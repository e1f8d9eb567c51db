"""What audit events of client packages mean, in words (the Activity pages; see
kernel.audit): "Sam Lee sold Physio 10-pack to Jo Bloggs", "Rosa Nguyen canceled Physio
10-pack: Moved away".

One change often writes several rows (canceling a package, its ledger; linking an
appointment, a consume row). The sentence is told once: by the row that says most, while
the ledger rows speak only where that row is not shown (a package's Activity tab does not
list an unlinked appointment, so the credit given back says it).
"""

from __future__ import annotations

from kernel.audit import AuditEvent, date_text, describes, silent, when_text


def _sibling(event: AuditEvent, model: str, **match):
    for other in event.siblings:
        data = other.pgh_data or {}
        if other.pgh_model == model and all(data.get(k) == v for k, v in match.items()):
            return other
    return None


def _package_refs(event: AuditEvent):
    yield "clients.Client", event.data.get("client_id")


@describes("packages.ClientPackageEvent", kind="Packages", refs=_package_refs)
def client_package_sentence(event: AuditEvent) -> str | None:
    name = event.data.get("name", "a package")
    if event.label == "insert":
        client = event.name_of("clients.Client", event.data.get("client_id"), "a client")
        return f"sold {name} to {client}"
    if event.label == "delete":
        return f"deleted {name}"
    parts = []
    if event.changed("canceled_at") and event.after("canceled_at"):
        reason = event.after("cancel_reason")
        parts.append(f"canceled {name}{f': {reason}' if reason else ''}")
    if event.changed("expires_on"):
        change = _sibling(
            event, "packages.ExpiryChangeEvent", client_package_id=event.data.get("id")
        )
        reason = (change.pgh_data or {}).get("reason") if change else ""
        parts.append(
            f"changed the expiry of {name} from {date_text(event.before('expires_on'))} to "
            f"{date_text(event.after('expires_on'))}{f': {reason}' if reason else ''}"
        )
    if event.changed("credits"):
        adjust = _sibling(event, "packages.CreditLedgerEntryEvent", kind="adjust")
        reason = (adjust.pgh_data or {}).get("reason") if adjust else ""
        parts.append(
            f"adjusted the credits of {name} from {event.before('credits')} to "
            f"{event.after('credits')}{f': {reason}' if reason else ''}"
        )
    if not parts:
        if event.diff:
            return None  # credits used or given back: the appointment tells it
        return f"changed {name}"
    return "; ".join(parts)


def _ledger_refs(event: AuditEvent):
    yield "packages.ClientPackage", event.data.get("client_package_id")
    yield "calendar_app.Appointment", event.data.get("appointment_id")


@describes("packages.CreditLedgerEntryEvent", kind="Packages", refs=_ledger_refs)
def ledger_sentence(event: AuditEvent) -> str | None:
    data = event.data
    kind = data.get("kind")
    package_id = data.get("client_package_id")
    package = event.name_of("packages.ClientPackage", package_id, "a package")
    if kind == "grant":
        return None  # the sale tells it
    if kind == "adjust":
        if _sibling(event, "packages.ClientPackageEvent", id=package_id):
            return None
        return (
            f"adjusted the credits of {package} by {data.get('quantity'):+d}: {data.get('reason')}"
        )
    appointment_id = data.get("appointment_id")
    if appointment_id and _sibling(event, "calendar_app.AppointmentEvent", id=appointment_id):
        return None  # the appointment's own event tells it
    appointment = event.ref("calendar_app.Appointment", appointment_id)
    of = (
        f"the appointment of {when_text(appointment.starts_at)}"
        if appointment
        else "an appointment"
    )
    if kind == "consume":
        return f"used a credit of {package} for {of}"
    if kind == "release":
        return f"gave the credit of {of} back to {package}"
    return None


@describes("packages.ExpiryChangeEvent", kind="Packages", refs=_ledger_refs)
def expiry_change_sentence(event: AuditEvent) -> str | None:
    package_id = event.data.get("client_package_id")
    if _sibling(event, "packages.ClientPackageEvent", id=package_id):
        return None  # the package's own event tells it, with this reason
    package = event.name_of("packages.ClientPackage", package_id, "a package")
    return (
        f"changed the expiry of {package} from {date_text(event.data.get('old_expires_on'))} "
        f"to {date_text(event.data.get('new_expires_on'))}: {event.data.get('reason')}"
    )


# Copied at sale and counted with each use: the sale and the appointments tell it.
silent("packages.ClientPackageServiceEvent", kind="Packages")
