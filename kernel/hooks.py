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
cannot undo or fail the change, which is already saved.

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
