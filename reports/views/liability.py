"""Report 1, Package liability: the page and its CSV."""

from __future__ import annotations

import csv
from decimal import Decimal

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone

from kernel.money import format_money
from kernel.web import render_page, staff_view
from reports.forms import LiabilityFilterForm
from reports.selectors import Liability, package_liability
from reports.selectors.liability import FIGURES, Movements, package_liability_movements
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


LINES_PER_PAGE = 50


class _OnePage:
    """A Paginator's object list for lines fetched one page at a time: the selector gives
    the page's lines and the count of them all in one statement."""

    def __init__(self, lines: Movements):
        self.lines = lines

    def count(self) -> int:
        return self.lines.count

    def __getitem__(self, _slice):
        return self.lines.rows


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


def _movement_cells(line, currency: str) -> dict:
    local = timezone.localtime(line.at) if line.at else None
    return {
        "line": line,
        "when": local,
        "money": format_money(line.value, currency),
    }


@staff_view(REPORTS_PERM)
def package_liability_lines(request: HttpRequest, figure: str) -> HttpResponse:
    """The lines behind one figure of the report, for the same period and filters."""
    if figure not in FIGURES:
        raise Http404("No such figure")
    form = LiabilityFilterForm(request.GET)
    context: dict = {"form": form, "figure": figure, "figure_label": FIGURES[figure]}
    if not form.is_valid():
        context.update(page=None, query="")
        return render_page(request, "reports/package_liability_lines.html", context, status=400)
    number = _page_number(request)
    filters = form.filters()
    lines = package_liability_movements(
        figure=figure, offset=(number - 1) * LINES_PER_PAGE, limit=LINES_PER_PAGE, **filters
    )
    if not lines.rows and number > 1:
        # Past the last page (or a page number typed by hand): show the last page.
        total = package_liability_movements(figure=figure, limit=1, **filters).count
        number = max(1, (total - 1) // LINES_PER_PAGE + 1)
        lines = package_liability_movements(
            figure=figure, offset=(number - 1) * LINES_PER_PAGE, limit=LINES_PER_PAGE, **filters
        )
    page = Paginator(_OnePage(lines), LINES_PER_PAGE).page(number)
    query = request.GET.copy()
    query.pop("page", None)
    context.update(
        start=filters["start"],
        end=filters["end"],
        page=page,
        rows=[_movement_cells(line, lines.currency) for line in lines.rows],
        package_lines=figure in ("opening", "closing", "expired"),
        query=query.urlencode(),
        report_query=query.urlencode(),
    )
    return render_page(request, "reports/package_liability_lines.html", context)


@staff_view(REPORTS_PERM)
def package_liability_lines_csv(request: HttpRequest, figure: str) -> HttpResponse:
    """Every line behind one figure (all pages), for an auditor to recompute it."""
    if figure not in FIGURES:
        raise Http404("No such figure")
    form = LiabilityFilterForm(request.GET)
    if not form.is_valid():
        context = {"form": form, "figure": figure, "figure_label": FIGURES[figure]}
        context.update(page=None, query="")
        return render_page(request, "reports/package_liability_lines.html", context, status=400)
    filters = form.filters()
    lines = package_liability_movements(figure=figure, limit=None, **filters)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = (
        f"package-liability-{figure}-{filters['start'].isoformat()}-"
        f"{filters['end'].isoformat()}.csv"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow([f"Package liability: {FIGURES[figure]}", filters["start"], filters["end"]])
    writer.writerow(
        [
            "Recorded",
            "Client",
            "Client package id",
            "Package",
            "Expiry date",
            "Credits",
            f"Value ({lines.currency}, net of tax)",
            "Appointment id",
            "By",
        ]
    )
    for line in lines.rows:
        writer.writerow(
            [
                timezone.localtime(line.at).isoformat(timespec="seconds") if line.at else "",
                text_cell(line.client_name),
                line.client_package_id,
                text_cell(line.package_name),
                line.expires_on.isoformat() if line.expires_on else "",
                line.credits,
                f"{line.value:.2f}",
                line.appointment_id or "",
                text_cell(line.by),
            ]
        )
    writer.writerow(
        [
            "Total",
            "",
            "",
            "",
            "",
            sum(line.credits for line in lines.rows),
            f"{sum((line.value for line in lines.rows), Decimal(0)):.2f}",
        ]
    )
    return response


urlpatterns = [
    path("package-liability/", package_liability_page, name="package_liability"),
    path("package-liability/csv/", package_liability_csv, name="package_liability_csv"),
    path(
        "package-liability/<slug:figure>/",
        package_liability_lines,
        name="package_liability_lines",
    ),
    path(
        "package-liability/<slug:figure>/csv/",
        package_liability_lines_csv,
        name="package_liability_lines_csv",
    ),
]
