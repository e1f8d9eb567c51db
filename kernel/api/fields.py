"""Input fields that refuse what the pages refuse (far-away dates, times the clocks skip)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject, PrimaryKeyRelatedField
from rest_framework.settings import api_settings

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


def _same(value):
    return value


def _iso_date(value):
    return value.isoformat()


# How DRF's fields represent a value that is not None, for the exact types they are given
# here (a str column, an int, a bool, a date), without going through the field.
_PLAIN = {
    serializers.CharField: str,
    serializers.EmailField: str,
    serializers.IntegerField: int,
    serializers.BooleanField: _same,
    serializers.DateField: _iso_date,
}


# Fields whose representation depends on their own settings only (digits, format, time
# zone, choices), never on the request: their own method, bound once, represents a value.
_OWN_METHOD = (
    serializers.DecimalField,
    serializers.DateTimeField,
    serializers.ChoiceField,
)


def decimal_text(field: serializers.DecimalField, value: Decimal) -> str:
    """`field.to_representation(value)` for a value that is not None: one already at two
    places (an amount, percent or quantity column of two places, or a sum of them) is
    written by `str`, which gives DRF's digits ('{:f}' of the value quantized to two
    places) without its context and quantize; any other value through the field."""
    text = str(value)
    if (
        text[-3:-2] == "."
        and field.decimal_places == 2
        and not field.localize
        and not field.normalize_output
        and getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
    ):
        return text
    return field.to_representation(value)


def instant_text(field: serializers.DateTimeField) -> Callable[[dt.datetime], str]:
    """`field.to_representation` for the datetimes (not None) of one request's rows,
    with the request's time zone looked up once rather than for each value: an aware
    datetime is moved to that zone and written in ISO 8601 ('Z' for UTC), as DRF writes
    it; a field with its own time zone or format, or a naive value, goes through the
    field."""
    zone = None
    iso = str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
    if iso and not hasattr(field, "timezone"):
        zone = field.default_timezone()
    if zone is None:
        return field.to_representation

    def text(value: dt.datetime) -> str:
        if value.utcoffset() is None:
            return field.to_representation(value)
        written = value.astimezone(zone).isoformat()
        return written[:-6] + "Z" if written.endswith("+00:00") else written

    return text


class ColumnsOut:
    """For an output serializer of model instances: each row represented exactly as DRF
    represents it, with one function per field read from one attribute, chosen once per
    process (a plain conversion for a string, a number, a boolean or a date; the field's
    own method for an amount, a time or a choice). A page of 50 invoices is thousands of
    field values, and DRF's per-field lookups were most of an API list's Python time.

    Any other field (a method, a relation, a nested list, a dotted source) is represented
    by the field itself, as DRF's `Serializer.to_representation` does. None is None. The
    plan is kept on the class: its fields must be the same for every instance (no fields
    chosen per request)."""

    # Per class (read from the class's own __dict__, so a subclass builds its own).
    _columns_plan: ClassVar[list[tuple[str, str | None, Any]] | None] = None

    def _plan(self) -> list[tuple[str, str | None, Any]]:
        plan = type(self).__dict__.get("_columns_plan")
        if plan is None:
            plan = []
            for field in self._readable_fields:  # type: ignore[attr-defined]
                convert = _PLAIN.get(type(field))
                if convert is None and isinstance(field, _OWN_METHOD):
                    convert = field.to_representation
                attrs = field.source_attrs
                column = self._foreign_key_column(field)
                if column is not None:
                    # DRF represents it by the row's own `<name>_id` value, as is.
                    plan.append((field.field_name, column, _same))
                elif convert is None or len(attrs) != 1:
                    plan.append((field.field_name, None, None))
                else:
                    plan.append((field.field_name, attrs[0], convert))
            type(self)._columns_plan = plan
        return plan

    def _foreign_key_column(self, field) -> str | None:
        """The column (`client_id`) a primary-key relation of the model reads, when DRF
        would represent the field by that column's value unchanged (no pk_field, a plain
        forward foreign key of the serializer's model), else None."""
        if type(field) is not PrimaryKeyRelatedField or field.pk_field is not None:
            return None
        model = getattr(getattr(self, "Meta", None), "model", None)
        if model is None or len(field.source_attrs) != 1:
            return None
        try:
            model_field = model._meta.get_field(field.source_attrs[0])
        except FieldDoesNotExist:
            return None
        if not model_field.concrete or not (model_field.many_to_one or model_field.one_to_one):
            return None
        return model_field.attname

    def to_representation(self, instance):
        if isinstance(instance, Mapping):
            return super().to_representation(instance)
        row: dict[str, Any] = {}
        fields = self.fields
        for name, attr, convert in self._plan():
            if convert is not None:
                value = getattr(instance, attr)
                row[name] = None if value is None else convert(value)
                continue
            field = fields[name]
            try:
                value = field.get_attribute(instance)
            except SkipField:
                continue
            check = value.pk if isinstance(value, PKOnlyObject) else value
            row[name] = None if check is None else field.to_representation(value)
        return row


class ColumnsOutSerializer(ColumnsOut, serializers.ModelSerializer):
    """A ModelSerializer represented as `ColumnsOut` says."""
