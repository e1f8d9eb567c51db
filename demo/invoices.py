"""Invoices for what `demo.history` planned, written through `invoicing.services`:
drafts first, then finalized in issue-date order (so numbers follow the dates), then
payments (in full, or a deposit), a refund for each canceled package's unused sessions,
a voided payment and a voided invoice."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

from demo.context import Demo, progress
from demo.history import InvoicePlan
from demo.reference import Reference
from invoicing.models import Invoice, InvoiceStatus, Payment, PaymentStatus
from invoicing.selectors import invoice_totals, invoices_with_totals
from invoicing.services import (
    invoice_finalize,
    invoice_for_appointment,
    invoice_for_client_package,
    invoice_update,
    invoice_void,
    payment_record,
    payment_refund,
    payment_void,
)
from kernel.money import to_money
from packages.models import ClientPackage


def issue_invoices(
    demo: Demo, ref: Reference, plans: list[InvoicePlan], canceled: list[ClientPackage]
) -> str:
    """Raise, finalize and settle the planned invoices; return a summary."""
    rng = demo.rng
    drafts: list[tuple[dt.date, Invoice, str]] = []
    counts: Counter[str] = Counter()
    for plan in progress(
        sorted(plans, key=lambda plan: (plan.issue_date, plan.kind)),
        desc="Invoices",
        unit="invoice",
    ):
        if isinstance(plan.subject, ClientPackage):
            practitioner = ref.practitioners[ref.package_specs[plan.subject.name].practitioner]
            invoice = invoice_for_client_package(
                client_package=plan.subject,
                practitioner=practitioner,
                location=ref.home[practitioner.pk],
                by=None,
            )
        else:
            invoice = invoice_for_appointment(appointment=plan.subject, by=None)
        if plan.outcome != "draft":
            invoice = invoice_update(invoice=invoice, issue_date=plan.issue_date, by=None)
        drafts.append((plan.issue_date, invoice, plan.outcome))

    for issue_date, invoice, outcome in drafts:
        if outcome == "draft":
            counts["draft"] += 1
            continue
        invoice = invoice_finalize(invoice=invoice, by=None)
        total = invoice_totals(invoice).total
        if outcome == "void":
            invoice_void(invoice=invoice, reason="Raised against the wrong client.", by=None)
            counts["void"] += 1
            continue
        if total == 0:
            counts["paid"] += 1
            continue
        method = rng.choice(ref.methods)
        paid_on = min(issue_date + dt.timedelta(days=rng.randrange(0, 3)), demo.today)
        if outcome == "paid":
            payment_record(invoice=invoice, amount=total, method=method, date=paid_on, by=None)
            counts["paid"] += 1
        elif outcome == "part":
            deposit = to_money(total * Decimal("0.4"))
            payment_record(
                invoice=invoice,
                amount=deposit,
                method=method,
                date=paid_on,
                by=None,
                reference="Deposit",
            )
            counts["part paid"] += 1
        else:
            counts["unpaid"] += 1

    _refund_canceled(demo, canceled, counts)
    _void_a_payment(ref, counts)
    c = counts
    return (
        f"{len(drafts)} invoices ({c['draft']} draft, {c['paid']} paid, {c['part paid']} "
        f"part paid, {c['unpaid']} unpaid, {c['void']} void), {c['refunds']} refunds, "
        f"{c['voided payments']} voided payment"
    )


def _refund_canceled(demo: Demo, canceled: list[ClientPackage], counts: Counter[str]) -> None:
    """A canceled package's unused sessions are refunded, pro rata."""
    for sold in canceled:
        sold.refresh_from_db()
        paid = (
            Payment.objects.filter(invoice__lines__client_package=sold, status=PaymentStatus.ACTIVE)
            .order_by("pk")
            .first()
        )
        if paid is None or sold.remaining == 0:
            continue
        amount = min(to_money(sold.price * sold.remaining / sold.credits), paid.amount)
        if amount <= 0:
            continue
        payment_refund(
            payment=paid,
            amount=amount,
            reason=f"{sold.name} canceled: {sold.remaining} unused session(s) refunded.",
            date=demo.today,
            by=None,
        )
        counts["refunds"] += 1


def _void_a_payment(ref: Reference, counts: Counter[str]) -> None:
    """Reception recorded a payment twice on an open invoice; the second is voided."""
    invoice = (
        invoices_with_totals(Invoice.objects.filter(status=InvoiceStatus.OPEN))
        .filter(balance__gt=0)
        .order_by("pk")
        .first()
    )
    if invoice is None:
        return
    payment = payment_record(
        invoice=invoice,
        amount=min(invoice.balance, Decimal("20.00")),
        method=ref.methods[0],
        reference="Entered twice",
        by=None,
    )
    payment_void(payment=payment, reason="Recorded twice by mistake.", by=None)
    counts["voided payments"] += 1
