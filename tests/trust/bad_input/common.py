"""What the bad-input battery shares: the hostile values, the database fingerprint, how a
page's text and a field's messages are read, and the practice (`World`) it acts on.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal
from functools import cached_property

from django.db import connection
from django.utils import timezone

from clients.models import Client
from invoicing.models import PaymentMethod
from practice.models import PracticeSettings
from tests.factories import ClientFactory, PackageFactory, next_local

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
LONG = "x" * 10_000
NUL = "a\x00b"
BAD_IDS = {"zero": 0, "minus-one": -1, "two-to-the-63": 2**63, "abc": "abc"}
# 2026-10-04 02:00 in Sydney the clocks jump to 03:00: 02:30 never happens that night.
DST_GAP_DAY = "2026-10-04"
DST_GAP_TIME = "02:30"
DEEP = 10_000
# Odd but valid names: stored as typed, shown escaped, returned verbatim.
NAMES = {
    "emoji": ("Zoë 😀", "Smith"),
    "right-to-left": ("مريم", "العلي"),
    "mixed": ("Zoë 😀 مريم", "O'Brien-<b>"),
}

# Every table the product writes; a refused request must leave each one as it was.
TABLES = [
    "clients_client",
    "packages_clientpackage",
    "packages_clientpackageservice",
    "packages_creditledgerentry",
    "packages_expirychange",
    "calendar_app_appointment",
    "calendar_app_appointmentseries",
    "calendar_app_location",
    "calendar_app_practitioner",
    "calendar_app_cancellationreason",
    "invoicing_invoice",
    "invoicing_invoiceline",
    "invoicing_payment",
    "invoicing_refund",
    "invoicing_paymentmethod",
    "catalog_package",
    "catalog_packageservice",
    "catalog_service",
    "catalog_servicecategory",
    "catalog_taxrate",
    "caspen_practicesettings",
    "auth_user",
]


def fingerprint() -> dict[str, str]:
    """An md5 of every row of every table in TABLES (one query)."""
    sql = " UNION ALL ".join(
        f"SELECT '{table}', md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')) "
        f"FROM {table} t"
        for table in TABLES
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(cursor.fetchall())


def stored(value: str) -> list[str]:
    """The tables holding a row with `value` in one of its columns."""
    found = []
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT count(*) FROM {table} t WHERE strpos(t::text, %s) > 0", [value])
            if cursor.fetchone()[0]:
                found.append(table)
    return found


def visible(response) -> str:
    """The page's text as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    page = response.content.decode()
    page = re.sub(r"<(script|style)\b[^>]*>.*?</\1>", " ", page, flags=re.S)
    page = html.unescape(re.sub(r"<[^>]+>", " ", page))
    return re.sub(r"\s+", " ", page).strip()


def beside(response, field_id: str) -> str:
    """The error messages shown beside the input with id `field_id` ("" when none)."""
    page = response.content.decode()
    match = re.search(
        rf'<(ul|div)\b[^>]*\bid="{re.escape(field_id)}_error"[^>]*>(.*?)</\1>', page, flags=re.S
    )
    if match is None:
        return ""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", match.group(2)))).strip()


def assert_escaped(response) -> None:
    page = response.content.decode()
    assert SCRIPT not in page
    assert ESCAPED in page


# ---------------------------------------------------------------------- the practice


class World:
    """The practice of tests.conftest plus one row in each state the battery acts on,
    each made (through the services, by the system) only when a test asks for it."""

    def __init__(self, practice):
        self.practice = practice
        self.client = practice.client
        self.today = timezone.localdate()

    # Client packages of Jo Citizen (and one of someone else).

    @cached_property
    def fixed(self):
        """Physio Starter Pack: active, expires in 3 months, one follow-up used by
        `linked` (the day after tomorrow, 09:00)."""
        from calendar_app.services import appointment_link

        sold = self.practice.sell(self.practice.fixed)
        appointment = self.practice.book(by=None, days=2, hour=9)
        appointment_link(appointment=appointment, client_package=sold, by=None)
        return sold

    @cached_property
    def flexi(self):
        """Flexi 5: active, no expiry, nothing used."""
        return self.practice.sell(self.practice.flexible)

    @cached_property
    def expired(self):
        """A Physio Starter Pack sold 400 days ago: expired."""
        return self.practice.sell(
            self.practice.fixed, start_date=self.today - dt.timedelta(days=400)
        )

    @cached_property
    def completed(self):
        """A one-credit package whose credit is used."""
        from calendar_app.services import appointment_link

        single = PackageFactory(
            name="Single follow-up", credits=1, services=[self.practice.follow_up]
        )
        sold = self.practice.sell(single)
        used = self.practice.book(by=None, days=6, hour=9)
        appointment_link(appointment=used, client_package=sold, by=None)
        return sold

    @cached_property
    def canceled(self):
        from packages.services import client_package_cancel

        return client_package_cancel(
            client_package=self.practice.sell(self.practice.flexible),
            reason="Client moved away",
            by=None,
        )

    @cached_property
    def other_client(self):
        return ClientFactory(first_name="Olga", last_name="Other")

    @cached_property
    def others(self):
        """Another client's active Flexi 5."""
        return self.practice.sell(self.practice.flexible, client=self.other_client)

    # Appointments of Jo Citizen.

    @cached_property
    def appointment(self):
        """Booked tomorrow at 09:00, not linked."""
        return self.practice.book(by=None, days=1, hour=9)

    @cached_property
    def linked(self):
        """The appointment the fixed package pays for (the day after tomorrow, 09:00)."""
        return self.fixed.appointments.get()

    # Invoices and payments.

    def _invoice(self, *prices: str, finalize: bool = True):
        from invoicing.services import invoice_create, invoice_finalize

        invoice = invoice_create(
            client=self.client,
            practitioner=self.practice.practitioner,
            location=self.practice.location,
            lines=[
                {"description": f"Item {n}", "quantity": 1, "unit_price": Decimal(price)}
                for n, price in enumerate(prices, 1)
            ],
            by=None,
        )
        return invoice_finalize(invoice=invoice, by=None) if finalize else invoice

    @cached_property
    def draft(self):
        return self._invoice("90.00", finalize=False)

    @cached_property
    def draft_line(self):
        return self.draft.lines.get()

    @cached_property
    def open(self):
        """Open, 90.00, nothing paid."""
        return self._invoice("90.00")

    @cached_property
    def void_invoice(self):
        from invoicing.services import invoice_void

        return invoice_void(invoice=self._invoice("70.00"), reason="Duplicate", by=None)

    @cached_property
    def cash(self):
        return PaymentMethod.objects.get(name="Cash")

    @cached_property
    def payment(self):
        """40.00 paid on an Open invoice of 100.00."""
        from invoicing.services import payment_record

        return payment_record(
            invoice=self._invoice("100.00"), amount=Decimal("40.00"), method=self.cash, by=None
        )

    @cached_property
    def void_payment(self):
        """A voided payment of 20.00 on an Open invoice of 50.00."""
        from invoicing.services import payment_record, payment_void

        payment = payment_record(
            invoice=self._invoice("50.00"), amount=Decimal("20.00"), method=self.cash, by=None
        )
        return payment_void(payment=payment, reason="Typed twice", by=None)

    @cached_property
    def settings(self):
        return PracticeSettings.load()


class Scripted:
    """`<script>` typed into every text field a client's story touches, through the
    services (the pages' and API's route in): the client's names, email-free notes, an
    appointment's notes, a package, an invoice's lines and notes, a payment's reference,
    a refund's reason, the practice's name and address."""

    def __init__(self, world):
        from calendar_app.services import appointment_book, appointment_link
        from invoicing.services import (
            invoice_create,
            invoice_finalize,
            payment_record,
            payment_refund,
        )
        from packages.services import client_package_cancel
        from practice.services import practice_details_update

        p = world.practice
        settings = PracticeSettings.load()
        practice_details_update(
            name=SCRIPT, address=SCRIPT, phone=SCRIPT[:40], currency=settings.currency, by=None
        )
        self.client = Client.objects.create(first_name=SCRIPT, last_name=SCRIPT, notes=SCRIPT)
        package = PackageFactory(name=SCRIPT, description=SCRIPT, services=[p.follow_up])
        self.package = p.sell(package, client=self.client)
        self.appointment = appointment_book(
            client=self.client,
            practitioner=p.practitioner,
            location=p.location,
            service=p.follow_up,
            starts_at=next_local(hour=14, days=3),
            notes=SCRIPT,
            by=None,
        )
        appointment_link(appointment=self.appointment, client_package=self.package, by=None)
        self.invoice = invoice_finalize(
            invoice=invoice_create(
                client=self.client,
                practitioner=p.practitioner,
                location=p.location,
                notes=SCRIPT,
                lines=[{"description": SCRIPT, "quantity": 1, "unit_price": Decimal("90")}],
                by=None,
            ),
            by=None,
        )
        self.payment = payment_record(
            invoice=self.invoice,
            amount=Decimal("50.00"),
            method=world.cash,
            reference=SCRIPT,
            by=None,
        )
        payment_refund(payment=self.payment, amount=Decimal("5.00"), reason=SCRIPT, by=None)
        self.canceled = client_package_cancel(
            client_package=p.sell(package, client=self.client), reason=SCRIPT, by=None
        )


PERSONAS = {
    "admin": "admin_user",
    "reception": "reception",
    "practitioner": "practitioner_user",
    "accountant": "accountant",
}
