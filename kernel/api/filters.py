"""Filters shared by the resources (ordering, `updated_since`)."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field

from kernel.time import EARLIEST_DATE, LATEST_DATE


class OrderingFilter(django_filters.OrderingFilter):
    """`?ordering=name,-id`, always ending with the id so pages never overlap; empty
    values keep the default order."""

    def filter(self, qs, value):
        fields = [self.get_ordering_value(param) for param in value or () if param]
        if not fields:
            return qs
        if "id" not in fields and "-id" not in fields:
            fields.append("id")
        return qs.order_by(*fields)


class InstantField(forms.Field):
    """An ISO 8601 date-time (without an offset: in the practice's time zone), within
    the practice's years (kernel.time)."""

    default_error_messages = {
        "invalid": "Enter an ISO 8601 date-time, e.g. 2026-03-10T09:00:00+11:00.",
        "out_of_range": f"Enter a time between {EARLIEST_DATE.year} and {LATEST_DATE.year}.",
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            parsed = parse_datetime(str(value).strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if not EARLIEST_DATE.year <= parsed.year <= LATEST_DATE.year:
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        if timezone.is_naive(parsed):
            return timezone.make_aware(parsed)
        # In UTC: PostgreSQL refuses offsets beyond 15:59 that ISO 8601 allows (-19:23).
        return parsed.astimezone(dt.UTC)


@extend_schema_field({"type": "string", "format": "date-time"})
class InstantFilter(django_filters.Filter):
    field_class = InstantField


UPDATED_SINCE_LABEL = (
    "Only rows created or changed at or after this moment (ISO 8601 date-time). To sync, "
    "ask from a few minutes before your previous sync started."
)


class UpdatedSinceFilter(InstantFilter):
    """`?updated_since=`: rows whose `updated_at` (kernel.changes) is at or after it."""

    def __init__(self, field_name: str = "updated_at", **kwargs) -> None:
        kwargs.setdefault("lookup_expr", "gte")
        kwargs.setdefault("label", UPDATED_SINCE_LABEL)
        super().__init__(field_name=field_name, **kwargs)


class FilterBackend(DjangoFilterBackend):
    """The API's filter backend: a request naming none of the view's filters (a plain
    `?page=2`) is not filtered at all. Its FilterSet would build and validate a form of
    empty values and give back the queryset as it was (every filter leaves an empty
    value alone), about a millisecond of every list's page."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = getattr(view, "filterset_class", None)
        if (
            filterset_class is not None
            and getattr(view, "filterset_fields", None) is None
            and not request.query_params.keys() & filterset_class.base_filters.keys()
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)


class RowsFilterBackend(DjangoFilterBackend):
    """For a detail action listing rows of another model (an invoice's payments, a client
    package's ledger): the action's FilterSet filters those rows, and leaves alone the
    lookup of the object itself (`get_object()` filters the view's own queryset)."""

    @staticmethod
    def _model(view):
        filterset_class = getattr(view, "filterset_class", None)
        return getattr(getattr(filterset_class, "_meta", None), "model", None)

    def get_filterset_class(self, view, queryset=None):
        # The schema asks with the view's own queryset: answer with the rows' FilterSet.
        if queryset is not None and queryset.model is not self._model(view):
            return getattr(view, "filterset_class", None)
        return super().get_filterset_class(view, queryset)

    def filter_queryset(self, request, queryset, view):
        if queryset.model is not self._model(view):
            return queryset
        return super().filter_queryset(request, queryset, view)
