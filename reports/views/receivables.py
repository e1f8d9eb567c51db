"""Report 4, Aged receivables: the page and its CSV."""

from __future__ import annotations

import csv

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.safestring import SafeString, mark_safe

from kernel.money import format_money
from kernel.time import day_month_year
from kernel.web import escape_all, paginate, pk_url, render_page, staff_view
from reports.forms import AgedReceivablesFilterForm
from reports.selectors.receivables import AGE_BUCKETS, AgedReceivables, aged_receivables
from reports.views.common import REPORTS_PERM, text_cell

PER_PAGE = 25


def bucket_rows(report: AgedReceivables) -> list[dict]:
    """The summary of the page and of its CSV: each bucket, then the total."""
    rows = [
        {
            "key": key,
            "label": label,
            "count": report.buckets[key].count,
            "balance": report.buckets[key].balance,
        }
        for key, label in AGE_BUCKETS.items()
    ]
    rows.append(
        {
            "key": "total",
            "label": "Total",
            "count": report.total.count,
            "balance": report.total.balance,
        }
    )
    for row in rows:
        row["money"] = format_money(row["balance"], report.currency)
    return rows


def days_overdue(invoice) -> int:
    """Days past the due date; 0 for an invoice not yet due (or without a due date)."""
    return max(invoice.days_overdue or 0, 0)


def invoice_rows(invoices, currency: str) -> list[dict]:
    """The invoices of one page, with their links."""
    client_url, invoice_url = pk_url("clients:detail"), pk_url("invoicing:detail")
    return [
        {
            "pk": invoice.pk,
            "client": invoice.client_name,
            "client_url": client_url(invoice.client_id),
            "number": invoice.number,
            "invoice_url": invoice_url(invoice.pk),
            "due_date": invoice.due_date,
            "days_overdue": days_overdue(invoice),
            "bucket": invoice.bucket,
            "bucket_label": AGE_BUCKETS[invoice.bucket],
            "money": format_money(invoice.balance, currency),
        }
        for invoice in invoices
    ]


def invoice_rows_html(rows: list[dict]) -> SafeString:
    """The table rows of `invoice_rows`, written here: the HTML of the template's loop
    (`{% for row in invoices %}`, kept in tests/reports/test_money_summaries.py), without
    a template render per cell. Every text value escaped."""
    texts: list[str] = []
    for row in rows:
        due = row["due_date"]
        texts += [
            row["client_url"],
            row["client"],
            row["invoice_url"],
            row["number"] or "",
            day_month_year(due) if due else "—",
            row["bucket_label"],
            row["money"],
        ]
    escaped = iter(escape_all(texts))
    parts = []
    for row in rows:
        client_url, client, invoice_url, number, due, age, money = (next(escaped) for _ in range(7))
        parts.append(
            f'\n        <tr data-invoice="{int(row["pk"])}">\n'
            f'          <td><a href="{client_url}">{client}</a></td>\n'
            f'          <td class="nowrap" data-label="Invoice"><a href="{invoice_url}">'
            f"{number}</a></td>\n"
            f'          <td class="nowrap report-table__wide" data-label="Due">{due}</td>\n'
            f'          <td class="num" data-label="Days overdue">{int(row["days_overdue"])}'
            "</td>\n"
            f'          <td class="nowrap report-table__wide" data-label="Age">{age}</td>\n'
            f'          <td class="num" data-label="Balance">{money}</td>\n'
            "        </tr>\n        "
        )
    return mark_safe("".join(parts))  # noqa: S308 - every text value escaped above


def _report(request: HttpRequest):
    form = AgedReceivablesFilterForm(request.GET)
    report = aged_receivables(**form.filters()) if form.is_valid() else None
    return form, report


def _bad_filters(request: HttpRequest, form) -> HttpResponse:
    context = {"form": form, "report": None, "query": ""}
    return render_page(request, "reports/aged_receivables.html", context, status=400)


@staff_view(REPORTS_PERM)
def aged_receivables_page(request: HttpRequest) -> HttpResponse:
    form, report = _report(request)
    if report is None:
        return _bad_filters(request, form)
    page = paginate(request, report.listed, PER_PAGE)
    query = request.GET.copy()
    query.pop("page", None)
    invoices = invoice_rows(page.object_list, report.currency)
    context = {
        "form": form,
        "report": report,
        "buckets": bucket_rows(report),
        "page": page,
        "invoices": invoices,
        "invoices_html": invoice_rows_html(invoices),
        "query": query.urlencode(),
    }
    return render_page(request, "reports/aged_receivables.html", context)


@staff_view(REPORTS_PERM)
def aged_receivables_csv(request: HttpRequest) -> HttpResponse:
    """Every invoice the filters select (not only one page), then the totals by age."""
    form, report = _report(request)
    if report is None:
        return _bad_filters(request, form)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"aged-receivables-{report.on.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    filters = form.cleaned_data
    money = f"({report.currency})"
    writer.writerow(["Aged receivables", "As of", report.on.isoformat()])
    writer.writerow(["Location", text_cell(str(filters["location"] or "All locations"))])
    writer.writerow(
        ["Practitioner", text_cell(str(filters["practitioner"] or "All practitioners"))]
    )
    writer.writerow([])
    writer.writerow(["Age", "Invoices", f"Balance {money}"])
    for row in bucket_rows(report):
        writer.writerow([row["label"], row["count"], f"{row['balance']:.2f}"])
    writer.writerow([])
    writer.writerow(["Client", "Invoice", "Due date", "Days overdue", "Age", f"Balance {money}"])
    for invoice in report.every_row.iterator():
        writer.writerow(
            [
                text_cell(invoice.client_name),
                invoice.number,
                invoice.due_date.isoformat() if invoice.due_date else "",
                days_overdue(invoice),
                AGE_BUCKETS[invoice.bucket],
                f"{invoice.balance:.2f}",
            ]
        )
    return response


urlpatterns = [
    path("aged-receivables/", aged_receivables_page, name="aged_receivables"),
    path("aged-receivables/csv/", aged_receivables_csv, name="aged_receivables_csv"),
]
