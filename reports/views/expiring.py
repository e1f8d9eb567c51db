"""Report 2, Expiring soon: the page and its CSV.

Two lists from reports.selectors.expiring: client packages with credits left that expire
within 7, 30 or 60 days, and those that expired in the last 30 days with credits left.
Extend expiry is the package page's own popup (packages:extend), opened with `next` so
the user comes back here; this module writes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from kernel.money import format_money, practice_currency
from kernel.web import escape_all, pk_url, render_page, staff_view
from practice.models import PracticeSettings
from reports.forms import ExpiringFilterForm
from reports.selectors.expiring import (
    PackageRow,
    PackageTotals,
    expiring_packages,
    expiring_totals,
    expiry_days,
    expiry_page,
    recently_expired_packages,
    recently_expired_totals,
    sum_totals,
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
    """One of the page's two lists: its totals and the page shown (its rows as HTML)."""

    key: str
    title: str
    totals: PackageTotals
    page: Page
    rows_html: str


class _Rows:
    """A Paginator's object list read one page at a time (`expiry_page`): the count is
    the totals' (the summary's), so there is no COUNT query."""

    def __init__(self, fetch: Callable[[int, int], list[PackageRow]]):
        self.fetch = fetch

    def __getitem__(self, part: slice) -> list[PackageRow]:
        limit = part.stop - part.start
        return self.fetch(part.start, limit) if limit > 0 else []


def _lists(form: ExpiringFilterForm):
    """The two lists (lazy querysets) for valid filters, as of the practice's today."""
    filters = form.filters()
    today = timezone.localdate()
    place = {"location": filters["location"], "practitioner": filters["practitioner"]}
    expiring = expiring_packages(today, filters["within_days"], **place)
    expired = recently_expired_packages(today, EXPIRED_DAYS, **place)
    return today, expiring, expired


_DAYS: dict[tuple[dt.date, str], str] = {}


def _day(day: dt.date) -> str:
    """`day|date:"j M Y"`, once per date and language."""
    key = (day, get_language())
    text = _DAYS.get(key)
    if text is None:
        text = _DAYS[key] = date_format(day, "j M Y")
    return text


def _rows_html(request: HttpRequest, rows: list[PackageRow], currency: str, can_extend: bool):
    """The table's rows as the template drew them, built in Python (25 rows, seven cells
    each, cost a template ~10 ms): each text escaped; for those who may extend, the
    Extend expiry URL coming back to this page."""
    client_url, extend_url = pk_url("clients:detail"), pk_url("packages:extend")
    back = urlencode({"next": request.get_full_path()})
    out = []
    for row in rows:
        name, phone, package = escape_all([row.client_name, row.client_phone, row.name])
        action = ""
        if can_extend:
            url = escape(f"{extend_url(row.pk)}?{back}")
            action = (
                f'\n          <td class="cell-actions num"><a class="button button--small"'
                f' href="{url}" hx-get="{url}" hx-target="#modal-body"'
                f' aria-label="Extend expiry: {package}, {name}">Extend expiry</a></td>'
            )
        out.append(
            f'        <tr data-package="{row.pk}">\n'
            f'          <td><a href="{client_url(row.client_id)}">{name}</a></td>\n'
            f'          <td class="nowrap" data-label="Phone">{phone or "—"}</td>\n'
            f'          <td data-label="Package">{package}</td>\n'
            f'          <td class="num" data-label="Credits left">{row.remaining_credits}</td>\n'
            f'          <td class="num" data-label="Value">'
            f"{escape(format_money(row.remaining_value, currency))}</td>\n"
            f'          <td class="nowrap" data-label="Expiry date">{_day(row.expires_on)}</td>'
            f"{action}\n        </tr>"
        )
    return mark_safe("\n".join(out))  # noqa: S308 - every text escaped above


@staff_view(REPORTS_PERM)
def expiring_page(request: HttpRequest) -> HttpResponse:
    form = ExpiringFilterForm(request.GET)
    context: dict = {"form": form, "sections": [], "query": request.GET.urlencode()}
    if not form.is_valid():
        return render_page(request, "reports/expiring.html", context, status=400)
    filters = form.filters()
    today = timezone.localdate()
    place = {"location": filters["location"], "practitioner": filters["practitioner"]}
    include_tax = PracticeSettings.load().prices_include_tax
    currency = practice_currency()
    can_extend = request.user.has_perms(EXTEND_PERMS)
    within = filters["within_days"]
    first_expired = today - dt.timedelta(days=EXPIRED_DAYS)
    if filters["location"] is None and filters["practitioner"] is None:
        # Both lists' totals from one read of the expiry-date summary.
        days = expiry_days(
            first_expired, today + dt.timedelta(days=within), prices_include_tax=include_tax
        )
        totals_expiring = sum_totals(t for day, t in days.items() if day >= today)
        totals_expired = sum_totals(t for day, t in days.items() if day < today)
    else:
        totals_expiring = expiring_totals(today, within, **place)
        totals_expired = recently_expired_totals(today, EXPIRED_DAYS, **place)
    sections = []
    for key, title, first, last, totals, param in (
        (
            "expiring",
            SECTION_EXPIRING,
            today,
            today + dt.timedelta(days=within),
            totals_expiring,
            "page",
        ),
        (
            "expired",
            f"{SECTION_EXPIRED} with credits left",
            first_expired,
            today - dt.timedelta(days=1),
            totals_expired,
            "expired_page",
        ),
    ):

        def fetch(offset: int, limit: int, first=first, last=last) -> list[PackageRow]:
            return expiry_page(
                first,
                last,
                offset=offset,
                limit=limit,
                prices_include_tax=include_tax,
                **place,
            )

        paginator = Paginator(_Rows(fetch), PER_PAGE)
        paginator.count = totals.count  # type: ignore[misc]
        page = paginator.get_page(request.GET.get(param))
        rows_html = _rows_html(request, list(page.object_list), currency, can_extend)
        sections.append(Section(key, title, totals, page, rows_html))
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
