"""Money helpers: Decimal end to end, rounded half-up to cents in one place."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_money(value: Decimal | int | str) -> Decimal:
    """Round to cents, half-up (2.345 -> 2.35), the practice's rounding rule."""
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an amount of money") from exc
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount of money")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(value: Decimal | int | str) -> str:
    """1234.5 -> "$1,234.50": how amounts read in pages and in refusal messages."""
    amount = to_money(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"
