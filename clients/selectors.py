"""Reads for clients: the search behind the client list (and, later, the API)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.db.models.functions import Upper

from clients.models import Client

# Annotation name -> field. The names match the expressions of the trigram indexes
# (UPPER(first_name) etc.), so `<name>__contains` is UPPER(field) LIKE '%WORD%' and
# PostgreSQL can answer it from the GIN index instead of scanning every client.
_SEARCHED = {
    "search_first": "first_name",
    "search_last": "last_name",
    "search_email": "email",
    "search_phone": "phone",
}


def client_search(words: Iterable[str], *, archived: bool = False) -> QuerySet[Client]:
    """Clients (current, or archived ones) in name order whose first name, last name,
    email or phone contains every word (in any field, any case): "jo cit" finds Jo
    Citizen."""
    queryset = Client.objects.filter(archived=archived)
    words = [word.upper() for word in words if word]
    if words:
        queryset = queryset.alias(**{name: Upper(field) for name, field in _SEARCHED.items()})
        for word in words:
            condition = Q()
            for name in _SEARCHED:
                condition |= Q(**{f"{name}__contains": word})
            queryset = queryset.filter(condition)
    return queryset.order_by("last_name", "first_name", "id")
