"""Template helpers of the package page: its tables' rows written here rather than by a
`{% for %}` of template tags and `{% url %}`s (the same HTML, each value escaped as
`{{ }}` would, dates and times in the current time zone as the `date`/`time` filters
show them in a template)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django import template
from django.urls import NoReverseMatch
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.timezone import template_localtime

from kernel.templatetags.caspen_tags import badge, money
from kernel.time import day_month_year, hour_minute, weekday_day_month_year
from kernel.web import pk_url

register = template.Library()


def _link(name: str) -> Callable[[int], str]:
    """`{% url name pk as x %}` for each row: "" when the name can't be reversed."""
    try:
        return pk_url(name)
    except NoReverseMatch:
        return lambda pk: ""


def _when(value, day: Callable[[dt.date], str]) -> tuple[str, str]:
    """A datetime's date written by `day` and its `|time:"H:i"`, in the current time zone
    as the template filters show it, escaped."""
    local = template_localtime(value)
    return escape(day(local)), escape(hour_minute(local))


def _by(user) -> str:
    """`{{ user.get_full_name|default:user.username }}`, or System without one."""
    if user is None:
        return '<span class="muted">System</span>'
    return escape(user.get_full_name() or user.username)


@register.simple_tag
def package_appointment_rows(appointments) -> str:
    """The Appointments table's rows."""
    url = _link("calendar_app:detail")
    rows = []
    for appointment in appointments:
        day, hour = _when(appointment.starts_at, weekday_day_month_year)
        kept = ' <span class="muted small">credit kept</span>' if appointment.kept_credit else ""
        link = url(appointment.pk)
        view = (
            f'<a class="button button--small" href="{escape(link)}" hx-get="{escape(link)}" '
            'hx-target="#modal-body">View</a>'
            if link
            else ""
        )
        rows.append(
            "\n            \n            <tr>\n"
            f'              <td class="nowrap">{day}</td>\n'
            f'              <td class="nowrap" data-label="Time">{hour}</td>\n'
            f'              <td data-label="Service">{escape(appointment.service.name)}</td>\n'
            '              <td data-label="Practitioner">'
            f"{escape(appointment.practitioner.name)}</td>\n"
            '              <td data-label="Status">'
            f"{badge(appointment.get_status_display())}{kept}</td>\n"
            f'              <td class="cell-actions num">{view}</td>\n'
            "            </tr>\n          "
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value above is escaped


@register.simple_tag
def package_invoice_rows(invoice_rows) -> str:
    """The Invoices table's rows, from (invoice, status label) pairs."""
    url = _link("invoicing:detail")
    rows = []
    for invoice, status in invoice_rows:
        if invoice.number:
            number = escape(invoice.number)
        else:
            number = f'<span class="muted">Draft #{escape(invoice.pk)}</span>'
        link = url(invoice.pk)
        view = f'<a class="button button--small" href="{escape(link)}">View</a>' if link else ""
        rows.append(
            "\n            \n            <tr>\n"
            f"              <td>{number}</td>\n"
            '              <td class="nowrap" data-label="Issued">'
            f"{escape(day_month_year(invoice.issue_date)) if invoice.issue_date else '—'}</td>\n"
            f'              <td data-label="Status">{badge(status)}</td>\n'
            f'              <td class="num" data-label="Total">{escape(money(invoice.total))}</td>\n'
            '              <td class="num" data-label="Balance">'
            f"{escape(money(invoice.balance))}</td>\n"
            f'              <td class="cell-actions num">{view}</td>\n'
            "            </tr>\n          "
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value above is escaped


@register.simple_tag
def package_history_rows(history, is_fixed: bool) -> str:
    """The Credit history table's rows (ledger entries with `what` and
    `remaining_after`); `is_fixed`: the package's, for a row without a service."""
    url = _link("calendar_app:detail")
    rows = []
    for entry in history:
        day, hour = _when(entry.created_at, day_month_year)
        quantity = entry.quantity
        minus = " ledger-quantity--minus" if quantity < 0 else ""
        plus = "+" if quantity > 0 else ""
        if entry.service:
            service = escape(entry.service.name)
        elif is_fixed:
            service = "—"
        else:
            service = '<span class="muted">Shared pool</span>'
        appointment = entry.appointment
        if appointment:
            link = url(entry.appointment_id)
            on_day, at = _when(appointment.starts_at, day_month_year)
            if link:
                shown = (
                    f'<a href="{escape(link)}" hx-get="{escape(link)}" hx-target="#modal-body">'
                    f"{on_day} {at}</a>"
                )
            else:
                shown = f"{on_day} {at}"
            appointment_cell = f"\n                \n                {shown}\n              "
        elif entry.appointment_id:
            appointment_cell = '<span class="muted">Deleted appointment</span>'
        else:
            appointment_cell = "—"
        rows.append(
            "\n          <tr>\n"
            f'            <td class="nowrap">{day} <span class="muted">{hour}</span></td>\n'
            f'            <td data-label="What">{escape(entry.what)}</td>\n'
            f'            <td class="num ledger-quantity{minus}" data-label="Quantity">'
            f"{plus}{escape(quantity)}</td>\n"
            f'            <td data-label="Service">{service}</td>\n'
            '            <td class="nowrap" data-label="Appointment">\n'
            f"              {appointment_cell}\n"
            "            </td>\n"
            f'            <td data-label="By">{_by(entry.created_by)}</td>\n'
            f'            <td data-label="Reason">{escape(entry.reason or "—")}</td>\n'
            f'            <td class="num" data-label="Remaining">{escape(entry.remaining_after)}</td>\n'
            "          </tr>\n        "
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value above is escaped
