"""Issue 9, finding 7: answers to a signed-in user (pages and API, which carry health data)
say `Cache-Control: no-store`; static files and the sign-in page keep their caching."""

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_signed_in_pages_are_not_stored(client, reception):
    record = ClientFactory()
    client.force_login(reception)
    for url in (
        reverse("clients:detail", args=[record.pk]),
        reverse("clients:list"),
        "/calendar/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert _no_store(response), url
        assert response["Pragma"] == "no-cache"


def test_a_refusal_or_redirect_to_a_signed_in_user_is_not_stored_either(client, reception):
    client.force_login(reception)
    response = client.get("/clients/999999/")
    assert response.status_code == 404
    assert _no_store(response)


def test_api_answers_are_not_stored_when_the_api_authenticates_the_user(reception):
    """The API authenticates inside the view (API keys; forced here), after the
    middleware ran: the answer is still marked."""
    record = ClientFactory()
    api = APIClient()
    api.force_authenticate(reception)
    for url in ("/api/v1/clients/", f"/api/v1/clients/{record.pk}/"):
        response = api.get(url)
        assert response.status_code == 200, url
        assert _no_store(response), url


def test_the_sign_in_page_and_anonymous_answers_keep_their_caching(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    # Django's own never_cache header on its sign-in view, untouched.
    assert "max-age=0" in response["Cache-Control"]
    assert "Pragma" not in response
    anonymous = APIClient().get("/api/v1/clients/")
    assert anonymous.status_code in (401, 403)
    assert not _no_store(anonymous)


@override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True)
def test_static_files_keep_their_caching_for_signed_in_users(reception):
    browser = Client()  # its middleware (whitenoise) is built with the settings above
    browser.force_login(reception)
    response = browser.get("/static/css/app.css")
    assert response.status_code == 200
    assert not _no_store(response)
