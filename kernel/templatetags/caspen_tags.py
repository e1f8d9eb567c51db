"""Template helpers: money, status badges, query-string links."""

from __future__ import annotations

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from kernel.money import format_money
from kernel.web import named_url, pk_url

register = template.Library()

BADGE_CLASSES = {
    "active": "active",
    "completed": "completed",
    "expired": "expired",
    "canceled": "canceled",
    "draft": "draft",
    "open": "open",
    "part paid": "partpaid",
    "overdue": "overdue",
    "unpaid": "unpaid",
    "not invoiced": "neutral",
    "paid": "paid",
    "void": "void",
    "booked": "booked",
    "arrived": "arrived",
    "missed": "missed",
}


@register.filter
def money(value, currency: str = "") -> str:
    """1234.5 -> "$1,234.50" in the practice's currency (kernel.money.format_money)."""
    if value is None or value == "":
        return ""
    try:
        return format_money(value, currency or None)
    except ValueError:
        return str(value)


@register.simple_tag
def badge(label: str) -> str:
    """<span class="badge badge--paid">Paid</span> for a status label."""
    # An f-string, not format_html (~10x slower): list pages show hundreds of badges.
    key = str(label).lower()
    return mark_safe(  # noqa: S308 - the class is one of ours, the label escaped
        f'<span class="badge badge--{BADGE_CLASSES.get(key, "neutral")}">{conditional_escape(label)}</span>'
    )


@register.simple_tag(takes_context=True)
def query(context, **changes) -> str:
    """The current query string with `changes` applied (None removes a key): for
    pagination and filter links that keep the other filters."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag
def pk_link(name: str, pk: int) -> str:
    """`{% url name pk %}` for a URL taking one integer pk, its halves reversed once per
    process (kernel.web.pk_url); escaped like `{% url %}` when written out."""
    return pk_url(name)(pk)


@register.simple_tag
def nav_url(name: str) -> str:
    """`{% url name as x %}` for a URL without arguments, reversed once per process
    (kernel.web.named_url): "" when the name can't be reversed."""
    return named_url(name)
