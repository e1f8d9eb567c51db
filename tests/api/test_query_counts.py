"""Every list endpoint costs the same number of queries for 3 rows as for 30: related
rows are joined or prefetched, totals and status are computed in the query."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import (
    CancellationReasonFactory,
    ClientFactory,
    LocationFactory,
    PackageFactory,
    PaymentMethodFactory,
    PractitionerFactory,
    ServiceFactory,
    TaxRateFactory,
)

V1 = "/api/v1"


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url + ("&" if "?" in url else "?") + "page_size=100")
    assert response.status_code == 200, response.content
    return len(queries)


def _make_clients(world, n):
    ClientFactory.create_batch(n)


def _make_locations(world, n):
    LocationFactory.create_batch(n)


def _make_practitioners(world, n):
    PractitionerFactory.create_batch(n)


def _make_services(world, n):
    tax = TaxRateFactory()
    ServiceFactory.create_batch(n, tax_rate=tax)


def _make_tax_rates(world, n):
    TaxRateFactory.create_batch(n)


def _make_payment_methods(world, n):
    for _ in range(n):
        PaymentMethodFactory(name=f"Method {PaymentMethodFactory._meta.model.objects.count()}")


def _make_reasons(world, n):
    for _ in range(n):
        CancellationReasonFactory(
            name=f"Reason {CancellationReasonFactory._meta.model.objects.count()}"
        )


def _make_packages(world, n):
    from catalog.models import PackageKind

    for i in range(n):
        if i % 2:
            PackageFactory(services=[world.practice.initial, world.practice.follow_up])
        else:
            PackageFactory(kind=PackageKind.FIXED, allowances={world.practice.massage: 2})


def _sell_and_use(world, n):
    """`n` client packages for the world's client, each with a linked appointment and an
    invoice (so every prefetch has rows)."""
    from calendar_app.models import Appointment
    from calendar_app.services import appointment_link
    from invoicing.services import invoice_for_client_package

    practice = world.practice
    start = Appointment.objects.count()
    for i in range(start, start + n):
        sold = practice.sell(practice.flexible if i % 2 else practice.fixed)
        appointment = practice.book(by=None, days=10 + i, hour=8)
        appointment_link(appointment=appointment, client_package=sold, by=None)
        invoice_for_client_package(
            client_package=sold,
            practitioner=practice.practitioner,
            location=practice.location,
            by=None,
        )


def _adjust(world, n):
    from packages.services import client_package_adjust

    for _ in range(n):
        client_package_adjust(client_package=world.flexi, quantity=1, reason="More", by=None)


def _book(world, n):
    from calendar_app.models import Appointment

    practice = world.practice
    start = Appointment.objects.count()
    for i in range(start, start + n):
        practice.book(by=None, days=20 + i, hour=14)


def _invoice(world, n):
    from invoicing.services import invoice_create, invoice_finalize, payment_record

    practice = world.practice
    for _ in range(n):
        invoice = invoice_finalize(
            invoice=invoice_create(
                client=world.client,
                practitioner=practice.practitioner,
                location=practice.location,
                lines=[
                    {"description": "A", "quantity": 1, "unit_price": Decimal("50")},
                    {"description": "B", "quantity": 2, "unit_price": Decimal("20")},
                ],
                by=None,
            ),
            by=None,
        )
        payment_record(invoice=invoice, amount=Decimal("10"), method=world.cash, by=None)


def _pay(world, n):
    from invoicing.services import payment_record, payment_refund

    for _ in range(n):
        payment = payment_record(
            invoice=world.unpaid, amount=Decimal("0.10"), method=world.cash, by=None
        )
        payment_refund(payment=payment, amount=Decimal("0.05"), reason="Sorry", by=None)


def _tomorrow_matches(world):
    day = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    return f"{V1}/client-packages/matches/?client={world.client.pk}&date={day}"


LISTS = [
    ("clients", lambda w: f"{V1}/clients/", _make_clients),
    ("locations", lambda w: f"{V1}/locations/", _make_locations),
    ("practitioners", lambda w: f"{V1}/practitioners/", _make_practitioners),
    ("services", lambda w: f"{V1}/services/", _make_services),
    ("tax-rates", lambda w: f"{V1}/tax-rates/", _make_tax_rates),
    ("payment-methods", lambda w: f"{V1}/payment-methods/", _make_payment_methods),
    ("cancellation-reasons", lambda w: f"{V1}/cancellation-reasons/", _make_reasons),
    ("packages", lambda w: f"{V1}/packages/", _make_packages),
    ("client-packages", lambda w: f"{V1}/client-packages/", _sell_and_use),
    ("matches", _tomorrow_matches, _sell_and_use),
    ("ledger", lambda w: f"{V1}/client-packages/{w.flexi.pk}/ledger/", _adjust),
    ("appointments", lambda w: f"{V1}/appointments/", _book),
    ("invoices", lambda w: f"{V1}/invoices/", _invoice),
    ("payments", lambda w: f"{V1}/invoices/{w.unpaid.pk}/payments/", _pay),
]


@pytest.mark.parametrize(("name", "url", "make"), LISTS, ids=[item[0] for item in LISTS])
def test_list_queries_do_not_grow_with_the_rows(name, url, make, world, as_admin):
    make(world, 3)
    # The first request reads the key's user's permissions; later ones find them kept
    # (practice.auth_backend), whatever the number of rows.
    _count_queries(as_admin, url(world))
    few = _count_queries(as_admin, url(world))
    make(world, 27)
    many = _count_queries(as_admin, url(world))
    assert many == few, f"{name}: {few} queries for a few rows, {many} for many"
