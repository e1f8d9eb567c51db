"""The appointment information panel (calendar_app/panel.py, written in Python since
issue 10): what staff typed is escaped, the header fits a popup or a page, a refusal
shows in it, its actions follow permissions, and its emails and invoice rows read as
before."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import Appointment
from calendar_app.services import appointment_cancel
from documents.models import AppointmentEmail
from invoicing.services import invoice_for_appointment
from kernel.errors import DomainError
from tests.factories import (
    CancellationReasonFactory,
    ClientFactory,
    PackageFactory,
    UserFactory,
)
from tests.pages.test_calendar import HTMX, _text_of

pytestmark = pytest.mark.django_db


def _panel(client, appointment: Appointment, **headers) -> str:
    response = client.get(reverse("calendar_app:detail", args=[appointment.pk]), **headers)
    assert response.status_code == 200
    return response.content.decode()


def test_what_staff_typed_is_escaped(client, reception, practice):
    client.force_login(reception)
    person = ClientFactory(first_name="<i>Ann</i>", last_name='O"Hara & Co')
    pass_ = PackageFactory(name="Pass <10>", credits=10, services=[practice.follow_up])
    appointment = practice.book(
        by=None,
        client=person,
        client_package=practice.sell(pass_, client=person),
        notes="<b>Knee</b> & hip\nsecond line",
    )
    html = _panel(client, appointment, **HTMX)
    assert "<i>Ann</i>" not in html and "<b>Knee</b>" not in html and "Pass <10>" not in html
    assert "&lt;i&gt;Ann&lt;/i&gt; O&quot;Hara &amp; Co" in html
    assert "&lt;b&gt;Knee&lt;/b&gt; &amp; hip<br>second line" in html
    assert "<strong>Pass &lt;10&gt;</strong>" in html
    text = _text_of(html)
    assert "Linked to package: Pass <10> Remaining 9 of 10 credits" in text


def test_a_canceled_appointment_says_why_and_when(client, reception, practice):
    client.force_login(reception)
    appointment = practice.book(by=None)
    reason = CancellationReasonFactory(name="Sick <flu>")
    appointment_cancel(appointment=appointment, reason=reason, by=reception)
    appointment.refresh_from_db()
    at = timezone.localtime(appointment.canceled_at)
    text = _text_of(_panel(client, appointment, **HTMX))
    assert f"Canceled Sick <flu> · {at.day} {at:%b %Y}, {at:%H:%M}" in text
    assert "Sick &lt;flu&gt;" in _panel(client, appointment, **HTMX)


def test_the_header_fits_a_popup_or_a_page(client, reception, practice):
    client.force_login(reception)
    appointment = practice.book(by=None)
    popup = _panel(client, appointment, **HTMX)
    assert '<h2 id="modal-title" class="modal__title">Appointment</h2>' in popup
    assert "data-close-modal" in popup
    page = _panel(client, appointment)
    assert '<h1 id="modal-title" class="modal__title">Appointment</h1>' in page
    assert "data-close-modal" not in page
    # in a popup the actions open in it; on a page they are plain links
    edit = reverse("calendar_app:edit", args=[appointment.pk])
    assert f'href="{edit}" hx-get="{edit}" hx-target="#modal-body"' in popup
    assert f'href="{edit}">Edit details' in page


def test_a_refusal_shows_in_the_panel(client, reception, practice):
    client.force_login(reception)
    appointment = practice.book(by=None)
    appointment_cancel(appointment=appointment, reason=practice.reason, by=reception)
    url = reverse("calendar_app:arrived", args=[appointment.pk])
    response = client.post(url, **HTMX)
    assert response.status_code == 409
    html = response.content.decode()
    alert = re.search(r'<div role="alert"><ul class="form-errors"><li>(.+?)</li>', html)
    assert alert is not None and alert.group(1)
    from calendar_app.services import appointment_mark_arrived

    appointment.refresh_from_db()
    with pytest.raises(DomainError) as refused:
        appointment_mark_arrived(appointment=appointment, by=reception)
    assert _text_of(alert.group(1)) == refused.value.message


def test_the_actions_follow_permissions(client, reception, accountant, practice):
    appointment = practice.book(by=None)
    client.force_login(reception)
    html = _panel(client, appointment, **HTMX)
    forms = re.findall(r"<form .*?</form>", html)
    assert [re.search(r">([^<>]+)</button>", f).group(1) for f in forms] == ["Create invoice"]
    for form in forms:  # each form posts with its CSRF token and a one-time key
        assert form.count('name="csrfmiddlewaretoken"') == 1
        assert form.count('name="form_key"') == 1
    text = _text_of(html)
    assert "Cancel appointment Delete Create invoice Edit details" in text

    client.force_login(accountant)  # invoices, changes no appointment
    text = _text_of(_panel(client, appointment, **HTMX))
    assert "Create invoice" in text and "Edit details" not in text and "Delete" not in text

    viewer = UserFactory(username="vera")
    viewer.user_permissions.add(Permission.objects.get(codename="view_appointment"))
    client.force_login(viewer)
    html = _panel(client, appointment, **HTMX)
    assert "Notes" in _text_of(html)
    assert "appt-actions" not in html and "csrfmiddlewaretoken" not in html


def test_emails_and_invoice_rows(client, admin_user, practice):
    client.force_login(admin_user)
    appointment = practice.book(by=None)
    sent_at = dt.datetime(2026, 2, 2, 3, 0, tzinfo=dt.UTC)
    common = {"appointment": appointment, "starts_at": appointment.starts_at, "sent_at": sent_at}
    AppointmentEmail.objects.create(kind="confirmation", status="sent", **common)
    AppointmentEmail.objects.create(
        kind="reminder", status="failed", error="Server <said> no", **common
    )
    invoice = invoice_for_appointment(appointment=appointment, by=admin_user)
    html = _panel(client, appointment, **HTMX)
    local = timezone.localtime(sent_at)
    when = f"{local.day} {local:%b}, {local:%H:%M}"
    text = _text_of(html)
    assert f"Confirmation · Sent · {when}" in text
    assert f"Reminder · Failed · {when} Server <said> no" in text
    assert "Server &lt;said&gt; no" in html
    assert "Invoice Draft invoice Draft" in text
    assert f'href="{reverse("invoicing:detail", args=[invoice.pk])}"' in html
