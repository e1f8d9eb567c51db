"""Issue 15, report 3: the Package sales page, its CSV, its API and who may see them."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reports.selectors.sales import package_sales
from tests.api.conftest import api_client
from tests.factories import ClientFactory, PackageFactory
from tests.reports import test_package_sales as worked
from tests.reports.test_reports_pages import csv_rows

at = worked.at
sales = worked.sales  # the fixture: sales around March 2026, prices excluding tax

pytestmark = pytest.mark.django_db

PAGE = "/reports/package-sales/"
CSV = "/reports/package-sales/csv/"
API = "/api/v1/reports/package-sales/"
PARAMS = {"start": "2026-03-01", "end": "2026-03-31"}
HEADER = ["Packages sold", "Credits", "Revenue (AUD, net of tax)"]


def page_rows(html: str) -> list[str]:
    """The body rows of the table, the total last."""
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    return [part.split("</tr>")[0] for part in body.split("<tr ")[1:]]


def test_page_by_package_with_totals(client, accountant, sales):
    client.force_login(accountant)
    response = client.get(PAGE, PARAMS)
    assert response.status_code == 200
    html = response.content.decode()
    rows = page_rows(html)
    assert len(rows) == 4
    assert "Ten" in rows[0] and ">2<" in rows[0] and ">20<" in rows[0] and "$440.00" in rows[0]
    assert 'data-row="total"' in rows[-1] and "$940.00" in rows[-1] and ">27<" in rows[-1]
    assert "Revenue" in html and "(net of tax)" in html
    assert "stays a sale if the package is later canceled" in html
    assert 'option value="package" selected' in html


def test_page_defaults_to_last_month_by_package(client, accountant):
    client.force_login(accountant)
    with time_machine.travel(dt.datetime(2026, 4, 15, 1, tzinfo=dt.UTC), tick=False):
        response = client.get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="2026-03-01"' in html and 'value="2026-03-31"' in html
    assert 'option value="package" selected' in html
    assert "No packages sold" in html


@pytest.mark.parametrize(
    ("group_by", "heading", "first"),
    [
        ("package", "Package", ["Ten", "2", "20", "440.00"]),
        ("month", "Month", ["February 2026", "1", "3", "100.00"]),
        ("seller", "Sold by", ["rita", "2", "20", "440.00"]),
    ],
)
def test_csv_equals_the_page(client, accountant, sales, group_by, heading, first):
    client.force_login(accountant)
    params = {"start": "2026-02-01", "end": "2026-03-31", "group_by": group_by}
    html = client.get(PAGE, params).content.decode()
    response = client.get(CSV, params)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert (
        f"package-sales-by-{group_by}-2026-02-01-2026-03-31.csv" in response["Content-Disposition"]
    )
    rows = csv_rows(response)
    assert rows[:5] == [
        ["Package sales", "2026-02-01", "2026-03-31"],
        ["Group by", heading],
        ["Location", "All locations"],
        ["Practitioner", "All practitioners"],
        [heading, *HEADER],
    ]
    body = rows[5:]
    assert body[0] == first and body[-1] == ["Total", "5", "30", "1040.00"]
    report = package_sales(dt.date(2026, 2, 1), dt.date(2026, 3, 31), group_by=group_by)
    assert len(body) == len(report.rows) + 1
    for line, cells in zip(body, page_rows(html), strict=True):
        label, count, credits, revenue = line
        assert label in cells and f">{count}<" in cells and f">{credits}<" in cells
        assert f"${Decimal(revenue):,.2f}" in cells


def test_csv_link_keeps_the_filters(client, accountant, practice):
    client.force_login(accountant)
    params = {**PARAMS, "group_by": "month", "location": str(practice.location.pk)}
    html = client.get(PAGE, params).content.decode()
    expected = "start=2026-03-01&amp;end=2026-03-31&amp;group_by=month&amp;location="
    assert f"{CSV}?{expected}{practice.location.pk}" in html


def test_csv_quotes_names_that_look_like_formulas(client, accountant, practice, admin_user):
    package = PackageFactory(name="+SUM(A1)", services=[practice.follow_up])
    with at("2026-03-03 10:00"):
        practice.sell(package, by=admin_user)
    client.force_login(accountant)
    rows = csv_rows(client.get(CSV, PARAMS))
    assert rows[5][0] == "'+SUM(A1)"


def test_empty_for_filters(client, accountant, sales):
    from tests.factories import LocationFactory

    client.force_login(accountant)
    html = client.get(PAGE, {**PARAMS, "location": LocationFactory().pk}).content.decode()
    assert "No packages sold" in html and "for these filters" in html


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"start": "2026-03-10", "end": "2026-03-01"}, "end", "The end date is before the start"),
        ({"start": "1800-01-01", "end": "2026-03-01"}, "start", "Enter a date between 1900"),
        ({"start": "2026-03-01", "end": "x"}, "end", "Enter a valid date"),
        ({**PARAMS, "group_by": "client"}, "group_by", "Select a valid choice"),
        ({**PARAMS, "location": "999999"}, "location", ""),
    ],
)
def test_bad_filters_are_shown_beside_the_field(client, accountant, params, field, message):
    client.force_login(accountant)
    for url in (PAGE, CSV):
        response = client.get(url, params)
        assert response.status_code == 400
        html = response.content.decode()
        assert f'id="id_{field}_error"' in html and message in html
        assert "<tbody>" not in html


@pytest.mark.parametrize("url", [PAGE, CSV])
def test_reception_and_practitioner_get_403(client, reception, practitioner_user, url):
    for user in (reception, practitioner_user):
        client.force_login(user)
        assert client.get(url, PARAMS).status_code == 403


def test_admin_sees_the_page_and_csv(client, admin_user):
    client.force_login(admin_user)
    assert client.get(PAGE, PARAMS).status_code == 200
    assert client.get(CSV, PARAMS).status_code == 200


# ------------------------------------------------------------------------------ API


def test_api_shape_by_package(accountant, sales):
    response = api_client(accountant).get(API, PARAMS)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"start", "end", "group_by", "currency", "rows", "totals"}
    assert (body["start"], body["end"], body["group_by"]) == ("2026-03-01", "2026-03-31", "package")
    assert body["rows"][0] == {
        "package": sales["ten_package"].pk,
        "month": None,
        "seller": None,
        "label": "Ten",
        "count": 2,
        "credits": 20,
        "revenue": "440.00",
    }
    assert body["totals"] == {"count": 4, "credits": 27, "revenue": "940.00"}


def test_api_by_month_and_seller_keys(accountant, sales, reception):
    client = api_client(accountant)
    months = client.get(API, {**PARAMS, "group_by": "month"}).json()["rows"]
    assert [(r["month"], r["label"], r["package"]) for r in months] == [
        ("2026-03", "March 2026", None)
    ]
    sellers = client.get(API, {**PARAMS, "group_by": "seller"}).json()["rows"]
    assert [(r["seller"], r["label"]) for r in sellers] == [
        (reception.pk, "rita"),
        (None, "Unknown"),
        (sellers[2]["seller"], "alice"),
    ]


@pytest.mark.parametrize("group_by", ["package", "month", "seller"])
def test_api_equals_the_csv(client, admin_user, sales, group_by, practice):
    params = {"start": "2026-02-01", "end": "2026-04-30", "group_by": group_by}
    body = api_client(admin_user).get(API, params).json()
    client.force_login(admin_user)
    rows = csv_rows(client.get(CSV, params))[5:]
    api = [[r["label"], str(r["count"]), str(r["credits"]), r["revenue"]] for r in body["rows"]]
    totals = body["totals"]
    api.append(["Total", str(totals["count"]), str(totals["credits"]), totals["revenue"]])
    assert api == rows


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end": "2026-03-31"}, "start"),
        ({"start": "2026-03-01"}, "end"),
        ({"start": "2026-03-10", "end": "2026-03-01"}, "end"),
        ({"start": "2026-03-01", "end": "9999-12-31"}, "end"),
        ({**PARAMS, "group_by": "client"}, "group_by"),
        ({**PARAMS, "location": "999999"}, "location"),
        ({**PARAMS, "practitioner": "x"}, "practitioner"),
    ],
)
def test_api_bad_input_is_400_by_field(accountant, params, field):
    response = api_client(accountant).get(API, params)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field] and body[field][0]


def test_api_refuses_reception_practitioner_and_anonymous(reception, practitioner_user):
    assert api_client(reception).get(API, PARAMS).status_code == 403
    assert api_client(practitioner_user).get(API, PARAMS).status_code == 403
    assert api_client().get(API, PARAMS).status_code == 401
    assert api_client(reception).post(API, {}, format="json").status_code == 403


def test_api_is_read_only(admin_user):
    assert api_client(admin_user).post(API, {}, format="json").status_code == 405


def test_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    op = schema["paths"][API]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert {"start", "end", "group_by", "location", "practitioner"} <= names
    assert "Package sales" in op["summary"] and "net of tax" in op["description"]


# ---------------------------------------------------------------------- query count


def test_query_counts_do_not_grow_with_the_data(client, accountant, practice, admin_user):
    client.force_login(accountant)
    api = api_client(accountant)

    def counts() -> tuple[int, ...]:
        found = []
        for group_by in ("package", "month", "seller"):
            params = {**PARAMS, "group_by": group_by}
            for get, url in ((client.get, PAGE), (client.get, CSV), (api.get, API)):
                with CaptureQueriesContext(connection) as ctx:
                    assert get(url, params).status_code == 200
                found.append(len(ctx))
        return tuple(found)

    with at("2026-03-02 10:00"):
        practice.sell(by=admin_user)
    counts()
    few = counts()
    for day in range(3, 20):
        with at(f"2026-03-{day:02d} 10:00"):
            package = PackageFactory(services=[practice.follow_up])
            practice.sell(package, by=admin_user, client=ClientFactory())
    assert counts() == few
