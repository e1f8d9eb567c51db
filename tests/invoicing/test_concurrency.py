"""Races between real database connections: numbering, paying, invoicing a package.

Each thread gets its own connection (Django connections are per thread) and closes it
when done. `transactional_db` commits for real, so the row locks are exercised as in
production; it also empties the tables afterwards, so each test creates the rows the
migrations would have seeded (practice settings, a payment method) itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection

from invoicing.models import Invoice, InvoiceLine, InvoiceStatus, Payment
from invoicing.services import (
    invoice_finalize,
    invoice_for_client_package,
    payment_record,
)
from kernel.errors import DomainError
from practice.models import PracticeSettings
from tests.factories import ClientPackageFactory, LocationFactory, PractitionerFactory
from tests.invoicing.helpers import cash, draft, open_invoice

# Each race runs directly and through PgBouncer (tests/conftest.py: each_database_path).
pytestmark = [
    pytest.mark.concurrency,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("each_database_path"),
]


def race(count: int, prepare: Callable[[int], object], act: Callable[[object], object]):
    """Run `act(prepare(i))` in `count` threads released together by a barrier.

    `prepare` runs first in each thread (it opens that thread's connection), so the
    barrier releases the service calls themselves at the same moment. Returns one
    ("ok", result) / ("refused", code) / ("error", repr) per thread.
    """
    barrier = threading.Barrier(count)
    results: list[tuple[str, object] | None] = [None] * count

    def run(i: int) -> None:
        try:
            arg = prepare(i)
            barrier.wait(timeout=30)
            results[i] = ("ok", act(arg))
        except DomainError as exc:
            results[i] = ("refused", exc.code)
        except Exception as exc:
            results[i] = ("error", repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


@pytest.fixture
def fresh_settings():
    PracticeSettings.objects.update_or_create(
        pk=1, defaults={"invoice_prefix": "INV-", "invoice_next_number": 1}
    )


def test_concurrent_finalizing_numbers_are_consecutive(fresh_settings):
    drafts = [draft("10.00").pk for _ in range(20)]

    results = race(
        20,
        prepare=lambda i: Invoice.objects.get(pk=drafts[i]),
        act=lambda invoice: invoice_finalize(invoice=invoice, by=None).number,
    )

    assert [kind for kind, _ in results] == ["ok"] * 20, results
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-{n:04d}" for n in range(1, 21)]
    assert sorted(number for _, number in results) == numbers
    assert PracticeSettings.objects.get(pk=1).invoice_next_number == 21


def test_two_payments_of_the_full_balance_at_once_only_one_wins(fresh_settings):
    invoice = open_invoice("100.00")
    method = cash()

    results = race(
        2,
        prepare=lambda i: Invoice.objects.get(pk=invoice.pk),
        act=lambda inv: (
            payment_record(invoice=inv, amount=Decimal("100.00"), method=method, by=None).pk
        ),
    )

    kinds = sorted(kind for kind, _ in results)
    assert kinds == ["ok", "refused"], results
    refusal = next(value for kind, value in results if kind == "refused")
    assert refusal in {"amount_exceeds_balance", "invoice_not_open"}
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID


def test_package_invoiced_twice_at_once_gets_one_invoice(fresh_settings):
    client_package = ClientPackageFactory()
    practitioner, location = PractitionerFactory(), LocationFactory()

    results = race(
        2,
        prepare=lambda i: client_package.__class__.objects.get(pk=client_package.pk),
        act=lambda cp: (
            invoice_for_client_package(
                client_package=cp, practitioner=practitioner, location=location, by=None
            ).pk
        ),
    )

    assert sorted(kind for kind, _ in results) == ["ok", "refused"], results
    assert next(value for kind, value in results if kind == "refused") == "already_invoiced"
    assert InvoiceLine.objects.filter(client_package=client_package).count() == 1


def test_concurrent_credit_notes_numbers_are_consecutive(fresh_settings):
    """Credit notes take their numbers as invoices do: under the settings row's lock."""
    from django.contrib.auth.models import User

    from invoicing.models import CreditNote
    from invoicing.services import credit_note_issue

    admin = User.objects.create_superuser("cn-admin", "cn@example.com", "x")
    invoices = [open_invoice("10.00").pk for _ in range(12)]

    results = race(
        12,
        prepare=lambda i: Invoice.objects.get(pk=invoices[i]),
        act=lambda invoice: (
            credit_note_issue(invoice=invoice, amount="5.00", reason="Race", by=admin).number
        ),
    )

    assert [kind for kind, _ in results] == ["ok"] * 12, results
    numbers = sorted(CreditNote.objects.values_list("number", flat=True))
    assert numbers == [f"CN-{n:04d}" for n in range(1, 13)]
    assert sorted(number for _, number in results) == numbers


def test_credit_note_and_payment_of_the_whole_balance_at_once_only_one_wins(fresh_settings):
    from django.contrib.auth.models import User

    from invoicing.models import CreditNote
    from invoicing.selectors import invoice_totals
    from invoicing.services import credit_note_issue

    admin = User.objects.create_superuser("cn-admin2", "cn2@example.com", "x")
    invoice = open_invoice("100.00")
    method = cash()

    def act(i):
        if i == 0:
            return credit_note_issue(invoice=invoice, amount="100.00", reason="x", by=admin)
        return payment_record(invoice=invoice, amount="100.00", method=method, by=None)

    results = race(2, prepare=lambda i: i, act=act)

    assert sorted(kind for kind, _ in results) == ["ok", "refused"], results
    assert CreditNote.objects.count() + Payment.objects.count() == 1
    assert invoice_totals(invoice).balance == 0
