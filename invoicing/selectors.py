"""Reads for invoices: totals, balance and the status shown to staff.

Totals and balances are computed from lines, payments and refunds, never stored. The
annotations below are correlated subqueries (not joins, which would multiply sums when
an invoice has several lines and several payments), so a page of N invoices costs one
query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    Case,
    CharField,
    DecimalField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce
from django.utils import timezone

from calendar_app.models import Appointment
from invoicing.models import (
    CreditNote,
    Invoice,
    InvoiceDayTotal,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
)
from kernel.money import ZERO, to_money
from kernel.prepared import Prepared, PreparedSQL
from packages.models import ClientPackage, CreditLedgerEntry, LedgerKind
from packages.selectors import credits_value, package_net_price
from practice.models import PracticeSettings, RefundMethod

# Sums of money are computed as PostgreSQL's unbounded `numeric`, never cast to the
# columns' numeric(12, 2): one invoice is capped at what a column holds (the services
# refuse more), but a sum over many invoices (the billing summary, a client's invoices)
# is not, and a cast would make the whole page fail on numeric overflow. Sums of
# numeric(12, 2) columns keep their 2 decimal places, so every value still comes back
# as a Decimal with 2 places (`ZERO` is 0.00).
MONEY_FIELD = DecimalField()


def _money(expression) -> Coalesce:
    """`expression`, or 0.00 when it is NULL (no lines, no payments)."""
    return Coalesce(expression, Value(ZERO), output_field=MONEY_FIELD)


def _sum_subquery(queryset: QuerySet, *, per: str, field: str) -> Subquery:
    """SUM(field) of `queryset` (filtered on one outer invoice) grouped by `per`, the
    path to that invoice: one row, or none (NULL, coalesced by the caller)."""
    return Subquery(
        queryset.order_by().values(per).annotate(_sum=Sum(field)).values("_sum"),
        output_field=MONEY_FIELD,
    )


def invoices_with_totals(qs: QuerySet[Invoice] | None = None) -> QuerySet[Invoice]:
    """Invoices annotated with `subtotal` (sum of nets), `tax`, `total`, `amount_paid`
    (active payments minus their refunds), `credited` (its credit notes' totals) and
    `balance` (total − paid − credited; 0 for a void invoice, which leaves every total).
    Client, practitioner and location are joined.
    """
    qs = Invoice.objects.all() if qs is None else qs
    lines = InvoiceLine.objects.filter(invoice=OuterRef("pk"))
    payments = Payment.objects.filter(invoice=OuterRef("pk"), status=PaymentStatus.ACTIVE)
    refunds = Refund.objects.filter(
        payment__invoice=OuterRef("pk"), payment__status=PaymentStatus.ACTIVE
    )
    credit_notes = CreditNote.objects.filter(invoice=OuterRef("pk"))
    return (
        qs.select_related("client", "practitioner", "location")
        .annotate(
            subtotal=_money(_sum_subquery(lines, per="invoice", field="net_amount")),
            tax=_money(_sum_subquery(lines, per="invoice", field="tax_amount")),
            total=_money(_sum_subquery(lines, per="invoice", field="total_amount")),
            amount_paid=_money(
                Coalesce(_sum_subquery(payments, per="invoice", field="amount"), Value(ZERO))
                - Coalesce(
                    _sum_subquery(refunds, per="payment__invoice", field="amount"), Value(ZERO)
                )
            ),
            credited=_money(_sum_subquery(credit_notes, per="invoice", field="total_amount")),
        )
        .annotate(
            balance=_money(
                Case(
                    When(status=InvoiceStatus.VOID, then=Value(ZERO)),
                    default=F("total") - F("amount_paid") - F("credited"),
                    output_field=MONEY_FIELD,
                )
            )
        )
    )


def invoice_balances_sql(invoices: QuerySet[Invoice]) -> tuple[str, tuple]:
    """SQL and its parameters for a query of two columns, `invoice_id` and `balance`: one
    row for each invoice of `invoices` that is not void and has lines or payments, with
    its balance exactly as `invoices_with_totals` computes it (its lines' totals, less its
    active payments, plus the refunds of those payments, less its credit notes: the same
    numeric sums, nothing rounded). An invoice without a row has a balance of 0.00 (a void one, or one with
    neither lines nor payments), as `invoices_with_totals` says.

    For sums over many invoices (a report's totals): lines, payments and refunds are each
    read once and grouped by invoice, where `invoices_with_totals` runs its subqueries once
    per invoice (right for a page of rows, slow over thousands). Use it as a subquery:
    `f"SELECT … FROM ({sql}) b …"`.
    """
    ids = invoices.exclude(status=InvoiceStatus.VOID).order_by().select_related(None).values("pk")
    try:
        ids_sql, ids_params = ids.query.sql_with_params()
    except EmptyResultSet:  # `.none()`, `pk__in=[]`: Django compiles no SQL for them
        ids_sql, ids_params = "SELECT NULL::bigint WHERE FALSE", ()
    line, payment, refund, credit_note = (
        m._meta.db_table for m in (InvoiceLine, Payment, Refund, CreditNote)
    )
    sql = f"""
        SELECT t.invoice_id, SUM(t.amount) AS balance FROM (
            SELECT l.invoice_id, l.total_amount AS amount FROM {line} l
            WHERE l.invoice_id IN ({ids_sql})
            UNION ALL
            SELECT p.invoice_id, -p.amount FROM {payment} p
            WHERE p.status = %s AND p.invoice_id IN ({ids_sql})
            UNION ALL
            SELECT p.invoice_id, r.amount FROM {refund} r JOIN {payment} p ON p.id = r.payment_id
            WHERE p.status = %s AND p.invoice_id IN ({ids_sql})
            UNION ALL
            SELECT c.invoice_id, -c.total_amount FROM {credit_note} c
            WHERE c.invoice_id IN ({ids_sql})
        ) t
        GROUP BY t.invoice_id"""  # noqa: S608 - table names from the models, SQL from Django
    active = PaymentStatus.ACTIVE.value
    return sql, (*ids_params, active, *ids_params, active, *ids_params, *ids_params)


@dataclass(frozen=True)
class InvoiceTotals:
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    amount_paid: Decimal
    balance: Decimal
    credited: Decimal = ZERO


_TOTAL_FIELDS = ("subtotal", "tax", "total", "amount_paid", "credited", "balance")


def invoice_totals(invoice: Invoice) -> InvoiceTotals:
    """The totals of one invoice (read from its annotations when it has them)."""
    if all(hasattr(invoice, name) for name in _TOTAL_FIELDS):
        return InvoiceTotals(**{name: getattr(invoice, name) for name in _TOTAL_FIELDS})
    values = (
        invoices_with_totals(Invoice.objects.filter(pk=invoice.pk)).values(*_TOTAL_FIELDS).get()
    )
    return InvoiceTotals(**values)


def invoice_display_status(invoice: Invoice, today: dt.date | None = None) -> str:
    """The status staff see: Draft, Open, Part paid, Overdue, Paid or Void.

    An Open invoice past its due date (today is after it, in the practice's time zone)
    is "Overdue", even when part of it is paid: the money still owed is late, which is
    what the practice has to act on. An Open invoice with money paid and a balance left
    is "Part paid"; otherwise "Open".
    """
    if invoice.status != InvoiceStatus.OPEN:
        return InvoiceStatus(invoice.status).label
    today = today or timezone.localdate()
    if invoice.due_date is not None and today > invoice.due_date:
        return "Overdue"
    totals = invoice_totals(invoice)
    if totals.amount_paid > ZERO and totals.balance > ZERO:
        return "Part paid"
    return "Open"


def _current_invoice(lines: QuerySet[InvoiceLine], excluding: InvoiceLine | None) -> Invoice | None:
    lines = lines.exclude(invoice__status=InvoiceStatus.VOID)
    if excluding is not None and excluding.pk is not None:
        lines = lines.exclude(pk=excluding.pk)
    line = lines.select_related("invoice").order_by("invoice_id", "id").first()
    return line.invoice if line is not None else None


def current_invoice_for_client_package(
    client_package: ClientPackage, *, excluding: InvoiceLine | None = None
) -> Invoice | None:
    """The package's non-void invoice, if any: the one "Create invoice" offers instead,
    and the reason a second one is refused (DOMAIN.md, Invoices). `excluding` leaves out
    a line being changed, so it does not count against itself. One query."""
    return _current_invoice(InvoiceLine.objects.filter(client_package=client_package), excluding)


def current_invoice_for_appointment(
    appointment: Appointment, *, excluding: InvoiceLine | None = None
) -> Invoice | None:
    """The appointment's non-void invoice, if any (as for packages). One query."""
    return _current_invoice(InvoiceLine.objects.filter(appointment=appointment), excluding)


def refunded_amount(payment: Payment) -> Decimal:
    """The sum of the payment's refunds (read from a prefetch of `refunds`, into the
    relation or into `refunds_rows`, when there is one). `payments_with_refunded` is the
    same sum in SQL."""
    rows = getattr(payment, "refunds_rows", None)
    refunds = payment.refunds.all() if rows is None else rows
    return sum((refund.amount for refund in refunds), ZERO)


def refundable_amount(payment: Payment) -> Decimal:
    """What can still be refunded on `payment`: its amount minus its refunds; nothing once
    it is void."""
    if payment.status != PaymentStatus.ACTIVE:
        return ZERO
    return payment.amount - refunded_amount(payment)


def payments_with_refunded(qs: QuerySet[Payment] | None = None) -> QuerySet[Payment]:
    """Payments annotated with `refunded_total`, `refunded_amount` in SQL (for lists)."""
    qs = Payment.objects.all() if qs is None else qs
    refunds = Refund.objects.filter(payment=OuterRef("pk"))
    return qs.annotate(refunded_total=_money(_sum_subquery(refunds, per="payment", field="amount")))


def invoices_for_client_package(
    client_package: ClientPackage, *, totals: bool = True
) -> QuerySet[Invoice]:
    """Every invoice (void ones too) with a line for the package, with totals (without
    them for `totals=False`: `invoices_add_totals` reads them for the rows)."""
    invoices = Invoice.objects.filter(
        pk__in=InvoiceLine.objects.filter(client_package=client_package).values("invoice_id")
    )
    if not totals:
        return invoices.select_related("client", "practitioner", "location")
    return invoices_with_totals(invoices)


def invoices_summary(qs: QuerySet[Invoice] | None = None) -> InvoiceTotals:
    """Sums over finalized invoices for reports: void invoices (and drafts) leave them."""
    qs = Invoice.objects.all() if qs is None else qs
    finalized = invoices_with_totals(
        qs.filter(status__in=[InvoiceStatus.OPEN, InvoiceStatus.PAID])
    ).select_related(None)
    sums = finalized.aggregate(
        **{f"sum_{name}": _money(Sum(name, output_field=MONEY_FIELD)) for name in _TOTAL_FIELDS}
    )
    return InvoiceTotals(**{name: sums[f"sum_{name}"] for name in _TOTAL_FIELDS})


# ------------------------------------------------------- billing list (staff pages)
# Added for the Billing pages: the list filters on the status staff see, so the rule of
# `invoice_display_status` is written once more in SQL here. A test checks both agree.

DISPLAY_STATUSES: dict[str, str] = {
    "draft": "Draft",
    "open": "Open",
    "partpaid": "Part paid",
    "overdue": "Overdue",
    "paid": "Paid",
    "void": "Void",
}


def invoices_with_display_status(
    qs: QuerySet[Invoice] | None = None, today: dt.date | None = None
) -> QuerySet[Invoice]:
    """`invoices_with_totals` plus `display_status`, a key of `DISPLAY_STATUSES`.

    Same rule as `invoice_display_status`: Overdue (Open, today after the due date) wins
    over Part paid (Open, money held above 0 and a balance left).
    """
    today = today or timezone.localdate()
    return invoices_with_totals(qs).annotate(
        display_status=Case(
            When(status=InvoiceStatus.DRAFT, then=Value("draft")),
            When(status=InvoiceStatus.VOID, then=Value("void")),
            When(status=InvoiceStatus.PAID, then=Value("paid")),
            When(due_date__lt=today, then=Value("overdue")),
            When(amount_paid__gt=ZERO, balance__gt=ZERO, then=Value("partpaid")),
            default=Value("open"),
            output_field=CharField(),
        )
    )


def invoices_for_list(
    *,
    status: str = "",
    issued_from: dt.date | None = None,
    issued_to: dt.date | None = None,
    search: str = "",
    today: dt.date | None = None,
    totals: bool = True,
) -> QuerySet[Invoice]:
    """The billing list: newest first, with totals and `display_status`.

    `status` is a key of `DISPLAY_STATUSES` (anything else is ignored); the issue-date
    range is inclusive (drafts without an issue date fall out of a dated range);
    `search` matches every word against the number or the client's first or last name.

    `totals=False` leaves the totals out unless the status filter needs them (the
    billing page reads them for its page of rows only, with `invoices_add_totals`: the
    annotations' eleven subqueries cost more to compile than to run).
    """
    if not totals and status not in DISPLAY_STATUSES:
        qs = Invoice.objects.select_related("client", "practitioner", "location")
    else:
        qs = invoices_with_display_status(today=today)
    if status in DISPLAY_STATUSES:
        qs = qs.filter(Q(display_status=status))
    if issued_from is not None:
        qs = qs.filter(issue_date__gte=issued_from)
    if issued_to is not None:
        qs = qs.filter(issue_date__lte=issued_to)
    for word in search.split()[:5]:
        qs = qs.filter(
            Q(number__icontains=word)
            | Q(client__first_name__icontains=word)
            | Q(client__last_name__icontains=word)
        )
    return qs.order_by("-created_at", "-id")


def invoices_add_totals(invoices: list[Invoice], today: dt.date | None = None) -> list[Invoice]:
    """Give each of `invoices` (a page of rows) the annotations of
    `invoices_with_display_status` (`subtotal`, `tax`, `total`, `amount_paid`,
    `credited`, `balance`, `display_status`), with the same sums and the same rule, read in
    one query grouped by invoice. Rows that already have them (a queryset filtered on the status) are left as
    they are. Returns `invoices`."""
    missing = [i for i in invoices if not hasattr(i, "display_status")]
    if not missing:
        return invoices
    today = today or timezone.localdate()
    line, payment, refund, credit_note = (
        m._meta.db_table for m in (InvoiceLine, Payment, Refund, CreditNote)
    )
    sql = f"""
        SELECT 'l', invoice_id, SUM(net_amount), SUM(tax_amount), SUM(total_amount)
        FROM {line} WHERE invoice_id = ANY(%s) GROUP BY invoice_id
        UNION ALL
        SELECT 'p', invoice_id, SUM(amount), NULL, NULL
        FROM {payment} WHERE status = %s AND invoice_id = ANY(%s) GROUP BY invoice_id
        UNION ALL
        SELECT 'r', p.invoice_id, SUM(r.amount), NULL, NULL
        FROM {refund} r JOIN {payment} p ON p.id = r.payment_id
        WHERE p.status = %s AND p.invoice_id = ANY(%s) GROUP BY p.invoice_id
        UNION ALL
        SELECT 'c', invoice_id, SUM(total_amount), NULL, NULL
        FROM {credit_note} WHERE invoice_id = ANY(%s) GROUP BY invoice_id"""  # noqa: S608 - table names from the models
    ids = [i.pk for i in missing]
    active = PaymentStatus.ACTIVE.value
    sums: dict[tuple[str, int], tuple] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids, active, ids, active, ids, ids])
        for kind, invoice_id, *values in cursor.fetchall():
            sums[(kind, invoice_id)] = tuple(values)
    for invoice in missing:
        subtotal, tax, total = (
            _or_zero(v) for v in sums.get(("l", invoice.pk), (None, None, None))
        )
        paid = _or_zero(sums.get(("p", invoice.pk), (None,))[0])
        refunded = _or_zero(sums.get(("r", invoice.pk), (None,))[0])
        amount_paid = paid - refunded
        credited = _or_zero(sums.get(("c", invoice.pk), (None,))[0])
        balance = invoice_balance(invoice.status, total, amount_paid, credited)
        _set(
            invoice,
            subtotal=subtotal,
            tax=tax,
            total=total,
            amount_paid=amount_paid,
            credited=credited,
            balance=balance,
            display_status=_display_status_key(invoice, amount_paid, balance, today),
        )
    return invoices


def _set(row, **values) -> None:
    """Give a row the values its annotations would have given it."""
    for name, value in values.items():
        setattr(row, name, value)


def invoice_balance(
    status: str, total: Decimal, amount_paid: Decimal, credited: Decimal
) -> Decimal:
    """What is owed on an invoice, in Python, as `invoices_with_totals` annotates it:
    total less paid less credited, and 0 for a void invoice (it leaves every total)."""
    return ZERO if status == InvoiceStatus.VOID else total - amount_paid - credited


def _or_zero(value: Decimal | None) -> Decimal:
    """A sum read from SQL, or 0.00 for NULL (as the annotations' Coalesce)."""
    return ZERO if value is None else value


def _display_status_key(
    invoice: Invoice, amount_paid: Decimal, balance: Decimal, today: dt.date
) -> str:
    """The key of `DISPLAY_STATUSES` for an invoice with these totals: the rule of
    `invoices_with_display_status`'s CASE, in the same order."""
    if invoice.status == InvoiceStatus.DRAFT:
        return "draft"
    if invoice.status == InvoiceStatus.VOID:
        return "void"
    if invoice.status == InvoiceStatus.PAID:
        return "paid"
    if invoice.due_date is not None and invoice.due_date < today:
        return "overdue"
    if amount_paid > ZERO and balance > ZERO:
        return "partpaid"
    return "open"


@dataclass(frozen=True)
class ListSummary:
    """What the billing list's summary shows: the total and the balance of the finalized
    (Open and Paid) invoices among those listed."""

    total: Decimal
    balance: Decimal


# The display statuses that only Open invoices have: their summary is read from the Open
# invoices alone (the outstanding ones, not the practice's history).
_OPEN_STATUSES = {"open", "overdue", "partpaid"}


def invoices_list_summary(
    *,
    status: str = "",
    issued_from: dt.date | None = None,
    issued_to: dt.date | None = None,
    search: str = "",
    today: dt.date | None = None,
) -> ListSummary:
    """The billing list's summary for the same filters as `invoices_for_list`, equal to
    `invoices_summary` over the invoices it lists.

    Without a search, or for a status other than the Open ones, it reads the maintained
    day totals (`InvoiceDayTotal`, kept exact by triggers in the change's transaction): one
    row a day in the date range, never a sum over every invoice. Open, Overdue and Part
    paid depend on today and the payments, so they sum the Open invoices that match
    (bounded by what is outstanding). A search by name or number sums its matches.
    """
    if search.split() or status in _OPEN_STATUSES:
        matching = invoices_for_list(
            status=status,
            issued_from=issued_from,
            issued_to=issued_to,
            search=search,
            today=today,
        )
        sums = invoices_summary(Invoice.objects.filter(pk__in=matching.values("pk")))
        return ListSummary(total=sums.total, balance=sums.balance)
    if status in {"draft", "void"}:
        return ListSummary(total=ZERO, balance=ZERO)
    days = InvoiceDayTotal.objects.all()
    if issued_from is not None:
        days = days.filter(issue_date__gte=issued_from)
    if issued_to is not None:
        days = days.filter(issue_date__lte=issued_to)
    total: Combinable = F("paid_total")
    balance: Combinable = F("paid_balance")
    if status != "paid":
        total, balance = F("open_total") + total, F("open_balance") + balance
    day_sums = days.aggregate(
        total=_money(Sum(total, output_field=MONEY_FIELD)),
        balance=_money(Sum(balance, output_field=MONEY_FIELD)),
    )
    return ListSummary(total=day_sums["total"], balance=day_sums["balance"])


def invoices_list_count(
    *,
    status: str = "",
    issued_from: dt.date | None = None,
    issued_to: dt.date | None = None,
    search: str = "",
    today: dt.date | None = None,
) -> int:
    """How many invoices `invoices_for_list` lists for these filters, without counting
    the practice's history row by row: the Open and Paid ones from the day totals, plus
    the Drafts and Void ones (few, read through the status index). A search, and the
    statuses only Open invoices have, count their matches (bounded as for the summary).
    """
    if search.split() or status in _OPEN_STATUSES:
        return invoices_for_list(
            status=status,
            issued_from=issued_from,
            issued_to=issued_to,
            search=search,
            today=today,
        ).count()
    days = InvoiceDayTotal.objects.all()
    others = Invoice.objects.filter(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID])
    if issued_from is not None:
        days = days.filter(issue_date__gte=issued_from)
        others = others.filter(issue_date__gte=issued_from)
    if issued_to is not None:
        days = days.filter(issue_date__lte=issued_to)
        others = others.filter(issue_date__lte=issued_to)
    if status in {"draft", "void"}:
        return others.filter(status=status).count()
    if status == "paid":
        return days.aggregate(n=Coalesce(Sum("paid_invoices"), 0))["n"]
    finalized = days.aggregate(n=Coalesce(Sum(F("open_invoices") + F("paid_invoices")), 0))["n"]
    return finalized + others.count()


# `invoices_list_figures` without filters: every day's totals (one row: the aggregates
# of a constant group) and the number of drafts and void invoices.
_ALL_DAYS = Prepared(
    lambda: (
        InvoiceDayTotal.objects.annotate(_all=Value(1))
        .values("_all")
        .annotate(
            n=Coalesce(Sum(F("open_invoices") + F("paid_invoices")), 0),
            total=_money(Sum(F("open_total") + F("paid_total"), output_field=MONEY_FIELD)),
            balance=_money(Sum(F("open_balance") + F("paid_balance"), output_field=MONEY_FIELD)),
        )
        .values_list("n", "total", "balance")
    )
)
_DRAFT_OR_VOID = Prepared(
    lambda: Invoice.objects.filter(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID]).values(
        "pk"
    )
)


def invoices_list_figures(
    *,
    status: str = "",
    issued_from: dt.date | None = None,
    issued_to: dt.date | None = None,
    search: str = "",
    today: dt.date | None = None,
) -> tuple[int, ListSummary]:
    """`invoices_list_count` and `invoices_list_summary` together, for the billing page:
    the same values, with the day totals read once (one query for both, plus the Drafts
    and Void ones' count) when the filters allow them."""
    if search.split() or status in _OPEN_STATUSES or status in {"draft", "void"}:
        filters: dict[str, Any] = {
            "status": status,
            "issued_from": issued_from,
            "issued_to": issued_to,
            "search": search,
            "today": today,
        }
        return invoices_list_count(**filters), invoices_list_summary(**filters)
    if status == "" and issued_from is None and issued_to is None:
        # The billing page as it opens: both sums through SQL built once per process.
        rows = _ALL_DAYS.rows()
        finalized, invoiced, owing = rows[0] if rows else (0, ZERO, ZERO)
        return finalized + _DRAFT_OR_VOID.count(), ListSummary(total=invoiced, balance=owing)
    days = InvoiceDayTotal.objects.all()
    others = Invoice.objects.filter(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID])
    if issued_from is not None:
        days = days.filter(issue_date__gte=issued_from)
        others = others.filter(issue_date__gte=issued_from)
    if issued_to is not None:
        days = days.filter(issue_date__lte=issued_to)
        others = others.filter(issue_date__lte=issued_to)
    count: Combinable = F("paid_invoices")
    total: Combinable = F("paid_total")
    balance: Combinable = F("paid_balance")
    if status != "paid":
        count = F("open_invoices") + count
        total, balance = F("open_total") + total, F("open_balance") + balance
    sums = days.aggregate(
        n=Coalesce(Sum(count), 0),
        total=_money(Sum(total, output_field=MONEY_FIELD)),
        balance=_money(Sum(balance, output_field=MONEY_FIELD)),
    )
    n = sums["n"] if status == "paid" else sums["n"] + others.count()
    return n, ListSummary(total=sums["total"], balance=sums["balance"])


# The highest invoice number the practice settings accept. Finalizing moves the counter
# one past the number it takes, so the counter (a 32-bit integer column) never overflows;
# finalizing refuses once the counter is past this (`invoice_numbers_used_up`).
LAST_INVOICE_NUMBER = 999_999_999


def invoices_numbered() -> bool:
    """Whether any invoice has a number (was finalized, void ones included)."""
    return Invoice.objects.filter(number__isnull=False).exists()


def invoice_number_taken(settings: PracticeSettings) -> str | None:
    """The next invoice number `settings` would give, when an invoice already has it.

    The one policy for "the next number is already used": changing the invoice settings
    onto it is refused (Settings page, admin and API alike), and finalizing refuses it
    too as the backstop.
    """
    number = settings.format_invoice_number(settings.invoice_next_number)
    return number if Invoice.objects.filter(number=number).exists() else None


# ------------------------------------------------ refund of unused credits (issue 13)


@dataclass(frozen=True)
class UnusedValue:
    """What the unused part of a client package is worth, and how much of it can be given
    back now (`client_package_unused_value`).

    `value` is the unused part as the client pays it (tax included, like the invoice's
    total); `net` is its part net of tax (what the package liability report holds).
    `invoice` is the package's current (non-void) invoice; `paid` the money held on it
    (payments less refunds); `owing` what it still asks for (its balance, 0.00 or more);
    `limit` the most that may be given back: `value`, and no more than what the invoice
    still bills once its earlier credit notes are taken off (Open or Paid invoice: the
    amount is credited by a credit note, RF6) or the package line's total (Draft invoice,
    reduced instead); 0.00 without an invoice.
    """

    method: str
    unused_credits: int
    value: Decimal
    net: Decimal
    invoice: Invoice | None
    paid: Decimal
    limit: Decimal
    owing: Decimal = ZERO

    @property
    def credit_note(self) -> bool:
        """A Draft invoice is reduced (nothing was billed yet) instead of credited."""
        return self.invoice is not None and self.invoice.status == InvoiceStatus.DRAFT

    def split(self, amount: Decimal) -> tuple[Decimal, Decimal]:
        """How `amount` given back on a finalized invoice is made (RF6): (the credit
        note, the money refunded). The credit note takes the whole amount off the invoice;
        what was paid beyond what the invoice then asks for goes back against its
        payments: `amount` less what was still owing, never below 0.00."""
        return amount, max(amount - self.owing, ZERO)


def client_package_unused_value(
    client_package: ClientPackage, *, method: str | None = None
) -> UnusedValue:
    """The unused part of `client_package` by the practice's method (or `method`):

    - "liability" (value of the unused credits, DOMAIN.md's liability rule): net of tax,
      P − V(k) with P the price net of tax (as `reports.selectors.package_liability`
      takes it, by the practice's "prices include tax"), C its credits and k consumed;
      the refund adds the tax on that net at the package's rate, rounded half up, so the
      client gets back the tax they paid on the unused part, and the net part of the
      refund is exactly what the liability report shows as canceled.
    - "price_less_services": the price (as sold, tax as on the invoice) minus the full
      current catalog price of each service used (consumed, net of releases), never
      below 0.00.

    Neither is ever more than the package's price with its tax.
    """
    practice = PracticeSettings.load()
    method = method or practice.refund_method
    rate = client_package.tax_rate.rate if client_package.tax_rate is not None else ZERO
    include = practice.prices_include_tax
    price = client_package.price
    price_net = package_net_price(client_package, include)
    gross_price = price if include else price + to_money(price * rate / 100)
    credits, consumed = client_package.credits, client_package.consumed
    unused = max(credits - consumed, 0)
    if method == RefundMethod.PRICE_LESS_SERVICES:
        used = (
            CreditLedgerEntry.objects.filter(
                client_package=client_package,
                kind__in=[LedgerKind.CONSUME, LedgerKind.RELEASE],
                service__isnull=False,
            )
            .values("service_id")
            .annotate(n=-Sum("quantity"))
            .values_list("service__price", "n")
        )
        used_price = sum((p * n for p, n in used if n > 0), ZERO)
        if not include:
            used_price += to_money(used_price * rate / 100)
        value = max(gross_price - to_money(used_price), ZERO)
        net = value - to_money(value * rate / (100 + rate))
    else:
        net = price_net - credits_value(price_net, credits, consumed) if credits else ZERO
        value = min(net + to_money(net * rate / 100), gross_price)
    invoice = current_invoice_for_client_package(client_package)
    paid = ZERO
    limit = ZERO
    owing = ZERO
    if invoice is not None and invoice.status == InvoiceStatus.DRAFT:
        line_total = (
            invoice.lines.filter(client_package=client_package).aggregate(t=Sum("total_amount"))[
                "t"
            ]
            or ZERO
        )
        limit = min(value, line_total)
    elif invoice is not None:
        totals = invoice_totals(invoice)
        paid = totals.amount_paid
        owing = max(totals.balance, ZERO)
        limit = min(value, max(totals.total - totals.credited, ZERO))
    return UnusedValue(
        method=method,
        unused_credits=unused,
        value=value,
        net=net,
        invoice=invoice,
        paid=paid,
        limit=limit,
        owing=owing,
    )


def default_payment_method() -> PaymentMethod | None:
    """The practice's default payment method (Settings), unless it is archived."""
    return PaymentMethod.objects.filter(is_default=True, archived=False).first()


# ----------------------------------------------- money at a glance (client pages, API)

# A client package's payment state, from its current (non-void) invoice: the keys are
# the API's `payment_status`, the values the chips the pages show.
PACKAGE_PAYMENT_STATUSES: dict[str, str] = {
    "paid": "Paid",
    "part_paid": "Part paid",
    "unpaid": "Unpaid",
    "not_invoiced": "Not invoiced",
}
# The same as choices (the API field and its schema name, ClientPackagePaymentStatusEnum).
PACKAGE_PAYMENT_CHOICES: list[tuple[str, str]] = list(PACKAGE_PAYMENT_STATUSES.items())


def _column(invoices: QuerySet[Invoice], name: str) -> Subquery:
    """One money column (an annotation of `invoices_with_totals`) of the first row."""
    return Subquery(invoices.values(name)[:1], output_field=MONEY_FIELD)


def client_packages_with_payment(qs: QuerySet[ClientPackage]) -> QuerySet[ClientPackage]:
    """Client packages annotated with `payment_status` (a key of
    `PACKAGE_PAYMENT_STATUSES`), `payment_invoice_id` and `payment_balance`, in the same
    query as the packages (correlated subqueries: a page of N packages is one query).

    The package's invoice is its current one (`current_invoice_for_client_package`:
    the first non-void invoice with a line for it). Not invoiced: none. Paid: the
    invoice is Paid. Part paid: money held on it (payments less refunds) above 0 and a
    balance left. Unpaid: otherwise (a Draft, or an Open invoice with nothing paid).
    """
    current = (
        InvoiceLine.objects.filter(client_package=OuterRef("pk"))
        .exclude(invoice__status=InvoiceStatus.VOID)
        .order_by("invoice_id", "id")
        .values("invoice_id")[:1]
    )
    invoice = invoices_with_totals(Invoice.objects.filter(pk=OuterRef("payment_invoice_id")))
    invoice = invoice.select_related(None).order_by()
    return (
        qs.annotate(payment_invoice_id=Subquery(current))
        .annotate(
            payment_invoice_status=Subquery(invoice.values("status")[:1]),
            payment_paid=_column(invoice, "amount_paid"),
            payment_balance=_money(_column(invoice, "balance")),
        )
        .annotate(
            payment_status=Case(
                When(payment_invoice_id__isnull=True, then=Value("not_invoiced")),
                When(payment_invoice_status=InvoiceStatus.PAID, then=Value("paid")),
                When(payment_paid__gt=ZERO, payment_balance__gt=ZERO, then=Value("part_paid")),
                default=Value("unpaid"),
                output_field=CharField(),
            )
        )
    )


def client_packages_add_payment(
    packages: list[ClientPackage], *, never_invoiced: Collection[int] = ()
) -> list[ClientPackage]:
    """Give each of `packages` (a page of rows) the annotations of
    `client_packages_with_payment` (`payment_invoice_id`, `payment_invoice_status`,
    `payment_paid`, `payment_balance`, `payment_status`), with the same rule and sums, in
    one query for the page (the annotations' nested subqueries cost more to compile than
    to run). `never_invoiced`: ids of packages the caller read with no invoice line at
    all (in the same read as the rest of the row): "not_invoiced" without looking; no
    query when that is all of them. Returns `packages`."""
    if not packages:
        return packages
    looked_up = [p.pk for p in packages if p.pk not in never_invoiced]
    line, invoice, payment, refund, credit_note = (
        m._meta.db_table for m in (InvoiceLine, Invoice, Payment, Refund, CreditNote)
    )
    sql = f"""
        SELECT cur.client_package_id, cur.invoice_id, cur.status,
            (SELECT SUM(l.total_amount) FROM {line} l WHERE l.invoice_id = cur.invoice_id),
            (SELECT SUM(p.amount) FROM {payment} p
             WHERE p.invoice_id = cur.invoice_id AND p.status = %s),
            (SELECT SUM(r.amount) FROM {refund} r JOIN {payment} p ON p.id = r.payment_id
             WHERE p.invoice_id = cur.invoice_id AND p.status = %s),
            (SELECT SUM(c.total_amount) FROM {credit_note} c WHERE c.invoice_id = cur.invoice_id)
        FROM (
            SELECT DISTINCT ON (l.client_package_id) l.client_package_id, l.invoice_id, i.status
            FROM {line} l JOIN {invoice} i ON i.id = l.invoice_id
            WHERE l.client_package_id = ANY(%s) AND i.status <> %s
            ORDER BY l.client_package_id, l.invoice_id, l.id
        ) cur"""  # noqa: S608 - table names from the models
    active = PaymentStatus.ACTIVE.value
    current: dict[int, tuple] = {}
    if looked_up:
        with connection.cursor() as cursor:
            cursor.execute(sql, [active, active, looked_up, InvoiceStatus.VOID.value])
            current = {row[0]: row[1:] for row in cursor.fetchall()}
    for package in packages:
        invoice_id, status, total, paid, refunded, credited = current.get(
            package.pk, (None, None, None, None, None, None)
        )
        if invoice_id is None:
            amount_paid, balance, payment_status = None, ZERO, "not_invoiced"
        else:
            amount_paid = _or_zero(paid) - _or_zero(refunded)
            balance = _or_zero(total) - amount_paid - _or_zero(credited)
            if status == InvoiceStatus.PAID:
                payment_status = "paid"
            elif amount_paid > ZERO and balance > ZERO:
                payment_status = "part_paid"
            else:
                payment_status = "unpaid"
        _set(
            package,
            payment_invoice_id=invoice_id,
            payment_invoice_status=status,
            payment_paid=amount_paid,
            payment_balance=balance,
            payment_status=payment_status,
        )
    return packages


@dataclass(frozen=True)
class ClientBalance:
    """What a client owes on finalized invoices, and how much of it is overdue."""

    owing: Decimal
    overdue: Decimal


def _client_balance_sql(client: int, today: dt.date) -> tuple[str, tuple]:
    # `invoice_balances_sql`'s balances (those of `invoices_with_totals`), summed: plain
    # SQL, cheap to compile, where the annotations' subqueries were not.
    balances, params = invoice_balances_sql(
        Invoice.objects.filter(client=client, status=InvoiceStatus.OPEN)
    )
    sql = f"""
        SELECT COALESCE(SUM(b.balance), 0.00),
               COALESCE(SUM(b.balance) FILTER (WHERE i.due_date < %s), 0.00)
        FROM ({balances}) b JOIN {Invoice._meta.db_table} i ON i.id = b.invoice_id"""  # noqa: S608 - SQL from Django and the model
    return sql, (today, *params)


# Built once per process (the client tabs' header reads it on every page).
_CLIENT_BALANCE = PreparedSQL(_client_balance_sql, client=int, today=dt.date).planned()


def client_balance(client, today: dt.date | None = None) -> ClientBalance:
    """The balance owing on the client's Open invoices and the part of it past due
    (today after the due date, the rule of `invoice_display_status`). One query."""
    today = today or timezone.localdate()
    sql, params = _CLIENT_BALANCE.statement(client=client.pk, today=today)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        owing, overdue = cursor.fetchone()
    return ClientBalance(owing=owing, overdue=overdue)
