"""Issue 15, report 2: the Expiring soon page, its CSV and its API (selectors are in
test_receivables_and_expiring.py)."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from invoicing.services import invoice_for_client_package
from packages.models import ClientPackage
from packages.services import client_package_extend_expiry
from practice.models import PracticeSettings
from reports.selectors.expiring import expiring_packages, package_totals
from reports.selectors.liability import package_liability
from tests.api.conftest import api_client
from tests.factories import ClientFactory, LocationFactory, PackageFactory, TaxRateFactory
from tests.reports.test_receivables_and_expiring import sell_expiring
from tests.reports.test_reports_pages import csv_rows

pytestmark = pytest.mark.django_db

PAGE = "/reports/expiring/"
CSV = "/reports/expiring/csv/"
API = "/api/v1/reports/expiring-packages/"


@pytest.fixture
def three_for_100(practice):
    return PackageFactory(
        name="Three", credits=3, price=Decimal("100.00"), services=[practice.follow_up]
    )


def today() -> dt.date:
    return timezone.localdate()


def section_html(html: str, key: str) -> str:
    start = html.index(f'data-section="{key}"')
    return html[start : html.index("</section>", start)]


def page_rows(html: str, key: str) -> list[list[str]]:
    """The cells of a section's table, as text: client, phone, package, credits, value,
    expiry date (and the action, if any)."""
    rows = []
    for row in re.findall(r"<tr data-package=\"\d+\">(.*?)</tr>", section_html(html, key), re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        rows.append([html_lib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return rows


def totals(html: str, key: str) -> dict[str, str]:
    part = section_html(html, key)
    return dict(re.findall(r'data-total="(\w+)">([^<]*)<', part))


@pytest.fixture
def mixed(practice, admin_user, reception, three_for_100):
    """Expiring in 3 (one credit used, 66.67 left), 20 and 45 days; expired 5 days ago
    with credits left; a fully used package expiring in 2 days (left out)."""
    ann = ClientFactory(first_name="Ann", last_name="Able", phone="+61 400 000 001")
    bob = ClientFactory(first_name="Bob", last_name="Baker", phone="0400 000 002")
    cat = ClientFactory(first_name="Cat", last_name="Cole", phone="")
    dan = ClientFactory(first_name="Dan", last_name="Dee", phone="0400 000 004")
    soon = practice.sell(three_for_100, client=ann)
    practice.book(by=reception, client_package=soon, client=ann)
    soon = client_package_extend_expiry(
        client_package=soon, expires_on=today() + dt.timedelta(days=3), reason="T", by=admin_user
    )
    later = sell_expiring(practice, admin_user, three_for_100, 20, client=bob)
    far = sell_expiring(practice, admin_user, three_for_100, 45, client=cat)
    gone = sell_expiring(practice, admin_user, three_for_100, -5, client=dan)
    one = PackageFactory(
        name="One", credits=1, price=Decimal("10.00"), services=[practice.follow_up]
    )
    used = practice.sell(one)
    practice.book(by=reception, client_package=used, hour=14)
    client_package_extend_expiry(
        client_package=used, expires_on=today() + dt.timedelta(days=2), reason="T", by=admin_user
    )
    return {"soon": soon, "later": later, "far": far, "gone": gone, "used": used}


def day(offset: int) -> str:
    return f"{today() + dt.timedelta(days=offset):%-d %b %Y}"


# -------------------------------------------------------------------------- the page


def test_page_lists_both_sections_with_totals(client, accountant, mixed):
    client.force_login(accountant)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Expiring soon</h1>" in html
    assert 'option value="30" selected' in html  # the default
    assert page_rows(html, "expiring") == [
        ["Ann Able", "+61 400 000 001", "Three", "2", "$66.67", day(3)],
        ["Bob Baker", "0400 000 002", "Three", "3", "$100.00", day(20)],
    ]
    assert page_rows(html, "expired") == [
        ["Dan Dee", "0400 000 004", "Three", "3", "$100.00", day(-5)],
    ]
    assert totals(html, "expiring") == {"count": "2", "credits": "5", "value": "$166.67"}
    assert totals(html, "expired") == {"count": "1", "credits": "3", "value": "$100.00"}
    assert "Expired in the last 30 days with credits left" in html
    assert f'href="/clients/{mixed["soon"].client_id}/"' in html
    assert "net of tax" in html


def test_within_7_and_60(client, accountant, mixed):
    client.force_login(accountant)
    html = client.get(PAGE, {"within": "7"}).content.decode()
    assert [r[0] for r in page_rows(html, "expiring")] == ["Ann Able"]
    assert "Expiring in the next 7 days" in html
    html = client.get(PAGE, {"within": "60"}).content.decode()
    assert [r[0] for r in page_rows(html, "expiring")] == ["Ann Able", "Bob Baker", "Cat Cole"]
    # No phone: a dash.
    assert page_rows(html, "expiring")[2][1] == "—"


def test_extend_expiry_for_admin_only(client, admin_user, accountant, mixed):
    client.force_login(accountant)
    html = client.get(PAGE).content.decode()
    assert "Extend expiry" not in html and "/extend/" not in html
    client.force_login(admin_user)
    html = client.get(PAGE, {"within": "30"}).content.decode()
    gone = mixed["gone"]
    link = f'href="/packages/{gone.pk}/extend/?next=%2Freports%2Fexpiring%2F%3Fwithin%3D30"'
    assert link in html
    assert f'hx-get="/packages/{gone.pk}/extend/?next=' in html
    assert all(r[-1] == "Extend expiry" for r in page_rows(html, "expiring"))


def test_extending_an_expired_package_through_the_flow_moves_it(client, admin_user, mixed):
    """The report's Extend expiry is the package page's popup, opened with `next`: it
    comes back to the report, where the package has left the expired list."""
    gone = mixed["gone"]
    client.force_login(admin_user)
    report = f"{PAGE}?within=30"
    extend = f"/packages/{gone.pk}/extend/"
    form = client.get(extend, {"next": report})
    assert form.status_code == 200
    assert f'<input type="hidden" name="next" value="{html_lib.escape(report)}">' in (
        form.content.decode()
    )
    new_date = today() + dt.timedelta(days=10)
    done = client.post(
        extend, {"expires_on": new_date.isoformat(), "reason": "Was away", "next": report}
    )
    assert done.status_code == 302 and done["Location"] == report
    html = client.get(report).content.decode()
    assert "Expiry date changed." in html
    assert page_rows(html, "expired") == []
    assert ["Dan Dee", "0400 000 004", "Three", "3", "$100.00", day(10), "Extend expiry"] in (
        page_rows(html, "expiring")
    )
    assert ClientPackage.objects.get(pk=gone.pk).expires_on == new_date


def test_extend_popup_with_htmx_goes_back_to_the_report(client, admin_user, mixed):
    gone = mixed["gone"]
    client.force_login(admin_user)
    report = f"{PAGE}?within=60&location="
    extend = f"/packages/{gone.pk}/extend/"
    done = client.post(
        extend,
        {"expires_on": (today() + dt.timedelta(days=4)).isoformat(), "reason": "R", "next": report},
        HTTP_HX_REQUEST="true",
    )
    assert done.status_code == 200 and done["HX-Redirect"] == report
    # A `next` to another site is ignored: back to the package page.
    done = client.post(
        extend,
        {
            "expires_on": (today() + dt.timedelta(days=5)).isoformat(),
            "reason": "R",
            "next": "https://evil.example/",
        },
    )
    assert done["Location"] == f"/packages/{gone.pk}/"


def test_a_refused_extension_stays_in_the_popup_with_next(client, admin_user, mixed):
    gone = mixed["gone"]
    client.force_login(admin_user)
    report = f"{PAGE}?within=30"
    response = client.post(
        f"/packages/{gone.pk}/extend/",
        {"expires_on": gone.expires_on.isoformat(), "reason": "Same", "next": report},
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "already expires on that date" in html
    assert f'name="next" value="{html_lib.escape(report)}"' in html
    assert f'href="{html_lib.escape(report)}"' in html  # Cancel goes back to the report


def test_value_equals_package_liability_closing_for_that_package_alone(
    client, accountant, admin_user, reception, practice
):
    """Each row's value is what report 1's closing balance gives for that package alone
    (each package is invoiced at its own location), tax-inclusive prices included."""
    settings = PracticeSettings.load()
    settings.prices_include_tax = True
    settings.save()
    taxed = PackageFactory(
        name="Taxed",
        credits=3,
        price=Decimal("110.00"),
        tax_rate=TaxRateFactory(rate=Decimal("10.00")),
        services=[practice.follow_up],
    )
    seven = PackageFactory(
        name="Seven", credits=7, price=Decimal("99.99"), services=[practice.follow_up]
    )
    places, hours = {}, [8]
    for offset, package, used in ((4, taxed, 1), (12, seven, 2), (25, seven, 0), (-3, taxed, 0)):
        who = ClientFactory()
        sold = practice.sell(package, client=who, start_date=today() - dt.timedelta(days=40))
        for _ in range(used):
            hours.append(hours[-1] + 1)
            practice.book(by=reception, client_package=sold, client=who, hour=hours[-1])
        location = LocationFactory()
        invoice_for_client_package(
            client_package=sold,
            practitioner=practice.practitioner,
            location=location,
            by=admin_user,
        )
        client_package_extend_expiry(
            client_package=sold,
            expires_on=today() + dt.timedelta(days=offset),
            reason="T",
            by=admin_user,
        )
        places[sold.pk] = location
    client.force_login(accountant)
    body = api_client(accountant).get(API, {"within": 30}).json()
    assert len(body["results"]) == 3
    for row in body["results"]:
        closing = package_liability(
            today(), today(), location=places[row["client_package"]]
        ).closing
        assert (row["remaining_credits"], row["remaining_value"]) == (
            closing.credits,
            f"{closing.value:.2f}",
        )
        html = client.get(PAGE, {"location": places[row["client_package"]].pk}).content.decode()
        ((*_, value, _),) = page_rows(html, "expiring")
        assert value == f"${closing.value:,.2f}"
    # Worked numbers: 110.00 incl. 10% tax is 100.00 net; one of three used holds 66.67.
    assert [r["remaining_value"] for r in body["results"]] == ["66.67", "71.42", "99.99"]


def test_empty_states(client, accountant, practice):
    client.force_login(accountant)
    html = client.get(PAGE, {"within": "7"}).content.decode()
    assert "No packages with credits left expire in the next 7 days." in html
    assert "No packages expired in the last 30 days with credits left." in html
    assert totals(html, "expiring") == {"count": "0", "credits": "0", "value": "$0.00"}
    html = client.get(PAGE, {"location": practice.location.pk}).content.decode()
    assert "expire in the next 30 days for these filters." in html


def test_location_and_practitioner_filters(client, accountant, admin_user, practice, mixed):
    invoice_for_client_package(
        client_package=mixed["later"],
        practitioner=practice.practitioner,
        location=practice.location,
        by=admin_user,
    )
    client.force_login(accountant)
    params = {"location": practice.location.pk, "practitioner": practice.practitioner.pk}
    html = client.get(PAGE, params).content.decode()
    assert [r[0] for r in page_rows(html, "expiring")] == ["Bob Baker"]
    assert page_rows(html, "expired") == []
    assert f'option value="{practice.location.pk}" selected' in html


def test_each_list_pages_on_its_own(client, accountant, practice, admin_user, three_for_100):
    for n in range(27):
        sell_expiring(practice, admin_user, three_for_100, 1 + n % 20, client=ClientFactory())
    for n in range(3):
        sell_expiring(practice, admin_user, three_for_100, -1 - n, client=ClientFactory())
    client.force_login(accountant)
    html = client.get(PAGE).content.decode()
    assert len(page_rows(html, "expiring")) == 25 and len(page_rows(html, "expired")) == 3
    assert "1–25 of 27" in html
    assert 'href="?page=2"' in html
    assert totals(html, "expiring")["count"] == "27"  # totals are of every page
    html = client.get(PAGE, {"page": "2", "expired_page": "1"}).content.decode()
    assert len(page_rows(html, "expiring")) == 2 and len(page_rows(html, "expired")) == 3
    # Junk or out-of-range pages give the nearest page, never an error.
    response = client.get(PAGE, {"page": "x", "expired_page": "99"})
    assert response.status_code == 200
    assert len(page_rows(response.content.decode(), "expired")) == 3


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"within": "14"}, "within", "Choose 7, 30 or 60 days."),
        ({"within": "thirty"}, "within", "Choose 7, 30 or 60 days."),
        ({"location": "999999"}, "location", "Select a valid choice"),
        ({"practitioner": "x"}, "practitioner", "Select a valid choice"),
    ],
)
def test_bad_filters_are_shown_beside_the_field(client, accountant, mixed, params, field, message):
    client.force_login(accountant)
    for url in (PAGE, CSV):
        response = client.get(url, params)
        assert response.status_code == 400
        html = response.content.decode()
        assert f'id="id_{field}_error"' in html
        assert message in html
        assert "data-section" not in html and "Download CSV" not in html


def test_reception_and_practitioner_get_403(client, reception, practitioner_user):
    for user in (reception, practitioner_user):
        client.force_login(user)
        for url in (PAGE, CSV):
            assert client.get(url).status_code == 403
    client.logout()
    assert client.get(PAGE).status_code == 302


def test_admin_sees_the_page(client, admin_user, mixed):
    client.force_login(admin_user)
    assert client.get(PAGE).status_code == 200
    assert client.get(CSV).status_code == 200


# --------------------------------------------------------------------------- the CSV


def test_csv_equals_the_page(client, accountant, mixed):
    client.force_login(accountant)
    params = {"within": "60", "location": "", "practitioner": ""}
    html = client.get(PAGE, params).content.decode()
    response = client.get(CSV, params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"expiring-soon-{today().isoformat()}-60-days.csv" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[:5] == [
        ["Expiring soon", today().isoformat()],
        ["Expiring within", "60 days"],
        ["Location", "All locations"],
        ["Practitioner", "All practitioners"],
        [
            "Section",
            "Client",
            "Phone",
            "Package",
            "Remaining credits",
            f"Value ({PracticeSettings.load().currency}, net of tax)",
            "Expiry date",
        ],
    ]
    body = rows[5:]
    # Phones starting with + are quoted for spreadsheets, like names.
    assert body[0] == [
        "Expiring soon", "Ann Able", "'+61 400 000 001", "Three", "2", "66.67",
        (today() + dt.timedelta(days=3)).isoformat(),
    ]  # fmt: skip

    def as_page(row):
        section, name, phone, package, credits, value, expires = row
        return [
            name,
            phone.removeprefix("'") or "—",
            package,
            credits,
            f"${Decimal(value):,.2f}",
            f"{dt.date.fromisoformat(expires):%-d %b %Y}",
        ]

    expiring = [as_page(r) for r in body if r[0] == "Expiring soon"]
    expired = [as_page(r) for r in body if r[0] == "Expired in the last 30 days"]
    assert expiring == page_rows(html, "expiring") and len(expiring) == 3
    assert expired == page_rows(html, "expired") and len(expired) == 1
    assert len(body) == 4


def test_csv_quotes_formula_like_names(client, accountant, practice, admin_user):
    package = PackageFactory(name="=SUM(A1)", credits=2, services=[practice.follow_up])
    evil = ClientFactory(first_name="@cmd", last_name="X", phone="-1")
    sell_expiring(practice, admin_user, package, 3, client=evil)
    client.force_login(accountant)
    (row,) = csv_rows(client.get(CSV))[5:]
    assert row[1:4] == ["'@cmd X", "'-1", "'=SUM(A1)"]


def test_csv_holds_every_page(client, accountant, practice, admin_user, three_for_100):
    for n in range(30):
        sell_expiring(practice, admin_user, three_for_100, n, client=ClientFactory())
    client.force_login(accountant)
    rows = csv_rows(client.get(CSV, {"page": "2"}))[5:]
    assert len(rows) == 30 == package_totals(expiring_packages(today(), 30)).count


# ------------------------------------------------------------------ query counts


def test_queries_do_not_grow_with_the_data(client, admin_user, practice, three_for_100):
    api = api_client(admin_user)
    client.force_login(admin_user)

    def count(url, params=None) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = (api if url == API else client).get(url, params or {})
            assert response.status_code == 200
        return len(ctx)

    urls = (PAGE, CSV, API)
    sell_expiring(practice, admin_user, three_for_100, 3)
    sell_expiring(practice, admin_user, three_for_100, -3)
    for url in urls:
        count(url)  # warm up (sessions, caches)
    few = {url: count(url) for url in urls}
    for n in range(30):
        sell_expiring(practice, admin_user, three_for_100, n - 15, client=ClientFactory())
    many = {url: count(url) for url in urls}
    assert few == many, (few, many)
    assert count(API, {"expired": "true"}) == many[API]


# --------------------------------------------------------------------------- the API


def test_api_shape_and_figures(accountant, mixed):
    response = api_client(accountant).get(API)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2 and body["next"] is None
    first = body["results"][0]
    soon = mixed["soon"]
    assert first == {
        "client_package": soon.pk,
        "client": soon.client_id,
        "client_name": "Ann Able",
        "phone": "+61 400 000 001",
        "package_name": "Three",
        "remaining_credits": 2,
        "remaining_value": "66.67",
        "expires_on": (today() + dt.timedelta(days=3)).isoformat(),
    }
    expired = api_client(accountant).get(API, {"expired": "true", "within": "7"}).json()
    assert [r["client_package"] for r in expired["results"]] == [mixed["gone"].pk]
    assert [
        r["client_package"]
        for r in api_client(accountant).get(API, {"within": 60}).json()["results"]
    ] == [
        mixed["soon"].pk,
        mixed["later"].pk,
        mixed["far"].pk,
    ]


def test_api_equals_the_page(client, admin_user, mixed):
    client.force_login(admin_user)
    for params, key in (({"within": "60"}, "expiring"), ({"expired": "true"}, "expired")):
        body = api_client(admin_user).get(API, params).json()["results"]
        html = client.get(PAGE, {"within": params.get("within", "30")}).content.decode()
        expected = [
            [
                r["client_name"],
                r["phone"] or "—",
                r["package_name"],
                str(r["remaining_credits"]),
                f"${Decimal(r['remaining_value']):,.2f}",
                f"{dt.date.fromisoformat(r['expires_on']):%-d %b %Y}",
                "Extend expiry",
            ]
            for r in body
        ]
        assert page_rows(html, key) == expected and expected


def test_api_pages(accountant, practice, admin_user, three_for_100):
    for n in range(5):
        sell_expiring(practice, admin_user, three_for_100, n, client=ClientFactory())
    body = api_client(accountant).get(API, {"page_size": 2, "page": 3}).json()
    assert body["count"] == 5 and len(body["results"]) == 1 and body["next"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"within": "14"}, "within"),
        ({"within": "x"}, "within"),
        ({"expired": "maybe"}, "expired"),
        ({"location": "999999"}, "location"),
        ({"practitioner": "x"}, "practitioner"),
        ({"page_size": "500"}, "page_size"),
    ],
)
def test_api_bad_input_is_400_by_field(accountant, params, field):
    response = api_client(accountant).get(API, params)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field] and body[field][0]


def test_api_refuses_reception_practitioner_and_anonymous(reception, practitioner_user, admin_user):
    assert api_client(reception).get(API).status_code == 403
    assert api_client(practitioner_user).get(API).status_code == 403
    assert api_client().get(API).status_code == 401
    assert api_client(admin_user).post(API, {}, format="json").status_code == 405


def test_api_in_the_openapi_schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    op = schema["paths"][API]["get"]
    assert op["summary"].startswith("Expiring soon")
    assert "net of tax" in op["description"] and "expired=true" in op["description"]
    names = {p["name"] for p in op["parameters"]}
    assert {"within", "expired", "location", "practitioner", "page", "page_size"} <= names
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert "$ref" in ok or "properties" in ok
