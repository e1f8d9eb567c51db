"""Builders and assertions shared by the invoicing tests."""

from __future__ import annotations

from decimal import Decimal

from invoicing.models import Invoice, InvoiceLine, Payment, PaymentMethod, Refund
from invoicing.services import invoice_create, invoice_finalize
from practice.models import PracticeSettings
from tests import refusals
from tests.factories import ClientFactory, LocationFactory, PractitionerFactory


def line(price: str, *, description: str = "Consultation", **extra) -> dict:
    return {"description": description, "quantity": 1, "unit_price": Decimal(price), **extra}


def draft(*prices: str, by=None, client=None, tax_rate=None, **kwargs) -> Invoice:
    """A Draft invoice with one line per price (tax-free unless `tax_rate`)."""
    return invoice_create(
        client=client or ClientFactory(),
        practitioner=kwargs.pop("practitioner", None) or PractitionerFactory(),
        location=kwargs.pop("location", None) or LocationFactory(),
        lines=[
            line(p, description=f"Item {i + 1}", tax_rate=tax_rate) for i, p in enumerate(prices)
        ],
        by=by,
        **kwargs,
    )


def open_invoice(*prices: str, **kwargs) -> Invoice:
    """A finalized (Open) invoice with one line per price."""
    return invoice_finalize(invoice=draft(*prices, **kwargs), by=None)


def cash() -> PaymentMethod:
    return PaymentMethod.objects.get_or_create(name="Cash")[0]


def db_state() -> dict[str, list[dict]]:
    """Every invoicing row and the practice settings, to prove a refusal changed nothing."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Invoice, InvoiceLine, Payment, Refund, PracticeSettings)
    }


def refused(code: str, **expected):
    """Expect a DomainError with `code`, and the database exactly as it was before."""
    return refusals.refused(code, unchanged=db_state, **expected)


def sold_and_paid(practice, package=None, *, by, used=3, paid="110.00", finalize=True):
    """`package` (default: 10 credits for 110.00 including 10% tax, net 100.00) sold to
    the practice's client, `used` credits linked, invoiced; finalized and paid `paid`
    unless `finalize` is False (a Draft). Returns the fresh client package and invoice."""
    from invoicing.services import invoice_for_client_package, payment_record
    from packages.models import ClientPackage
    from tests.factories import PackageFactory, TaxRateFactory

    if package is None:
        package = PackageFactory(
            name="Ten",
            credits=10,
            price=Decimal("110.00"),
            tax_rate=TaxRateFactory(rate=Decimal("10.00")),
            services=[practice.follow_up],
        )
    sold = practice.sell(package, by=by)
    for day in range(used):
        practice.book(by=by, days=day + 1, client_package=sold)
    invoice = invoice_for_client_package(
        client_package=sold, practitioner=practice.practitioner, location=practice.location, by=by
    )
    if finalize:
        invoice = invoice_finalize(invoice=invoice, by=by)
        if Decimal(paid):
            payment_record(invoice=invoice, amount=paid, method=cash(), by=by)
    return ClientPackage.objects.get(pk=sold.pk), invoice
