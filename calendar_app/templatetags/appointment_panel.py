"""`{% appointment_panel %}`: the appointment information panel (calendar_app/panel.py)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from calendar_app.panel import panel_html

register = template.Library()


@register.simple_tag(takes_context=True)
def appointment_panel(context) -> SafeString:
    return panel_html(context)
