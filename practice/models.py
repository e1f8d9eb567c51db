"""Practice-wide settings: one row, read by every app."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from kernel.audit import audited
from kernel.prepared import Prepared


def _default_currency() -> str:
    return settings.CURRENCY


class LateAction(models.TextChoices):
    """What happens to a canceled appointment inside its reason's notice window, or to a
    Missed one (DOMAIN.md, Cancellation and no-show rules)."""

    RELEASE = "release", "Release the credit"
    KEEP = "keep", "Keep the credit"
    FEE = "fee", "Charge a fee"


class FeeKind(models.TextChoices):
    FIXED = "fixed", "Fixed amount"
    PERCENT = "percent", "Percentage of the service price"


class RefundMethod(models.TextChoices):
    """How the unused part of a canceled package is valued for a refund."""

    LIABILITY = "liability", "Value of the unused credits"
    PRICE_LESS_SERVICES = "price_less_services", "Price minus the full price of the services used"


# Two weeks: a reminder further ahead is not a reminder.
MAX_REMINDER_HOURS = 336


@audited()
class PracticeSettings(models.Model):
    """The practice's details and invoice settings (a single row, pk=1).

    `invoice_next_number` is the next number finalizing will take; invoice numbering
    locks this row, so numbers stay consecutive under concurrent finalizing.
    """

    name = models.CharField(max_length=200, default="My practice")
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    tax_id = models.CharField("Tax / business number", max_length=40, blank=True)
    currency = models.CharField(
        max_length=3,
        default=_default_currency,
        validators=[RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO code such as AUD.")],
    )
    prices_include_tax = models.BooleanField(
        default=True, help_text="Prices in the catalog and on invoices include tax."
    )
    invoice_prefix = models.CharField(max_length=20, default="INV-", blank=True)
    invoice_next_number = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    invoice_number_digits = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1)]
    )
    payment_terms_days = models.PositiveSmallIntegerField(
        default=14, help_text="Due date = issue date + this many days."
    )
    # Issue 13: printed on invoices and statements (bank account for "Direct deposit").
    payment_instructions = models.TextField(blank=True)

    # What Missed does (keep the credit, or charge a fee), and how the unused part of a
    # canceled package is valued for a refund (issue 13).
    missed_action = models.CharField(
        "When a client misses an appointment",
        max_length=10,
        choices=[(LateAction.KEEP, LateAction.KEEP.label), (LateAction.FEE, LateAction.FEE.label)],
        default=LateAction.KEEP,
    )
    missed_fee_kind = models.CharField(
        "Missed fee", max_length=10, choices=FeeKind.choices, default=FeeKind.FIXED
    )
    missed_fee_value = models.DecimalField(
        "Missed fee amount or %", max_digits=12, decimal_places=2, default=0
    )
    refund_method = models.CharField(
        "Refund of unused credits",
        max_length=20,
        choices=RefundMethod.choices,
        default=RefundMethod.LIABILITY,
    )

    # Issue 14: appointment emails to clients (a client marked "No email" gets neither).
    confirmation_emails = models.BooleanField(
        "Confirmation emails",
        default=True,
        help_text="Email the client when an appointment is booked.",
    )
    reminder_hours = models.PositiveSmallIntegerField(
        "Reminder emails (hours before)",
        default=24,
        validators=[MaxValueValidator(MAX_REMINDER_HOURS)],
        help_text="Email the client this many hours before the appointment. 0 sends no reminders.",
    )

    class Meta:
        verbose_name = "practice settings"
        verbose_name_plural = "practice settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(missed_fee_value__gte=0)
                & (
                    ~models.Q(missed_fee_kind=FeeKind.PERCENT) | models.Q(missed_fee_value__lte=100)
                ),
                name="practice_missed_fee_in_range",
            ),
            models.CheckConstraint(
                condition=~models.Q(missed_action=LateAction.FEE)
                | models.Q(missed_fee_value__gt=0),
                name="practice_missed_fee_when_charged",
            ),
            models.CheckConstraint(
                condition=models.Q(invoice_next_number__gte=1),
                name="practice_invoice_next_number_positive",
            ),
            models.CheckConstraint(condition=models.Q(pk=1), name="practice_settings_singleton"),
            models.CheckConstraint(
                condition=models.Q(reminder_hours__lte=MAX_REMINDER_HOURS),
                name="practice_reminder_hours_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def load(cls) -> PracticeSettings:
        found = _SETTINGS.objects()
        if found:
            return found[0]
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj

    def format_invoice_number(self, number: int) -> str:
        return f"{self.invoice_prefix}{number:0{self.invoice_number_digits}d}"


# `load`'s read, its SQL built once per process (every page that shows an amount reads
# the settings).
_SETTINGS = Prepared(lambda: PracticeSettings.objects.filter(pk=1)[:1]).planned()


@audited(exclude=["image"])
class PracticeLogo(models.Model):
    """The practice's logo, printed on its documents (a single row, pk=1, when set).

    The image's bytes live in PostgreSQL, so the product needs no file server or shared
    media folder. Apart from the settings row, which every finalized invoice locks and
    updates: its audit trail would copy the bytes each time. The audit records who
    changed the logo and its fingerprint, not the bytes.
    """

    image = models.BinaryField()
    content_type = models.CharField(max_length=40)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="practice_logo_singleton"),
        ]

    def __str__(self) -> str:
        return f"Logo {self.width}×{self.height} ({self.content_type})"

    def data_uri(self) -> str:
        """The image inline (`data:` URI): documents and their PDFs carry it without a
        second request (and without a URL that would need signing in)."""
        import base64

        return f"data:{self.content_type};base64,{base64.b64encode(bytes(self.image)).decode()}"


class IdempotencyKeyState(models.TextChoices):
    IN_FLIGHT = "in_flight", "In flight"
    DONE = "done", "Done"


class IdempotencyKey(models.Model):
    """One `Idempotency-Key` an API user sent with a POST, or one staff form's key
    ("form:..."), and the response it got.

    The row is inserted in the request's own transaction and commits with the work and
    its answer, or not at all (kernel/idempotency.py): a concurrent request with the same
    key blocks on the unique constraint until the first ends, then replays its answer.
    So a committed row always holds its answer (`state` "done"; "in_flight" rows only
    come from the earlier design). `fingerprint` (method, path and body) tells a retry
    from a different request reusing the key. Rows older than 24 hours are ignored and
    removed by `python manage.py clear_idempotency_keys`.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(
        max_length=10, choices=IdempotencyKeyState.choices, default=IdempotencyKeyState.IN_FLIGHT
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.get_state_display()})"


@audited(exclude=["secret_hash", "last_used_at"])
class ApiKey(models.Model):
    """A named API key of one user, for `Authorization: Token <key>` (practice.api_keys).

    Only a SHA-256 hash of the secret is stored: the key is shown once, when created, and
    nobody (the owner, an Admin, the database) can read it afterwards. `prefix` is the
    non-secret start of the key, used to find the row and to tell keys apart on the pages.
    A key is never deleted or revived: revoking it (by hand, or by a password change or a
    deactivation of its user) stamps `revoked_at`. The audit records creation and
    revocation; `last_used_at` (refreshed about once a minute) and the hash are left out.
    """

    name = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys", db_index=False
    )
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_reason = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        indexes = [models.Index(fields=["user", "-created_at"], name="api_key_user_created")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(revoked_at__isnull=True) | ~models.Q(revoked_reason=""),
                name="api_key_revocation_has_a_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def status(self, now=None) -> str:
        """What the pages and the admin show: "Active", "Expired" or "Revoked"."""
        if self.revoked_at is not None:
            return "Revoked"
        if self.expires_at is not None and self.expires_at <= (now or timezone.now()):
            return "Expired"
        return "Active"


class ApiThrottleWindow(models.Model):
    """How many API requests one user (`key`) made in the current rate window.

    One row per user, counted by one atomic statement per request
    (kernel/api/throttling.py: INSERT ... ON CONFLICT DO UPDATE ... RETURNING), so every
    server process shares the count and no request slips through a read-then-write race.
    A new window resets the row in that same statement: nothing piles up to clean.
    """

    key = models.CharField(max_length=150, primary_key=True)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.key}: {self.count} since {self.window_start:%H:%M:%S}"


# The audit of staff users, roles and permissions (event models of auth tables).
from practice import history  # noqa: E402, F401
