"""The documents a client receives, each as a `Document`: what to print (its
template and context), what to call the file, who it is for, and what a sending of it
records. The print views, the PDFs, the emails and the API all read them from here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateformat import format as date_format

from calendar_app.models import Appointment, AppointmentStatus
from clients.models import Client
from documents.links import raw_part, token_hash
from documents.models import (
    AppointmentEmail,
    AppointmentEmailKind,
    AppointmentEmailStatus,
    DocumentKind,
    DocumentSending,
    InvoiceLink,
)
from invoicing.models import (
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Refund,
)
from invoicing.selectors import invoice_display_status, invoice_totals, invoices_with_totals
from kernel.money import ZERO
from packages.models import ClientPackage, CreditLedgerEntry, LedgerKind
from packages.selectors import credits_value, package_net_price
from practice.models import PracticeLogo, PracticeSettings


@dataclass
class Document:
    """One document of one client, ready to print, render to PDF or send."""

    kind: str
    title: str  # "Invoice INV-0012", shown as the page's and the email's title
    filename: str  # "Invoice INV-0012.pdf"
    template: str  # the sheet (templates/documents/...), shared by print view and PDF
    client: Client
    context: dict[str, Any]
    # What a sending of it records (DocumentSending's fields naming the document).
    target: dict[str, Any] = field(default_factory=dict)

    @property
    def kind_label(self) -> str:
        return DocumentKind(self.kind).label


def practice_header() -> dict[str, Any]:
    """What every document prints at its top: the practice's details and its logo."""
    logo = PracticeLogo.objects.filter(pk=1).first()
    return {"practice": PracticeSettings.load(), "logo": logo.data_uri() if logo else ""}


def _day(value: dt.date) -> str:
    return date_format(value, "j M Y")


# ---------------------------------------------------------------------------- invoice


def invoice_payments(invoice: Invoice) -> list[Payment]:
    """The invoice's active payments with their refunds (two queries, however many)."""
    payments = list(
        invoice.payments.filter(status=PaymentStatus.ACTIVE)
        .select_related("method")
        .prefetch_related("refunds")
    )
    for payment in payments:
        payment.refund_list = list(payment.refunds.all())  # type: ignore[attr-defined]
    return payments


def invoice_document(invoice: Invoice) -> Document:
    """The invoice: lines, tax, payments, balance, with the practitioner's provider number
    and the practice's payment instructions while money is owed."""
    invoice = invoices_with_totals(Invoice.objects.filter(pk=invoice.pk)).get()
    totals = invoice_totals(invoice)
    title = f"Invoice {invoice.number}" if invoice.number else "Draft invoice"
    context = {
        **practice_header(),
        "invoice": invoice,
        "totals": totals,
        "status_label": invoice_display_status(invoice),
        "lines": list(invoice.lines.select_related("tax_rate", "client_package", "appointment")),
        "payments": invoice_payments(invoice) if not invoice.is_draft else [],
        "credit_notes": list(invoice.credit_notes.all()) if not invoice.is_draft else [],
    }
    return Document(
        kind=DocumentKind.INVOICE,
        title=title,
        filename=f"{title}.pdf",
        template="documents/invoice.html",
        client=invoice.client,
        context=context,
        target={"invoice": invoice},
    )


# ------------------------------------------------------------------------ credit note


def credit_note_document(note: CreditNote) -> Document:
    """A credit note (issue 13): its number, date, the invoice it credits, its lines with
    their tax, why, and what the invoice asks for after it."""
    note = CreditNote.objects.select_related("invoice").get(pk=note.pk)
    invoice = invoices_with_totals(Invoice.objects.filter(pk=note.invoice_id)).get()
    context = {
        **practice_header(),
        "credit_note": note,
        "credit_lines": list(note.lines.all()),
        "invoice": invoice,
        "totals": invoice_totals(invoice),
    }
    return Document(
        kind=DocumentKind.CREDIT_NOTE,
        title=f"Credit note {note.number}",
        filename=f"Credit note {note.number}.pdf",
        template="documents/credit_note.html",
        client=invoice.client,
        context=context,
        target={"invoice": invoice},
    )


# ---------------------------------------------------------------------------- receipt


def receipt_number(payment: Payment) -> str:
    return f"R-{payment.pk:06d}"


def receipt_document(payment: Payment) -> Document:
    """A payment's receipt: what was paid, how, for which invoice, what is left to pay,
    and, when the invoice sold packages, the sessions each has left."""
    payment = Payment.objects.select_related("method", "invoice").get(pk=payment.pk)
    invoice = invoices_with_totals(Invoice.objects.filter(pk=payment.invoice_id)).get()
    packages = list(
        ClientPackage.objects.filter(
            pk__in=InvoiceLine.objects.filter(invoice=invoice, client_package__isnull=False).values(
                "client_package"
            )
        ).order_by("start_date", "id")
    )
    number = receipt_number(payment)
    context = {
        **practice_header(),
        "payment": payment,
        "receipt_number": number,
        "refunds": list(payment.refunds.all()),
        "is_void": payment.status == PaymentStatus.VOID,
        "invoice": invoice,
        "totals": invoice_totals(invoice),
        "packages": packages,
    }
    return Document(
        kind=DocumentKind.RECEIPT,
        title=f"Receipt {number}",
        filename=f"Receipt {number}.pdf",
        template="documents/receipt.html",
        client=invoice.client,
        context=context,
        target={"payment": payment},
    )


# ------------------------------------------------------------------ package statement


@dataclass
class StatementRow:
    entry: CreditLedgerEntry
    change: int  # credits added (+) or used (−)
    remaining: int  # credits left after it
    value: Decimal  # how much the package's held value changed
    held: Decimal  # what the package holds after it


def package_statement_rows(
    client_package: ClientPackage, prices_include_tax: bool
) -> tuple[Decimal, list[StatementRow]]:
    """The package's ledger in order with, per movement, the credits left and its value:
    the change it causes in P − V(k) (so all movements add up to P, and the last `held`
    is what the package holds now)."""
    price = package_net_price(client_package, prices_include_tax)
    entries = CreditLedgerEntry.objects.filter(client_package=client_package).select_related(
        "service"
    )
    credits = consumed = 0
    held = ZERO
    rows = []
    for entry in entries.order_by("created_at", "id"):
        if entry.kind in (LedgerKind.GRANT, LedgerKind.ADJUST):
            credits += entry.quantity
        else:
            consumed -= entry.quantity
        after = price - credits_value(price, credits, consumed) if credits > 0 else ZERO
        rows.append(
            StatementRow(
                entry=entry,
                change=entry.quantity,
                remaining=credits - consumed,
                value=after - held,
                held=after,
            )
        )
        held = after
    return price, rows


def package_statement_document(client_package: ClientPackage) -> Document:
    client_package = ClientPackage.objects.select_related("client", "tax_rate").get(
        pk=client_package.pk
    )
    header = practice_header()
    price, rows = package_statement_rows(client_package, header["practice"].prices_include_tax)
    context = {
        **header,
        "client_package": client_package,
        "client": client_package.client,
        "net_price": price,
        "rows": rows,
        "held": rows[-1].held if rows else ZERO,
        "today": timezone.localdate(),
    }
    title = f"Package statement: {client_package.name}"
    return Document(
        kind=DocumentKind.PACKAGE_STATEMENT,
        title=title,
        filename=f"Package statement {client_package.name} {client_package.pk}.pdf",
        template="documents/package_statement.html",
        client=client_package.client,
        context=context,
        target={"client_package": client_package},
    )


# ------------------------------------------------------------------- client statement


@dataclass
class ClientStatementRow:
    date: dt.date
    text: str
    charge: Decimal | None
    credit: Decimal | None
    balance: Decimal = ZERO


def default_statement_period(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The last 90 days up to today, unless a period is asked for."""
    today = today or timezone.localdate()
    return today - dt.timedelta(days=89), today


def _client_invoices(client: Client) -> QuerySet[Invoice]:
    """The client's issued invoices (drafts are not owed, void ones leave every total)."""
    return invoices_with_totals(
        Invoice.objects.filter(client=client).exclude(
            status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID]
        )
    )


def client_statement_document(client: Client, start: dt.date, end: dt.date) -> Document:
    """Invoices issued, payments received, refunds given and credit notes issued between
    `start` and `end` (both included), from the balance owed before `start` to the
    balance at `end`."""
    invoices = _client_invoices(client)
    payments = Payment.objects.filter(invoice__client=client, status=PaymentStatus.ACTIVE).exclude(
        invoice__status=InvoiceStatus.VOID
    )
    refunds = Refund.objects.filter(
        payment__invoice__client=client, payment__status=PaymentStatus.ACTIVE
    ).exclude(payment__invoice__status=InvoiceStatus.VOID)
    credit_notes = CreditNote.objects.filter(invoice__client=client).exclude(
        invoice__status=InvoiceStatus.VOID
    )

    def total(qs: QuerySet, field_name: str) -> Decimal:
        return qs.aggregate(s=Sum(field_name))["s"] or ZERO

    before = Q(issue_date__lt=start)
    opening = (
        sum((invoice_totals(inv).total for inv in invoices.filter(before)), ZERO)
        - total(payments.filter(date__lt=start), "amount")
        + total(refunds.filter(date__lt=start), "amount")
        - total(credit_notes.filter(date__lt=start), "total_amount")
    )
    rows = [
        ClientStatementRow(
            date=cast(dt.date, inv.issue_date),  # issued invoices have a date
            text=f"Invoice {inv.number}" + (f", due {_day(inv.due_date)}" if inv.due_date else ""),
            charge=invoice_totals(inv).total,
            credit=None,
        )
        for inv in invoices.filter(issue_date__range=(start, end))
    ]
    rows += [
        ClientStatementRow(
            date=p.date,
            text=f"Payment, {p.method}, invoice {p.invoice.number}"
            + (f" (ref. {p.reference})" if p.reference else ""),
            charge=None,
            credit=p.amount,
        )
        for p in payments.filter(date__range=(start, end)).select_related("method", "invoice")
    ]
    rows += [
        ClientStatementRow(
            date=r.date,
            text=f"Refund, invoice {r.payment.invoice.number}",
            charge=r.amount,
            credit=None,
        )
        for r in refunds.filter(date__range=(start, end)).select_related("payment__invoice")
    ]
    rows += [
        ClientStatementRow(
            date=c.date,
            text=f"Credit note {c.number}, invoice {c.invoice.number}",
            charge=None,
            credit=c.total_amount,
        )
        for c in credit_notes.filter(date__range=(start, end)).select_related("invoice")
    ]
    # Charges before credits on a day: an invoice paid on its day reads naturally.
    rows.sort(key=lambda row: (row.date, row.charge is None))
    balance = opening
    for row in rows:
        balance += (row.charge or ZERO) - (row.credit or ZERO)
        row.balance = balance
    owing = [inv for inv in invoices if invoice_totals(inv).balance > ZERO]
    context = {
        **practice_header(),
        "client": client,
        "start": start,
        "end": end,
        "opening": opening,
        "closing": balance,
        "rows": rows,
        "owing": owing,
        "charges": sum((row.charge or ZERO for row in rows), ZERO),
        "credits": sum((row.credit or ZERO for row in rows), ZERO),
    }
    title = f"Statement {_day(start)} to {_day(end)}"
    return Document(
        kind=DocumentKind.CLIENT_STATEMENT,
        title=title,
        filename=f"Statement {client.full_name} {start:%Y-%m-%d} to {end:%Y-%m-%d}.pdf",
        template="documents/client_statement.html",
        client=client,
        context=context,
        target={"period_start": start, "period_end": end},
    )


# ------------------------------------------------------------- sendings and links


def sendings_of(document: Document) -> QuerySet[DocumentSending]:
    """The document's sendings, newest first."""
    qs = DocumentSending.objects.filter(kind=document.kind, client=document.client)
    return qs.filter(**document.target).select_related("sent_by")


def invoice_links(invoice: Invoice) -> QuerySet[InvoiceLink]:
    return InvoiceLink.objects.filter(invoice=invoice).select_related("created_by", "revoked_by")


def invoice_link_for_token(token: str) -> tuple[InvoiceLink | None, str]:
    """The link a public URL's token names and its state: "active", "expired",
    "revoked", or "unknown" (not made here, altered, or no such link)."""
    raw = raw_part(token)
    if raw is None:
        return None, "unknown"
    link = InvoiceLink.objects.select_related("invoice").filter(token_hash=token_hash(raw)).first()
    if link is None:
        return None, "unknown"
    state = link.status().lower()
    if state == "active" and link.invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        return link, "revoked"  # the invoice was voided since: the link shows nothing
    return link, state


# ------------------------------------------------------------ appointment emails (issue 14)

# A reminder the mail server refused this many times is given up (the periodic task
# tries once a minute; the failures are listed on the appointment).
REMINDER_MAX_ATTEMPTS = 5


def reminders_due(*, now: dt.datetime, lead_hours: int) -> QuerySet[Appointment]:
    """Booked appointments whose reminder is due at `now`: starting after `now` and at
    most `lead_hours` real (elapsed) hours later, booked before that window opened (a
    booking made inside it has just had its confirmation), for a client with an email
    address who is not marked "No email", with no reminder sent yet for this start and
    fewer than REMINDER_MAX_ATTEMPTS failed ones. Canceled, Missed and Arrived
    appointments get none. Aware datetimes throughout, so a daylight-saving change
    between now and the appointment neither shortens nor lengthens the lead time.
    """
    if lead_hours <= 0:
        return Appointment.objects.none()
    # In UTC: Python adds a timedelta to a datetime of a zone on its wall clock, which
    # across a daylight-saving change is an hour more or less than the lead time. (The
    # database works in UTC too, so `starts_at - lead` below is elapsed time as well.)
    now = now.astimezone(dt.UTC)
    lead = dt.timedelta(hours=lead_hours)
    reminders = AppointmentEmail.objects.filter(
        appointment=OuterRef("pk"),
        kind=AppointmentEmailKind.REMINDER,
        starts_at=OuterRef("starts_at"),
    )
    failures = (
        reminders.filter(status=AppointmentEmailStatus.FAILED)
        .order_by()
        .values("appointment")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Appointment.objects.filter(
            status=AppointmentStatus.BOOKED,
            starts_at__gt=now,
            starts_at__lte=now + lead,
            created_at__lt=F("starts_at") - lead,
            client__email_opt_out=False,
        )
        .exclude(client__email="")
        .exclude(Exists(reminders.filter(status=AppointmentEmailStatus.SENT)))
        .annotate(failures=Coalesce(Subquery(failures), 0))
        .filter(failures__lt=REMINDER_MAX_ATTEMPTS)
        .order_by("starts_at", "pk")
    )


def appointment_emails(appointment: Appointment) -> list[AppointmentEmail]:
    """The appointment's emails, newest first (the panel's "Emails" list)."""
    return list(AppointmentEmail.objects.filter(appointment=appointment)[:20])
