"""Page-number pagination with a bounded page size."""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import partial

from django.db.models import Expression, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from kernel.pagination import KnownCountPaginator
from kernel.prepared import Prepared

# Only the query parameters of pagination: a list asked for with these is unfiltered, in
# its default order.
PAGE_PARAMETERS = frozenset({"page", "page_size"})


class PreparedPages:
    """A list's unfiltered rows (a queryset in its default order: its model instances, or
    its tuples for a `values_list` one, `rows=True`) as a paginator reads them: each
    slice (a page's OFFSET and LIMIT, which Django writes into the SQL's text) read
    through a `Prepared` built once per slice (the 64 most recently asked for are kept),
    so a page compiles nothing. Give it a paginator that knows the count
    (KnownCountPaginator): it cannot count."""

    def __init__(
        self,
        build: Callable[[], QuerySet],
        *,
        rows: bool = False,
        count: Callable[[], Expression] | None = None,
    ) -> None:
        @functools.lru_cache(maxsize=64)
        def page(low: int, high: int) -> Prepared:
            return Prepared(lambda: build()[low:high])

        @functools.lru_cache(maxsize=16)
        def first(size: int) -> Prepared:
            assert count is not None
            return Prepared(lambda: build().annotate(_list_count=count())[:size])

        self._page = page
        self._first = first
        self._rows = rows
        self._count = count

    def __getitem__(self, item: slice) -> list:
        prepared = self._page(item.start or 0, item.stop)
        return prepared.rows() if self._rows else prepared.objects()

    def first_page(self, size: int) -> tuple[list, int] | None:
        """The first `size` rows (tuples) and the list's count, read in one statement
        (one snapshot: they agree), where `count` (the expression of the count the
        database keeps) was given for rows; None otherwise."""
        if self._count is None or not self._rows:
            return None
        found = self._first(size).rows()
        if not found:
            return [], 0  # the first page of the whole list is empty: so is the list
        return [row[:-1] for row in found], found[0][-1]


class Pagination(PageNumberPagination):
    """`?page=` and `?page_size=` (default 50, at most 200).

    A `page_size` that is not a whole number from 1 to 200 is refused (400 on
    `page_size`), never silently replaced by the default: an integrator asking for 500
    rows a page must learn that they get at most 200, not miss rows unknowingly.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        text = value.strip()
        size = int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        f"Enter a whole number of rows from 1 to {self.max_page_size}."
                    ]
                }
            )
        return size

    def get_schema_operation_parameters(self, view) -> list[dict]:
        """The schema says the page size's range (the 400 above refuses the rest)."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    **parameter["schema"],
                    "minimum": 1,
                    "maximum": self.max_page_size,
                }
                parameter["description"] = (
                    f"Rows per page, 1 to {self.max_page_size} (50 by default)."
                )
        return parameters


class KeptCountPagination(Pagination):
    """A list whose unfiltered count is the one the database keeps (`kept_count()`, exact)
    rather than a count of every row. Unfiltered rows given as `PreparedPages` with a
    `count` read their first page and that count in one statement."""

    UNFILTERED = frozenset({"page", "page_size", "ordering"})

    def kept_count(self) -> int:
        raise NotImplementedError

    def counts_kept(self, request, view) -> bool:
        """Whether this request's count is the kept one: only the parameters above."""
        return set(request.query_params) <= self.UNFILTERED

    def paginate_queryset(self, queryset, request, view=None):
        if self.counts_kept(request, view):
            first = None
            if isinstance(queryset, PreparedPages) and request.query_params.get(
                self.page_query_param, "1"
            ) in ("", "1"):
                # The paginator slices the page's rows as it would the list's.
                first = queryset.first_page(self.get_page_size(request))
            if first is not None:
                queryset, count = first
            else:
                count = self.kept_count()
            self.django_paginator_class = partial(KnownCountPaginator, count=count)
        return super().paginate_queryset(queryset, request, view)
