"""Where staff control appointment emails (issue 14): the client's "No email" box (page,
API, admin) and the practice's Appointment emails card (Settings, admin)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import Client
from kernel.errors import DomainError
from practice.models import PracticeSettings
from practice.services import email_settings_update
from tests.api.conftest import api_client

V1 = "/api/v1"


def test_the_client_form_marks_a_client_no_email(client, reception, practice):
    client.force_login(reception)
    url = reverse("clients:edit", args=[practice.client.pk])
    page = client.get(url).content.decode()
    assert "No email" in page and "Send this client no appointment confirmations" in page
    response = client.post(url, {"first_name": "Jo", "last_name": "Citizen", "email_opt_out": "on"})
    assert response.status_code == 302
    practice.client.refresh_from_db()
    assert practice.client.email_opt_out is True
    detail = client.get(reverse("clients:detail", args=[practice.client.pk])).content.decode()
    assert "(no email)" in detail


def test_the_api_reads_and_writes_the_no_email_flag(reception, practice):
    api = api_client(reception)
    url = f"{V1}/clients/{practice.client.pk}/"
    assert api.get(url).json()["email_opt_out"] is False
    response = api.patch(url, {"email_opt_out": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["email_opt_out"] is True
    created = api.post(
        f"{V1}/clients/",
        {"first_name": "Ann", "last_name": "Lee", "email_opt_out": True},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert Client.objects.get(pk=created.json()["id"]).email_opt_out is True


def test_the_settings_card_saves_the_reminder_lead_time(client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("settings:index")).content.decode()
    assert "Appointment emails" in page and 'value="24"' in page
    response = client.post(reverse("settings:emails"), {"emails-reminder_hours": "48"})
    assert response.status_code == 302
    settings = PracticeSettings.load()
    assert (settings.reminder_hours, settings.confirmation_emails) == (48, False)


@pytest.mark.parametrize("hours", ["-1", "337", "two", ""])
def test_the_settings_card_refuses_a_bad_lead_time_beside_the_field(client, admin_user, hours):
    client.force_login(admin_user)
    response = client.post(
        reverse("settings:emails"),
        {"emails-reminder_hours": hours, "emails-confirmation_emails": "on"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    card = response.content.decode()
    assert 'id="email-card"' in card and 'id="emails-card"' not in card
    assert 'aria-invalid="true"' in card  # the error is beside the field
    assert PracticeSettings.load().reminder_hours == 24


def test_the_service_refuses_a_lead_time_out_of_range(db):
    with pytest.raises(DomainError) as refused:
        email_settings_update(confirmation_emails=True, reminder_hours=400, by=None)
    assert refused.value.code == "invalid_hours"


def test_the_admin_edits_the_appointment_email_settings(client, admin_user):
    from tests.practice.test_settings_admin import CHANGE, _form

    admin_user.is_superuser = admin_user.is_staff = True
    admin_user.save()
    client.force_login(admin_user)
    settings = PracticeSettings.load()
    response = client.post(reverse(CHANGE, args=[1]), _form(settings, reminder_hours=12))
    assert response.status_code == 302
    assert PracticeSettings.load().reminder_hours == 12
