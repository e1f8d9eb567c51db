"""Jobs of the documents app (kernel/jobs.py): the appointment emails of issue 14."""

from __future__ import annotations

import logging

from documents.models import AppointmentEmailStatus
from documents.services import appointment_confirmation_send, appointment_reminders_send
from kernel import jobs

logger = logging.getLogger(__name__)

# A refused or unreachable mail server: tried again after 1, 5, 15 and 60 minutes (each
# failure is recorded on the appointment), then given up.
CONFIRMATION_RETRIES = [60, 300, 900, 3600]


class ConfirmationNotSent(Exception):
    """The mail server failed; raised so the queue retries the job."""


@jobs.task(
    name="documents.appointment_confirmation",
    retry=jobs.retry_schedule(CONFIRMATION_RETRIES),
)
def appointment_confirmation(appointment_ids: list[int]) -> None:
    """Deferred by the booking (calendar_app.services, in its transaction)."""
    records = appointment_confirmation_send(appointment_ids=appointment_ids)
    failed = [r for r in records if r.status == AppointmentEmailStatus.FAILED]
    if failed:
        raise ConfirmationNotSent(failed[0].error)


@jobs.periodic(cron="* * * * *")
@jobs.task(name="documents.appointment_reminders", queueing_lock="documents.appointment_reminders")
def appointment_reminders(timestamp: int) -> None:
    """Every minute: send the reminders now due (a failure is recorded and tried again
    on a later run, see documents.selectors.REMINDER_MAX_ATTEMPTS)."""
    records = appointment_reminders_send()
    if records:
        logger.info("Sent %d appointment reminder(s)", len(records))
