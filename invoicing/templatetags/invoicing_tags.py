"""Template helpers of the invoicing pages."""

from __future__ import annotations

from django import template

from invoicing.selectors import PACKAGE_PAYMENT_STATUSES
from kernel.templatetags.caspen_tags import badge

register = template.Library()


@register.simple_tag
def package_payment_chip(status: str | None) -> str:
    """The Paid / Part paid / Unpaid / Not invoiced chip of a client package, from its
    `payment_status` (`invoicing.selectors.client_packages_with_payment`)."""
    if not status:
        return ""
    return badge(PACKAGE_PAYMENT_STATUSES.get(status, status))
