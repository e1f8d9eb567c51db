"""Reads for clients: the one search behind the client list, Create appointment's client
search and the API's `?search=`."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Concat, Upper

from clients.models import Client, ClientCount
from kernel.pagination import COUNT_CAP, capped_count, remember_capped_count
from kernel.rowcount import kept_count

# Annotation name -> field. The names match the expressions of the trigram indexes
# (UPPER(first_name) etc.), so `<name>__contains` is UPPER(field) LIKE '%WORD%' and
# PostgreSQL can answer it from the GIN index instead of scanning every client.
_SEARCHED = {
    "search_first": "first_name",
    "search_last": "last_name",
    "search_email": "email",
    "search_phone": "phone",
}

# Up to this many matches a search is "narrow": found through the trigram indexes, then
# sorted. The list's count stops there too ("more than 1,000").
SEARCH_COUNT_CAP = COUNT_CAP

# pg_trgm needs 3 characters to narrow a LIKE '%...%' through its index.
_TRIGRAM = 3


def client_search(words: Iterable[str], *, archived: bool | None = False) -> QuerySet[Client]:
    """Clients (current ones, archived ones, or both with `archived=None`) in name order
    whose first name, last name, email or phone contains every word (in any field, any
    case): "jo cit" finds Jo Citizen.

    The plan is chosen here, not left to PostgreSQL's guess. Asked for a page (LIMIT 25,
    or LIMIT 1 when one client matches), PostgreSQL walks the name index and tests every
    client until it has enough, which for a rare name or an email is all 100,000 of them
    (30 to 100 ms). So when a word of 3+ letters narrows the search to at most
    SEARCH_COUNT_CAP clients (one capped count, a fraction of a millisecond through the
    trigram indexes), the order is given by an expression the name index cannot serve:
    PostgreSQL then finds the matches through the trigram indexes first and sorts those
    few (about 1 ms). Short words, or many matches, keep the name index: matches are
    dense there, and the walk stops after a page."""
    queryset = Client.objects.all()
    if archived is not None:
        queryset = queryset.filter(archived=archived)
    words = [word.upper() for word in words if word]
    if words:
        queryset = queryset.alias(**{name: Upper(field) for name, field in _SEARCHED.items()})
        for word in words:
            condition = Q()
            for name in _SEARCHED:
                condition |= Q(**{f"{name}__contains": word})
            queryset = queryset.filter(condition)
        if max(len(word) for word in words) >= _TRIGRAM:
            count = capped_count(queryset, SEARCH_COUNT_CAP)
            if count <= SEARCH_COUNT_CAP:
                # last_name || '' sorts exactly as last_name, but no index provides it.
                queryset = queryset.order_by(Concat("last_name", Value("")), "first_name", "id")
            else:
                queryset = queryset.order_by("last_name", "first_name", "id")
            # The list's and the API's CappedPaginator use this count instead of
            # counting again (any further filter makes a new queryset without it).
            return remember_capped_count(queryset, count, SEARCH_COUNT_CAP)
    return queryset.order_by("last_name", "first_name", "id")


def client_count() -> int:
    """How many clients there are (archived ones too), exact, without counting them: the
    count the database keeps (`ClientCount`)."""
    return kept_count(ClientCount)
