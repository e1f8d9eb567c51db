"""Turns the events the services emit inside their transaction (kernel.hooks.emit) into
webhook deliveries, in that same transaction."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from integrations import services
from kernel import hooks


@receiver(hooks.event, dispatch_uid="integrations.webhooks")
def record_webhook_event(sender: type, event_type: str, instance: Any, **kwargs: Any) -> None:
    services.webhook_event_record(event_type=event_type, instance=instance)
