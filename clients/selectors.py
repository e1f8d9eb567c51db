"""Reads for clients: the one search behind the client list, Create appointment's client
search and the API's `?search=`."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Concat, Upper
from django.db.models.lookups import Contains, Lookup

from clients.models import Client, ClientCount
from kernel.pagination import COUNT_CAP, capped_count, remember_capped_count
from kernel.prepared import Prepared, PreparedSQL
from kernel.rowcount import kept_count

_CLIENT = Prepared(lambda pk: Client.objects.filter(pk=pk)[:2], pk=int).planned()


def client_or_404(pk: int) -> Client:
    """The client with this pk (Http404 when there is none): `get_object_or_404`, its SQL
    built once per process."""
    return _CLIENT.get_or_404(pk=pk)


_CURRENT_CLIENT = Prepared(
    lambda pk: Client.objects.filter(archived=False, pk=pk)[:2], pk=int
).planned()


def current_client(pk: int) -> Client | None:
    """The client with this pk if not archived (else None), its SQL built once per
    process: Create appointment's package part reads it on every change."""
    found = _CURRENT_CLIENT.objects(pk=pk)
    return found[0] if len(found) == 1 else None


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
# Up to this many matches, a search sorts them itself (through the trigram indexes, then
# a sort): a common surname has ~1,700 matches among 100,000 clients, and when they sit
# late in the alphabet the name index's walk to them took 80-230 ms ("Smith",
# "Williams"); sorting them takes 7-10 ms. Above it, matches are dense enough in name
# order for the walk (`son`: 13 ms). The count shown still stops at SEARCH_COUNT_CAP.
SEARCH_SORT_CAP = 3 * COUNT_CAP

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
    SEARCH_SORT_CAP clients (one capped count, a few milliseconds through the trigram
    indexes), the order is given by an expression the name index cannot serve:
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
            count = capped_count(queryset, max(SEARCH_SORT_CAP, SEARCH_COUNT_CAP))
            if count <= SEARCH_SORT_CAP:
                # last_name || '' sorts exactly as last_name, but no index provides it.
                queryset = queryset.order_by(Concat("last_name", Value("")), "first_name", "id")
            else:
                queryset = queryset.order_by("last_name", "first_name", "id")
            # The list's and the API's CappedPaginator use this count instead of
            # counting again (any further filter makes a new queryset without it).
            shown = min(count, SEARCH_COUNT_CAP + 1)
            return remember_capped_count(queryset, shown, SEARCH_COUNT_CAP)
    return queryset.order_by("last_name", "first_name", "id")


class _Like(Contains):
    """`UPPER(field)::text LIKE %s`, the SQL of `<name>__contains` above, with the pattern
    given whole (`%WORD%`, escaped by the caller as `contains` escapes it), so that a
    Prepared query finds it among its parameters."""

    def process_rhs(self, compiler, connection):
        return Lookup.process_rhs(self, compiler, connection)


def _pattern(word: str) -> str:
    return f"%{connection.ops.prep_for_like_query(word)}%"


def _search_first_page(words: int, archived: bool | None, per_page: int, cap: int) -> PreparedSQL:
    """`client_search`'s first page for that many words, with its count capped at
    `cap` + 1, in one statement built once: the matches' ids (at most `cap` + 1, through
    the trigram indexes) are read once, counted, and, when they are all of them, their
    rows sorted (the narrow plan); else the page is read along the name index (the wide
    plan). Only the plan that applies is run: the other is behind a condition on the
    count that PostgreSQL checks first. Each row carries the count (`search_count`)."""

    def build(**patterns):
        queryset = Client.objects.all()
        if archived is not None:
            queryset = queryset.filter(archived=archived)
        for i in range(words):
            condition = Q()
            for field in _SEARCHED.values():
                condition |= _Like(Upper(field), patterns[f"w{i}"])
            queryset = queryset.filter(condition)
        matches = queryset.order_by()[: cap + 1]
        wide = queryset.order_by("last_name", "first_name", "id")[:per_page]
        matches_sql, matches_params = matches.query.get_compiler(using=matches.db).as_sql()
        wide_sql, wide_params = wide.query.get_compiler(using=wide.db).as_sql()
        count = "(SELECT COUNT(*) FROM matches)"
        # The narrow order: last_name || '' in `client_search` sorts as last_name does.
        # A SELECT first (the CTE inside): kernel.middleware's audit context takes any
        # other first word for a write.
        sql = f"""SELECT search.* FROM (
            WITH matches AS MATERIALIZED ({matches_sql})
            SELECT page.*, {count} AS search_count FROM (
                (SELECT * FROM matches WHERE {count} <= {int(cap)}
                 ORDER BY last_name, first_name, id LIMIT {int(per_page)})
                UNION ALL
                (SELECT * FROM ({wide_sql}) wide WHERE {count} > {int(cap)})
            ) page
        ) search ORDER BY search.last_name, search.first_name, search.id"""  # noqa: S608 - SQL from Django, ints
        return sql, (*matches_params, *wide_params)

    return PreparedSQL(build, **{f"w{i}": str for i in range(words)})


_FIRST_PAGES: dict[tuple, PreparedSQL] = {}


def client_search_first_page(
    words: Iterable[str], *, archived: bool | None = False, per_page: int = 25
) -> tuple[list[Client], int, int] | None:
    """The first page of `client_search(words, archived=archived)`, its count capped at
    SEARCH_COUNT_CAP + 1 and that cap (what `client_search` remembers for
    CappedPaginator): the same rows in the same order, in one query whose SQL is built
    once per process. None for a search without a word of 3+ letters (`client_search`'s
    other plan) or of more than 6 words."""
    words = [word.upper() for word in words if word]
    if not words or len(words) > 6 or max(len(word) for word in words) < _TRIGRAM:
        return None
    cap, sort_cap = SEARCH_COUNT_CAP, max(SEARCH_SORT_CAP, SEARCH_COUNT_CAP)
    if per_page > cap:
        return None
    key = (len(words), archived, per_page, sort_cap)
    if key not in _FIRST_PAGES:
        _FIRST_PAGES[key] = _search_first_page(len(words), archived, per_page, sort_cap)
    sql, params = _FIRST_PAGES[key].statement(
        **{f"w{i}": _pattern(word) for i, word in enumerate(words)}
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    # Each row: the client's columns in the model's order (the compiled queryset's), then
    # the count. No row only when nothing matches (any match gives the page a row).
    names = [field.attname for field in Client._meta.concrete_fields]
    rows = [Client.from_db(connection.alias, names, row[:-1]) for row in found]
    return rows, min(found[0][-1], cap + 1) if found else 0, cap


def client_count() -> int:
    """How many clients there are (archived ones too), exact, without counting them: the
    count the database keeps (`ClientCount`)."""
    return kept_count(ClientCount)
