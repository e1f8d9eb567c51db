"""Template helpers of the client pages."""

from __future__ import annotations

from django import template
from django.template.defaultfilters import date
from django.utils.html import escape
from django.utils.safestring import mark_safe

from invoicing.templatetags.invoicing_tags import package_payment_chip
from kernel.templatetags.caspen_tags import badge, money
from kernel.time import day_month_year

register = template.Library()


@register.simple_tag
def client_list_rows(clients, can_change: bool) -> str:
    """The client list's table rows (the search partial's), written here rather than by a
    `{% for %}` of template tags: each value escaped as `{{ }}` would."""
    rows = []
    for client in clients:
        name = escape(client.full_name)
        detail = escape(client.detail_url)
        archived = f" {badge('Archived')}" if client.archived else ""
        born = escape(date(client.date_of_birth, "j M Y") or "—")
        if can_change:
            archive = escape(client.archive_url)
            changes = (
                "\n"
                f'                    <a href="{escape(client.edit_url)}">Edit</a>\n'
                f'                    <a href="{archive}"\n'
                f'                       hx-get="{archive}" hx-target="#modal-body">'
                f"{'Restore' if client.archived else 'Archive'}</a>\n"
                "                  "
            )
        else:
            changes = ""
        rows.append(
            "\n          <tr>\n"
            f'            <td><a class="client-rows__name" href="{detail}">{name}</a>{archived}</td>\n'
            f'            <td data-label="Email">{escape(client.email or "—")}</td>\n'
            f'            <td class="nowrap" data-label="Phone">{escape(client.phone or "—")}</td>\n'
            '            <td class="nowrap client-rows__dob" data-label="Date of birth">'
            f"{born}</td>\n"
            '            <td class="cell-actions num">\n'
            '              <details class="menu">\n'
            '                <summary class="button button--small" '
            f'aria-label="Actions for {name}">Actions <span aria-hidden="true">▾</span></summary>\n'
            '                <div class="menu__items">\n'
            f'                  <a href="{detail}">View</a>\n'
            f"                  {changes}\n"
            "                </div>\n"
            "              </details>\n"
            "            </td>\n"
            "          </tr>\n        "
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value above is escaped


@register.simple_tag
def client_package_rows(packages, show_payment: bool) -> str:
    """The Overview's Packages table rows (each package with `remaining_value`,
    `detail_url` and, when `show_payment`, `payment_status`), written as
    `client_list_rows` writes its rows."""
    rows = []
    for package in packages:
        name = escape(package.name)
        expires = escape(day_month_year(package.expires_on)) if package.expires_on else "Never"
        payment = (
            '<td data-label="Payment" data-testid="payment-status">'
            f"{package_payment_chip(package.payment_status)}</td>"
            if show_payment
            else ""
        )
        rows.append(
            "\n              <tr>\n"
            f'                <td>{name}<div class="muted small">Started '
            f"{escape(day_month_year(package.start_date))}</div></td>\n"
            f'                <td data-label="Status">{badge(package.get_status_display())}</td>\n'
            f'                <td class="num" data-label="Credits">{escape(package.credits)}</td>\n'
            '                <td class="num" data-label="Consumed">'
            f"{escape(package.consumed)}</td>\n"
            '                <td class="num" data-label="Remaining">'
            f"{escape(package.remaining)}</td>\n"
            f'                <td class="nowrap" data-label="Expires">{expires}</td>\n'
            f"                {payment}\n"
            '                <td class="num" data-label="Value left" data-testid="remaining-value">'
            f"{escape(money(package.remaining_value))}</td>\n"
            '                <td class="cell-actions num"><a class="button button--small" '
            f'href="{escape(package.detail_url)}" aria-label="View {name}">View</a></td>\n'
            "              </tr>\n            "
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value above is escaped
