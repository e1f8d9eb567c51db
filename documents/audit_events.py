"""What audit events of document sendings and public links mean, in words (the Activity
pages; see kernel.audit): "Sam Lee emailed invoice INV-0012 to jo@example.com"."""

from __future__ import annotations

from kernel.audit import AuditEvent, describes

KIND_WORDS = {
    "invoice": "an invoice",
    "receipt": "a payment receipt",
    "package_statement": "a package statement",
    "client_statement": "a statement",
}


def _sending_refs(event: AuditEvent):
    yield "clients.Client", event.data.get("client_id")
    yield "invoicing.Invoice", event.data.get("invoice_id")


@describes("documents.DocumentSendingEvent", kind="Documents", refs=_sending_refs)
def sending_sentence(event: AuditEvent) -> str | None:
    if event.label != "insert":
        return None
    client = event.name_of("clients.Client", event.data.get("client_id"), "a client")
    invoice = event.ref("invoicing.Invoice", event.data.get("invoice_id"))
    what = (
        f"invoice {invoice}"
        if invoice is not None
        else KIND_WORDS.get(event.after("kind"), "a document")
    )
    to = event.after("to")
    if event.after("status") == "failed":
        return f"tried to email {what} of {client} to {to}: not sent ({event.after('error')})"
    return f"emailed {what} of {client} to {to}"


def _link_refs(event: AuditEvent):
    yield "invoicing.Invoice", event.data.get("invoice_id")


@describes("documents.InvoiceLinkEvent", kind="Documents", refs=_link_refs)
def link_sentence(event: AuditEvent) -> str | None:
    invoice = event.ref("invoicing.Invoice", event.data.get("invoice_id"))
    what = f"invoice {invoice}" if invoice is not None else "an invoice"
    if event.label == "insert":
        return f"shared a public link to {what}"
    if event.changed("revoked_at") and event.after("revoked_at"):
        return f"revoked a public link to {what}"
    return None
