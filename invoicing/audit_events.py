"""What audit events of invoices and payments mean, in words (the Activity pages; see
kernel.audit): "Sam Lee finalized invoice INV-0012 of Jo Bloggs"."""

from __future__ import annotations

from kernel.audit import AuditEvent, describes, money_text, record_sentence


def _invoice_refs(event: AuditEvent):
    yield "clients.Client", event.data.get("client_id")


def _invoice_name(number, client: str) -> str:
    return f"invoice {number} of {client}" if number else f"the draft invoice of {client}"


@describes("invoicing.InvoiceEvent", kind="Billing", refs=_invoice_refs)
def invoice_sentence(event: AuditEvent) -> str | None:
    client = event.name_of("clients.Client", event.data.get("client_id"), "a client")
    number = event.after("number")
    if event.label == "insert":
        return f"created a draft invoice for {client}"
    if event.label == "delete":
        return f"deleted {_invoice_name(number, client)}"
    if event.changed("status"):
        status = event.after("status")
        if status == "open" and event.before("status") == "draft":
            return f"finalized {_invoice_name(number, client)}"
        if status == "void":
            reason = event.after("void_reason")
            return f"voided {_invoice_name(number, client)}{f': {reason}' if reason else ''}"
        if status == "paid":
            return None  # the payment tells it
        return f"marked {_invoice_name(number, client)} as {status.capitalize()}"
    if not event.diff:
        return f"changed {_invoice_name(number, client)}"
    fields = [
        label
        for field, label in (
            ("practitioner_id", "practitioner"),
            ("location_id", "location"),
            ("notes", "notes"),
            ("due_date", "due date"),
            ("issue_date", "issue date"),
        )
        if event.changed(field)
    ]
    if not fields:
        return None
    return f"changed the {' and '.join(fields)} of {_invoice_name(number, client)}"


def _line_refs(event: AuditEvent):
    yield "invoicing.Invoice", event.data.get("invoice_id")


def _invoice_of(event: AuditEvent, invoice_id) -> str:
    invoice = event.ref("invoicing.Invoice", invoice_id)
    if invoice is None:
        return "an invoice"
    return f"invoice {invoice.number}" if invoice.number else "a draft invoice"


@describes("invoicing.InvoiceLineEvent", kind="Billing", refs=_line_refs)
def invoice_line_sentence(event: AuditEvent) -> str | None:
    data = event.data
    line = f"{data.get('description')} ({money_text(data.get('total_amount'))})"
    where = _invoice_of(event, data.get("invoice_id"))
    if event.label == "insert":
        return f"added {line} to {where}"
    if event.label == "delete":
        return f"removed {line} from {where}"
    if not event.diff or set(event.diff) <= {"position"}:
        return None
    return f"changed the line {line} of {where}"


def _payment_refs(event: AuditEvent):
    yield "invoicing.Invoice", event.data.get("invoice_id")
    yield "invoicing.PaymentMethod", event.data.get("method_id")


@describes("invoicing.PaymentEvent", kind="Billing", refs=_payment_refs)
def payment_sentence(event: AuditEvent) -> str | None:
    data = event.data
    amount = money_text(data.get("amount"))
    where = _invoice_of(event, data.get("invoice_id"))
    if event.label == "insert":
        method = event.name_of("invoicing.PaymentMethod", data.get("method_id"))
        return f"recorded a payment of {amount}{f' ({method})' if method else ''} on {where}"
    if event.changed("status") and data.get("status") == "void":
        reason = data.get("void_reason")
        return f"voided the payment of {amount} on {where}{f': {reason}' if reason else ''}"
    if event.label == "delete":
        return f"deleted the payment of {amount} on {where}"
    return None


def _refund_refs(event: AuditEvent):
    yield "invoicing.Payment", event.data.get("payment_id")


@describes("invoicing.RefundEvent", kind="Billing", refs=_refund_refs)
def refund_sentence(event: AuditEvent) -> str | None:
    data = event.data
    payment = event.ref("invoicing.Payment", data.get("payment_id"))
    of = f" of the payment of {money_text(payment.amount)}" if payment else ""
    if event.label == "insert":
        return f"refunded {money_text(data.get('amount'))}{of}: {data.get('reason')}"
    return None


@describes("invoicing.PaymentMethodEvent", kind="Settings")
def payment_method_sentence(event: AuditEvent) -> str:
    return record_sentence(event, "payment method", {"name": "name"})
