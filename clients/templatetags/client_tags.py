"""Template helpers of the client pages."""

from __future__ import annotations

import html

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime

from invoicing.templatetags.invoicing_tags import package_payment_chip
from kernel.templatetags.caspen_tags import badge, csrf_input, money
from kernel.time import day_month_year, weekday_day_month_time, weekday_day_month_year
from kernel.web import named_url, pk_url

register = template.Library()

# The row tags below escape plain strings: Python's html.escape is Django's `escape`
# without its lazy-string wrapper (the same characters, the same entities), called a few
# hundred times a search.
_escape = html.escape


@register.simple_tag
def client_list_rows(clients, can_change: bool) -> str:
    """The client list's table rows (the search partial's), written here rather than by a
    `{% for %}` of template tags: each value escaped as `{{ }}` would."""
    rows = []
    for client in clients:
        name = _escape(client.full_name)
        detail = _escape(client.detail_url)
        archived = f" {badge('Archived')}" if client.archived else ""
        born = _escape(day_month_year(client.date_of_birth)) if client.date_of_birth else "—"
        if can_change:
            archive = _escape(client.archive_url)
            changes = (
                "\n"
                f'                    <a href="{_escape(client.edit_url)}">Edit</a>\n'
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
            f'            <td data-label="Email">{_escape(client.email or "—")}</td>\n'
            f'            <td class="nowrap" data-label="Phone">{_escape(client.phone or "—")}</td>\n'
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
def client_choice_items(clients, selected, matches_url: str) -> str:
    """Create appointment's client search results (its partial, read as you type), written
    here rather than by a `{% for %}` of template nodes, as `client_list_rows`: the
    client to pick (a radio that loads the package part), with phone and email."""
    chosen = selected.pk if selected else None
    url = _escape(matches_url)
    items = []
    for client in clients:
        checked = " checked" if chosen is not None and client.pk == chosen else ""
        email = f" · {_escape(client.email)}" if client.email else ""
        items.append(
            "\n            <li>\n"
            '              <label class="choice choice--compact">\n'
            f'                <input type="radio" name="client" value="{client.pk}"{checked}\n'
            f'                       hx-get="{url}" hx-trigger="change" hx-include="closest form"\n'
            '                       hx-target="#package-area" hx-swap="innerHTML" '
            'hx-sync="#package-area:replace">\n'
            "                <span>\n"
            f'                  <span class="choice__title">{_escape(client.full_name)}</span>\n'
            '                  <span class="choice__meta">'
            f"{_escape(client.phone or 'No phone')}{email}</span>\n"
            "                </span>\n"
            "              </label>\n"
            "            </li>\n          "
        )
    return mark_safe("".join(items))  # noqa: S308 - every value above is escaped


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


_CURRENT = ' aria-current="page"'


@register.simple_tag(takes_context=True)
def client_header(context) -> str:
    """The client's name, actions, archived banner and tabs, shared by the client's pages
    (`client`, `tab`, and the header's `balance` and `visits` when the role sees them),
    written here rather than by ~60 template nodes: each value escaped as `{{ }}` would."""
    client, user, request = context["client"], context["user"], context.get("request")
    balance, visits, tab = context.get("balance"), context.get("visits"), context.get("tab")
    pk = client.pk
    name = escape(client.full_name)
    archived = f" {badge('Archived')}" if client.archived else ""
    glance = ""
    if balance or visits:
        items = []
        if balance:
            if balance.owing:
                overdue = (
                    f'{badge("Overdue")}<span class="visually-hidden"> '
                    f"({escape(money(balance.overdue))})</span>"
                    if balance.overdue
                    else ""
                )
                owing = (
                    '<span class="glance__label">Balance owing</span>\n'
                    f'<a href="{escape(pk_url("clients:invoices")(pk))}">'
                    f"<strong>{escape(money(balance.owing))}</strong></a>\n{overdue}"
                )
            else:
                owing = (
                    '<span class="glance__label">Balance owing</span> '
                    f"<strong>{escape(money(balance.owing))}</strong>"
                )
            items.append(f'<li class="glance__item" data-testid="balance-owing">\n{owing}\n</li>')
        if visits:
            upcoming, last = visits.next, visits.last
            if upcoming:
                shown = (
                    f"<strong>{escape(weekday_day_month_time(localtime(upcoming.starts_at)))}</strong> "
                    f'<span class="muted">{escape(upcoming.service.name)} · '
                    f"{escape(upcoming.practitioner.name)}</span>"
                )
            else:
                shown = '<span class="muted">None booked</span>'
            items.append(
                '<li class="glance__item" data-testid="next-appointment">'
                f'<span class="glance__label">Next</span>\n{shown}\n</li>'
            )
            if last:
                shown = (
                    f"<strong>{escape(weekday_day_month_year(localtime(last.starts_at)))}</strong> "
                    f'<span class="muted">{escape(last.service.name)}</span>'
                )
            else:
                shown = '<span class="muted">None yet</span>'
            items.append(
                '<li class="glance__item" data-testid="last-appointment">'
                f'<span class="glance__label">Last</span>\n{shown}\n</li>'
            )
        glance = '\n<ul class="glance" aria-label="At a glance">\n' + "\n".join(items) + "\n</ul>"
    can_change = user.has_perm("clients.change_client")
    actions = []
    book_url = named_url("calendar_app:create")
    if book_url and user.has_perm("calendar_app.add_appointment") and not client.archived:
        actions.append(
            f'<a class="button" href="{escape(book_url)}?client={pk}">Create appointment</a>'
        )
    if can_change:
        actions.append(f'<a class="button" href="{escape(pk_url("clients:edit")(pk))}">Edit</a>')
        if not client.archived:
            archive = escape(pk_url("clients:archive")(pk))
            actions.append(
                f'<a class="button button--ghost" href="{archive}" hx-get="{archive}"'
                ' hx-target="#modal-body">Archive</a>'
            )
    banner = ""
    if client.archived:
        restore = ""
        if can_change:
            path = escape(request.get_full_path()) if request is not None else ""
            restore = (
                f'\n<form method="post" action="{escape(pk_url("clients:archive")(pk))}">\n'
                f"{csrf_input(context)}\n"
                '<input type="hidden" name="action" value="restore">\n'
                f'<input type="hidden" name="next" value="{path}">\n'
                '<button class="button button--small" type="submit">Restore</button>\n</form>'
            )
        banner = (
            '\n<div class="banner banner--warning" role="status">\n'
            "<span><strong>This client is archived.</strong> They can't be booked or sold "
            f"packages; their history stays.</span>{restore}\n</div>"
        )
    tabs = [
        f'<a href="{escape(pk_url("clients:detail")(pk))}"'
        f"{_CURRENT if tab == 'overview' else ''}>Overview</a>"
    ]
    if user.has_perm("calendar_app.view_appointment"):
        tabs.append(
            f'<a href="{escape(pk_url("clients:appointments")(pk))}"'
            f"{_CURRENT if tab == 'appointments' else ''}>Appointments</a>"
        )
    if user.has_perm("invoicing.view_invoice"):
        tabs.append(
            f'<a href="{escape(pk_url("clients:invoices")(pk))}"'
            f"{_CURRENT if tab == 'invoices' else ''}>Invoices</a>"
        )
    tabs.append(
        f'<a href="{escape(pk_url("clients:activity")(pk))}"'
        f"{_CURRENT if tab == 'activity' else ''}>Activity</a>"
    )
    return mark_safe(  # noqa: S308 - every value above is escaped
        '<nav class="breadcrumbs" aria-label="Breadcrumbs">'
        f'<a href="{escape(named_url("clients:list"))}">Clients</a> › {name}</nav>\n'
        '<div class="page-header">\n<div>\n'
        f"<h1>{name}{archived}</h1>\n"
        f'<p class="page-header__meta">{escape(client.email or "No email")} · '
        f"{escape(client.phone or 'No phone')}</p>{glance}\n</div>\n"
        '<div class="actions">\n' + "\n".join(actions) + "\n</div>\n</div>"
        f'{banner}\n<nav class="tabs" aria-label="Client">\n' + "\n".join(tabs) + "\n</nav>"
    )
