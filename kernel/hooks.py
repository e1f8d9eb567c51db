"""Where reminders, confirmations and receipts (SMS, email, webhooks) hook in.

Caspen sends nothing itself. The services below send one of these Django signals when
something a client may hear about has happened; a receiver connected in an app's
`ready()` does the sending:

    from kernel import hooks

    @receiver(hooks.appointments_booked)
    def confirm(sender, appointments, series, by, **kwargs):
        send_sms(appointments[0].client.phone, ...)

Every signal is sent **after the transaction commits**, so a receiver never tells a
client about a booking that was refused or rolled back, and it sees the rows as saved.
Receivers run with `send_robust`: one that raises is logged (logger `kernel.hooks`) and
cannot undo or fail the change, which is already saved. Work that must not be lost
(an email, a webhook) should not be done there: see `emit` below.

**Events inside the transaction** (`emit`, the `event` signal): the services also call
`hooks.emit("appointment.booked", appointment, by=by)` inside their atomic block, once
per object. Receivers of `event` run at once, in the transaction: they write rows and
defer jobs (kernel/jobs.py) that commit or roll back with the change, so a committed
change is never forgotten and a refused one announces nothing. A receiver that raises
fails the change (keep them to a few inserts). `integrations` turns them into webhooks.

| event type                | object        | emitted by                                  |
|---------------------------|---------------|---------------------------------------------|
| `appointment.booked`      | Appointment   | appointment_book, appointment_book_series   |
| `appointment.changed`     | Appointment   | appointment_edit                            |
| `appointment.canceled`    | Appointment   | appointment_cancel                          |
| `client_package.sold`     | ClientPackage | client_package_assign (and so _sell)        |
| `client_package.canceled` | ClientPackage | client_package_cancel (and _with_refund)    |
| `invoice.finalized`       | Invoice       | invoice_finalize                            |
| `payment.recorded`        | Payment       | payment_record                              |
| `payment.refunded`        | Payment       | payment_refund                              |

The on-commit signals:

| signal                 | sender      | keyword arguments                              | sent by                      |
|------------------------|-------------|------------------------------------------------|------------------------------|
| `appointments_booked`  | Appointment | `appointments` (list, by time), `series`, `by` | appointment_book(_series)    |
| `appointments_changed` | Appointment | `appointments`, `fields` (set of names), `by`  | appointment_edit             |
| `appointments_canceled`| Appointment | `appointments`, `reason`, `by`                 | appointment_cancel           |
| `invoice_finalized`    | Invoice     | `invoice`, `by`                                | invoice_finalize             |
| `payment_recorded`     | Payment     | `payment`, `invoice`, `by`                     | payment_record               |
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

appointments_booked = Signal()
appointments_changed = Signal()
appointments_canceled = Signal()
invoice_finalized = Signal()
payment_recorded = Signal()

# Sent inside the transaction by `emit`: keyword arguments `event_type` (str), `instance`
# (the model instance) and `by` (the user or None).
event = Signal()


def emit(event_type: str, instance: Any, *, by: Any = None) -> None:
    """Announce `event_type` about `instance` now, inside the caller's transaction.

    Receivers' errors propagate: the change and what its receivers wrote stand or fall
    together.
    """
    event.send(sender=type(instance), event_type=event_type, instance=instance, by=by)


def send_on_commit(signal: Signal, sender: type, **kwargs: Any) -> None:
    """Send `signal` once the current transaction commits (at once outside one)."""

    def send() -> None:
        for receiver, result in signal.send_robust(sender=sender, **kwargs):
            if isinstance(result, Exception):
                logger.error(
                    "A receiver of a Caspen hook failed: %r",
                    receiver,
                    exc_info=(type(result), result, result.__traceback__),
                )

    transaction.on_commit(send)
