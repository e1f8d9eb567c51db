"""Template helpers of the invoicing pages."""

from __future__ import annotations

from django import template
from django.template.defaultfilters import date
from django.utils.html import escape
from django.utils.safestring import mark_safe

from invoicing.selectors import PACKAGE_PAYMENT_STATUSES
from kernel.templatetags.caspen_tags import badge, money

register = template.Library()


@register.simple_tag
def package_payment_chip(status: str | None) -> str:
    """The Paid / Part paid / Unpaid / Not invoiced chip of a client package, from its
    `payment_status` (`invoicing.selectors.client_packages_with_payment`)."""
    if not status:
        return ""
    return badge(PACKAGE_PAYMENT_STATUSES.get(status, status))


@register.simple_tag
def invoice_list_rows(invoices) -> str:
    """The billing list's table rows, written here rather than by a `{% for %}` of
    template tags (a third of the page's time): each value escaped as `{{ }}` would."""
    rows = []
    days: dict = {}  # a page's invoices share few dates: each formatted once

    def day(value) -> str:
        if value not in days:
            days[value] = escape(date(value, "j M Y") or "—")
        return days[value]

    for invoice in invoices:
        if invoice.number:
            number = escape(invoice.number)
        else:
            number = f'Draft <span class="muted">#{escape(invoice.pk)}</span>'
        issued, due = day(invoice.issue_date), day(invoice.due_date)
        rows.append(
            "\n              <tr>\n"
            f'                <td class="nowrap"><a href="{escape(invoice.detail_url)}" '
            f'class="invoice-link">{number}</a></td>\n'
            f'                <td data-label="Client"><a href="{escape(invoice.client_url)}">'
            f"{escape(invoice.client)}</a></td>\n"
            f'                <td class="nowrap" data-label="Issued">{issued}</td>\n'
            f'                <td class="nowrap" data-label="Due">{due}</td>\n'
            f'                <td data-label="Status">{badge(invoice.status_label)}</td>\n'
            f'                <td class="num" data-label="Total">{escape(money(invoice.total))}</td>\n'
            f'                <td class="num" data-label="Balance">{escape(money(invoice.balance))}'
            "</td>\n"
            "              </tr>\n            "
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value above is escaped
