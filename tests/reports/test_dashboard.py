"""Issue 15, report 6: the Reports landing page is a dashboard of four server-drawn SVG
charts (liability today, expiring in 30 days, receivables by age, revenue by month), each
linking to its report, with figures equal to the reports' own."""

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import PeriodUnit
from reports.charts import Bar, Series, bar_chart, grouped_bar_chart
from reports.selectors import package_liability
from reports.selectors.dashboard import dashboard, expiring_by_week
from reports.selectors.expiring import expiring_packages
from tests.factories import PackageFactory

pytestmark = pytest.mark.django_db


def on(day: int, month: int = 3):
    return time_machine.travel(dt.datetime(2026, month, day, 1, 0, tzinfo=dt.UTC), tick=False)


def money(value: Decimal) -> str:
    return f"${value:,.2f}"


@pytest.fixture
def some_packages(practice, reception):
    """Sold on 2 March: one without expiry (one credit used on 3 March) and packages
    expiring 5, 12 and 40 days after 10 March."""
    three = PackageFactory(credits=3, price=Decimal("100.00"), services=[practice.follow_up])
    with on(2):
        used = practice.sell(three)
    with on(3):
        practice.book(by=reception, client_package=used)
    for days in (13, 20, 48):  # 2 March + days: 15 Mar, 22 Mar, 19 Apr
        expiring = PackageFactory(
            credits=2,
            price=Decimal("40.00"),
            expires_after_value=days,
            expires_after_unit=PeriodUnit.DAYS,
            services=[practice.follow_up],
        )
        with on(2):
            practice.sell(expiring)


def test_figures_equal_the_reports(some_packages):
    today = dt.date(2026, 3, 10)
    with on(10):
        board = dashboard()
    assert board.on == today
    assert board.liability.closing == package_liability(today, today).closing
    assert board.liability.closing.value == Decimal("66.67") + 3 * Decimal("40.00")
    total = board.expiring_total
    expected = list(expiring_packages(today, 30))
    assert total.count == len(expected) == 2
    assert total.value == sum(p.remaining_value for p in expected) == Decimal("80.00")
    assert [s.count for s in board.expiring] == [1, 1, 0, 0]  # 5 and 12 days left
    assert len(board.revenue) == 12 and board.revenue[-1].month == dt.date(2026, 3, 1)


def test_expiring_slices_have_edges_right(practice):
    for days in (1, 7, 8, 30, 31):
        package = PackageFactory(
            credits=1,
            price=Decimal("10.00"),
            expires_after_value=days,
            expires_after_unit=PeriodUnit.DAYS,
            services=[practice.follow_up],
        )
        with on(10):
            practice.sell(package, start_date=dt.date(2026, 3, 10))
    slices = expiring_by_week(dt.date(2026, 3, 10))
    assert [(s.label, s.count) for s in slices] == [
        ("0–7 days", 2),
        ("8–14 days", 1),
        ("15–21 days", 0),
        ("22–30 days", 1),
    ]


def test_page_shows_four_charts_linking_to_their_reports(client, accountant, some_packages):
    client.force_login(accountant)
    with on(10):
        response = client.get("/reports/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('<svg class="chart"') == 4
    assert html.count('role="img"') >= 4
    for url in (
        "/reports/package-liability/?start=2026-03-01&amp;end=2026-03-10",
        "/reports/expiring/",
        "/reports/aged-receivables/",
        "/reports/revenue/",
    ):
        assert f'class="dashboard__chart" href="{url}"' in html, url
    assert money(Decimal("186.67")) in html  # the liability today
    assert "for 8 usable credits today" in html
    assert "<script" not in html.split("<main", 1)[-1].split("</main>", 1)[0]
    assert 'style="' not in html  # the strict CSP allows no inline style


def test_roles_and_query_count(client, admin_user, reception, practitioner_user, practice):
    for user in (reception, practitioner_user):
        client.force_login(user)
        assert client.get("/reports/").status_code == 403
    client.force_login(admin_user)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/reports/").status_code == 200
        return len(ctx)

    before = count()
    three = PackageFactory(
        credits=3,
        price=Decimal("30.00"),
        expires_after_value=10,
        expires_after_unit=PeriodUnit.DAYS,
        services=[practice.follow_up],
    )
    for _ in range(4):
        practice.sell(three)
    assert count() == before


def test_bar_chart_scales_bars_and_describes_them():
    svg = str(
        bar_chart(
            [Bar("A", Decimal("100")), Bar("B", Decimal("50")), Bar("C", Decimal("-25"))],
            title="T & co",
            fmt=lambda v: f"{v}",
        )
    )
    heights = [
        float(h) for h in re.findall(r'<rect class="chart__bar[^"]*"[^>]*height="([\d.]+)"', svg)
    ]
    assert heights[0] == pytest.approx(2 * heights[1]) == pytest.approx(4 * heights[2])
    assert "<title id=" in svg and "T &amp; co" in svg
    assert "A: 100; B: 50; C: -25" in svg


def test_waterfall_bar_floats_on_its_base():
    svg = str(
        bar_chart(
            [Bar("Open", Decimal("100")), Bar("Used", Decimal("-40"), base=Decimal("100"))],
            title="W",
            fmt=str,
        )
    )
    ys = [
        float(y) for y in re.findall(r'<rect class="chart__bar[^"]*" x="[\d.]+" y="([\d.]+)"', svg)
    ]
    assert ys[0] == pytest.approx(ys[1])  # both reach the top (100)


def test_grouped_chart_and_empty_data():
    svg = str(
        grouped_bar_chart(
            ["Jan", "Feb"],
            [Series("In", [Decimal(1), Decimal(2)]), Series("Out", [Decimal(0), Decimal(1)])],
            title="G",
            fmt=str,
        )
    )
    assert svg.count("<rect") == 4 + 2  # four bars and two legend keys
    assert "Jan: In 1, Out 0; Feb: In 2, Out 1" in svg
    empty = str(bar_chart([], title="Nothing", fmt=str))
    assert "<svg" in empty and "nan" not in empty.lower()
    assert "Nothing in this period yet" in empty
    assert "Nothing in this period yet" not in svg


def test_chart_captions_stay_short_at_large_figures(client, accountant, practice):
    """Seven captions side by side fit a phone's width only when short: the waterfall
    shows "$1.23M" above a bar, its tooltip the exact amount."""
    big = PackageFactory(credits=10, price=Decimal("1234567.80"), services=[practice.follow_up])
    with on(2):
        practice.sell(big)
    client.force_login(accountant)
    with on(10):
        html = client.get("/reports/").content.decode()
    chart = html.split('<svg class="chart"', 2)[1]  # the liability waterfall
    exact = re.search(r"Today: \$([\d,]+\.\d\d)", chart)  # the description: exact
    assert exact is not None
    today = Decimal(exact.group(1).replace(",", ""))
    assert today > 1_000_000  # net of tax
    assert f">${today / 1_000_000:.2f}M</text>" in chart  # the caption above the bar
    assert f">${today:,.0f}</text>" not in chart
