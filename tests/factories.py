"""factory-boy factories for every model. Defaults build a consistent little practice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from calendar_app.models import (
    Appointment,
    AppointmentSeries,
    CancellationReason,
    Location,
    Practitioner,
)
from catalog.models import Package, PackageKind, PackageService, Service, ServiceCategory, TaxRate
from clients.models import Client
from invoicing.models import Invoice, InvoiceLine, Payment, PaymentMethod, Refund
from packages.models import ClientPackage, ClientPackageService, CreditLedgerEntry, ExpiryChange


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "password")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        """`UserFactory(role="Reception")` puts the user in that role's group."""
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))
        if create:
            self.save()


class TaxRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaxRate

    name = factory.Sequence(lambda n: f"Tax {n}")
    rate = Decimal("10.00")


class ServiceCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceCategory

    name = factory.Sequence(lambda n: f"Category {n}")


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    name = factory.Sequence(lambda n: f"Service {n}")
    category = factory.SubFactory(ServiceCategoryFactory)
    duration_minutes = 30
    price = Decimal("90.00")
    tax_rate = None


class PackageFactory(factory.django.DjangoModelFactory):
    """A flexible 5-credit package without expiry; pass `services=[...]` to include them.

    For a fixed package pass `kind=PackageKind.FIXED` and `allowances={service: n}`.
    """

    class Meta:
        model = Package
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Package {n}")
    kind = PackageKind.FLEXIBLE
    credits = 5
    price = Decimal("400.00")
    tax_rate = None

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        if not create or self.kind == PackageKind.FIXED:
            return
        for service in extracted or [ServiceFactory()]:
            PackageService.objects.create(package=self, service=service)

    @factory.post_generation
    def allowances(self, create, extracted, **kwargs):
        if not create or self.kind != PackageKind.FIXED:
            return
        allowances = extracted or {ServiceFactory(): self.credits}
        for service, allowance in allowances.items():
            PackageService.objects.create(package=self, service=service, allowance=allowance)
        self.credits = sum(allowances.values())
        self.save(update_fields=["credits"])


class PackageServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PackageService

    package = factory.SubFactory(PackageFactory)
    service = factory.SubFactory(ServiceFactory)
    allowance = None


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttributeSequence(lambda c, n: f"client{n}@example.com")
    phone = factory.Sequence(lambda n: f"04{n:08d}")


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    name = factory.Sequence(lambda n: f"Location {n}")


class PractitionerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practitioner

    name = factory.Sequence(lambda n: f"Practitioner {n}")


class CancellationReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CancellationReason
        django_get_or_create = ("name",)

    name = "Client request"


class AppointmentSeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AppointmentSeries

    every_weeks = 1
    weekdays = factory.LazyFunction(lambda: [0])
    count = 4


def next_local(hour: int = 10, days: int = 1) -> dt.datetime:
    """An aware datetime `days` from today at `hour`:00 in the practice's time zone."""
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


class AppointmentFactory(factory.django.DjangoModelFactory):
    """A booked appointment tomorrow; created directly (no credit moves). Link with services."""

    class Meta:
        model = Appointment

    client = factory.SubFactory(ClientFactory)
    practitioner = factory.SubFactory(PractitionerFactory)
    location = factory.SubFactory(LocationFactory)
    service = factory.SubFactory(ServiceFactory)
    starts_at = factory.Sequence(lambda n: next_local(hour=8) + dt.timedelta(hours=n))
    ends_at = factory.LazyAttribute(
        lambda a: a.starts_at + dt.timedelta(minutes=a.service.duration_minutes)
    )


class ClientPackageFactory(factory.django.DjangoModelFactory):
    """A raw client package row. Prefer `packages.services.client_package_assign` in
    tests of behaviour: it writes the snapshot and the ledger's grant rows."""

    class Meta:
        model = ClientPackage

    client = factory.SubFactory(ClientFactory)
    package = factory.SubFactory(PackageFactory)
    name = factory.LazyAttribute(lambda cp: cp.package.name)
    kind = factory.LazyAttribute(lambda cp: cp.package.kind)
    price = factory.LazyAttribute(lambda cp: cp.package.price)
    credits = factory.LazyAttribute(lambda cp: cp.package.credits)
    start_date = factory.LazyFunction(timezone.localdate)


class ClientPackageServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClientPackageService

    client_package = factory.SubFactory(ClientPackageFactory)
    service = factory.SubFactory(ServiceFactory)
    name = factory.LazyAttribute(lambda s: s.service.name)


class CreditLedgerEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CreditLedgerEntry

    client_package = factory.SubFactory(ClientPackageFactory)
    kind = "grant"
    quantity = 1


class ExpiryChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExpiryChange

    client_package = factory.SubFactory(ClientPackageFactory)
    new_expires_on = factory.LazyFunction(timezone.localdate)
    reason = "Client was away"


class PaymentMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentMethod
        django_get_or_create = ("name",)

    name = "Cash"


class InvoiceFactory(factory.django.DjangoModelFactory):
    """A Draft invoice without lines; use `invoicing.services` to add lines and finalize."""

    class Meta:
        model = Invoice

    client = factory.SubFactory(ClientFactory)
    practitioner = factory.SubFactory(PractitionerFactory)
    location = factory.SubFactory(LocationFactory)


class InvoiceLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    description = "Consultation"
    quantity = Decimal("1")
    unit_price = Decimal("100.00")
    net_amount = Decimal("100.00")
    total_amount = Decimal("100.00")


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    invoice = factory.SubFactory(InvoiceFactory)
    amount = Decimal("50.00")
    method = factory.SubFactory(PaymentMethodFactory)


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Refund

    payment = factory.SubFactory(PaymentFactory)
    amount = Decimal("10.00")
    reason = "Overcharged"
