"""Settings for the documents: logo (bytes in PostgreSQL), payment instructions and the
practitioners' provider numbers; Admin only; audited; and the email settings' parsing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from caspen.settings import _email_settings
from kernel.audit import history_for
from practice.models import PracticeLogo, PracticeSettings
from practice.services import document_settings_update
from tests import refusals
from tests.documents.conftest import tiny_png
from tests.factories import PractitionerFactory


def _post(client, **data):
    return client.post(
        reverse("settings:documents"), {f"documents-{k}": v for k, v in data.items()}
    )


def test_admin_uploads_a_logo_and_payment_instructions(client, admin_user):
    client.force_login(admin_user)
    upload = SimpleUploadedFile("logo.png", tiny_png(), content_type="image/png")
    response = _post(client, logo=upload, payment_instructions="BSB 062-000\r\nAcc 1234")
    assert response.status_code == 302
    logo = PracticeLogo.objects.get()
    assert (logo.content_type, logo.width, logo.height) == ("image/png", 120, 40)
    assert bytes(logo.image) == tiny_png()
    assert PracticeSettings.load().payment_instructions == "BSB 062-000\nAcc 1234"
    page = client.get(reverse("settings:index"))
    assert (
        b'alt="The practice\'s logo"' in page.content and b"data:image/png;base64," in page.content
    )
    # The audit tells who changed it; the bytes stay out of the audit trail.
    events = list(history_for(logo, related=False))
    assert events and "image" not in (events[0].pgh_data or {})


def test_a_file_that_is_not_an_image_is_refused_beside_the_field(client, admin_user):
    client.force_login(admin_user)
    upload = SimpleUploadedFile("logo.png", b"not an image", content_type="image/png")
    response = _post(client, logo=upload, payment_instructions="")
    assert response.status_code == 409  # a refusal of the service, beside its field
    assert "Choose a PNG, JPEG, GIF or WebP image." in response.content.decode()
    assert not PracticeLogo.objects.exists()


def test_a_logo_too_large_is_refused(admin_user):
    with refusals.refused("logo_too_large"):
        document_settings_update(payment_instructions="", logo=b"x" * 1_000_001, by=admin_user)


def test_the_logo_is_removed(admin_user):
    document_settings_update(payment_instructions="", logo=tiny_png(), by=admin_user)
    document_settings_update(payment_instructions="", remove_logo=True, by=admin_user)
    assert not PracticeLogo.objects.exists()


@pytest.mark.parametrize("role", ["reception", "accountant", "practitioner_user"])
def test_only_admin_changes_document_settings(client, request, role):
    client.force_login(request.getfixturevalue(role))
    assert _post(client, payment_instructions="Pay me").status_code == 403
    assert PracticeSettings.load().payment_instructions == ""


def test_a_practitioner_has_a_provider_number(client, admin_user):
    practitioner = PractitionerFactory(name="Sam Physio")
    client.force_login(admin_user)
    url = reverse("settings:practitioners_edit", args=[practitioner.pk])
    assert b"Provider number" in client.get(url).content
    response = client.post(
        url, {"name": "Sam Physio", "colour": "#2f7d6d", "provider_number": " 2345678A "}
    )
    assert response.status_code in (200, 302)
    practitioner.refresh_from_db()
    assert practitioner.provider_number == "2345678A"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("", {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}),
        (
            "smtp://user%40x:p%3Ass@mail.example.com:2525",
            {
                "EMAIL_HOST": "mail.example.com",
                "EMAIL_PORT": 2525,
                "EMAIL_HOST_USER": "user@x",
                "EMAIL_HOST_PASSWORD": "p:ss",
                "EMAIL_USE_TLS": True,
                "EMAIL_USE_SSL": False,
            },
        ),
        ("smtps://mail.example.com", {"EMAIL_PORT": 465, "EMAIL_USE_SSL": True}),
        ("smtp://relay:25?tls=false", {"EMAIL_PORT": 25, "EMAIL_USE_TLS": False}),
    ],
)
def test_email_url(url, expected):
    settings = _email_settings(url)
    assert {key: settings[key] for key in expected} == expected


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "smtp://host:port"])
def test_a_malformed_email_url_fails_loudly(url):
    with pytest.raises(ImproperlyConfigured):
        _email_settings(url)
