"""Input fields that refuse what the pages refuse (far-away dates, times the clocks skip)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from rest_framework import serializers

from kernel.text import TEXT_MAX_LENGTH
from kernel.time import EARLIEST_DATE, LATEST_DATE, ambiguous_occurrences, missing_local_time

# Input dates and times outside the practice's years (kernel.time, which the services
# check too) are refused (400): far-away dates are typing mistakes, and adding an expiry
# period to 9999-12-31 would overflow.
EARLIEST_YEAR = EARLIEST_DATE.year
LATEST_YEAR = LATEST_DATE.year


class InputDate(serializers.DateField):
    """A date (YYYY-MM-DD) between EARLIEST_YEAR and LATEST_YEAR."""

    default_error_messages = {
        "out_of_range": f"Enter a date between {EARLIEST_YEAR} and {LATEST_YEAR}."
    }

    def to_internal_value(self, value):
        result = super().to_internal_value(value)
        if not EARLIEST_YEAR <= result.year <= LATEST_YEAR:
            self.fail("out_of_range")
        return result


class InputDateTime(serializers.DateTimeField):
    """An ISO 8601 date-time (without an offset: in the practice's time zone, where it
    must exist and happen once: not in the hour the clocks skip when daylight saving
    starts, nor in the hour they repeat when it ends)."""

    default_error_messages = {
        "out_of_range": f"Enter a time between {EARLIEST_YEAR} and {LATEST_YEAR}."
    }

    def enforce_timezone(self, value):
        zone = getattr(self, "timezone", None) or self.default_timezone()
        if zone is not None and timezone.is_naive(value):
            # DRF moves a skipped time silently (it only refuses the hour that repeats).
            problem = missing_local_time(value, zone)
            if problem:
                raise serializers.ValidationError(problem, code="invalid")
            # DRF takes a time that happens twice (the clocks go back) as the first.
            pair = ambiguous_occurrences(value, zone)
            if pair is not None:
                first, second = (moment.isoformat() for moment in pair)
                raise serializers.ValidationError(
                    f"{value:%H:%M} happens twice on {value:%Y-%m-%d} (clocks go back): "
                    f"send it with its UTC offset, {first} (first) or {second} (second).",
                    code="invalid",
                )
        return super().enforce_timezone(value)

    def to_internal_value(self, value):
        result = super().to_internal_value(value)
        if not EARLIEST_YEAR <= result.year <= LATEST_YEAR:
            self.fail("out_of_range")
        return result


class InputModelSerializer(serializers.ModelSerializer):
    """A model serializer for input: the model's field rules, dates kept in range, free
    text (TextField) at most TEXT_MAX_LENGTH characters, as in the pages."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateField: InputDate,
        models.DateTimeField: InputDateTime,
    }

    def build_standard_field(self, field_name, model_field):
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        if isinstance(model_field, models.TextField):
            field_kwargs.setdefault("max_length", TEXT_MAX_LENGTH)
        return field_class, field_kwargs
