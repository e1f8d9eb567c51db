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
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from calendar_app.models import Appointment, AppointmentStatus
from clients.models import Client
from documents.appointment_mail import appointment_message, email_message
from documents.links import new_token
from documents.models import (
    AppointmentEmail,
    AppointmentEmailKind,
    AppointmentEmailStatus,
    DocumentKind,
    DocumentSending,
    InvoiceLink,
    SendingStatus,
)
from documents.rendering import document_pdf
from documents.selectors import Document, receipt_number, reminders_due
from invoicing.models import Invoice, InvoiceStatus
from kernel.errors import DomainError, require_perm
from kernel.templatetags.caspen_tags import money
from practice.models import PracticeSettings

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


# ------------------------------------------------------------ appointment emails (issue 14)


def _mail_refusal(client: Client) -> str:
    """Why a client gets no appointment email ("" when they do)."""
    if client.email_opt_out:
        return "The client is marked “No email”."
    if not client.email.strip():
        return "The client has no email address."
    try:
        validate_email(client.email.strip())
    except ValidationError:
        return f"The client's email address {client.email!r} is not valid."
    return ""


def _send_appointment_email(
    appointments: list[Appointment], *, kind: str, practice: PracticeSettings
) -> list[AppointmentEmail]:
    """Send one email about `appointments` (one client) and record it on each of them:
    `sent`, or `failed` with the mail server's message. Called with the rows locked."""
    address = appointments[0].client.email.strip()
    message = appointment_message(appointments, kind=kind, practice=practice)
    try:
        email_message(message, to=address, practice=practice).send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any failure of the mail server is recorded
        logger.warning("Sending the %s to %s failed: %r", kind, address, exc)
        status, error = AppointmentEmailStatus.FAILED, _error_text(exc)
    else:
        status, error = AppointmentEmailStatus.SENT, ""
    now = timezone.now()
    return AppointmentEmail.objects.bulk_create(
        AppointmentEmail(
            appointment=appointment,
            kind=kind,
            starts_at=appointment.starts_at,
            to=address,
            subject=message.subject,
            status=status,
            error=error,
            sent_at=now,
        )
        for appointment in appointments
    )


def _already_sent(kind: str) -> Exists:
    return Exists(
        AppointmentEmail.objects.filter(
            appointment=OuterRef("pk"),
            kind=kind,
            starts_at=OuterRef("starts_at"),
            status=AppointmentEmailStatus.SENT,
        )
    )


@transaction.atomic
def appointment_confirmation_send(*, appointment_ids: list[int]) -> list[AppointmentEmail]:
    """Email the client the confirmation of a booking (one appointment, or all the
    appointments of its repeating booking in one email with one calendar file).

    The system's job, run by the queue after the booking commits (and again after a
    failure: an appointment already confirmed for its current time is left out, so a
    retry never confirms twice). Nothing is sent for appointments canceled or started
    since, nor when the practice has turned confirmations off; a client marked
    "No email" or without an address gets a `skipped` row saying why. Returns the rows
    written; a `failed` one means the job should be retried.
    """
    practice = PracticeSettings.load()
    if not practice.confirmation_emails:
        return []
    # The appointments of the same repeating booking are confirmed together (one email);
    # their jobs share a lock (documents.receivers), so the later ones find them done.
    series = Appointment.objects.filter(pk__in=appointment_ids, series__isnull=False).values(
        "series"
    )
    appointments = list(
        Appointment.objects.select_for_update(of=("self",))
        .select_related("client", "service", "practitioner", "location")
        .filter(Q(pk__in=appointment_ids) | Q(series__in=series))
        .filter(status=AppointmentStatus.BOOKED)
        .filter(starts_at__gt=timezone.now())
        .exclude(_already_sent(AppointmentEmailKind.CONFIRMATION))
        .order_by("starts_at", "pk")
    )
    if not appointments:
        return []
    client = appointments[0].client
    appointments = [a for a in appointments if a.client_id == client.pk]
    refusal = _mail_refusal(client)
    if refusal:
        return AppointmentEmail.objects.bulk_create(
            AppointmentEmail(
                appointment=appointment,
                kind=AppointmentEmailKind.CONFIRMATION,
                starts_at=appointment.starts_at,
                to=client.email.strip()[:254],
                status=AppointmentEmailStatus.SKIPPED,
                error=refusal,
            )
            for appointment in appointments
        )
    return _send_appointment_email(
        appointments, kind=AppointmentEmailKind.CONFIRMATION, practice=practice
    )


def appointment_reminders_send(*, now: dt.datetime | None = None) -> list[AppointmentEmail]:
    """Send every reminder due at `now` (documents.selectors.reminders_due), each in its
    own transaction; the periodic task runs it every minute.

    Lock, re-check, act: each due appointment is locked `FOR UPDATE SKIP LOCKED` (a
    second worker running at the same time takes the next one instead of waiting), then
    checked again for a reminder sent by a worker that committed since the selection
    began, and only then emailed and recorded. A failure is recorded and tried again
    on a later run (up to REMINDER_MAX_ATTEMPTS). The lock is held while the mail server
    answers (seconds at most, EMAIL_TIMEOUT), so a cancellation waits for the reminder's
    record rather than racing it.
    """
    practice = PracticeSettings.load()
    written: list[AppointmentEmail] = []
    tried: list[int] = []
    while True:
        moment = now or timezone.now()
        with transaction.atomic():
            appointment = (
                reminders_due(now=moment, lead_hours=practice.reminder_hours)
                .exclude(pk__in=tried)
                .select_for_update(of=("self",), skip_locked=True)
                .select_related("client", "service", "practitioner", "location")
                .first()
            )
            if appointment is None:
                return written
            tried.append(appointment.pk)
            sent_since = AppointmentEmail.objects.filter(
                appointment=appointment,
                kind=AppointmentEmailKind.REMINDER,
                starts_at=appointment.starts_at,
                status=AppointmentEmailStatus.SENT,
            ).exists()
            if sent_since:
                continue
            written += _send_appointment_email(
                [appointment], kind=AppointmentEmailKind.REMINDER, practice=practice
            )
