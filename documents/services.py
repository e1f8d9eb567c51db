"""Writes of the documents app: email a document (every attempt recorded), create and
revoke public links to invoices."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from documents.links import new_token
from documents.models import DocumentKind, DocumentSending, InvoiceLink, SendingStatus
from documents.rendering import document_pdf
from documents.selectors import Document, receipt_number
from invoicing.models import Invoice, InvoiceStatus
from kernel.errors import DomainError, require_perm
from kernel.templatetags.caspen_tags import money

User = AbstractBaseUser | AnonymousUser
if TYPE_CHECKING:
    from django.contrib.auth.models import User as RecordedUser
logger = logging.getLogger(__name__)

SEND_PERM = "documents.send_document"
LINK_MAX_DAYS = 365


def _who(by: User | None) -> RecordedUser | None:
    """The user to record (None for the system or an anonymous caller)."""
    return cast("RecordedUser", by) if by is not None and by.is_authenticated else None


def _recipient(document: Document, to: str | None) -> str:
    """The address typed, else the client's; refused when neither is a valid address."""
    address = (to or "").strip() or document.client.email.strip()
    if not address:
        raise DomainError(
            "no_email_address",
            f"{document.client.full_name} has no email address. Type the address to send to.",
            field="to",
        )
    try:
        validate_email(address)
    except ValidationError as exc:
        raise DomainError("invalid_email", "Enter a valid email address.", field="to") from exc
    return address


def _message_text(document: Document) -> str:
    """The email's words: the document is attached; owed money and how to pay it."""
    context = document.context
    practice = context["practice"]
    name = document.client.first_name or document.client.full_name
    lines = [f"Dear {name},", ""]
    if document.kind == DocumentKind.INVOICE:
        invoice, totals = context["invoice"], context["totals"]
        lines.append(f"Please find attached invoice {invoice.number or ''} from {practice.name}.")
        if invoice.status == InvoiceStatus.OPEN and totals.balance > 0:
            due = f" by {invoice.due_date:%d %b %Y}" if invoice.due_date else ""
            lines += ["", f"Balance due: {money(totals.balance)}{due}."]
            if practice.payment_instructions:
                lines += ["", "How to pay:", practice.payment_instructions.strip()]
    elif document.kind == DocumentKind.RECEIPT:
        payment = context["payment"]
        lines.append(
            f"Thank you for your payment of {money(payment.amount)}. "
            f"Your receipt {receipt_number(payment)} is attached."
        )
    elif document.kind == DocumentKind.PACKAGE_STATEMENT:
        lines.append(f"Please find attached the statement of your package “{document.title}”.")
    else:
        lines.append(f"Please find attached your statement from {practice.name}.")
        if context["closing"] > 0:
            lines += ["", f"Balance owing: {money(context['closing'])}."]
    lines += ["", "Kind regards,", practice.name]
    if practice.phone:
        lines.append(practice.phone)
    return "\n".join(lines)


def document_send(*, document: Document, to: str | None = None, by: User | None) -> DocumentSending:
    """Email `document` as a PDF to `to` (default: the client's address) and record the
    sending: who, when, to whom, and the outcome.

    A refusal by the mail server or a server that cannot be reached is not an exception
    here: it is a `failed` sending with the server's message, recorded and returned, so
    the caller shows it and the record stays. Only input errors (no or an invalid
    address, no permission, a draft invoice) raise DomainError and record nothing.
    """
    require_perm(by, SEND_PERM)
    invoice = document.context.get("invoice")
    if document.kind == DocumentKind.INVOICE and invoice is not None and invoice.is_draft:
        raise DomainError(
            "invoice_not_issued", "Finalize the invoice before sending it to the client."
        )
    address = _recipient(document, to)
    practice = document.context["practice"]
    subject = f"{document.title} from {practice.name}"
    message = EmailMessage(
        subject=subject,
        body=_message_text(document),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        reply_to=[practice.email] if practice.email else None,
    )
    message.attach(document.filename, document_pdf(document), "application/pdf")
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any failure of the mail server is recorded
        logger.warning("Sending %s to %s failed: %r", document.title, address, exc)
        status, error = SendingStatus.FAILED, _error_text(exc)
    else:
        status, error = SendingStatus.SENT, ""
    return DocumentSending.objects.create(
        kind=document.kind,
        client=document.client,
        to=address,
        subject=subject[:300],
        status=status,
        error=error,
        sent_at=timezone.now(),
        sent_by=_who(by),
        **document.target,
    )


def _error_text(exc: Exception) -> str:
    """What staff read: the server's answer when it gave one, else the error itself."""
    refused = getattr(exc, "recipients", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and isinstance(refused, dict):
        detail = "; ".join(
            f"{address}: {code} {message.decode(errors='replace')}"
            for address, (code, message) in refused.items()
        )
        return f"The mail server refused {detail}"[:1000]
    smtp_error = getattr(exc, "smtp_error", None)
    if isinstance(smtp_error, bytes):
        detail = f"{getattr(exc, 'smtp_code', '')} {smtp_error.decode(errors='replace')}".strip()
    else:
        detail = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and not smtp_error:
        detail = f"The mail server could not be reached ({detail})."
    return f"{type(exc).__name__}: {detail}"[:1000]


# ---------------------------------------------------------------------- public links


@transaction.atomic
def invoice_link_create(
    *, invoice: Invoice, days: int | None = None, by: User | None
) -> tuple[InvoiceLink, str]:
    """A public link to a finalized invoice, valid for `days` (INVOICE_LINK_DAYS by
    default). Returns the link and its token: the token is shown once, never stored."""
    require_perm(by, "documents.add_invoicelink")
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        raise DomainError(
            "invoice_not_shareable",
            "Only a finalized invoice that is not void can be shared by a link.",
        )
    days = settings.INVOICE_LINK_DAYS if days is None else days
    if not 1 <= days <= LINK_MAX_DAYS:
        raise DomainError(
            "invalid_link_days",
            f"A link lasts from 1 to {LINK_MAX_DAYS} days.",
            field="days",
        )
    token, digest = new_token()
    now = timezone.now()
    link = InvoiceLink.objects.create(
        invoice=locked,
        token_hash=digest,
        created_at=now,
        created_by=_who(by),
        expires_at=now + dt.timedelta(days=days),
    )
    return link, token


@transaction.atomic
def invoice_link_revoke(*, link: InvoiceLink, by: User | None) -> InvoiceLink:
    """Withdraw a public link: from now on it shows "This link was withdrawn"."""
    require_perm(by, "documents.change_invoicelink")
    locked = InvoiceLink.objects.select_for_update().get(pk=link.pk)
    if locked.revoked_at is not None:
        raise DomainError("link_already_revoked", "This link was already withdrawn.")
    locked.revoked_at = timezone.now()
    locked.revoked_by = _who(by)
    locked.save(update_fields=["revoked_at", "revoked_by"])
    return locked
