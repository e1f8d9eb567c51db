"""Invoice lines: amounts, rounding, tax, and only while the invoice is a draft."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoicing.models import InvoiceLine
from invoicing.services import (
    compute_line_amounts,
    invoice_line_add,
    invoice_line_remove,
    invoice_line_update,
)
from practice.models import PracticeSettings
from tests.factories import TaxRateFactory
from tests.invoicing.helpers import draft, open_invoice, refused

pytestmark = pytest.mark.django_db


def _exclusive_prices():
    PracticeSettings.objects.filter(pk=1).update(prices_include_tax=False)


def test_line_totals_round_half_up_per_line():
    invoice = draft()
    # 10.05 at 50 % off is 5.025: half-up gives 5.03 (banker's rounding would give 5.02).
    for _ in range(2):
        invoice_line_add(
            invoice=invoice,
            by=None,
            description="Half-price session",
            quantity=1,
            unit_price=Decimal("10.05"),
            discount_percent=Decimal("50"),
        )
    lines = list(invoice.lines.all())
    assert [ln.total_amount for ln in lines] == [Decimal("5.03"), Decimal("5.03")]
    # Per line, not on the sum: 10.06, where rounding 10.05 once would give 10.05.
    assert sum(ln.total_amount for ln in lines) == Decimal("10.06")


def test_tax_included_in_price_is_rounded_half_up():
    # 100 % tax included in 0.25: tax is 0.125 -> 0.13 half-up, net the rest.
    invoice = draft()
    ln = invoice_line_add(
        invoice=invoice,
        by=None,
        description="Odd item",
        quantity=1,
        unit_price=Decimal("0.25"),
        tax_rate=TaxRateFactory(rate=Decimal("100")),
    )
    assert (ln.net_amount, ln.tax_amount, ln.total_amount) == (
        Decimal("0.12"),
        Decimal("0.13"),
        Decimal("0.25"),
    )


def test_prices_inclusive_of_tax():
    invoice = draft()
    assert invoice.prices_include_tax is True
    ln = invoice_line_add(
        invoice=invoice,
        by=None,
        description="Initial consultation",
        quantity=1,
        unit_price=Decimal("110.00"),
        tax_rate=TaxRateFactory(rate=Decimal("10")),
    )
    assert (ln.net_amount, ln.tax_amount, ln.total_amount) == (
        Decimal("100.00"),
        Decimal("10.00"),
        Decimal("110.00"),
    )


def test_prices_exclusive_of_tax():
    _exclusive_prices()
    invoice = draft()
    assert invoice.prices_include_tax is False
    ln = invoice_line_add(
        invoice=invoice,
        by=None,
        description="Follow-up",
        quantity=2,
        unit_price=Decimal("45.00"),
        tax_rate=TaxRateFactory(rate=Decimal("10")),
    )
    assert (ln.net_amount, ln.tax_amount, ln.total_amount) == (
        Decimal("90.00"),
        Decimal("9.00"),
        Decimal("99.00"),
    )


def test_tax_added_on_top_is_rounded_half_up():
    _exclusive_prices()
    invoice = draft()
    ln = invoice_line_add(
        invoice=invoice,
        by=None,
        description="Small item",
        quantity=1,
        unit_price=Decimal("0.25"),
        tax_rate=TaxRateFactory(rate=Decimal("10")),
    )
    # 0.025 -> 0.03 half-up.
    assert (ln.tax_amount, ln.total_amount) == (Decimal("0.03"), Decimal("0.28"))


def test_invoice_keeps_the_tax_setting_it_was_created_with():
    invoice = draft()
    _exclusive_prices()
    ln = invoice_line_add(
        invoice=invoice,
        by=None,
        description="Consultation",
        quantity=1,
        unit_price=Decimal("110.00"),
        tax_rate=TaxRateFactory(rate=Decimal("10")),
    )
    assert ln.total_amount == Decimal("110.00")


def test_discount_applies_before_tax():
    _exclusive_prices()
    invoice = draft()
    ln = invoice_line_add(
        invoice=invoice,
        by=None,
        description="Massage",
        quantity=1,
        unit_price=Decimal("100.00"),
        discount_percent=Decimal("25"),
        tax_rate=TaxRateFactory(rate=Decimal("10")),
    )
    assert (ln.net_amount, ln.tax_amount, ln.total_amount) == (
        Decimal("75.00"),
        Decimal("7.50"),
        Decimal("82.50"),
    )


def test_line_snapshots_the_tax_rate():
    rate = TaxRateFactory(rate=Decimal("10"))
    invoice = draft()
    ln = invoice_line_add(
        invoice=invoice,
        by=None,
        description="Consultation",
        quantity=1,
        unit_price=Decimal("110.00"),
        tax_rate=rate,
    )
    rate.rate = Decimal("15")
    rate.save()
    ln.refresh_from_db()
    assert ln.tax_percent == Decimal("10.00")
    assert ln.tax_amount == Decimal("10.00")


def test_line_without_tax_rate_has_no_tax():
    ln = draft("80.00").lines.get()
    assert (ln.tax_percent, ln.net_amount, ln.tax_amount, ln.total_amount) == (
        Decimal("0"),
        Decimal("80.00"),
        Decimal("0.00"),
        Decimal("80.00"),
    )


def test_line_update_recomputes_amounts():
    ln = draft("80.00").lines.get()
    updated = invoice_line_update(line=ln, by=None, quantity=3, discount_percent=Decimal("10"))
    updated.refresh_from_db()
    assert updated.total_amount == Decimal("216.00")
    assert updated.description == "Item 1"


def test_lines_are_numbered_in_order():
    invoice = draft("1.00", "2.00")
    third = invoice_line_add(
        invoice=invoice, by=None, description="Third", quantity=1, unit_price=Decimal("3.00")
    )
    assert [ln.position for ln in invoice.lines.all()] == [0, 1, 2]
    assert third.position == 2


def test_line_remove_on_a_draft():
    invoice = draft("10.00", "20.00")
    invoice_line_remove(line=invoice.lines.first(), by=None)
    assert list(invoice.lines.values_list("unit_price", flat=True)) == [Decimal("20.00")]


def test_lines_of_a_finalized_invoice_are_frozen():
    invoice = open_invoice("10.00")
    ln = invoice.lines.get()
    with refused("invoice_not_draft") as excinfo:
        invoice_line_add(
            invoice=invoice, by=None, description="Extra", quantity=1, unit_price=Decimal("5")
        )
    assert "create a new invoice" in excinfo.value.message
    with refused("invoice_not_draft"):
        invoice_line_update(line=ln, by=None, unit_price=Decimal("1.00"))
    with refused("invoice_not_draft"):
        invoice_line_remove(line=ln, by=None)


@pytest.mark.parametrize(
    "bad",
    [
        {"description": "  "},
        {"quantity": 0},
        {"quantity": -1},
        {"quantity": "1.001"},
        {"quantity": "lots"},
        {"unit_price": Decimal("-1.00")},
        {"unit_price": Decimal("1.005")},
        {"unit_price": Decimal("1E+20")},
        {"unit_price": "NaN"},
        {"discount_percent": 101},
        {"discount_percent": -5},
    ],
)
def test_invalid_line_is_refused(bad):
    invoice = draft("10.00")
    values = {"description": "Consultation", "quantity": 1, "unit_price": Decimal("10.00")}
    with refused("invalid_line"):
        invoice_line_add(invoice=invoice, by=None, **{**values, **bad})


def test_invalid_line_refuses_the_whole_new_invoice():
    from invoicing.models import Invoice
    from invoicing.services import invoice_create
    from tests.factories import ClientFactory, LocationFactory, PractitionerFactory

    client, practitioner, location = ClientFactory(), PractitionerFactory(), LocationFactory()
    with refused("invalid_line"):
        invoice_create(
            client=client,
            practitioner=practitioner,
            location=location,
            lines=[
                {"description": "Good", "quantity": 1, "unit_price": Decimal("10")},
                {"description": "Bad", "quantity": 0, "unit_price": Decimal("10")},
            ],
            by=None,
        )
    assert not Invoice.objects.exists()
    assert not InvoiceLine.objects.exists()


@given(
    quantity=st.decimals(min_value="0.01", max_value="1000", places=2),
    unit_price=st.decimals(min_value="0", max_value="100000", places=2),
    discount=st.decimals(min_value="0", max_value="100", places=2),
    tax=st.decimals(min_value="0", max_value="100", places=2),
    inclusive=st.booleans(),
)
def test_line_net_plus_tax_is_total_in_cents(quantity, unit_price, discount, tax, inclusive):
    amounts = compute_line_amounts(
        quantity=quantity,
        unit_price=unit_price,
        discount_percent=discount,
        tax_percent=tax,
        prices_include_tax=inclusive,
    )
    assert amounts.net + amounts.tax == amounts.total
    for value in (amounts.net, amounts.tax, amounts.total):
        assert value.as_tuple().exponent == -2
        assert value >= 0
    assert amounts.tax <= amounts.total


def test_money_is_decimal_with_two_places_end_to_end():
    """DOMAIN.md, Payments: money is Decimal end to end, 2 places."""
    from django.apps import apps as django_apps
    from django.db import models

    from invoicing.selectors import invoice_totals
    from practice.roles import PROJECT_APPS

    money = {
        "catalog.Service": ["price"],
        "catalog.Package": ["price"],
        "packages.ClientPackage": ["price"],
        "invoicing.InvoiceLine": ["unit_price", "net_amount", "tax_amount", "total_amount"],
        "invoicing.Payment": ["amount"],
        "invoicing.Refund": ["amount"],
    }
    for label, names in money.items():
        model = django_apps.get_model(label)
        for name in names:
            field = model._meta.get_field(name)
            assert isinstance(field, models.DecimalField), (label, name)
            assert field.decimal_places == 2, (label, name)
    for app in PROJECT_APPS:
        for model in django_apps.get_app_config(app).get_models():
            floats = [f.name for f in model._meta.fields if isinstance(f, models.FloatField)]
            assert floats == [], (model, floats)
    totals = invoice_totals(open_invoice("10.05", "0.10"))
    for value in vars(totals).values():
        assert isinstance(value, Decimal) and value.as_tuple().exponent == -2
