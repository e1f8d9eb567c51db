"""Authentication (token, session with CSRF), throttling, and the documentation:
`/api/schema/` (valid OpenAPI 3, every operation's errors documented) and `/api/docs/`
(Swagger UI from the project's own static files)."""

from __future__ import annotations

import io
import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.core.management import call_command
from django.utils.crypto import get_random_string
from rest_framework.test import APIClient

from tests.api.conftest import api_client

V1 = "/api/v1"


def test_token_authentication(reception):
    assert api_client(reception).get(f"{V1}/clients/").status_code == 200


def test_a_wrong_token_is_401_with_the_scheme_to_use(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get(f"{V1}/clients/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "authentication_failed"


def test_anonymous_is_401(db):
    response = APIClient().get(f"{V1}/clients/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_an_inactive_users_token_is_refused(reception):
    client = api_client(reception)
    reception.is_active = False
    reception.save()
    assert client.get(f"{V1}/clients/").status_code == 401


def test_session_authentication_needs_the_csrf_token_for_writes(reception):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(reception)
    assert client.get(f"{V1}/clients/").status_code == 200

    refused = client.post(f"{V1}/clients/", {"first_name": "A", "last_name": "B"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    token = get_random_string(32)  # what the CSRF cookie of a signed-in page holds
    client.cookies["csrftoken"] = token
    created = client.post(
        f"{V1}/clients/",
        {"first_name": "A", "last_name": "B"},
        format="json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert created.status_code == 201


def test_create_api_key_prints_a_working_key_once(reception):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", reception.username, "--name", "Export", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert key.startswith("csk_")
    assert "shown once" in err.getvalue()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(f"{V1}/clients/").status_code == 200


def test_requests_are_throttled_per_user(settings, reception, accountant):
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "3/min"},
    }
    busy = api_client(reception)
    assert [busy.get(f"{V1}/clients/").status_code for _ in range(3)] == [200, 200, 200]
    throttled = busy.get(f"{V1}/clients/")
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    # Someone else at the clinic is not starved.
    assert api_client(accountant).get(f"{V1}/clients/").status_code == 200
    cache.clear()


def test_the_throttle_rate_comes_from_the_environment(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from caspen.settings import _env_rate

    monkeypatch.setenv("API_THROTTLE_USER", "50/s")
    assert _env_rate("API_THROTTLE_USER", "1000/min") == "50/s"
    monkeypatch.setenv("API_THROTTLE_USER", "")
    assert _env_rate("API_THROTTLE_USER", "1000/min") == "1000/min"
    monkeypatch.setenv("API_THROTTLE_USER", "lots")
    with pytest.raises(ImproperlyConfigured):
        _env_rate("API_THROTTLE_USER", "1000/min")


# --------------------------------------------------------------------- the schema


@pytest.fixture
def schema(db):
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_the_schema_is_valid_openapi_without_warnings(tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")


def test_the_schema_documents_every_resource_of_api_md(schema):
    paths = set(schema["paths"])
    expected = {
        "clients/",
        "clients/{id}/",
        "locations/",
        "practitioners/",
        "services/",
        "tax-rates/",
        "payment-methods/",
        "cancellation-reasons/",
        "packages/",
        "client-packages/",
        "client-packages/matches/",
        "client-packages/{id}/",
        "client-packages/{id}/cancel/",
        "client-packages/{id}/adjust/",
        "client-packages/{id}/invoice/",
        "client-packages/{id}/ledger/",
        "appointments/",
        "appointments/{id}/",
        "appointments/{id}/link/",
        "appointments/{id}/unlink/",
        "appointments/{id}/unlink-and-edit/",
        "appointments/{id}/cancel/",
        "appointments/{id}/arrived/",
        "appointments/{id}/missed/",
        "appointments/{id}/invoice/",
        "invoices/",
        "invoices/{id}/",
        "invoices/{id}/finalize/",
        "invoices/{id}/void/",
        "invoices/{id}/payments/",
        "services/{id}/",
        "packages/{id}/",
        "payments/",
        "payments/{id}/",
        "payments/{id}/refund/",
        "payments/{id}/void/",
        # Documents (issue 13)
        "invoices/{id}/pdf/",
        "invoices/{id}/send/",
        "payments/{id}/receipt/pdf/",
        "payments/{id}/receipt/send/",
        "client-packages/{id}/statement/pdf/",
        "client-packages/{id}/statement/send/",
        "clients/{id}/statement/pdf/",
        "clients/{id}/statement/send/",
        # Credit notes (issue 13)
        "invoices/{id}/credit-notes/",
        "credit-notes/",
        "credit-notes/{id}/",
        "reports/package-liability/",
        "reports/revenue/",
        "reports/expiring-packages/",
        "reports/aged-receivables/",
        "reports/aged-receivables/invoices/",
        "reports/package-sales/",
        # Webhooks (issue 14)
        "webhooks/",
        "webhooks/{id}/",
        "webhooks/{id}/deliveries/",
        "webhooks/{id}/deliveries/{delivery_id}/resend/",
    }
    assert paths == {f"/api/v1/{path}" for path in expected}


def _operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_operation_documents_its_error_responses(schema):
    for path, method, operation in _operations(schema):
        codes = set(operation["responses"])
        assert {"401", "403", "404", "429"} <= codes, (method, path)
        if method in {"post", "patch", "delete"}:
            assert "409" in codes, (method, path)
        if method in {"post", "patch"}:
            assert {"400", "415"} <= codes, (method, path)
        if method == "post":
            assert "422" in codes, (method, path)


def test_every_post_documents_the_idempotency_key(schema):
    for path, method, operation in _operations(schema):
        headers = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "header"}
        assert ("Idempotency-Key" in headers) == (method == "post"), (method, path)


def test_token_authentication_is_documented(schema):
    assert schema["components"]["securitySchemes"]["tokenAuth"]["in"] == "header"
    for path, method, operation in _operations(schema):
        assert {"tokenAuth": []} in operation["security"], (method, path)


def test_swagger_ui_is_served_from_the_projects_static_files(db):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    # Every script, style and image the page loads comes from this server: a relative
    # address, never another host (a CDN). Looking for the word "cdn" in the page is not
    # enough and not right: the CSRF token on it is random text that can contain it.
    addresses = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html, re.I)
    assert addresses
    assert [a for a in addresses if re.match(r"(?:[a-z][a-z0-9+.-]*:)?//", a, re.I)] == []
    assert not re.search(r"""["'](?:https?:)?//[^"'/]*(?:cdn|jsdelivr|unpkg)""", html, re.I)
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
