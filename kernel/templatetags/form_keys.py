"""`{% form_key %}`: the one-time key of a staff form, next to `{% csrf_token %}`.

A fresh random key each time the form is rendered (nothing is written on a GET); the
POST that carries it runs at most once per user (kernel.web.post_once), so a double
submit or a retry after a lost answer replays the first answer instead of booking,
charging or finalizing twice.
"""

from __future__ import annotations

import secrets

from django import template
from django.utils.html import format_html

from kernel.web import FORM_KEY_FIELD

register = template.Library()


@register.simple_tag
def form_key() -> str:
    return format_html(
        '<input type="hidden" name="{}" value="{}">', FORM_KEY_FIELD, secrets.token_urlsafe(24)
    )
