"""`invoicing.rules`: each predicate is the one place of its rule. The services refuse
with exactly what it returns, and the pages show what it allows; no page restates it."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from invoicing.models import Invoice, InvoiceLine, Payment
from invoicing.rules import (
    InvoiceActions,
    PaymentActions,
    invoice_actions,
    money_held_refusal,
    payment_actions,
    why_not_deletable,
    why_not_editable,
    why_not_finalizable,
    why_not_payable,
    why_not_payment_voidable,
    why_not_refundable,
    why_not_voidable,
)
from invoicing.selectors import (
    current_invoice_for_appointment,
    current_invoice_for_client_package,
    invoices_with_totals,
    refundable_amount,
    refunded_amount,
)
from invoicing.services import (
    invoice_delete,
    invoice_finalize,
    invoice_line_add,
    invoice_line_update,
    invoice_update,
    invoice_void,
    payment_record,
    payment_refund,
    payment_void,
)
from kernel.errors import DomainError
from tests.factories import AppointmentFactory, ClientPackageFactory
from tests.invoicing.helpers import cash, draft, line, open_invoice

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent


def _invoice(status: str) -> Invoice:
    """A fresh invoice in `status`: draft, open, paid (by a payment) or void."""
    if status == "draft":
        return draft("100.00")
    invoice = open_invoice("100.00")
    if status == "paid":
        payment_record(invoice=invoice, amount=Decimal("100.00"), method=cash(), by=None)
    elif status == "void":
        invoice_void(invoice=invoice, by=None)
    return Invoice.objects.get(pk=invoice.pk)


def _pay(invoice: Invoice, amount: str) -> Payment:
    return payment_record(invoice=invoice, amount=Decimal(amount), method=cash(), by=None)


def _refusal(act) -> DomainError:
    with pytest.raises(DomainError) as excinfo:
        act()
    return excinfo.value


def _same(raised: DomainError, predicted: DomainError | None) -> None:
    assert predicted is not None
    assert (raised.code, raised.message) == (predicted.code, predicted.message)


# ------------------------------------------------------------------ invoice predicates


def test_only_a_draft_is_editable():
    assert why_not_editable(_invoice("draft")) is None
    finalized = why_not_editable(_invoice("open"), "edited")
    assert finalized.code == "invoice_not_draft"
    assert finalized.message == (
        "Invoice INV-0001 is finalized and cannot be edited. "
        "For extra charges, create a new invoice."
    )
    assert why_not_editable(_invoice("paid")).code == "invoice_not_draft"
    void = why_not_editable(_invoice("void"))
    assert void.message == "Invoice INV-0003 is void and cannot be changed."


@pytest.mark.parametrize("status", ["open", "paid", "void"])
def test_services_refuse_edits_with_the_editable_rule(status):
    invoice = _invoice(status)
    _same(
        _refusal(lambda: invoice_update(invoice=invoice, notes="x", by=None)),
        why_not_editable(invoice, "edited"),
    )
    _same(
        _refusal(lambda: invoice_line_add(invoice=invoice, **line("5.00"), by=None)),
        why_not_editable(invoice),
    )
    a_line = invoice.lines.first()
    _same(
        _refusal(lambda: invoice_line_update(line=a_line, description="x", by=None)),
        why_not_editable(invoice),
    )


def test_only_a_draft_is_deleted():
    assert why_not_deletable(_invoice("draft")) is None
    for status in ("open", "paid", "void"):
        invoice = _invoice(status)
        refusal = why_not_deletable(invoice)
        assert (refusal.code, refusal.message) == (
            "invoice_not_draft",
            "Only draft invoices can be deleted. Void it instead.",
        )
        _same(_refusal(lambda invoice=invoice: invoice_delete(invoice=invoice, by=None)), refusal)


def test_only_a_draft_is_finalized():
    assert why_not_finalizable(_invoice("draft")) is None
    open_one, void_one = _invoice("open"), _invoice("void")
    assert why_not_finalizable(open_one).message == "Invoice INV-0001 is already finalized."
    assert why_not_finalizable(void_one).message == "Invoice INV-0002 is void."
    for invoice in (open_one, void_one):
        _same(
            _refusal(lambda invoice=invoice: invoice_finalize(invoice=invoice, by=None)),
            why_not_finalizable(invoice),
        )


def test_only_an_open_invoice_is_payable():
    assert why_not_payable(_invoice("open")) is None
    expected = {
        "draft": "Finalize the invoice before taking a payment.",
        "paid": "Invoice INV-0002 is already paid.",
        "void": "Invoice INV-0003 is void.",
    }
    for status, message in expected.items():
        invoice = _invoice(status)
        refusal = why_not_payable(invoice)
        assert (refusal.code, refusal.message) == ("invoice_not_open", message)
        _same(_refusal(lambda invoice=invoice: _pay(invoice, "1.00")), refusal)


def test_a_finalized_invoice_is_voided_once_no_money_is_held():
    draft_one = _invoice("draft")
    assert why_not_voidable(draft_one).code == "invoice_is_draft"
    assert why_not_voidable(_invoice("void")).code == "invoice_already_void"
    invoice = _invoice("open")
    assert why_not_voidable(invoice) is None
    payment = _pay(invoice, "40.00")
    held = why_not_voidable(invoice)
    assert (held.code, held.message) == (
        "invoice_has_payments",
        "Invoice INV-0002 has $40.00 paid on it. "
        "Refund or void its payments before voiding the invoice.",
    )
    _same(_refusal(lambda: invoice_void(invoice=invoice, by=None)), held)
    payment_refund(payment=payment, amount=Decimal("40.00"), reason="Sorry", by=None)
    assert why_not_voidable(invoice) is None
    assert why_not_voidable(_invoice("paid")).code == "invoice_has_payments"


def test_money_held_reads_the_annotated_totals(django_assert_num_queries):
    invoice = _invoice("open")
    _pay(invoice, "40.00")
    annotated = invoices_with_totals().get(pk=invoice.pk)
    annotated.amount_paid = Decimal("12.00")  # what the page has: no totals query again
    assert "has $12.00 paid on it" in money_held_refusal(annotated).message
    annotated.amount_paid = Decimal("0.00")
    with django_assert_num_queries(0):
        assert money_held_refusal(annotated) is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("draft", InvoiceActions(edit=True, finalize=True, delete=True, pay=False, void=False)),
        (
            "open",
            InvoiceActions(
                edit=False, finalize=False, delete=False, pay=True, void=True, credit_note=True
            ),
        ),
        ("paid", InvoiceActions(edit=False, finalize=False, delete=False, pay=False, void=True)),
        ("void", InvoiceActions(edit=False, finalize=False, delete=False, pay=False, void=False)),
    ],
)
def test_the_actions_an_invoice_allows_follow_its_status(status, expected):
    assert invoice_actions(_invoice(status)) == expected


# ------------------------------------------------------------------ payment predicates


def test_refundable_is_the_amount_less_its_refunds_and_nothing_once_void():
    invoice = _invoice("open")
    payment = _pay(invoice, "60.00")
    assert (refunded_amount(payment), refundable_amount(payment)) == (
        Decimal("0.00"),
        Decimal("60.00"),
    )
    payment_refund(payment=payment, amount=Decimal("15.50"), reason="Partial", by=None)
    payment_refund(payment=payment, amount=Decimal("4.50"), reason="More", by=None)
    payment = Payment.objects.get(pk=payment.pk)
    assert (refunded_amount(payment), refundable_amount(payment)) == (
        Decimal("20.00"),
        Decimal("40.00"),
    )
    mistake = _pay(invoice, "5.00")
    payment_void(payment=mistake, by=None)
    assert refundable_amount(Payment.objects.get(pk=mistake.pk)) == Decimal("0.00")


def test_why_not_refundable():
    invoice = _invoice("open")
    payment = _pay(invoice, "60.00")
    assert why_not_refundable(payment) is None
    assert why_not_refundable(payment, Decimal("60.00")) is None
    too_much = why_not_refundable(payment, Decimal("60.01"))
    assert too_much.code == "amount_exceeds_refundable"
    assert too_much.context["refundable"] == Decimal("60.00")
    _same(
        _refusal(lambda: payment_refund(payment=payment, amount="60.01", reason="Sorry", by=None)),
        too_much,
    )

    payment_refund(payment=payment, amount=Decimal("60.00"), reason="All", by=None)
    payment = Payment.objects.get(pk=payment.pk)
    in_full = why_not_refundable(payment)
    assert (in_full.code, in_full.message) == (
        "payment_refunded_in_full",
        "This payment has been refunded in full.",
    )
    # Asking for an amount, the service says how much is left (nothing).
    _same(
        _refusal(lambda: payment_refund(payment=payment, amount="1.00", reason="x", by=None)),
        why_not_refundable(payment, Decimal("1.00")),
    )

    mistake = _pay(invoice, "5.00")
    payment_void(payment=mistake, by=None)
    mistake = Payment.objects.get(pk=mistake.pk)
    void = why_not_refundable(mistake, Decimal("1.00"))
    assert (void.code, void.message) == (
        "payment_not_active",
        "This payment is void and cannot be refunded.",
    )
    assert why_not_refundable(mistake).code == "payment_not_active"
    _same(
        _refusal(lambda: payment_refund(payment=mistake, amount="1.00", reason="x", by=None)),
        void,
    )


def test_a_payment_is_voided_unless_void_or_refunded():
    invoice = _invoice("open")
    payment = _pay(invoice, "60.00")
    assert why_not_payment_voidable(payment) is None
    payment_refund(payment=payment, amount=Decimal("1.00"), reason="Sorry", by=None)
    refunded = why_not_payment_voidable(Payment.objects.get(pk=payment.pk))
    assert refunded.code == "payment_has_refunds"
    _same(_refusal(lambda: payment_void(payment=payment, by=None)), refunded)
    mistake = _pay(invoice, "5.00")
    payment_void(payment=mistake, by=None)
    again = why_not_payment_voidable(Payment.objects.get(pk=mistake.pk))
    assert again.code == "payment_already_void"
    _same(_refusal(lambda: payment_void(payment=mistake, by=None)), again)


def test_the_actions_a_payment_allows(django_assert_num_queries):
    invoice = _invoice("open")
    payment = _pay(invoice, "60.00")
    refunded = _pay(invoice, "20.00")
    payment_refund(payment=refunded, amount=Decimal("5.00"), reason="Sorry", by=None)
    in_full = _pay(invoice, "10.00")
    payment_refund(payment=in_full, amount=Decimal("10.00"), reason="All", by=None)
    mistake = _pay(invoice, "10.00")
    payment_void(payment=mistake, by=None)
    payments = {p.pk: p for p in Payment.objects.prefetch_related("refunds")}
    with django_assert_num_queries(0):
        actions = {pk: payment_actions(p) for pk, p in payments.items()}
    assert actions == {
        payment.pk: PaymentActions(refund=True, void=True),
        refunded.pk: PaymentActions(refund=True, void=False),
        in_full.pk: PaymentActions(refund=False, void=False),
        mistake.pk: PaymentActions(refund=False, void=False),
    }


# ------------------------------------------------------------------ the current invoice


def test_the_current_invoice_of_a_package_is_its_first_non_void_one():
    client_package = ClientPackageFactory()
    client = client_package.client
    assert current_invoice_for_client_package(client_package) is None
    voided = open_invoice("10.00", client=client)
    voided.lines.update(client_package=client_package)
    invoice_void(invoice=voided, by=None)
    assert current_invoice_for_client_package(client_package) is None
    current = draft(client=client)
    invoice_line_add(invoice=current, **line("10.00"), client_package=client_package, by=None)
    assert current_invoice_for_client_package(client_package) == current
    its_line = InvoiceLine.objects.get(invoice=current)
    assert current_invoice_for_client_package(client_package, excluding=its_line) is None


def test_the_current_invoice_of_an_appointment_is_its_non_void_one():
    appointment = AppointmentFactory()
    assert current_invoice_for_appointment(appointment) is None
    current = draft(client=appointment.client)
    invoice_line_add(invoice=current, **line("10.00"), appointment=appointment, by=None)
    assert current_invoice_for_appointment(appointment) == current
    invoice_void(invoice=invoice_finalize(invoice=current, by=None), by=None)
    assert current_invoice_for_appointment(appointment) is None


def test_why_not_invoice_appointment_is_what_invoice_for_appointment_refuses():
    from calendar_app.models import AppointmentStatus
    from clients.models import Client
    from invoicing.rules import why_not_invoice_appointment
    from invoicing.services import invoice_for_appointment

    appointment = AppointmentFactory()
    assert why_not_invoice_appointment(appointment) is None
    # Already on an invoice (one per appointment).
    invoice = invoice_for_appointment(appointment=appointment, by=None)
    predicted = why_not_invoice_appointment(appointment)
    assert predicted.code == "already_invoiced"
    _same(_refusal(lambda: invoice_for_appointment(appointment=appointment, by=None)), predicted)
    invoice_delete(invoice=invoice, by=None)
    # The client archived.
    Client.objects.filter(pk=appointment.client_id).update(archived=True)
    appointment.client.refresh_from_db()
    predicted = why_not_invoice_appointment(appointment)
    assert predicted.code == "client_archived"
    _same(_refusal(lambda: invoice_for_appointment(appointment=appointment, by=None)), predicted)
    # Canceled comes first.
    appointment.status = AppointmentStatus.CANCELED
    appointment.save(update_fields=["status"])
    predicted = why_not_invoice_appointment(appointment)
    assert predicted.code == "appointment_canceled"
    _same(_refusal(lambda: invoice_for_appointment(appointment=appointment, by=None)), predicted)


# ------------------------------------------------------------------ no copies in views


def _pieces(node: ast.AST) -> set[str]:
    """The literal parts (20 characters or more) of the strings under `node`."""
    return {
        piece.strip()
        for part in ast.walk(node)
        if isinstance(part, ast.Constant) and isinstance(part.value, str)
        for piece in part.value.split("{")
        if len(piece.strip()) >= 20
    }


def _refusal_texts() -> set[str]:
    """Every refusal message the invoicing rules and services write: the strings of
    `invoicing/rules.py` (docstrings aside) and the messages of the services' errors."""
    rules = ast.parse((ROOT / "invoicing/rules.py").read_text(encoding="utf-8"))
    docstrings = {
        id(node.value)
        for node in ast.walk(rules)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    texts = {
        text
        for node in ast.walk(rules)
        if isinstance(node, ast.Constant) and id(node) not in docstrings
        for text in _pieces(node)
    }
    services = ast.parse((ROOT / "invoicing/services.py").read_text(encoding="utf-8"))
    for node in ast.walk(services):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "DomainError":
            for message in node.args[1:2]:
                texts |= _pieces(message)
    return texts


def test_no_refusal_text_is_copied_into_a_view_a_template_or_the_api():
    texts = _refusal_texts()
    assert "Finalize the invoice before taking a payment." in texts
    places = [
        "invoicing/views.py",
        "invoicing/api.py",
        "invoicing/forms.py",
        "packages/views.py",
        "calendar_app/views.py",
        "clients/views.py",
        *(str(p.relative_to(ROOT)) for p in (ROOT / "templates").rglob("*.html")),
    ]
    copies = [
        (place, text)
        for place in places
        for text in texts
        if text in (ROOT / place).read_text(encoding="utf-8")
    ]
    assert copies == []
