"""A practice with everything its documents print: logo, address, tax number, payment
instructions, a practitioner's provider number, a package sold on an invoice, a deposit
paid and a session used."""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal

import pytest
from pypdf import PdfReader

from calendar_app.services import appointment_link
from invoicing.models import Invoice, Payment
from invoicing.services import invoice_finalize, invoice_for_client_package, payment_record
from packages.models import ClientPackage
from practice.models import PracticeSettings
from practice.services import document_settings_update
from tests.invoicing.helpers import cash

BANK = "Account name: Harbour Physio\nBSB: 062-000\nAccount: 1234 5678"


def tiny_png(colour=(47, 125, 109)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (120, 40), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def pdf_text(data: bytes) -> str:
    """The PDF's text, one space between words (pypdf keeps the reading order)."""
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


@dataclass
class Billed:
    invoice: Invoice
    payment: Payment
    client_package: ClientPackage


@pytest.fixture
def billed(practice) -> Billed:
    settings = PracticeSettings.load()
    settings.name = "Harbour Physio"
    settings.address = "12 Wharf Street\nSydney NSW 2000"
    settings.tax_id = "ABN 12 345 678 901"
    settings.email = "hello@harbour.example"
    settings.save()
    document_settings_update(payment_instructions=BANK, logo=tiny_png(), by=None)
    practice.practitioner.provider_number = "2345678A"
    practice.practitioner.save(update_fields=["provider_number"])
    practice.client.email = "jo@example.com"
    practice.client.save(update_fields=["email"])
    package = practice.fixed
    package.price = Decimal("400.00")
    package.save(update_fields=["price"])
    client_package = practice.sell(package)
    invoice = invoice_finalize(
        invoice=invoice_for_client_package(
            client_package=client_package,
            practitioner=practice.practitioner,
            location=practice.location,
            by=None,
        ),
        by=None,
    )
    payment = payment_record(
        invoice=invoice, amount=Decimal("150.00"), method=cash(), reference="DEP-1", by=None
    )
    appointment = practice.book(by=None, service=practice.initial)
    appointment_link(
        appointment=appointment, client_package=client_package, service=practice.initial, by=None
    )
    return Billed(invoice=invoice, payment=payment, client_package=client_package)
