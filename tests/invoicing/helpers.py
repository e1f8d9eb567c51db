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
