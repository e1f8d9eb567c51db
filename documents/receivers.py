"""Queues the confirmation email of a booking (issue 14) from the event the booking
service emits inside its transaction (kernel.hooks.emit): the job commits or rolls back
with the booking."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from kernel import hooks, jobs


def confirmation_lock(appointment: Any) -> str:
    """The appointments of one repeating booking share a lock, so their jobs run one
    after another: the first confirms them all in one email, the others find nothing
    left to confirm."""
    if appointment.series_id is not None:
        return f"appointment-email:series-{appointment.series_id}"
    return f"appointment-email:{appointment.pk}"


@receiver(hooks.event, dispatch_uid="documents.appointment_confirmation")
def queue_appointment_confirmation(
    sender: type, event_type: str, instance: Any, by: Any = None, **kwargs: Any
) -> None:
    """A booking made by staff (the pages, the API, the admin) is confirmed by email.
    Bookings made by the system (`by=None`: the demo's seeding, imports) are not.
    Whether the practice sends confirmations, and whether the client takes email, is
    decided when the job runs (documents.services.appointment_confirmation_send)."""
    if event_type != "appointment.booked":
        return
    if by is None or not getattr(by, "is_authenticated", False):
        return
    from documents.tasks import appointment_confirmation

    jobs.defer_behind(  # nothing reads the job back (issue 10)
        appointment_confirmation,
        lock=confirmation_lock(instance),
        appointment_ids=[instance.pk],
    )
