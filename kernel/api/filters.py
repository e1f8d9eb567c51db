"""Filters shared by the resources (ordering, reference lists)."""

from __future__ import annotations

import django_filters


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
