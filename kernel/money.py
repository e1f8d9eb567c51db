"""Money helpers: Decimal end to end, rounded half-up to cents in one place, shown in the
practice's currency (Settings › Practice details, from `CURRENCY` at first start)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Currencies written with a symbol before the amount; any other code is written before
# the amount with a space ("CHF 1,234.50"). The practice has one currency, so "$" is
# unambiguous for the dollar currencies.
SYMBOLS = {
    "AUD": "$",
    "CAD": "$",
    "HKD": "$",
    "NZD": "$",
    "SGD": "$",
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "INR": "₹",
    "ZAR": "R",
}

# Within a request, the practice's currency is read at most once (see CurrencyMiddleware
# and `currency_scope`); elsewhere each call reads the settings row.
_request_currency: ContextVar[Callable[[], str] | None] = ContextVar("currency", default=None)


def to_money(value: Decimal | int | str) -> Decimal:
    """Round to cents, half-up (2.345 -> 2.35), the practice's rounding rule."""
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an amount of money") from exc
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount of money")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


_currency_source: Callable[[], str | None] | None = None


def set_currency_source(source: Callable[[], str | None]) -> None:
    """Where the practice's currency is stored (the practice app registers its settings
    row at start-up); the kernel itself knows no domain model."""
    global _currency_source
    _currency_source = source


def _load_currency() -> str:
    currency = _currency_source() if _currency_source is not None else None
    if currency:
        return currency
    from django.conf import settings

    return settings.CURRENCY


def practice_currency() -> str:
    """The practice's ISO 4217 code, e.g. "AUD"."""
    cached = _request_currency.get()
    return cached() if cached is not None else _load_currency()


@contextmanager
def currency_scope() -> Iterator[None]:
    """Read the practice's currency at most once inside this block (one request)."""
    found: list[str] = []

    def cached() -> str:
        if not found:
            found.append(_load_currency())
        return found[0]

    token = _request_currency.set(cached)
    try:
        yield
    finally:
        _request_currency.reset(token)


def format_money(value: Decimal | int | str, currency: str | None = None) -> str:
    """1234.5 -> "$1,234.50" (AUD), "£1,234.50" (GBP), "CHF 1,234.50" (no symbol kept)."""
    amount = to_money(value)
    code = (currency or practice_currency()).upper()
    sign = "-" if amount < 0 else ""
    return _in_currency(sign, f"{abs(amount):,.2f}", code)


def _in_currency(sign: str, digits: str, code: str) -> str:
    """The sign and digits with the currency's symbol ("-$12.50"), else its code ("-CHF 12.50")."""
    symbol = SYMBOLS.get(code)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{code} {digits}"


def format_money_short(value: Decimal | int | str, currency: str | None = None) -> str:
    """An amount in few characters, for a chart's caption where the exact figure is in
    its tooltip and description: "$7,817", "$994K", "-$145K", "$7.78M" (rounded half
    up; under 10,000 in whole units)."""
    amount = to_money(value)
    code = (currency or practice_currency()).upper()
    sign = "-" if amount < 0 else ""
    size = abs(amount)
    if size >= 1_000_000:
        digits = f"{(size / 1_000_000).quantize(Decimal('0.01'), ROUND_HALF_UP)}M"
    elif size >= 10_000:
        thousands = (size / 1000).quantize(Decimal(1), ROUND_HALF_UP)
        digits = "1.00M" if thousands >= 1000 else f"{thousands}K"
    else:
        digits = f"{size.quantize(Decimal(1), ROUND_HALF_UP):,}"
    return _in_currency(sign, digits, code)
