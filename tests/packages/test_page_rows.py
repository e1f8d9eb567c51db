"""The package page's and the client Overview's table rows, written by template tags
(packages.templatetags.package_tags, clients.templatetags.client_tags): the same HTML as
the `{% for %}` loops they replaced, on rows each branch of those loops takes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace as Row

import pytest
from django.template import engines

from kernel.web import pk_url

pytestmark = pytest.mark.django_db  # money() reads the practice's currency

UTC = dt.UTC

OLD_APPOINTMENTS = """{% load caspen_tags %}{% for appointment in appointments %}
            {% url 'calendar_app:detail' appointment.pk as appointment_url %}
            <tr>
              <td class="nowrap">{{ appointment.starts_at|date:"D j M Y" }}</td>
              <td class="nowrap" data-label="Time">{{ appointment.starts_at|time:"H:i" }}</td>
              <td data-label="Service">{{ appointment.service.name }}</td>
              <td data-label="Practitioner">{{ appointment.practitioner.name }}</td>
              <td data-label="Status">{% badge appointment.get_status_display %}{% if appointment.kept_credit %} <span class="muted small">credit kept</span>{% endif %}</td>
              <td class="cell-actions num">{% if appointment_url %}<a class="button button--small" href="{{ appointment_url }}" hx-get="{{ appointment_url }}" hx-target="#modal-body">View</a>{% endif %}</td>
            </tr>
          {% endfor %}"""  # noqa: E501

OLD_INVOICES = """{% load caspen_tags %}{% for invoice, invoice_status in invoice_rows %}
            {% url 'invoicing:detail' invoice.pk as invoice_page %}
            <tr>
              <td>{% if invoice.number %}{{ invoice.number }}{% else %}<span class="muted">Draft #{{ invoice.pk }}</span>{% endif %}</td>
              <td class="nowrap" data-label="Issued">{{ invoice.issue_date|date:"j M Y"|default:"—" }}</td>
              <td data-label="Status">{% badge invoice_status %}</td>
              <td class="num" data-label="Total">{{ invoice.total|money }}</td>
              <td class="num" data-label="Balance">{{ invoice.balance|money }}</td>
              <td class="cell-actions num">{% if invoice_page %}<a class="button button--small" href="{{ invoice_page }}">View</a>{% endif %}</td>
            </tr>
          {% endfor %}"""  # noqa: E501

OLD_HISTORY = """{% for entry in history %}
          <tr>
            <td class="nowrap">{{ entry.created_at|date:"j M Y" }} <span class="muted">{{ entry.created_at|time:"H:i" }}</span></td>
            <td data-label="What">{{ entry.what }}</td>
            <td class="num ledger-quantity{% if entry.quantity < 0 %} ledger-quantity--minus{% endif %}" data-label="Quantity">{% if entry.quantity > 0 %}+{% endif %}{{ entry.quantity }}</td>
            <td data-label="Service">{% if entry.service %}{{ entry.service.name }}{% elif client_package.is_fixed %}—{% else %}<span class="muted">Shared pool</span>{% endif %}</td>
            <td class="nowrap" data-label="Appointment">
              {% if entry.appointment %}
                {% url 'calendar_app:detail' entry.appointment_id as entry_appointment_url %}
                {% if entry_appointment_url %}<a href="{{ entry_appointment_url }}" hx-get="{{ entry_appointment_url }}" hx-target="#modal-body">{{ entry.appointment.starts_at|date:"j M Y" }} {{ entry.appointment.starts_at|time:"H:i" }}</a>{% else %}{{ entry.appointment.starts_at|date:"j M Y" }} {{ entry.appointment.starts_at|time:"H:i" }}{% endif %}
              {% elif entry.appointment_id %}<span class="muted">Deleted appointment</span>{% else %}—{% endif %}
            </td>
            <td data-label="By">{% if entry.created_by %}{{ entry.created_by.get_full_name|default:entry.created_by.username }}{% else %}<span class="muted">System</span>{% endif %}</td>
            <td data-label="Reason">{{ entry.reason|default:"—" }}</td>
            <td class="num" data-label="Remaining">{{ entry.remaining_after }}</td>
          </tr>
        {% endfor %}"""  # noqa: E501

OLD_PACKAGES = """{% load caspen_tags invoicing_tags %}{% for package in packages %}
              <tr>
                <td>{{ package.name }}<div class="muted small">Started {{ package.start_date|date:"j M Y" }}</div></td>
                <td data-label="Status">{% badge package.get_status_display %}</td>
                <td class="num" data-label="Credits">{{ package.credits }}</td>
                <td class="num" data-label="Consumed">{{ package.consumed }}</td>
                <td class="num" data-label="Remaining">{{ package.remaining }}</td>
                <td class="nowrap" data-label="Expires">{% if package.expires_on %}{{ package.expires_on|date:"j M Y" }}{% else %}Never{% endif %}</td>
                {% if show_payment %}<td data-label="Payment" data-testid="payment-status">{% package_payment_chip package.payment_status %}</td>{% endif %}
                <td class="num" data-label="Value left" data-testid="remaining-value">{{ package.remaining_value|money }}</td>
                <td class="cell-actions num"><a class="button button--small" href="{{ package.detail_url }}" aria-label="View {{ package.name }}">View</a></td>
              </tr>
            {% endfor %}"""  # noqa: E501


def render(source: str, **context) -> str:
    return engines["django"].from_string(source).render(context)


def user(first: str, last: str, username: str) -> Row:
    return Row(username=username, get_full_name=lambda: f"{first} {last}".strip())


LATE = dt.datetime(2026, 3, 1, 14, 5, tzinfo=UTC)  # the next day in Sydney
EARLY = dt.datetime(2025, 12, 31, 23, 59, tzinfo=UTC)


def test_appointment_rows_match_the_loop():
    appointments = [
        Row(
            pk=7,
            starts_at=starts,
            service=Row(name="Massage <60>"),
            practitioner=Row(name="Ann & Bo"),
            get_status_display=lambda label=label: label,
            kept_credit=kept,
        )
        for starts, label, kept in [(LATE, "Booked", False), (EARLY, "Missed", True)]
    ]
    new = render(
        "{% load package_tags %}{% package_appointment_rows appointments %}",
        appointments=appointments,
    )
    assert new == render(OLD_APPOINTMENTS, appointments=appointments)
    assert "Ann &amp; Bo" in new and "credit kept" in new


def test_invoice_rows_match_the_loop():
    rows = [
        (Row(pk=3, number="INV-<1>", issue_date=dt.date(2026, 1, 9), total=Decimal("10.5"), balance=Decimal("0")), "Paid"),
        (Row(pk=4, number="", issue_date=None, total=Decimal("99.99"), balance=Decimal("99.99")), "Draft"),
    ]  # fmt: skip
    new = render(
        "{% load package_tags %}{% package_invoice_rows invoice_rows %}", invoice_rows=rows
    )
    assert new == render(OLD_INVOICES, invoice_rows=rows)
    assert "Draft #4" in new and "INV-&lt;1&gt;" in new


@pytest.mark.parametrize("is_fixed", [True, False])
def test_history_rows_match_the_loop(is_fixed):
    history = [
        Row(created_at=LATE, what="Used", quantity=-1, service=Row(name="Pilates"),
            appointment=Row(starts_at=EARLY), appointment_id=12,
            created_by=user("Ann", "Lee", "ann"), reason="", remaining_after=4),
        Row(created_at=EARLY, what="Adjusted <up>", quantity=2, service=None, appointment=None,
            appointment_id=13, created_by=user("", "", "bo"), reason="Gift & thanks", remaining_after=5),
        Row(created_at=EARLY, what="Expired", quantity=0, service=None, appointment=None,
            appointment_id=None, created_by=None, reason=None, remaining_after=0),
    ]  # fmt: skip
    new = render(
        "{% load package_tags %}{% package_history_rows history client_package.is_fixed %}",
        history=history,
        client_package=Row(is_fixed=is_fixed),
    )
    assert new == render(OLD_HISTORY, history=history, client_package=Row(is_fixed=is_fixed))
    assert "Deleted appointment" in new and "Gift &amp; thanks" in new


@pytest.mark.parametrize("show_payment", [True, False])
def test_client_package_rows_match_the_loop(show_payment):
    detail = pk_url("packages:detail")
    packages = [
        Row(pk=pk, name="Pack <5>", start_date=dt.date(2026, 2, 1), get_status_display=lambda: "Active",
            credits=5, consumed=consumed, remaining=5 - consumed, expires_on=expires,
            payment_status=status, remaining_value=Decimal("12.30"), detail_url=detail(pk))
        for pk, consumed, expires, status in [
            (1, 0, dt.date(2027, 1, 31), "part_paid"), (2, 5, None, None), (3, 1, None, "paid"),
        ]
    ]  # fmt: skip
    new = render(
        "{% load client_tags %}{% client_package_rows packages show_payment %}",
        packages=packages,
        show_payment=show_payment,
    )
    assert new == render(OLD_PACKAGES, packages=packages, show_payment=show_payment)
    assert "Pack &lt;5&gt;" in new
