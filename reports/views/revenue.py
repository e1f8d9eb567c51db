"""Report 5, Revenue: the page and its CSV."""

from __future__ import annotations

import csv

from django.http import HttpRequest, HttpResponse
from django.urls import path

from kernel.money import format_money
from kernel.web import render_page, staff_view
from reports.forms import RevenueFilterForm
from reports.selectors.revenue import REVENUE_GROUPINGS, Revenue, RevenueRow, revenue
from reports.views.common import REPORTS_PERM, text_cell

TEMPLATE = "reports/revenue.html"


def _cells(row: RevenueRow, currency: str, splits_payments: bool) -> dict:
    cells = {
        "key": row.key,
        "label": row.label,
        "kind": row.kind,
        "invoiced": format_money(row.invoiced, currency),
        "tax": format_money(row.tax, currency),
        "total": format_money(row.total, currency),
    }
    if splits_payments:
        cells["paid"] = format_money(row.paid or 0, currency)
        cells["refunded"] = format_money(row.refunded or 0, currency)
    return cells


def revenue_table(report: Revenue) -> tuple[list[dict], dict]:
    """The rows of the page (amounts formatted in the practice's currency) and its totals."""
    splits = report.splits_payments
    rows = [_cells(row, report.currency, splits) for row in report.rows]
    return rows, _cells(report.totals, report.currency, splits)


def _report(request: HttpRequest) -> tuple[RevenueFilterForm, Revenue | None]:
    form = RevenueFilterForm(request.GET)
    report = revenue(**form.filters()) if form.is_valid() else None
    return form, report


def _context(form: RevenueFilterForm, report: Revenue | None, query: str) -> dict:
    rows, totals = revenue_table(report) if report else ([], {})
    group_by = report.group_by if report else "month"
    return {
        "form": form,
        "report": report,
        "rows": rows,
        "totals": totals,
        "first_heading": REVENUE_GROUPINGS[group_by],
        "query": query,
    }


@staff_view(REPORTS_PERM)
def revenue_page(request: HttpRequest) -> HttpResponse:
    form, report = _report(request)
    context = _context(form, report, request.GET.urlencode())
    return render_page(request, TEMPLATE, context, status=200 if report else 400)


def _money(value) -> str:
    return f"{value:.2f}"


@staff_view(REPORTS_PERM)
def revenue_csv(request: HttpRequest) -> HttpResponse:
    form, report = _report(request)
    if report is None:
        # Bad filters: the page, with the messages beside the fields.
        return render_page(request, TEMPLATE, _context(form, None, ""), status=400)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"revenue-{report.group_by}-{report.start.isoformat()}-{report.end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    filters = form.cleaned_data
    writer.writerow(["Revenue", report.start.isoformat(), report.end.isoformat()])
    writer.writerow(["Group by", REVENUE_GROUPINGS[report.group_by]])
    writer.writerow(["Location", text_cell(str(filters["location"] or "All locations"))])
    writer.writerow(
        ["Practitioner", text_cell(str(filters["practitioner"] or "All practitioners"))]
    )
    splits = report.splits_payments
    heading = [REVENUE_GROUPINGS[report.group_by]]
    if report.group_by == "item":
        heading.append("Kind")
    heading += [
        f"Invoiced ({report.currency}, net of tax)",
        "Tax",
        "Invoiced incl. tax",
    ]
    if splits:
        heading += ["Paid", "Refunded"]
    writer.writerow(heading)
    for row in [*report.rows, report.totals]:
        line = [text_cell(row.label)]
        if report.group_by == "item":
            line.append(row.kind)
        line += [_money(row.invoiced), _money(row.tax), _money(row.total)]
        if splits:
            line += [_money(row.paid), _money(row.refunded)]
        writer.writerow(line)
    if not splits:
        writer.writerow(["Payments are not split by item."])
    return response


urlpatterns = [
    path("revenue/", revenue_page, name="revenue"),
    path("revenue/csv/", revenue_csv, name="revenue_csv"),
]
