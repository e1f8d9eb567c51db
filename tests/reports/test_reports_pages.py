"""Issue 15: the Reports area and the Package liability page, its CSV and its roles."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reports.forms import last_month
from reports.selectors import package_liability
from tests.factories import PackageFactory

pytestmark = pytest.mark.django_db

PAGE = "/reports/package-liability/"
CSV = "/reports/package-liability/csv/"
LABELS = (
    "Opening balance",
    "Sold",
    "Redeemed",
    "Expired",
    "Canceled",
    "Adjusted",
    "Closing balance",
)
FIELDS = ("opening", "sold", "redeemed", "expired", "canceled", "adjusted", "closing")


def on(day: int, month: int = 3):
    return time_machine.travel(dt.datetime(2026, month, day, 1, 0, tzinfo=dt.UTC), tick=False)


@pytest.fixture
def sold_and_used(practice, reception):
    """A package of 3 credits for 100.00 sold on 2 March, one credit used on 3 March."""
    three = PackageFactory(
        name="Three", credits=3, price=Decimal("100.00"), services=[practice.follow_up]
    )
    with on(2):
        sold = practice.sell(three)
    with on(3):
        practice.book(by=reception, client_package=sold)
    return sold


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_reports_in_the_nav_for_admin_and_accountant_only(
    client, admin_user, accountant, reception, practitioner_user
):
    for user, sees in (
        (admin_user, True),
        (accountant, True),
        (reception, False),
        (practitioner_user, False),
    ):
        client.force_login(user)
        html = client.get("/", follow=True).content.decode()
        assert "topbar__nav" in html
        assert ('href="/reports/"' in html) is sees, user.username


@pytest.mark.parametrize("url", ["/reports/", PAGE, CSV])
def test_reception_and_practitioner_get_403(client, reception, practitioner_user, url):
    for user in (reception, practitioner_user):
        client.force_login(user)
        assert client.get(url).status_code == 403


def test_anonymous_goes_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_landing_lists_package_liability(client, accountant):
    client.force_login(accountant)
    html = client.get("/reports/").content.decode()
    assert f'href="{PAGE}"' in html and "Package liability" in html


def test_page_defaults_to_last_month(client, accountant):
    client.force_login(accountant)
    with time_machine.travel(dt.datetime(2026, 3, 15, 1, tzinfo=dt.UTC), tick=False):
        assert last_month() == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
        response = client.get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="2026-02-01"' in html and 'value="2026-02-28"' in html


def test_page_shows_the_roll_forward_in_credits_and_money(client, accountant, sold_and_used):
    client.force_login(accountant)
    html = client.get(PAGE, {"start": "2026-03-01", "end": "2026-03-31"}).content.decode()
    for label in LABELS:
        assert label in html
    assert "$100.00" in html and "$33.33" in html and "$66.67" in html
    assert "net of tax" in html


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"start": "2026-03-10", "end": "2026-03-01"}, "end", "The end date is before the start"),
        ({"start": "1800-01-01", "end": "2026-03-01"}, "start", "Enter a date between 1900"),
        ({"start": "2026-03-01", "end": "2999-01-01"}, "end", "Enter a date between 1900"),
        ({"start": "not a date", "end": "2026-03-01"}, "start", "Enter a valid date"),
        ({"start": "2026-03-01", "end": "2026-03-02", "location": "999999"}, "location", ""),
    ],
)
def test_bad_filters_are_shown_beside_the_field(client, accountant, params, field, message):
    client.force_login(accountant)
    for url in (PAGE, CSV):
        response = client.get(url, params)
        assert response.status_code == 400
        html = response.content.decode()
        assert f'id="id_{field}_error"' in html or f'aria-invalid="true" id="id_{field}"' in html
        assert message in html
        assert "Closing balance" not in html


def test_csv_equals_the_page(client, accountant, sold_and_used, practice):
    client.force_login(accountant)
    params = {"start": "2026-03-03", "end": "2026-03-31", "location": "", "practitioner": ""}
    page = client.get(PAGE, params)
    response = client.get(CSV, params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert rows[0] == ["Package liability", "2026-03-03", "2026-03-31"]
    body = rows[4:]
    assert [r[0] for r in body] == list(LABELS)
    report = package_liability(dt.date(2026, 3, 3), dt.date(2026, 3, 31))
    expected = [
        [label, str(getattr(report, f).credits), f"{getattr(report, f).value:.2f}"]
        for label, f in zip(LABELS, FIELDS, strict=True)
    ]
    assert body == expected
    assert body[0] == ["Opening balance", "3", "100.00"]
    assert body[2] == ["Redeemed", "1", "33.33"]
    # The page shows the same figures, row by row.
    html = page.content.decode()
    for field, (label, credits, value) in zip(FIELDS, body, strict=True):
        start = html.index(f'data-row="{field}"')
        cells = html[start : html.index("</tr>", start)]
        assert label in cells and f">{credits}<" in cells, cells
        assert f"${Decimal(value):,.2f}" in cells


def test_csv_link_keeps_the_filters(client, accountant, practice):
    client.force_login(accountant)
    params = {"start": "2026-03-01", "end": "2026-03-31", "location": str(practice.location.pk)}
    html = client.get(PAGE, params).content.decode()
    assert f"{CSV}?start=2026-03-01&amp;end=2026-03-31&amp;location={practice.location.pk}" in html


def test_query_count_is_constant(client, accountant, practice, reception):
    client.force_login(accountant)
    params = {"start": "2026-03-01", "end": "2026-03-31"}

    def count(url) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url, params).status_code == 200
        return len(ctx)

    count(PAGE)  # the filter lists read once, then kept (practice.versions)
    before = (count(PAGE), count(CSV))
    three = PackageFactory(credits=3, price=Decimal("90.00"), services=[practice.follow_up])
    for day in (2, 3, 4):
        with on(day):
            sold = practice.sell(three)
            practice.book(by=reception, client_package=sold)
    count(PAGE)
    assert (count(PAGE), count(CSV)) == before


def test_csv_quotes_a_name_that_looks_like_a_formula(client, accountant, practice):
    practice.location.name = '=HYPERLINK("http://x")'
    practice.location.save()
    client.force_login(accountant)
    params = {"start": "2026-03-01", "end": "2026-03-31", "location": practice.location.pk}
    rows = csv_rows(client.get(CSV, params))
    assert rows[1] == ["Location", '\'=HYPERLINK("http://x")']
    assert rows[2] == ["Practitioner", "All practitioners"]
