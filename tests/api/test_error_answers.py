"""What the API answers when it refuses (issue 9, finding 7 and the JSON-only promise):

- a value a service refuses (out of range, malformed) is invalid input: 400 by field,
  like a serializer's errors; a business rule's refusal stays 409 {"detail", "code"};
- an invalid `page_size` is refused with 400, never silently replaced;
- anything under /api/ answers JSON, errors included: unknown URLs (404), wrong methods
  (405), and server errors (500).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

API = "/api/v1"
JSON = "application/json"


# ------------------------------------------------------------- 400 or 409 (4a)


def test_a_value_the_service_refuses_is_400_on_its_field(as_reception):
    response = as_reception.post(
        f"{API}/clients/", {"first_name": "A", "last_name": "B", "phone": "call me"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "phone": ["Enter a phone number using digits, spaces, +, - or brackets."]
    }


def test_a_rule_refusal_stays_409_with_its_code(as_reception, world):
    response = as_reception.post(
        f"{API}/invoices/{world.unpaid.pk}/payments/",
        {"amount": "60.01", "method": world.cash.pk},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "amount_exceeds_balance"


def test_a_name_already_taken_is_a_rule_409_not_invalid_input(as_admin, world):
    response = as_admin.post(f"{API}/payment-methods/", {"name": "cash"})
    assert (response.status_code, response.json()["code"]) == (409, "name_taken")


def test_an_invoice_line_the_service_refuses_is_400_on_lines(as_admin, world):
    body = {
        "client": world.client.pk,
        "practitioner": world.practice.practitioner.pk,
        "location": world.practice.location.pk,
        "lines": [{"description": "Big", "quantity": "99999999.99", "unit_price": "9999.00"}],
    }
    response = as_admin.post(f"{API}/invoices/", body)
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["lines"]


def test_a_date_outside_the_practice_years_is_400_on_its_field(as_reception, world):
    # The API's input fields already refuse such dates; the service refuses them too,
    # so the admin and any other caller get the same answer (tests/trust/limits).
    response = as_reception.post(
        f"{API}/client-packages/",
        {
            "client": world.client.pk,
            "package": world.practice.flexible.pk,
            "start_date": "9999-12-31",
        },
    )
    assert response.status_code == 400
    assert "start_date" in response.json()


# --------------------------------------------------------------- page_size (4b)


@pytest.mark.parametrize("page_size", ["0", "-1", "abc", "201", "1.5", " ", "9" * 5000])
def test_an_invalid_page_size_is_400(as_reception, world, page_size):
    response = as_reception.get(f"{API}/clients/", {"page_size": page_size})
    assert response.status_code == 400
    assert response.json() == {"page_size": ["Enter a whole number of rows from 1 to 200."]}


@pytest.mark.parametrize("page_size", ["1", "200"])
def test_a_page_size_from_1_to_200_is_used(as_reception, world, page_size):
    response = as_reception.get(f"{API}/invoices/", {"page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == min(int(page_size), response.json()["count"])


def test_the_schema_says_the_page_size_range(as_reception):
    schema = as_reception.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    parameters = schema.json()["paths"]["/api/v1/clients/"]["get"]["parameters"]
    page_size = next(p for p in parameters if p["name"] == "page_size")
    assert (page_size["schema"]["minimum"], page_size["schema"]["maximum"]) == (1, 200)


# ------------------------------------------------------- JSON under /api/ (4c)


def _assert_json_error(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"].startswith(JSON), response["Content-Type"]
    body = response.json()
    assert body["code"] == code
    assert body["detail"]


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_an_unknown_url_under_api_is_a_json_404_whatever_the_method(as_reception, method):
    for url in ("/api/nope/", f"{API}/nope/", f"{API}/clients", "/api/v2/clients/"):
        _assert_json_error(getattr(as_reception, method)(url), 404, "not_found")


def test_an_unknown_url_under_api_is_json_even_without_a_csrf_token(reception):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(reception)
    _assert_json_error(browser.post(f"{API}/nope/", {}), 404, "not_found")


def test_a_wrong_method_is_a_json_405(as_reception, as_admin, world):
    _assert_json_error(as_admin.delete(f"{API}/clients/"), 405, "method_not_allowed")
    for url in ("/api/schema/", "/api/docs/"):
        response = as_reception.post(url)
        _assert_json_error(response, 405, "method_not_allowed")
        assert "GET" in response["Allow"]
    assert as_reception.get("/api/schema/").status_code == 200


@pytest.fixture
def failing_urls(settings):
    settings.ROOT_URLCONF = "tests.api.error_urls"


def test_a_server_error_under_api_is_json(failing_urls, admin_user):
    browser = Client(raise_request_exception=False)
    browser.force_login(admin_user)
    for url in (f"{API}/boom/", f"{API}/plain-boom/"):
        response = browser.get(url)
        _assert_json_error(response, 500, "server_error")
        assert "check whether the change was made" in response.json()["detail"]
    # Elsewhere the page stays the site's error page.
    page = browser.get("/boom/")
    assert page.status_code == 500
    assert page["Content-Type"].startswith("text/html")


def test_a_404_page_outside_api_stays_html(client, reception):
    client.force_login(reception)
    response = client.get("/clients/999999999/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_money_in_answers_is_a_string_with_two_places(as_reception, world):
    body = as_reception.get(f"{API}/invoices/{world.open.pk}/").json()
    assert Decimal(body["total"]) > 0 and body["total"].count(".") == 1


@pytest.mark.parametrize(
    ("code", "status"),
    [
        # The value itself is wrong, whatever the data: 400.
        ("invalid_amount", 400),
        ("invalid_date", 400),
        ("invalid_phone", 400),
        ("name_required", 400),
        ("too_long", 400),
        ("quantities_mismatch", 400),
        ("invoice_total_too_large", 400),
        # The value collides with the data, or a rule refuses the action: 409.
        ("name_taken", 409),
        ("username_taken", 409),
        ("invoice_number_taken", 409),
        ("invoice_digits_locked", 409),
        ("currency_locked", 409),
        ("tax_rate_archived", 409),
        ("last_admin", 409),
        ("no_credits_left", 409),
    ],
)
def test_each_refusal_is_input_or_rule(code, status):
    from kernel.api.errors import exception_handler
    from kernel.errors import DomainError

    response = exception_handler(DomainError(code, "Refused.", field="name"), {})
    assert response.status_code == status
    expected = {"name": ["Refused."]} if status == 400 else {"detail": "Refused.", "code": code}
    assert response.data == expected
