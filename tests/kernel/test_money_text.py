"""Amounts and counts as text: the short captions of the dashboard's charts (seven side by
side on a phone) and counts with thousands separators."""

from decimal import Decimal

import pytest
from django.template import Context, Template

from kernel.money import format_money_short


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0", "$0"),
        ("7816.50", "$7,817"),  # under 10,000: whole units, rounded half up
        ("9999.49", "$9,999"),
        ("-7817.00", "-$7,817"),
        ("10000", "$10K"),
        ("993523.10", "$994K"),
        ("-145079.00", "-$145K"),
        ("999499.99", "$999K"),
        ("999500.00", "$1.00M"),  # never "$1000K"
        ("7783904.26", "$7.78M"),
        ("-12345678.90", "-$12.35M"),
    ],
)
def test_short_amounts(value, text):
    assert format_money_short(Decimal(value), "AUD") == text


def test_short_amount_of_a_currency_without_symbol():
    assert format_money_short(Decimal("250000"), "CHF") == "CHF 250K"


@pytest.mark.parametrize(
    ("value", "text"), [(0, "0"), (999, "999"), (281987, "281,987"), (None, ""), ("x", "x")]
)
def test_count_filter(value, text):
    rendered = Template("{% load caspen_tags %}{{ value|count }}").render(Context({"value": value}))
    assert rendered == text
