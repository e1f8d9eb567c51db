"""Issue 15, report 1's drill-down: the lines behind each figure of Package liability
(client, package, date, credits, value, appointment, who), on a page and in a CSV, adding
up to the figure exactly."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import PeriodUnit
from reports.selectors import package_liability
from reports.selectors.liability import FIGURES, package_liability_movements
from tests.factories import PackageFactory

pytestmark = pytest.mark.django_db

MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


def on(day: int, month: int = 3):
    return time_machine.travel(dt.datetime(2026, month, day, 1, 0, tzinfo=dt.UTC), tick=False)


def lines_url(figure: str) -> str:
    return f"/reports/package-liability/{figure}/"


@pytest.fixture
def three_used(practice, reception):
    """A package of 3 credits for 100.00 sold on 2 March, its credits used on 3, 4, 5 March."""
    three = PackageFactory(
        name="Three", credits=3, price=Decimal("100.00"), services=[practice.follow_up]
    )
    with on(2):
        sold = practice.sell(three, by=reception)
    appointments = []
    for day in (3, 4, 5):
        with on(day):
            appointments.append(practice.book(by=reception, client_package=sold))
    return sold, appointments


def test_redeemed_lines_are_the_worked_example(three_used):
    sold, appointments = three_used
    lines = package_liability_movements(dt.date(2026, 3, 1), dt.date(2026, 3, 31), "redeemed")
    assert [(m.credits, m.value) for m in lines.rows] == [
        (1, Decimal("33.33")),
        (1, Decimal("33.34")),
        (1, Decimal("33.33")),
    ]
    assert [m.appointment_id for m in lines.rows] == [a.pk for a in appointments]
    assert all(m.client_package_id == sold.pk and m.by for m in lines.rows)
    assert lines.count == 3


def test_every_figure_adds_up(three_used, practice, reception):
    sold, appointments = three_used
    from calendar_app.services import appointment_unlink

    with on(20):
        appointment_unlink(appointment=appointments[0], by=reception)
    start, end = dt.date(2026, 3, 4), dt.date(2026, 3, 31)
    report = package_liability(start, end)
    for figure in FIGURES:
        lines = package_liability_movements(start, end, figure, limit=None)
        amount = getattr(report, figure)
        assert sum(m.credits for m in lines.rows) == amount.credits, figure
        assert sum((m.value for m in lines.rows), Decimal(0)) == amount.value, figure
    # A credit given back is a negative redeemed line.
    redeemed = package_liability_movements(start, end, "redeemed").rows
    assert [m.credits for m in redeemed] == [1, 1, -1]


def test_page_lists_the_lines_with_links(client, accountant, three_used):
    sold, appointments = three_used
    client.force_login(accountant)
    response = client.get(lines_url("redeemed"), MARCH)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Redeemed</h1>" in html
    assert html.count("$33.33") == 2 and "$33.34" in html
    assert f'href="/packages/{sold.pk}/"' in html
    assert f'href="/calendar/{appointments[0].pk}/"' in html
    assert "Download all 3 lines (CSV)" in html


def test_report_links_each_figure_to_its_lines(client, accountant, three_used):
    client.force_login(accountant)
    html = client.get("/reports/package-liability/", MARCH).content.decode()
    for figure in FIGURES:
        assert f'href="{lines_url(figure)}?start=2026-03-01&amp;end=2026-03-31"' in html


def test_opening_and_closing_list_packages(client, accountant, three_used):
    sold, _ = three_used
    lines = package_liability_movements(dt.date(2026, 3, 4), dt.date(2026, 3, 4), "opening")
    assert [(m.client_package_id, m.credits, m.value) for m in lines.rows] == [
        (sold.pk, 2, Decimal("66.67"))
    ]
    assert lines.rows[0].at is None
    client.force_login(accountant)
    html = client.get(lines_url("closing"), {"start": "2026-03-04", "end": "2026-03-04"})
    assert "Expiry date" in html.content.decode() and "$33.33" in html.content.decode()


def test_expired_lines(practice, reception):
    short = PackageFactory(
        name="Short",
        credits=2,
        price=Decimal("50.00"),
        expires_after_value=8,
        expires_after_unit=PeriodUnit.DAYS,
        services=[practice.follow_up],
    )
    with on(2):
        sold = practice.sell(short)
    assert sold.expires_on == dt.date(2026, 3, 10)
    lines = package_liability_movements(dt.date(2026, 3, 1), dt.date(2026, 3, 31), "expired")
    assert [(m.client_package_id, m.credits, m.value) for m in lines.rows] == [
        (sold.pk, 2, Decimal("50.00"))
    ]
    assert lines.rows[0].expires_on == dt.date(2026, 3, 10)


def test_csv_has_every_line_and_the_total(client, accountant, three_used):
    client.force_login(accountant)
    response = client.get(lines_url("redeemed") + "csv/", MARCH)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Package liability: Redeemed", "2026-03-01", "2026-03-31"]
    assert [r[6] for r in rows[2:5]] == ["33.33", "33.34", "33.33"]
    assert rows[-1][0] == "Total" and rows[-1][5:] == ["3", "100.00"]


def test_pages_of_lines(client, accountant, practice, reception):
    many = PackageFactory(credits=60, price=Decimal("600.00"), services=[practice.follow_up])
    with on(2):
        sold = practice.sell(many)
    with on(3):
        for hour in range(60):
            practice.book(by=reception, client_package=sold, days=1 + hour // 8, hour=8 + hour % 8)
    client.force_login(accountant)
    first = client.get(lines_url("redeemed"), MARCH).content.decode()
    assert "1–50 of 60" in first
    second = client.get(lines_url("redeemed"), {**MARCH, "page": "2"}).content.decode()
    assert "51–60 of 60" in second and second.count("$10.00") == 10
    past = client.get(lines_url("redeemed"), {**MARCH, "page": "99"}).content.decode()
    assert "51–60 of 60" in past
    junk = client.get(lines_url("redeemed"), {**MARCH, "page": "x"})
    assert junk.status_code == 200 and "1–50 of 60" in junk.content.decode()


def test_query_count_is_constant(client, accountant, practice, reception):
    client.force_login(accountant)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(lines_url("redeemed"), MARCH).status_code == 200
        return len(ctx)

    two = PackageFactory(credits=2, price=Decimal("20.00"), services=[practice.follow_up])
    with on(2):
        sold = practice.sell(two)
    with on(3):
        practice.book(by=reception, client_package=sold)
    before = count()
    for day in (4, 5, 6):
        with on(day):
            sold = practice.sell(two)
            practice.book(by=reception, client_package=sold)
            practice.book(by=reception, client_package=sold, hour=14)
    assert count() == before


def test_roles_unknown_figure_and_bad_dates(
    client, admin_user, accountant, reception, practitioner_user
):
    for user in (reception, practitioner_user):
        client.force_login(user)
        assert client.get(lines_url("sold"), MARCH).status_code == 403
        assert client.get(lines_url("sold") + "csv/", MARCH).status_code == 403
    client.force_login(admin_user)
    assert client.get(lines_url("sold"), MARCH).status_code == 200
    assert client.get(lines_url("nonsense"), MARCH).status_code == 404
    bad = client.get(lines_url("sold"), {"start": "2026-03-10", "end": "2026-03-01"})
    assert bad.status_code == 400
    assert "The end date is before the start date." in bad.content.decode()
    bad_csv = client.get(lines_url("sold") + "csv/", {"start": "nope", "end": "2026-03-01"})
    assert bad_csv.status_code == 400 and "Enter a valid date" in bad_csv.content.decode()
