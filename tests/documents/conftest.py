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
from tests.api.conftest import as_admin, personas  # noqa: F401 (fixtures of the API tests)
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


# ------------------------------------------------------------------ a real SMTP server


class Inbox:
    """What a real SMTP server (aiosmtpd, on a free local port) received."""

    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 Message accepted for delivery"


class Refusing(Inbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 Mailbox unavailable"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(handler, settings):
    from aiosmtpd.controller import Controller

    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    return controller


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = _serve(inbox, settings)
    yield inbox
    controller.stop()


@pytest.fixture
def refusing_smtp(settings):
    inbox = Refusing()
    controller = _serve(inbox, settings)
    yield inbox
    controller.stop()


@pytest.fixture
def smtp_down(settings):
    """Nothing listens on the port: the connection is refused."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = _free_port()
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5


def attachment(message) -> tuple[str, bytes]:
    """The (filename, bytes) of the email's one PDF."""
    parts = [part for part in message.iter_attachments()]
    assert len(parts) == 1
    part = parts[0]
    assert part.get_content_type() == "application/pdf"
    return part.get_filename(), part.get_content()
