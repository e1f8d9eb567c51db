"""Every report selector timed on a large practice (issue 15, Performance).

Build the practice first (`manage.py seed_demo --size large`), then:

    DATABASE_URL=postgres://…/caspen_big .venv/bin/python bench/reports_at_size.py

`… reports_at_size.py receivables revenue` times only the cases whose name holds one of
the words. Prints one table: each report call, its median time over 5 runs (after one warm-up
run) and its number of queries. A list is timed as its page reads it: the count and the
first page of 50 rows; a page or an API call as a signed-in Accountant's request sends it
(a test client, through every middleware). The first row, a scan of the invoice lines, is
the machine's floor of the moment: read the others against it. Target: every report
under 500 ms.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caspen.settings")
# Pages are rendered without `collectstatic` (no manifest of hashed file names).
os.environ.setdefault("CASPEN_PLAIN_STATIC", "1")

import django  # noqa: E402

django.setup()

from django.core.paginator import Paginator  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client as DjangoClient  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from calendar_app.models import Location  # noqa: E402
from reports.selectors.dashboard import dashboard  # noqa: E402
from reports.selectors.expiring import (  # noqa: E402
    expiring_packages,
    package_totals,
    recently_expired_packages,
)
from reports.selectors.liability import package_liability  # noqa: E402
from reports.selectors.receivables import aged_receivables  # noqa: E402
from reports.selectors.revenue import revenue  # noqa: E402
from reports.selectors.sales import SALES_GROUPS, package_sales  # noqa: E402

RUNS = 5
TARGET_MS = 500


def first_page(rows) -> None:
    page = Paginator(rows, 50).page(1)
    page.paginator.count  # noqa: B018 - the count query, as the pages run it
    list(page)


def reports_user():
    """A user who may see the reports (the Accountant of the seeded practice)."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True).order_by("pk")
    return next(user for user in users if user.has_perm("reports.view_reports"))


def get(client, url: str, params: dict | None = None) -> Callable[[], object]:
    """A GET of a page or an API path, as a signed-in user's browser or script sends it."""

    def run() -> None:
        response = client.get(url, params or {}, secure=True)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.get('Location', '')}")
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)

    return run


def floor() -> None:
    """A reference for the machine's speed now: one scan of the invoice lines."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), sum(total_amount) FROM invoicing_invoiceline")
        cursor.fetchall()


def cases() -> list[tuple[str, Callable[[], object]]]:
    today = timezone.localdate()
    month_end = today.replace(day=1) - dt.timedelta(days=1)
    month_start = month_end.replace(day=1)
    year_start = today - dt.timedelta(days=364)
    busiest = (
        Location.objects.annotate(n=Count("invoices")).order_by("-n").values_list("pk", flat=True)
    ).first()

    def receivables() -> None:
        report = aged_receivables(today)
        first_page(report.rows)

    browser = DjangoClient()
    browser.force_login(reports_user())
    last_page = -(-aged_receivables(today).total.count // 25)

    return [
        ("floor: one scan of the invoice lines", floor),
        (
            f"package_liability last month ({month_start:%b %Y})",
            lambda: package_liability(month_start, month_end),
        ),
        (
            "package_liability last month, one location",
            lambda: package_liability(month_start, month_end, location=busiest),
        ),
        ("package_liability last 12 months", lambda: package_liability(year_start, today)),
        (
            "package_liability last 12 months, one location",
            lambda: package_liability(year_start, today, location=busiest),
        ),
        ("aged_receivables (totals + page 1)", receivables),
        ("Aged receivables page (HTML, page 1)", get(browser, "/reports/aged-receivables/")),
        (
            f"Aged receivables page (HTML, last page: {last_page})",
            get(browser, "/reports/aged-receivables/", {"page": last_page}),
        ),
        (
            "Aged receivables CSV (every open invoice)",
            get(browser, "/reports/aged-receivables/csv/"),
        ),
        ("Aged receivables API, totals", get(browser, "/api/v1/reports/aged-receivables/")),
        (
            "Aged receivables API, invoices page 1",
            get(browser, "/api/v1/reports/aged-receivables/invoices/"),
        ),
        (
            "aged_receivables, one location (totals + page 1)",
            lambda: first_page(aged_receivables(today, location=busiest).rows),
        ),
        (
            "expiring_packages 30 days (count + page 1)",
            lambda: first_page(expiring_packages(today, 30)),
        ),
        (
            "expiring_packages 60 days, one location (count + page 1)",
            lambda: first_page(expiring_packages(today, 60, location=busiest)),
        ),
        (
            "recently_expired_packages 30 days (count + page 1)",
            lambda: first_page(recently_expired_packages(today)),
        ),
        (
            "expiring_packages 60 days: totals + count + page 1",
            lambda: (
                package_totals(expiring_packages(today, 60)),
                first_page(expiring_packages(today, 60)),
            ),
        ),
        (
            f"revenue by month, last month ({month_start:%b %Y})",
            lambda: revenue(month_start, month_end, group_by="month"),
        ),
        (
            "revenue by month, last 12 months",
            lambda: revenue(year_start, today, group_by="month"),
        ),
        (
            "revenue by item, last 12 months",
            lambda: revenue(year_start, today, group_by="item"),
        ),
        (
            "revenue by month, last 12 months, one location",
            lambda: revenue(year_start, today, group_by="month", location=busiest),
        ),
        *(
            (
                f"package_sales by {group}, {label}",
                lambda start=start, end=end, group=group: package_sales(start, end, group_by=group),
            )
            for group in SALES_GROUPS
            for label, start, end in (
                ("last month", month_start, month_end),
                ("last 12 months", year_start, today),
            )
        ),
        (
            "package_sales by package, last 12 months, one location",
            lambda: package_sales(year_start, today, group_by="package", location=busiest),
        ),
        ("dashboard (all four panels)", lambda: dashboard(today)),
    ]


def measure(run: Callable[[], object]) -> tuple[float, int]:
    run()  # warm-up
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        run()
    return statistics.median(times), len(queries)


def main() -> None:
    from clients.models import Client
    from packages.models import CreditLedgerEntry

    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(
        f"{Client.objects.count():,} clients, {CreditLedgerEntry.objects.count():,} ledger rows "
        f"(load average {load}: on a shared machine, times grow with it)"
    )
    only = sys.argv[1:]  # words: time only the cases whose name holds one of them
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        rows = [
            (name, *measure(run))
            for name, run in cases()
            if not only
            or name.startswith("floor")
            or any(w.casefold() in name.casefold() for w in only)
        ]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'report':<{width}}  {'ms (median of 5)':>16}  {'queries':>7}")
    for name, ms, queries in rows:
        flag = "" if ms < TARGET_MS else "  over target"
        print(f"{name:<{width}}  {ms:>16.1f}  {queries:>7}{flag}")


if __name__ == "__main__":
    main()
