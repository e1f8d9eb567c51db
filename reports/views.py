"""The Reports area (Admin and Accountant, `reports.view_reports`): the landing page and
the Package liability page with its CSV. Figures come from reports.selectors."""

from __future__ import annotations

import csv

from django.http import HttpRequest, HttpResponse

from kernel.money import format_money
from kernel.web import render_page, staff_view
from reports.forms import LiabilityFilterForm
from reports.selectors import Liability, package_liability

REPORTS_PERM = "reports.view_reports"

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


def _text_cell(text: str) -> str:
    """A name typed by staff, safe in a spreadsheet: a leading = + - @ (a formula) is
    quoted with an apostrophe, as spreadsheets do for text."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@staff_view(REPORTS_PERM)
def index(request: HttpRequest) -> HttpResponse:
    return render_page(request, "reports/index.html", {})


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
    writer.writerow(["Location", _text_cell(str(filters["location"] or "All locations"))])
    writer.writerow(
        ["Practitioner", _text_cell(str(filters["practitioner"] or "All practitioners"))]
    )
    writer.writerow(["Line", "Credits", f"Value ({report.currency}, net of tax)"])
    for row in liability_rows(report):
        writer.writerow([row["label"], row["credits"], f"{row['value']:.2f}"])
    return response
