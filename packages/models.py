"""Client packages and their append-only credit ledger."""

from __future__ import annotations

import datetime as dt

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.models import MONEY, PackageKind
from kernel.audit import audited
from kernel.changes import updated_at_trigger
from kernel.rowcount import RowCounter
from packages.chain import seal_new_entries


class ClientPackageStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    EXPIRED = "expired", "Expired"
    CANCELED = "canceled", "Canceled"


@audited()
class ClientPackage(models.Model):
    """One sale of a catalog package to one client.

    It copies what was sold (name, kind, amount, services and allowances) so later
    catalog edits never change it. `credits` and `consumed` are cached totals of the
    ledger, updated in the same transaction as each ledger row under a row lock;
    `check_ledger` proves they equal the ledger.
    """

    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="packages", db_index=False
    )
    package = models.ForeignKey("catalog.Package", on_delete=models.PROTECT, related_name="sales")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=PackageKind.choices)
    price = models.DecimalField("Amount", **MONEY)
    tax_rate = models.ForeignKey(
        "catalog.TaxRate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    credits = models.PositiveIntegerField(help_text="Credits granted, including adjustments.")
    consumed = models.PositiveIntegerField(default=0)
    start_date = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    canceled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # When the row last changed: set by a database trigger on every UPDATE (kernel.changes).
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        triggers = [updated_at_trigger()]
        ordering = ["-start_date", "-id"]
        permissions = [
            ("cancel_clientpackage", "Can cancel a client package"),
            ("adjust_credits", "Can adjust a client package's credits"),
            ("extend_expiry", "Can change a client package's expiry date"),
            ("link_clientpackage", "Can link and unlink appointments to client packages"),
        ]
        indexes = [
            models.Index(fields=["client", "-start_date"], name="client_package_client"),
            # The API's list, newest start first: a page walks this index, no sort.
            models.Index(fields=["-start_date", "-id"], name="client_package_start"),
            # Expiring soon (reports): packages by expiry date.
            models.Index(fields=["expires_on"], name="client_package_expires"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(consumed__lte=models.F("credits")),
                name="client_package_remaining_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gte=models.F("start_date")),
                name="client_package_expiry_not_before_start",
            ),
            models.CheckConstraint(
                condition=Q(canceled_at__isnull=True) | ~Q(cancel_reason=""),
                name="client_package_cancel_needs_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def remaining(self) -> int:
        return self.credits - self.consumed

    @property
    def is_fixed(self) -> bool:
        return self.kind == PackageKind.FIXED

    def status_on(self, today: dt.date) -> str:
        """Status per DOMAIN.md, in order: Canceled, Completed, Expired, Active."""
        if self.canceled_at is not None:
            return ClientPackageStatus.CANCELED
        if self.remaining <= 0:
            return ClientPackageStatus.COMPLETED
        if self.expires_on is not None and today > self.expires_on:
            return ClientPackageStatus.EXPIRED
        return ClientPackageStatus.ACTIVE

    @property
    def status(self) -> str:
        """Always current: evaluated against today in the practice's time zone."""
        return self.status_on(timezone.localdate())

    def get_status_display(self) -> str:
        return ClientPackageStatus(self.status).label


@audited()
class ClientPackageService(models.Model):
    """A service a client package covers, copied from the catalog at sale.

    For fixed packages `allowance` is the number of uses of this service and `used` the
    cached count consumed (both proven against the ledger); flexible packages leave
    `allowance` empty and draw on the package's shared credits.
    """

    client_package = models.ForeignKey(
        ClientPackage, on_delete=models.CASCADE, related_name="services", db_index=False
    )
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    allowance = models.PositiveIntegerField(null=True, blank=True)
    used = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client_package", "service"], name="client_package_service_unique"
            ),
            models.CheckConstraint(
                condition=Q(allowance__isnull=True) | Q(used__lte=models.F("allowance")),
                name="client_package_service_used_within_allowance",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def remaining(self) -> int | None:
        return None if self.allowance is None else self.allowance - self.used

    @property
    def usage_label(self) -> str:
        """ "0 of 3 used" for fixed packages."""
        if self.allowance is None:
            return ""
        return f"{self.used} of {self.allowance} used"


class LedgerKind(models.TextChoices):
    GRANT = "grant", "Granted at sale"
    CONSUME = "consume", "Consumed"
    RELEASE = "release", "Released"
    ADJUST = "adjust", "Adjusted"


class LedgerQuerySet(models.QuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        seal_new_entries(self.model, objs)
        return super().bulk_create(objs, *args, **kwargs)


@audited()
class CreditLedgerEntry(models.Model):
    """One movement of credits. Append-only: never updated, never deleted.

    Signs: grant and release are positive, consume is -1, adjust is ± n.
    Credits = sum(grant, adjust); Consumed = -sum(consume, release);
    Remaining = sum of all. Fixed packages carry the service on every row.
    """

    client_package = models.ForeignKey(
        ClientPackage, on_delete=models.PROTECT, related_name="ledger", db_index=False
    )
    kind = models.CharField(max_length=10, choices=LedgerKind.choices)
    quantity = models.IntegerField()
    service = models.ForeignKey(
        "catalog.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A plain reference, not enforced: deleting an appointment must not touch the ledger.
    appointment = models.ForeignKey(
        "calendar_app.Appointment",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # HMAC of the previous row's hash (same package) and this row (packages/chain.py).
    chain_hash = models.CharField(max_length=64, editable=False)

    objects = LedgerQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "credit ledger entry"
        verbose_name_plural = "credit ledger"
        # Append-only, enforced by the database: not even the admin or a raw query can
        # change or remove a ledger row. Mistakes are corrected with a new row.
        triggers = [
            pgtrigger.Protect(
                name="ledger_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]
        indexes = [
            models.Index(fields=["client_package", "id"], name="ledger_client_package"),
            # Package sales (reports): each package's grant rows (when sold, how many
            # credits), read from the index alone, without the other ledger rows.
            models.Index(
                fields=["client_package", "created_at"],
                include=["quantity"],
                condition=Q(kind=LedgerKind.GRANT),
                name="ledger_grant",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="ledger_quantity_not_zero"),
            models.CheckConstraint(
                condition=(
                    Q(kind=LedgerKind.CONSUME, quantity=-1)
                    | Q(kind=LedgerKind.RELEASE, quantity=1)
                    | Q(kind=LedgerKind.GRANT, quantity__gt=0)
                    | Q(kind=LedgerKind.ADJUST)
                ),
                name="ledger_quantity_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(chain_hash__regex=r"^[0-9a-f]{64}$"), name="ledger_row_is_sealed"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity:+d} ({self.client_package})"

    def save(self, *args, **kwargs):
        if self._state.adding and not self.chain_hash:
            seal_new_entries(type(self), [self])
        super().save(*args, **kwargs)


@audited()
class ExpiryChange(models.Model):
    """A recorded change of one client package's expiry date (an extension)."""

    client_package = models.ForeignKey(
        ClientPackage, on_delete=models.PROTECT, related_name="expiry_changes"
    )
    old_expires_on = models.DateField(null=True, blank=True)
    new_expires_on = models.DateField(null=True, blank=True)
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        triggers = [
            pgtrigger.Protect(
                name="expiry_change_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="expiry_change_needs_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.client_package}: {self.old_expires_on} → {self.new_expires_on}"


class ClientPackageCount(RowCounter):
    """How many client packages there are, kept by database triggers (kernel.rowcount):
    the sum of `n` over the slots. The API's unfiltered list reads it instead of
    counting every package ever sold."""

    counted = "client packages"
