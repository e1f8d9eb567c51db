"""What happened to the practice's documents: each email sending, and public links."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kernel.audit import audited


class DocumentKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    RECEIPT = "receipt", "Payment receipt"
    PACKAGE_STATEMENT = "package_statement", "Package statement"
    CLIENT_STATEMENT = "client_statement", "Client statement"
    # Printed and downloaded (PDF); not emailed (a sending names one of the above).
    CREDIT_NOTE = "credit_note", "Credit note"


class SendingStatus(models.TextChoices):
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


@audited()
class DocumentSending(models.Model):
    """One attempt to email a document: who, when, to whom, and what came of it.

    Recorded whatever the outcome (a refused address or a mail server that is down is a
    `failed` row with the server's message), so nobody believes a client has a document
    they never got. Exactly one of `invoice`, `payment`, `client_package` names the
    document, or none for a client statement (its `client` and period).
    """

    kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="document_sendings", db_index=False
    )
    invoice = models.ForeignKey(
        "invoicing.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sendings",
        db_index=False,
    )
    payment = models.ForeignKey(
        "invoicing.Payment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sendings",
        db_index=False,
    )
    client_package = models.ForeignKey(
        "packages.ClientPackage",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sendings",
        db_index=False,
    )
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    to = models.EmailField()
    subject = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=SendingStatus.choices)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(default=timezone.now)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-sent_at", "-id"]
        permissions = [("send_document", "Can email documents to clients")]
        indexes = [
            models.Index(fields=["invoice", "-sent_at"], name="sending_invoice"),
            models.Index(fields=["payment", "-sent_at"], name="sending_payment"),
            models.Index(fields=["client_package", "-sent_at"], name="sending_package"),
            models.Index(fields=["client", "kind", "-sent_at"], name="sending_client"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=SendingStatus.SENT) | ~Q(error=""),
                name="sending_failure_has_a_message",
            ),
            models.CheckConstraint(
                condition=(Q(kind=DocumentKind.INVOICE) & Q(invoice__isnull=False))
                | (Q(kind=DocumentKind.RECEIPT) & Q(payment__isnull=False))
                | (Q(kind=DocumentKind.PACKAGE_STATEMENT) & Q(client_package__isnull=False))
                | (
                    Q(kind=DocumentKind.CLIENT_STATEMENT)
                    & Q(period_start__isnull=False, period_end__isnull=False)
                ),
                name="sending_names_its_document",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.to} ({self.get_status_display()})"


@audited(exclude=["token_hash"])
class InvoiceLink(models.Model):
    """A public link to one invoice: whoever holds it views and downloads the invoice
    without signing in, until it expires or staff revoke it.

    The link's token is random (unguessable) and signed with the project's secret; only
    its SHA-256 hash is stored, so neither the database nor the pages can show the link
    again, and revoking it is stamping this row.
    """

    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.PROTECT, related_name="public_links", db_index=False
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["invoice", "-created_at"], name="invoice_link_invoice")]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="invoice_link_expires_after_creation",
            ),
        ]

    def __str__(self) -> str:
        return f"Public link to {self.invoice} (until {self.expires_at:%d %b %Y})"

    def status(self, now=None) -> str:
        """ "Active", "Expired" or "Revoked" (the pages and the API show it)."""
        if self.revoked_at is not None:
            return "Revoked"
        if self.expires_at <= (now or timezone.now()):
            return "Expired"
        return "Active"


# ------------------------------------------------------------ appointment emails (issue 14)


class AppointmentEmailKind(models.TextChoices):
    CONFIRMATION = "confirmation", "Confirmation"
    REMINDER = "reminder", "Reminder"


class AppointmentEmailStatus(models.TextChoices):
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not sent"


class AppointmentEmail(models.Model):
    """One confirmation or reminder of an appointment: to whom, when, and what came of it.

    `starts_at` is the appointment's start the email announced: a reminder is sent once
    per start, so an appointment moved after its reminder gets a new one for its new
    time. A mail server that refuses or cannot be reached is a `failed` row with its
    message (retried: several rows); a client marked "No email", or without an address,
    is a `skipped` row for a confirmation, with the reason in `error`. Rows are written
    only by `documents.services` (the appointment email jobs).
    """

    appointment = models.ForeignKey(
        "calendar_app.Appointment", on_delete=models.CASCADE, related_name="emails", db_index=False
    )
    kind = models.CharField(max_length=20, choices=AppointmentEmailKind.choices)
    starts_at = models.DateTimeField(help_text="The appointment's start the email announced.")
    to = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=AppointmentEmailStatus.choices)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["appointment", "-sent_at"], name="appt_email_appointment")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=AppointmentEmailStatus.SENT) | ~Q(error=""),
                name="appt_email_not_sent_says_why",
            ),
            # The backstop against a second worker sending the same email twice (the
            # control is the row lock and the re-check in documents.services).
            models.UniqueConstraint(
                fields=["appointment", "kind", "starts_at"],
                condition=Q(status=AppointmentEmailStatus.SENT),
                name="appt_email_sent_once_per_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.to or '—'} ({self.get_status_display()})"
