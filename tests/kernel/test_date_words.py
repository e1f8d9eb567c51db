"""kernel.time's dates and times written directly equal the template filters'."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template.defaultfilters import date, time
from django.utils import translation

from kernel.time import (
    day_month_year,
    hour_minute,
    weekday_day_month_time,
    weekday_day_month_year,
)


@pytest.mark.parametrize("language", ["en-au", "de", "fr"])
def test_the_same_text_as_the_filters(language):
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(0, 400, 3)]
    days += [dt.date(900, 2, 28), dt.date(2200, 12, 31)]
    with translation.override(language):
        for day in days:
            assert day_month_year(day) == date(day, "j M Y")
            assert weekday_day_month_year(day) == date(day, "D j M Y")
            moment = dt.datetime.combine(day, dt.time(day.day % 24, day.month * 4))
            assert day_month_year(moment) == date(moment, "j M Y")
            assert hour_minute(moment) == time(moment, "H:i")


def test_month_names_follow_the_active_language_each_time():
    """The month names kept per language: switching back and forth never shows another
    language's."""
    moment = dt.datetime(2026, 3, 7, 21, 5)
    for language in ["de", "en-au", "fr", "de", "en-au"]:
        with translation.override(language):
            for month in range(1, 13):
                day = moment.replace(month=month)
                assert day_month_year(day) == date(day, "j M Y")
                assert weekday_day_month_time(day) == date(day, "D j M, g:i A")
