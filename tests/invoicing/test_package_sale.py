"""Selling a package in one step (issue 13, part 1): the package, its invoice, the
invoice finalized and a payment (the full amount or a deposit), in one transaction."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DataError

from invoicing.models import Invoice, InvoiceStatus, Payment, PaymentMethod, SaleInvoicing
from invoicing.selectors import (
    client_packages_add_payment,
    client_packages_with_payment,
    default_payment_method,
    invoice_totals,
)
from invoicing.services import (
    client_package_sell,
    credit_note_issue,
    invoice_finalize,
    payment_method_archive,
    payment_method_set_default,
    payment_record,
    payment_refund,
)
from kernel.errors import DomainError, NotAllowed
from packages.models import ClientPackage, CreditLedgerEntry
from practice.models import PracticeSettings

pytestmark = pytest.mark.django_db


def cash() -> PaymentMethod:
    return PaymentMethod.objects.get(name="Cash")


def sell(practice, by, **kwargs):
    kwargs.setdefault("practitioner", practice.practitioner)
    kwargs.setdefault("location", practice.location)
    return client_package_sell(client=practice.client, package=practice.fixed, by=by, **kwargs)


def nothing_written() -> bool:
    return not (
        ClientPackage.objects.exists()
        or CreditLedgerEntry.objects.exists()
        or Invoice.objects.exists()
        or Payment.objects.exists()
    )


def test_invoice_later_sells_the_package_only(practice, reception):
    sale = sell(practice, reception, invoicing=SaleInvoicing.LATER)
    assert sale.client_package.remaining == 4
    assert sale.invoice is None and sale.payment is None
    assert not Invoice.objects.exists()


def test_create_invoice_makes_a_draft_with_the_package_line(practice, reception):
    sale = sell(practice, reception, invoicing=SaleInvoicing.INVOICE)
    assert sale.invoice.status == InvoiceStatus.DRAFT
    line = sale.invoice.lines.get()
    assert (line.client_package, line.unit_price) == (sale.client_package, Decimal("400.00"))
    assert sale.payment is None


def test_take_a_deposit_finalizes_and_records_a_part_payment(practice, reception):
    sale = sell(practice, reception, invoicing=SaleInvoicing.PAY, amount="100", method=cash())
    invoice = Invoice.objects.get()
    assert (invoice.status, invoice.number) == (InvoiceStatus.OPEN, "INV-0001")
    assert (sale.payment.amount, sale.payment.method) == (Decimal("100.00"), cash())
    assert invoice_totals(invoice).balance == Decimal("300.00")
    row = client_packages_with_payment(ClientPackage.objects.all()).get()
    assert row.payment_status == "part_paid"


def test_take_the_full_amount_pays_the_invoice(practice, reception):
    sale = sell(practice, reception, invoicing=SaleInvoicing.PAY, method=cash())
    assert sale.payment.amount == Decimal("400.00")
    assert Invoice.objects.get().status == InvoiceStatus.PAID


def test_a_deposit_above_the_total_leaves_nothing_half_done(practice, reception):
    with pytest.raises(DomainError) as caught:
        sell(practice, reception, invoicing=SaleInvoicing.PAY, amount="400.01", method=cash())
    assert (caught.value.code, caught.value.context["field"]) == (
        "amount_exceeds_balance",
        "amount",
    )
    assert nothing_written()
    # The invoice number was not used: the next sale takes INV-0001.
    assert PracticeSettings.load().invoice_next_number == 1


def test_a_database_error_in_the_last_step_leaves_nothing_half_done(practice, reception):
    # A reference longer than its column: PostgreSQL refuses the payment row itself.
    with pytest.raises(DataError):
        sell(
            practice,
            reception,
            invoicing=SaleInvoicing.PAY,
            method=cash(),
            reference="x" * 201,
        )
    assert nothing_written()
    assert PracticeSettings.load().invoice_next_number == 1


@pytest.mark.parametrize(
    ("kwargs", "code", "field"),
    [
        ({"practitioner": None}, "practitioner_required", "practitioner"),
        ({"location": None}, "location_required", "location"),
        ({"method": None}, "payment_method_required", "method"),
        ({"amount": "0"}, "invalid_amount", "amount"),
        ({"amount": "10.005"}, "invalid_amount", "amount"),
        ({"invoicing": "maybe"}, "invalid_choice", "invoicing"),
    ],
)
def test_incomplete_sales_are_refused_before_anything_is_written(
    practice, reception, kwargs, code, field
):
    values = {"invoicing": SaleInvoicing.PAY, "method": cash(), **kwargs}
    with pytest.raises(DomainError) as caught:
        sell(practice, reception, **values)
    assert (caught.value.code, caught.value.context.get("field")) == (code, field)
    assert nothing_written()


def test_an_archived_payment_method_refuses_the_whole_sale(practice, reception, admin_user):
    method = cash()
    payment_method_archive(method=method, by=admin_user)
    with pytest.raises(DomainError, match="no longer in use"):
        sell(practice, reception, invoicing=SaleInvoicing.PAY, method=method)
    assert nothing_written()


def test_a_practitioner_may_not_invoice_so_may_not_sell_with_an_invoice(
    practice, practitioner_user
):
    with pytest.raises(NotAllowed):
        sell(practice, practitioner_user, invoicing=SaleInvoicing.INVOICE)
    assert nothing_written()


def test_payment_status_follows_the_invoice(practice, reception, admin_user):
    later = sell(practice, reception).client_package
    draft = sell(practice, reception, invoicing=SaleInvoicing.INVOICE).client_package
    paid = sell(practice, reception, invoicing=SaleInvoicing.PAY, method=cash())
    opened = sell(practice, reception, invoicing=SaleInvoicing.INVOICE)
    invoice_finalize(invoice=opened.invoice, by=reception)
    statuses = dict(
        client_packages_with_payment(ClientPackage.objects.all()).values_list(
            "pk", "payment_status"
        )
    )
    assert statuses == {
        later.pk: "not_invoiced",
        draft.pk: "unpaid",
        paid.client_package.pk: "paid",
        opened.client_package.pk: "unpaid",
    }
    # A refund reopens the invoice: part paid again.
    payment_refund(payment=paid.payment, amount="50", reason="Goodwill", by=admin_user)
    row = client_packages_with_payment(ClientPackage.objects.filter(pk=paid.client_package.pk))
    assert row.get().payment_status == "part_paid"
    payment_record(invoice=opened.invoice, amount="400", method=cash(), by=reception)
    row = client_packages_with_payment(ClientPackage.objects.filter(pk=opened.client_package.pk))
    assert row.get().payment_status == "paid"


def test_one_default_payment_method(practice, admin_user):
    assert default_payment_method() is None
    payment_method_set_default(method=cash(), by=admin_user)
    eftpos = PaymentMethod.objects.get(name="EFTPOS")
    payment_method_set_default(method=eftpos, by=admin_user)
    assert list(PaymentMethod.objects.filter(is_default=True)) == [eftpos]
    assert default_payment_method() == eftpos
    payment_method_archive(method=eftpos, by=admin_user)
    assert default_payment_method() is None
    with pytest.raises(DomainError, match="no longer in use"):
        payment_method_set_default(method=eftpos, by=admin_user)
    payment_method_set_default(method=None, by=admin_user)
    assert not PaymentMethod.objects.filter(is_default=True).exists()


def test_only_who_may_change_payment_methods_sets_the_default(practice, reception):
    with pytest.raises(NotAllowed):
        payment_method_set_default(method=cash(), by=reception)


_PAYMENT_FIELDS = (
    "payment_invoice_id",
    "payment_invoice_status",
    "payment_paid",
    "payment_balance",
    "payment_status",
)


def _payment_state_agrees() -> set[str]:
    """`client_packages_add_payment` (the Overview's page of rows, one query) gives each
    package what `client_packages_with_payment` annotates; returns the statuses seen."""
    in_sql = {
        p.pk: tuple(getattr(p, f) for f in _PAYMENT_FIELDS)
        for p in client_packages_with_payment(ClientPackage.objects.all())
    }
    rows = client_packages_add_payment(list(ClientPackage.objects.all()))
    in_python = {p.pk: tuple(getattr(p, f) for f in _PAYMENT_FIELDS) for p in rows}
    assert in_python == in_sql
    return {state[-1] for state in in_sql.values()}


def test_payment_state_for_a_page_of_rows_agrees_with_the_annotations(
    practice, reception, admin_user
):
    assert client_packages_add_payment([]) == []
    sell(practice, reception)
    sell(practice, reception, invoicing=SaleInvoicing.INVOICE)
    paid = sell(practice, reception, invoicing=SaleInvoicing.PAY, method=cash())
    opened = sell(practice, reception, invoicing=SaleInvoicing.INVOICE)
    invoice_finalize(invoice=opened.invoice, by=reception)
    sell(practice, reception, invoicing=SaleInvoicing.PAY, amount="100", method=cash())
    assert _payment_state_agrees() == {"not_invoiced", "unpaid", "paid", "part_paid"}
    payment_refund(payment=paid.payment, amount="50", reason="Goodwill", by=admin_user)
    payment_record(invoice=opened.invoice, amount="400", method=cash(), by=reception)
    assert _payment_state_agrees() == {"not_invoiced", "unpaid", "paid", "part_paid"}
    # A credit note takes its amount off the balance (issue 13): part paid, then part
    # credited, leaves less owing, the same in both.
    credited = sell(practice, reception, invoicing=SaleInvoicing.PAY, amount="100", method=cash())
    credit_note_issue(invoice=credited.invoice, amount="50", reason="Goodwill", by=admin_user)
    assert _payment_state_agrees() == {"not_invoiced", "unpaid", "paid", "part_paid"}
