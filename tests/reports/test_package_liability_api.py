"""Issue 15: GET /api/v1/reports/package-liability/ (Admin and Accountant), equal to the page."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import api_client
from tests.factories import PackageFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/package-liability/"
FIELDS = ("opening", "sold", "redeemed", "expired", "canceled", "adjusted", "closing")


def on(day: int, month: int = 3):
    return time_machine.travel(dt.datetime(2026, month, day, 1, 0, tzinfo=dt.UTC), tick=False)


@pytest.fixture
def sold_and_used(practice, reception):
    three = PackageFactory(
        name="Three", credits=3, price=Decimal("100.00"), services=[practice.follow_up]
    )
    with on(2):
        sold = practice.sell(three)
    with on(3):
        practice.book(by=reception, client_package=sold)
    return sold


def test_shape_and_figures(accountant, sold_and_used):
    response = api_client(accountant).get(URL, {"start": "2026-03-03", "end": "2026-03-31"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"start", "end", "currency", *FIELDS}
    assert body["start"] == "2026-03-03" and body["end"] == "2026-03-31"
    assert body["opening"] == {"credits": 3, "value": "100.00"}
    assert body["redeemed"] == {"credits": 1, "value": "33.33"}
    assert body["closing"] == {"credits": 2, "value": "66.67"}
    assert body["expired"] == {"credits": 0, "value": "0.00"}


def test_api_equals_the_page_and_its_csv(client, admin_user, sold_and_used, practice):
    from tests.reports.test_reports_pages import csv_rows

    params = {"start": "2026-03-01", "end": "2026-03-31", "location": practice.location.pk}
    body = api_client(admin_user).get(URL, params).json()
    client.force_login(admin_user)
    rows = csv_rows(client.get("/reports/package-liability/csv/", params))[4:]
    assert [[str(body[f]["credits"]), body[f]["value"]] for f in FIELDS] == [r[1:] for r in rows]
    html = client.get("/reports/package-liability/", params).content.decode()
    for field in FIELDS:
        start = html.index(f'data-row="{field}"')
        cells = html[start : html.index("</tr>", start)]
        assert f"{body[field]['credits']}<" in cells
        assert f"${Decimal(body[field]['value']):,.2f}" in cells
    assert body["currency"] == "AUD" or body["currency"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end": "2026-03-31"}, "start"),
        ({"start": "2026-03-01"}, "end"),
        ({"start": "yesterday", "end": "2026-03-31"}, "start"),
        ({"start": "1800-01-01", "end": "2026-03-31"}, "start"),
        ({"start": "2026-03-01", "end": "9999-12-31"}, "end"),
        ({"start": "2026-03-10", "end": "2026-03-01"}, "end"),
        ({"start": "2026-03-01", "end": "2026-03-31", "location": "999999"}, "location"),
        ({"start": "2026-03-01", "end": "2026-03-31", "practitioner": "x"}, "practitioner"),
    ],
)
def test_bad_input_is_400_by_field(accountant, params, field):
    response = api_client(accountant).get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field] and body[field][0]


def test_reception_practitioner_and_anonymous_are_refused(reception, practitioner_user):
    params = {"start": "2026-03-01", "end": "2026-03-31"}
    assert api_client(reception).get(URL, params).status_code == 403
    assert api_client(practitioner_user).get(URL, params).status_code == 403
    assert api_client().get(URL, params).status_code == 401


def test_read_only(admin_user):
    assert api_client(admin_user).post(URL, {}, format="json").status_code == 405


def test_in_the_openapi_schema(admin_user, client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json() if "json" in response["Content-Type"] else None
    text = response.content.decode()
    assert "/api/v1/reports/package-liability/" in text
    assert "net of tax" in text and "Package liability" in text
    if schema:
        op = schema["paths"]["/api/v1/reports/package-liability/"]["get"]
        names = {p["name"] for p in op["parameters"]}
        assert {"start", "end", "location", "practitioner"} <= names


def test_query_count_is_constant(accountant, practice, reception):
    client = api_client(accountant)
    params = {"start": "2026-03-01", "end": "2026-03-31"}

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL, params).status_code == 200
        return len(ctx)

    count()
    before = count()
    three = PackageFactory(credits=3, price=Decimal("90.00"), services=[practice.follow_up])
    for day in (2, 3, 4):
        with on(day):
            practice.book(by=reception, client_package=practice.sell(three))
    assert count() == before
