"""Pages of long lists whose total would cost more to count than the page itself.

Counting every match of a one-letter search means testing all 100,000 clients (50 to
300 ms); a count that stops at 1,000 costs under a millisecond. `CappedPaginator` counts
only as far as the page asked for needs (at least `cap`), and says when it stopped:
`capped` is true and `count` is one more than `shown_limit` ("more than 1,000")."""

from __future__ import annotations

from collections.abc import Callable

from django.core.paginator import Page, Paginator
from django.http import HttpRequest
from django.utils.functional import cached_property

COUNT_CAP = 1000


def capped_count(queryset, cap: int = COUNT_CAP) -> int:
    """The rows of `queryset`, counted no further than `cap` + 1 (above `cap` means "more
    than `cap`"): `SELECT count(*) FROM (... LIMIT cap + 1)`, which stops early."""
    return queryset.order_by()[: cap + 1].count()


def remember_capped_count(queryset, count: int, cap: int):
    """Mark `queryset` with the capped count already made of it (`capped_count(queryset,
    cap)`), for CappedPaginator to use instead of counting again. The mark is on this
    queryset object only: a further filter or order makes a clone without it."""
    queryset.known_capped_count = (count, cap)
    return queryset


def _page_number(value) -> int:
    text = str(value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else 1


class CappedPaginator(Paginator):
    """A Paginator whose count stops at max(cap, the rows up to the page asked for):
    every page up to that one is exact, and the next one is known to exist."""

    def __init__(self, object_list, per_page, *, cap: int = COUNT_CAP, number=None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.shown_limit = max(cap, _page_number(number) * int(per_page))

    @cached_property
    def count(self) -> int:
        known = getattr(self.object_list, "known_capped_count", None)
        if known is not None:
            count, cap = known
            # Exact (within its cap), or capped where this page counts to.
            if count <= cap or cap == self.shown_limit:
                return count
        return capped_count(self.object_list, self.shown_limit)

    @property
    def capped(self) -> bool:
        """True when there are more rows than counted (`count` is then shown_limit + 1)."""
        return self.count > self.shown_limit

    @property
    def shown_limit_text(self) -> str:
        return f"{self.shown_limit:,}"


class KnownCountPaginator(Paginator):
    """A Paginator told its count by the caller, who keeps it another way (a maintained
    total) rather than counting every row."""

    def __init__(self, object_list, per_page, *, count: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.known_count = count

    @cached_property
    def count(self) -> int:
        return self.known_count


def paginate_capped(
    request: HttpRequest,
    queryset,
    per_page: int = 25,
    cap: int = COUNT_CAP,
    *,
    first: Callable[[int], tuple[list, int, int] | None] | None = None,
) -> Page:
    """`kernel.web.paginate` with a capped count (see the module's docstring).

    `queryset` may be a function returning it (called only when needed). `first`, when
    given, may read the first page itself: `first(per_page)` returns its rows, their
    capped count and that count's cap (as `remember_capped_count` records them), or None
    to leave it to the queryset."""
    number = request.GET.get("page")
    if first is not None and number in (None, "", "1"):
        found = first(per_page)
        if found is not None:
            rows, count, counted_to = found
            paginator = CappedPaginator(rows, per_page, cap=cap, number=number)
            # CappedPaginator.count's rule for a remembered count, without counting again.
            if count <= counted_to or counted_to == paginator.shown_limit:
                paginator.count = count  # a cached_property: its value
                return Page(rows, 1, paginator)
    if callable(queryset):
        queryset = queryset()
    return CappedPaginator(queryset, per_page, cap=cap, number=number).get_page(number)
