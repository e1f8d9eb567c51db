"""Report 1, Package liability: the page and its CSV."""

from __future__ import annotations

import csv

from django.http import HttpRequest, HttpResponse
from django.urls import path

from kernel.money import format_money
from kernel.web import render_page, staff_view
from reports.forms import LiabilityFilterForm
from reports.selectors import Liability, package_liability
from reports.views.common import REPORTS_PERM, text_cell

# The roll-forward's rows: (field of Liability, sign shown, label).
LIABILITY_ROWS = (
    ("opening", "", "Opening balance"),
    ("sold", "+", "Sold"),
    ("redeemed", "−", "Redeemed"),
    ("expired", "−", "Expired"),
    ("canceled", "−", "Canceled"),
    ("adjusted", "±", "Adjusted"),
    ("closing", "=", "Closing balance"),
)


def liability_rows(report: Liability) -> list[dict]:
    """The rows of the page and of its CSV, in order: label, credits, value, money."""
    rows = []
    for field, sign, label in LIABILITY_ROWS:
        amount = getattr(report, field)
        rows.append(
            {
                "field": field,
                "sign": sign,
                "label": label,
                "credits": amount.credits,
                "value": amount.value,
                "money": format_money(amount.value, report.currency),
            }
        )
    return rows


def _report(request: HttpRequest):
    form = LiabilityFilterForm(request.GET)
    report = package_liability(**form.filters()) if form.is_valid() else None
    return form, report


@staff_view(REPORTS_PERM)
def package_liability_page(request: HttpRequest) -> HttpResponse:
    form, report = _report(request)
    context = {
        "form": form,
        "report": report,
        "rows": liability_rows(report) if report else [],
        "query": request.GET.urlencode(),
    }
    return render_page(
        request, "reports/package_liability.html", context, status=200 if report else 400
    )


@staff_view(REPORTS_PERM)
def package_liability_csv(request: HttpRequest) -> HttpResponse:
    form, report = _report(request)
    if report is None:
        # Bad filters: the page, with the messages beside the fields.
        context = {"form": form, "report": None, "rows": [], "query": ""}
        return render_page(request, "reports/package_liability.html", context, status=400)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"package-liability-{report.start.isoformat()}-{report.end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    filters = form.cleaned_data
    writer.writerow(["Package liability", report.start.isoformat(), report.end.isoformat()])
    writer.writerow(["Location", text_cell(str(filters["location"] or "All locations"))])
    writer.writerow(
        ["Practitioner", text_cell(str(filters["practitioner"] or "All practitioners"))]
    )
    writer.writerow(["Line", "Credits", f"Value ({report.currency}, net of tax)"])
    for row in liability_rows(report):
        writer.writerow([row["label"], row["credits"], f"{row['value']:.2f}"])
    return response


urlpatterns = [
    path("package-liability/", package_liability_page, name="package_liability"),
    path("package-liability/csv/", package_liability_csv, name="package_liability_csv"),
]
