"""Report 3, Package sales: the page and its CSV."""

from __future__ import annotations

import csv

from django.http import HttpRequest, HttpResponse
from django.urls import path

from kernel.money import format_money
from kernel.web import render_page, staff_view
from reports.forms import SALES_GROUP_BY, PackageSalesFilterForm
from reports.selectors.sales import PackageSales, package_sales
from reports.views.common import REPORTS_PERM, text_cell


def sales_rows(report: PackageSales) -> list[dict]:
    """The rows of the page and of its CSV, the total last."""
    rows = [
        {
            "label": row.label,
            "count": row.count,
            "credits": row.credits,
            "revenue": row.revenue,
            "is_total": False,
        }
        for row in report.rows
    ]
    total = report.total
    rows.append(
        {
            "label": "Total",
            "count": total.count,
            "credits": total.credits,
            "revenue": total.revenue,
            "is_total": True,
        }
    )
    for row in rows:
        row["money"] = format_money(row["revenue"], report.currency)
    return rows


def _report(request: HttpRequest):
    form = PackageSalesFilterForm(request.GET)
    report = package_sales(**form.filters()) if form.is_valid() else None
    return form, report


def _page(request: HttpRequest, form, report, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "report": report,
        "group_label": SALES_GROUP_BY[report.group_by] if report else "",
        "rows": sales_rows(report) if report else [],
        "query": request.GET.urlencode() if report else "",
    }
    return render_page(request, "reports/package_sales.html", context, status=status)


@staff_view(REPORTS_PERM)
def package_sales_page(request: HttpRequest) -> HttpResponse:
    form, report = _report(request)
    return _page(request, form, report, status=200 if report else 400)


@staff_view(REPORTS_PERM)
def package_sales_csv(request: HttpRequest) -> HttpResponse:
    form, report = _report(request)
    if report is None:
        # Bad filters: the page, with the messages beside the fields.
        return _page(request, form, None, status=400)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    period = f"{report.start.isoformat()}-{report.end.isoformat()}"
    name = f"package-sales-by-{report.group_by}-{period}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    filters = form.cleaned_data
    writer.writerow(["Package sales", report.start.isoformat(), report.end.isoformat()])
    writer.writerow(["Group by", SALES_GROUP_BY[report.group_by]])
    writer.writerow(["Location", text_cell(str(filters["location"] or "All locations"))])
    writer.writerow(
        ["Practitioner", text_cell(str(filters["practitioner"] or "All practitioners"))]
    )
    writer.writerow(
        [
            SALES_GROUP_BY[report.group_by],
            "Packages sold",
            "Credits",
            f"Revenue ({report.currency}, net of tax)",
        ]
    )
    for row in sales_rows(report):
        writer.writerow(
            [text_cell(row["label"]), row["count"], row["credits"], f"{row['revenue']:.2f}"]
        )
    return response


urlpatterns = [
    path("package-sales/", package_sales_page, name="package_sales"),
    path("package-sales/csv/", package_sales_csv, name="package_sales_csv"),
]
