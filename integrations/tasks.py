"""The webhook delivery job (kernel/jobs.py; docs/webhooks.md)."""

from __future__ import annotations

from integrations import services
from kernel import jobs


@jobs.task(name="integrations.deliver_webhook", retry=services.RETRY)
def deliver_webhook(delivery_id: int) -> None:
    """One attempt; a failed one is tried again later (RetryLater) until it gives up."""
    retry_in = services.webhook_attempt(delivery_id=delivery_id)
    if retry_in is not None:
        raise jobs.RetryLater(retry_in)
