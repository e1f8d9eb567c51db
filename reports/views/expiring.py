"""Report 2, Expiring soon: the page and its CSV.

Two lists from reports.selectors.expiring: client packages with credits left that expire
within 7, 30 or 60 days, and those that expired in the last 30 days with credits left.
Extend expiry is the package page's own popup (packages:extend), opened with `next` so
the user comes back here; this module writes nothing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils import timezone

from kernel.money import format_money, practice_currency
from kernel.web import render_page, staff_view
from packages.models import ClientPackage
from reports.forms import ExpiringFilterForm
from reports.selectors.expiring import (
    PackageTotals,
    expiring_packages,
    expiring_totals,
    recently_expired_packages,
    recently_expired_totals,
)
from reports.views.common import REPORTS_PERM, text_cell

PER_PAGE = 25
EXPIRED_DAYS = 30
# Extend expiry needs both, as the package page's own button does.
EXTEND_PERMS = ("packages.view_clientpackage", "packages.extend_expiry")
SECTION_EXPIRING = "Expiring soon"
SECTION_EXPIRED = "Expired in the last 30 days"


@dataclass(frozen=True)
class Section:
    """One of the page's two lists: its rows (a lazy queryset), totals and page."""

    key: str
    title: str
    rows: QuerySet[ClientPackage]
    totals: PackageTotals
    page: Page


def _page(request: HttpRequest, rows: QuerySet[ClientPackage], totals, param: str) -> Page:
    paginator = Paginator(rows, PER_PAGE)
    # The totals' count is the paginator's: no second COUNT query.
    paginator.count = totals.count  # type: ignore[misc]
    return paginator.get_page(request.GET.get(param))


def _lists(form: ExpiringFilterForm):
    """The two lists (lazy querysets) for valid filters, as of the practice's today."""
    filters = form.filters()
    today = timezone.localdate()
    place = {"location": filters["location"], "practitioner": filters["practitioner"]}
    expiring = expiring_packages(today, filters["within_days"], **place)
    expired = recently_expired_packages(today, EXPIRED_DAYS, **place)
    return today, expiring, expired


def _decorate(request: HttpRequest, page: Page, currency: str, can_extend: bool) -> None:
    """Each row of a page gets its money, its client's URL and, for those who may extend,
    the Extend expiry URL coming back to this page (25 rows at most)."""
    back = urlencode({"next": request.get_full_path()})
    for row in page.object_list:
        row.money = format_money(row.remaining_value, currency)
        row.client_url = reverse("clients:detail", args=[row.client_id])
        row.extend_url = f"{reverse('packages:extend', args=[row.pk])}?{back}" if can_extend else ""


@staff_view(REPORTS_PERM)
def expiring_page(request: HttpRequest) -> HttpResponse:
    form = ExpiringFilterForm(request.GET)
    context: dict = {"form": form, "sections": [], "query": request.GET.urlencode()}
    if not form.is_valid():
        return render_page(request, "reports/expiring.html", context, status=400)
    today, expiring, expired = _lists(form)
    currency = practice_currency()
    can_extend = request.user.has_perms(EXTEND_PERMS)
    filters = form.filters()
    place = {"location": filters["location"], "practitioner": filters["practitioner"]}
    sections = []
    for key, title, rows, totals in (
        (
            "expiring",
            SECTION_EXPIRING,
            expiring,
            expiring_totals(today, filters["within_days"], **place),
        ),
        (
            "expired",
            f"{SECTION_EXPIRED} with credits left",
            expired,
            recently_expired_totals(today, EXPIRED_DAYS, **place),
        ),
    ):
        param = "page" if key == "expiring" else "expired_page"
        page = _page(request, rows, totals, param)
        _decorate(request, page, currency, can_extend)
        sections.append(Section(key, title, rows, totals, page))
    context.update(
        {
            "sections": sections,
            "expiring": sections[0],
            "expired": sections[1],
            "within": form.cleaned_data["within"],
            "today": today,
            "currency": currency,
            "can_extend": can_extend,
            "csv_query": _csv_query(request),
        }
    )
    return render_page(request, "reports/expiring.html", context)


def _csv_query(request: HttpRequest) -> str:
    """The filters for the CSV link (not the pages: the CSV holds every row)."""
    params = request.GET.copy()
    for key in ("page", "expired_page"):
        params.pop(key, None)
    return params.urlencode()


CSV_HEADER = ("Section", "Client", "Phone", "Package", "Remaining credits")


@staff_view(REPORTS_PERM)
def expiring_csv(request: HttpRequest) -> HttpResponse:
    """Every row of both lists for the filters (all their pages), the section in the
    first column: one query per list, read in chunks."""
    form = ExpiringFilterForm(request.GET)
    if not form.is_valid():
        # Bad filters: the page, with the messages beside the fields.
        context = {"form": form, "sections": [], "query": ""}
        return render_page(request, "reports/expiring.html", context, status=400)
    today, expiring, expired = _lists(form)
    currency = practice_currency()
    filters = form.cleaned_data
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"expiring-soon-{today.isoformat()}-{filters['within']}-days.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(["Expiring soon", today.isoformat()])
    writer.writerow(["Expiring within", f"{filters['within']} days"])
    writer.writerow(["Location", text_cell(str(filters["location"] or "All locations"))])
    writer.writerow(
        ["Practitioner", text_cell(str(filters["practitioner"] or "All practitioners"))]
    )
    writer.writerow([*CSV_HEADER, f"Value ({currency}, net of tax)", "Expiry date"])
    for section, rows in ((SECTION_EXPIRING, expiring), (SECTION_EXPIRED, expired)):
        for row in rows.iterator(chunk_size=2000):
            writer.writerow(
                [
                    section,
                    text_cell(row.client_name),
                    text_cell(row.client_phone or ""),
                    text_cell(row.name),
                    row.remaining_credits,
                    f"{row.remaining_value:.2f}",
                    row.expires_on.isoformat(),
                ]
            )
    return response


urlpatterns = [
    path("expiring/", expiring_page, name="expiring"),
    path("expiring/csv/", expiring_csv, name="expiring_csv"),
]
