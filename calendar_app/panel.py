"""The appointment information panel's HTML, written in Python (`{% appointment_panel %}`
in templates/calendar_app/appointment.html).

Every change to an appointment answers with this panel, and a package booking renders
it while its transaction is still open. As a template it cost 0.6 ms of a booking's
~4.5 ms of CPU (issue 10): about 60 variable lookups, a dozen URL tags and the template
engine's work per node, for some 2 KB of HTML. Written directly, as the calendar's blocks
are (calendar_app/grid.py), it takes a fraction of that. Every value written out is
escaped here, as the template's autoescaping did; the labels are the template's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.template.defaultfilters import linebreaksbr
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from calendar_app.grid import escape
from calendar_app.models import AppointmentStatus
from kernel.templatetags.caspen_tags import badge, csrf_input
from kernel.templatetags.form_keys import form_key
from kernel.time import day_month, day_month_year, hour_minute, weekday_day_month_year
from kernel.web import pk_url

# The panel's actions that open a popup: (context flag, URL name, link's classes, label),
# in the template's order; "Arrived" and "Create invoice" are forms (POST).
_LINKS = (
    ("can_miss", "calendar_app:missed", "button button--small", "Missed"),
    ("can_cancel", "calendar_app:cancel", "button button--small", "Cancel appointment"),
    (
        "can_delete",
        "calendar_app:delete",
        "button button--small button--ghost appt-actions__delete",
        "Delete",
    ),
)


def popup_header(title: str, *, htmx: bool) -> str:
    """templates/includes/popup_header.html: the popup's title (and × in a popup)."""
    if htmx:
        return (
            '<div class="modal__header">\n'
            f'  <h2 id="modal-title" class="modal__title">{escape(title)}</h2>\n'
            '  <button type="button" class="modal__close" data-close-modal'
            ' aria-label="Close">×</button>\n</div>\n'
        )
    return (
        '<div class="modal__header">\n'
        f'  <h1 id="modal-title" class="modal__title">{escape(title)}</h1>\n</div>\n'
    )


def _link(url: str, text: str) -> str:
    """`text` (already escaped) linked to `url`, or just `text` where there is no URL."""
    return f'<a href="{escape(url)}">{text}</a>' if url else text


def _hx(verb: str, url: str, in_modal: bool) -> str:
    """The attributes that open `url` in the popup, when the panel is one."""
    return f' hx-{verb}="{escape(url)}" hx-target="#modal-body"' if in_modal else ""


def _package_part(context: Mapping[str, Any]) -> str:
    appointment, package = context["appointment"], context.get("package")
    if package:
        name = f"<strong>{escape(package.name)}</strong>"
        usage = context.get("usage")
        line = (
            f"Remaining {escape(package.remaining)} of {escape(package.credits)} "
            f"credit{'' if package.credits == 1 else 's'}"
        )
        if usage and usage.allowance is not None:
            line += f" · {escape(usage.name)}: {escape(usage.usage_label)}"
        if package.expires_on:
            line += f" · Expires {day_month_year(package.expires_on)}"
        kept = (
            '<p class="small">Canceled late: the package credit stays used.</p>'
            if appointment.kept_credit
            else ""
        )
        return (
            '<div class="banner banner--info linked-package">\n<div>\n'
            '<p class="linked-package__name">Linked to package: '
            f"{_link(pk_url('packages:detail')(package.pk), name)}</p>\n"
            f'<p class="small linked-package__usage">{line}</p>\n'
            f"{kept}</div>\n</div>\n"
        )
    matches = context.get("matches")
    if matches:
        url = pk_url("calendar_app:link")(appointment.pk)
        return (
            '<div class="banner banner--success package-banner">\n'
            f"<p><strong>{escape(matches)} package matches</strong> — "
            f'<a href="{escape(url)}"{_hx("get", url, context.get("in_modal"))}>View</a></p>\n'
            "</div>\n"
        )
    return ""


def _details(context: Mapping[str, Any]) -> str:
    appointment = context["appointment"]
    in_modal = context.get("in_modal")
    rows = [
        f"<dt>Service</dt><dd>{escape(appointment.service.name)}</dd>",
        f"<dt>Practitioner</dt><dd>{escape(appointment.practitioner.name)}</dd>",
        f"<dt>Location</dt><dd>{escape(appointment.location.name)}</dd>",
    ]
    if context.get("series_text"):
        rows.append(f"<dt>Series</dt><dd>{escape(context['series_text'])}</dd>")
    if context.get("class_places"):
        url = pk_url("calendar_app:class_session")(appointment.class_session_id)
        rows.append(
            f'<dt>Class</dt><dd><a href="{escape(url)}"{_hx("get", url, in_modal)}>'
            f"{escape(context['class_places'])} booked — View class</a></dd>"
        )
    if appointment.status == AppointmentStatus.CANCELED:
        reason = appointment.cancellation_reason
        text = escape((reason.name if reason is not None else "") or "No reason given")
        if appointment.canceled_at:
            at = timezone.localtime(appointment.canceled_at)
            text += f" · {day_month_year(at)}, {hour_minute(at)}"
        rows.append(f"<dt>Canceled</dt><dd>{text}</dd>")
    invoice = context.get("invoice")
    if invoice:
        number = escape(invoice.number or "Draft invoice")
        link = _link(pk_url("invoicing:detail")(invoice.pk), number)
        rows.append(f"<dt>Invoice</dt>\n<dd>{link} {badge(invoice.get_status_display())}</dd>")
    emails = context.get("emails")
    if emails:
        items = []
        for email in emails:
            sent = timezone.localtime(email.sent_at)
            item = (
                f"{escape(email.get_kind_display())} · {escape(email.get_status_display())}"
                f" · {day_month(sent)}, {hour_minute(sent)}"
            )
            if email.status != "sent":
                item += f' <span class="muted small">{escape(email.error)}</span>'
            items.append(f"<li>{item}</li>")
        rows.append(f'<dt>Emails</dt>\n<dd><ul class="appt-emails">{"".join(items)}</ul></dd>')
    notes = (
        linebreaksbr(appointment.notes) if appointment.notes else '<span class="muted">None</span>'
    )
    rows.append(f"<dt>Notes</dt><dd>{notes}</dd>")
    return '<dl class="details">\n' + "\n".join(rows) + "\n</dl>\n"


def _actions(context: Mapping[str, Any]) -> str:
    appointment = context["appointment"]
    in_modal = context.get("in_modal")
    flags = ("can_arrive", "can_miss", "can_cancel", "can_delete", "can_invoice", "can_edit")
    if not any(context.get(flag) for flag in flags):
        return ""
    hidden = ""  # the forms' CSRF token, made only if the panel has a form
    if context.get("can_arrive") or context.get("can_invoice"):
        hidden = csrf_input(context)

    def post(name: str, classes: str, label: str) -> str:
        url = pk_url(name)(appointment.pk)
        return (
            f'<form method="post" action="{escape(url)}"{_hx("post", url, in_modal)}>'
            f'{hidden}{form_key()}<button type="submit" class="{classes}">{label}</button>'
            "</form>\n"
        )

    def get(name: str, classes: str, label: str) -> str:
        url = pk_url(name)(appointment.pk)
        return f'<a class="{classes}" href="{escape(url)}"{_hx("get", url, in_modal)}>{label}</a>\n'

    first = (
        post("calendar_app:arrived", "button button--small", "Arrived")
        if context.get("can_arrive")
        else ""
    )
    first += "".join(
        get(name, classes, label) for flag, name, classes, label in _LINKS if context.get(flag)
    )
    second = (
        post("calendar_app:invoice", "button", "Create invoice")
        if context.get("can_invoice")
        else ""
    )
    if context.get("can_edit"):
        second += get("calendar_app:edit", "button button--primary", "Edit details")
    return (
        '<div class="appt-actions">\n'
        f'<div class="actions">\n{first}</div>\n'
        f'<div class="actions">\n{second}</div>\n'
        "</div>\n"
    )


def panel_html(context: Mapping[str, Any]) -> SafeString:
    """The panel of `context` (calendar_app.views._panel_context, with the template
    context's `request` and `csrf_token`), its popup header first."""
    appointment = context["appointment"]
    request = context.get("request")
    starts, ends = (
        timezone.localtime(appointment.starts_at),
        timezone.localtime(appointment.ends_at),
    )
    client = _link(
        pk_url("clients:detail")(appointment.client_id), escape(appointment.client.full_name)
    )
    error = context.get("error")
    alert = (
        f'<div role="alert"><ul class="form-errors"><li>{escape(error)}</li></ul></div>\n'
        if error
        else ""
    )
    return mark_safe(  # noqa: S308 - every value above is escaped
        popup_header("Appointment", htmx=bool(getattr(request, "htmx", False)))
        + '<div class="appt-panel" id="appointment-panel">\n'
        + alert
        + _package_part(context)
        + '<div class="appt-panel__head">\n<div>\n'
        f'<h3 class="appt-panel__client">{client}</h3>\n'
        f'<p class="muted appt-panel__when">{weekday_day_month_year(starts)} · '
        f"{hour_minute(starts)}–{hour_minute(ends)}</p>\n"
        "</div>\n"
        f"{badge(appointment.get_status_display())}\n"
        "</div>\n" + _details(context) + _actions(context) + "</div>\n"
    )
