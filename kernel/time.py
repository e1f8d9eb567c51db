"""Time helpers: wall-clock times in the practice's time zone."""

from __future__ import annotations

import datetime as dt
import functools

from django.utils import timezone
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext

from kernel.errors import DomainError

# The dates the practice accepts anywhere (appointments, package start and expiry dates,
# invoice, payment and refund dates), in the pages, the API and the admin alike. Dates
# far outside them are typing mistakes (2206 for 2026), and adding a package's period
# or an appointment's duration to 31/12/9999 would overflow.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2200, 12, 31)
DATE_RANGE_MESSAGE = f"Enter a date between {EARLIEST_DATE.year} and {LATEST_DATE.year}."


def check_date_in_range(value: dt.date | dt.datetime | None, *, field: str) -> None:
    """Refuse (`invalid_date`, about `field`) a date or time outside the practice's
    years; None passes. A time is judged by its own date (converting 9999-12-31 23:00
    to another zone could overflow)."""
    if value is None:
        return
    day = value.date() if isinstance(value, dt.datetime) else value
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise DomainError("invalid_date", DATE_RANGE_MESSAGE, field=field)


def _exists(value: dt.datetime, zone) -> bool:
    """Whether the wall-clock time `value` (naive) happens in `zone` (not in a DST gap)."""
    aware = value.replace(tzinfo=zone)
    return aware.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) == value


def missing_local_time(value: dt.datetime, zone=None) -> str | None:
    """Why the naive wall-clock time `value` cannot be used in `zone` (the practice's time
    zone by default), or None when it exists.

    On the night daylight saving starts the clocks skip an hour (in Sydney, 02:00 becomes
    03:00 on the first Sunday of October): times in between never happen, and silently
    moving them would book the wrong hour.
    """
    zone = zone or timezone.get_current_timezone()
    if _exists(value, zone):
        return None
    start = value.replace(second=0, microsecond=0)
    for _ in range(24 * 60):  # back to the last minute before the gap
        if _exists(start - dt.timedelta(minutes=1), zone):
            break
        start -= dt.timedelta(minutes=1)
    before = start.replace(tzinfo=zone, fold=0).utcoffset()
    after = start.replace(tzinfo=zone, fold=1).utcoffset()
    assert before is not None and after is not None  # an aware time has an offset
    end = start + (after - before)
    return (
        f"{value:%H:%M} does not exist on {date_format(value.date(), 'j M Y')}: the clocks "
        f"go forward from {start:%H:%M} to {end:%H:%M}."
    )


def ambiguous_occurrences(value: dt.datetime, zone=None) -> tuple[dt.datetime, dt.datetime] | None:
    """The two moments the naive wall-clock time `value` names in `zone` (the practice's
    time zone by default) when it happens twice, first then second; None when it happens
    once (or never: see `missing_local_time`).

    On the night daylight saving ends the clocks go back (in Sydney, 03:00 becomes 02:00
    on the first Sunday of April): 02:00 to 03:00 happens twice, an hour apart.
    """
    zone = zone or timezone.get_current_timezone()
    first = value.replace(tzinfo=zone, fold=0)
    second = value.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset() or not _exists(value, zone):
        return None
    return first, second


def ambiguous_local_time(value: dt.datetime, zone=None) -> str | None:
    """Why the naive wall-clock time `value` needs a choice in `zone`, or None when it
    happens only once: "02:30 happens twice on 5 Apr 2026 (clocks go back). Choose
    02:30 AEDT (first) or 02:30 AEST (second)." Taking either silently could book the
    wrong hour."""
    pair = ambiguous_occurrences(value, zone)
    if pair is None:
        return None
    first, second = occurrence_labels(pair)
    return (
        f"{value:%H:%M} happens twice on {date_format(value.date(), 'j M Y')} "
        f"(clocks go back). Choose {first} or {second}."
    )


def occurrence_labels(pair: tuple[dt.datetime, dt.datetime]) -> tuple[str, str]:
    """("02:30 AEDT (first)", "02:30 AEST (second)") for `ambiguous_occurrences`."""
    first, second = pair
    return (
        f"{first:%H:%M} {first.tzname()} (first)",
        f"{second:%H:%M} {second.tzname()} (second)",
    )


@functools.cache
def _month_3(language: str | None, month: int) -> str:
    """`MONTHS_3[month].title()` translated into `language`, the active language (which
    the callers pass: the key under which each translation is kept)."""
    return str(MONTHS_3[month]).title()


def day_month_year(value: dt.date) -> str:
    """`value|date:"j M Y"` ("7 Mar 2026") of a date, or of a datetime already in the
    time zone it is shown in, written directly (the filter's format parsing costs ~5x
    more on pages of rows); the month's name translated as the filter translates it."""
    return f"{day_month(value)} {value.year:04d}"


def day_month(value: dt.date) -> str:
    """`value|date:"j M"` ("7 Mar"), as `day_month_year`."""
    return f"{value.day} {_month_3(get_language(), value.month)}"


def weekday_day_month_year(value: dt.date) -> str:
    """`value|date:"D j M Y"` ("Sat 7 Mar 2026"), as `day_month_year`."""
    return f"{WEEKDAYS_ABBR[value.weekday()]} {day_month_year(value)}"


def weekday_day_month_time(value: dt.datetime) -> str:
    """`value|date:"D j M, g:i A"` ("Sat 7 Mar, 9:05 AM") of a datetime already in the
    time zone it is shown in, as `day_month_year`."""
    noon = gettext("PM") if value.hour > 11 else gettext("AM")
    return (
        f"{WEEKDAYS_ABBR[value.weekday()]} {value.day} {_month_3(get_language(), value.month)}, "
        f"{value.hour % 12 or 12}:{value.minute:02d} {noon}"
    )


def hour_minute(value: dt.datetime) -> str:
    """`value|time:"H:i"` ("09:05") of a time already in the time zone it is shown in."""
    return f"{value.hour:02d}:{value.minute:02d}"
