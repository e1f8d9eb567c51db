"""The Reports area (Admin and Accountant, `reports.view_reports`): the landing page (the
dashboard) here, one module per report (its page and CSV). Figures come from
reports.selectors; the charts are SVG drawn here (reports.charts)."""

from __future__ import annotations

from decimal import Decimal

from django.http import HttpRequest, HttpResponse

from kernel.money import format_money, format_money_short
from kernel.web import render_page, staff_view
from reports.charts import Bar, Series, bar_chart, grouped_bar_chart
from reports.selectors.dashboard import Dashboard, dashboard
from reports.selectors.receivables import AGE_BUCKETS
from reports.views.common import REPORTS_PERM


def _charts(board: Dashboard) -> dict:
    def money(value: Decimal) -> str:
        return format_money(value, board.currency)

    def short(value: Decimal) -> str:
        # Few characters above the bars, so that seven fit side by side on a phone
        # ("$994K"); the tooltips and descriptions carry the exact figures.
        return format_money_short(value, board.currency)

    report = board.liability
    running = report.opening.value
    steps = []
    for field, label, sign, tone in (
        ("sold", "Sold", 1, "accent"),
        ("redeemed", "Redeemed", -1, "muted"),
        ("expired", "Expired", -1, "warn"),
        ("canceled", "Canceled", -1, "danger"),
        ("adjusted", "Adjusted", 1, "muted"),
    ):
        change = sign * getattr(report, field).value
        steps.append(Bar(label, change, base=running, tone=tone, caption=short(change)))
        running += change
    waterfall = [
        Bar("Opening", report.opening.value, tone="strong", caption=short(report.opening.value)),
        *steps,
        Bar("Today", report.closing.value, tone="strong", caption=short(report.closing.value)),
    ]
    receivables = [
        Bar(
            label,
            board.receivables.buckets[key].balance,
            tone="accent"
            if key == "current"
            else ("warn" if key in ("d1_30", "d31_60") else "danger"),
            caption=short(board.receivables.buckets[key].balance),
        )
        for key, label in AGE_BUCKETS.items()
    ]
    expiring = [Bar(s.label, s.value, tone="warn", caption=short(s.value)) for s in board.expiring]
    months = [m.month.strftime("%b") for m in board.revenue]
    revenue = [
        Series("Invoiced", [m.invoiced_total for m in board.revenue], "accent"),
        Series("Paid", [m.paid for m in board.revenue], "strong"),
    ]
    return {
        "liability_chart": bar_chart(
            waterfall, title="Package liability this month, from opening to today", fmt=money
        ),
        "expiring_chart": bar_chart(
            expiring, title="Value of credits expiring in the next 30 days, by week", fmt=money
        ),
        "receivables_chart": bar_chart(
            receivables, title="Open invoices' balances by days overdue", fmt=money
        ),
        "revenue_chart": grouped_bar_chart(
            months, revenue, title="Invoiced and paid by month, last 12 months", fmt=money
        ),
    }


@staff_view(REPORTS_PERM)
def index(request: HttpRequest) -> HttpResponse:
    """The dashboard: four panels, each a chart linking to its report."""
    board = dashboard()
    context = {"board": board, "currency": board.currency, **_charts(board)}
    return render_page(request, "reports/index.html", context)
