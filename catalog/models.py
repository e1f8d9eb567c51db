"""The catalog: what the practice sells (services and packages) and its tax rates."""

from __future__ import annotations

import calendar
import datetime as dt

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from kernel.audit import audited
from kernel.changes import updated_at_trigger

MONEY = {"max_digits": 12, "decimal_places": 2}
MAX_CAPACITY = 1000  # places in one class session; a sanity bound, not a business rule


@audited()
class TaxRate(models.Model):
    name = models.CharField(max_length=100)
    rate = models.DecimalField(
        "Rate (%)",
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    archived = models.BooleanField(default=False)

    # When the row last changed: set by a database trigger on every UPDATE (kernel.changes).
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        triggers = [updated_at_trigger()]
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate__gte=0, rate__lte=100), name="tax_rate_between_0_and_100"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.rate.normalize():f}%)"


@audited()
class ServiceCategory(models.Model):
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "service categories"

    def __str__(self) -> str:
        return self.name


@audited()
class Service(models.Model):
    """A bookable item: a consultation, a treatment, a class."""

    name = models.CharField(max_length=200)
    category = models.ForeignKey(
        ServiceCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="services"
    )
    duration_minutes = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )
    price = models.DecimalField(**MONEY, validators=[MinValueValidator(0)])
    tax_rate = models.ForeignKey(
        TaxRate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    capacity = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_CAPACITY)],
        help_text="Places per session: 1 is an ordinary appointment, more makes it a class.",
    )
    archived = models.BooleanField(default=False)

    # When the row last changed: set by a database trigger on every UPDATE (kernel.changes).
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        triggers = [updated_at_trigger()]
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gte=1, duration_minutes__lte=1440),
                name="service_duration_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(capacity__gte=1, capacity__lte=MAX_CAPACITY),
                name="service_capacity_1_to_max",
            ),
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="service_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_class(self) -> bool:
        """A class: several clients share one session (DOMAIN.md, Classes)."""
        return self.capacity > 1


class PeriodUnit(models.TextChoices):
    DAYS = "days", "days"
    WEEKS = "weeks", "weeks"
    MONTHS = "months", "months"
    YEARS = "years", "years"


def add_period(start: dt.date, value: int, unit: str) -> dt.date:
    """`start` + `value` `unit`s; a month or year end clamps (31 Jan + 1 month = 28/29 Feb)."""
    if unit == PeriodUnit.DAYS:
        return start + dt.timedelta(days=value)
    if unit == PeriodUnit.WEEKS:
        return start + dt.timedelta(weeks=value)
    months = value * 12 if unit == PeriodUnit.YEARS else value
    if unit not in (PeriodUnit.MONTHS, PeriodUnit.YEARS):
        raise ValueError(f"unknown period unit {unit!r}")
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return dt.date(year, month, day)


class PackageKind(models.TextChoices):
    FIXED = "fixed", "Fixed (quantities per service)"
    FLEXIBLE = "flexible", "Flexible (shared credits)"


@audited()
class Package(models.Model):
    """A package template that is sold to clients.

    Fixed packages ("Define quantities") give each service its own allowance, adding up
    to `credits`; flexible packages share `credits` across their services. Archived
    packages cannot be sold; client packages already sold keep working (they copy what
    was sold).
    """

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Internal; not shown to clients.")
    kind = models.CharField(
        max_length=10, choices=PackageKind.choices, default=PackageKind.FLEXIBLE
    )
    credits = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    price = models.DecimalField("Amount", **MONEY, validators=[MinValueValidator(0)])
    tax_rate = models.ForeignKey(
        TaxRate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    expires_after_value = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    expires_after_unit = models.CharField(
        max_length=6, choices=PeriodUnit.choices, null=True, blank=True
    )
    services = models.ManyToManyField(Service, through="PackageService", related_name="packages")
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    # When the row last changed: set by a database trigger on every UPDATE (kernel.changes).
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        triggers = [updated_at_trigger()]
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(credits__gte=1), name="package_credits_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="package_price_not_negative"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(expires_after_value__isnull=True, expires_after_unit__isnull=True)
                    | models.Q(expires_after_value__gte=1, expires_after_unit__isnull=False)
                ),
                name="package_expiry_value_and_unit_together",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def expires(self) -> bool:
        return self.expires_after_value is not None

    @property
    def expiry_label(self) -> str:
        if not self.expires:
            return "Never expires"
        unit = self.expires_after_unit
        if self.expires_after_value == 1:
            unit = unit.rstrip("s")
        return f"{self.expires_after_value} {unit}"

    def expiry_for(self, start: dt.date) -> dt.date | None:
        if not self.expires:
            return None
        return add_period(start, self.expires_after_value, self.expires_after_unit)


@audited()
class PackageService(models.Model):
    """A service included in a catalog package; `allowance` is set for fixed packages."""

    package = models.ForeignKey(
        Package, on_delete=models.CASCADE, related_name="package_services", db_index=False
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    allowance = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["package", "service"], name="package_service_unique"),
            models.CheckConstraint(
                condition=models.Q(allowance__isnull=True) | models.Q(allowance__gte=1),
                name="package_service_allowance_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.package} – {self.service}"
