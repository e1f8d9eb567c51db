"""Querysets whose SQL is built once per process, then run with each request's values.

Compiling a queryset (resolving its filters and annotations into SQL) costs Django far
more than PostgreSQL needs to answer it for a page's few rows: a pk lookup compiles in
about 0.2 ms, a queryset of correlated-subquery annotations in several. A `Prepared`
builds its queryset once per process (and database alias) with distinctive sample values,
finds where each sample landed among the compiled parameters, and from then on runs that
SQL with the caller's values put in those places: the statement is the one Django would
send, with the caller's parameters (bound as parameters, never pasted into the SQL).
Rows are turned into model instances (or tuples) by Django itself, as a queryset does.

Only the SQL is kept: every call reads the database. A sample that does not reach the
parameters unchanged (a `__contains` pattern, a list spread over `IN (...)`), or reaches
the SQL text, is refused when the queryset is built, so a value can never be left out.
The build must use each value only as given: a value computed from one (`pk + 1`,
`day + timedelta(1)`) would keep the sample's. Keep out of prepared querysets anything
whose SQL depends on request state other than the declared values (the active time
zone of a `__date` lookup, a setting that changes the expression): build one `Prepared`
per such variant instead.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable
from django.http import Http404

M = TypeVar("M", bound=Model)

# A sample per kind, unlike any value a queryset holds of its own (index i: the i-th
# declared value).
_SAMPLES: dict[type, Callable[[int], Any]] = {
    int: lambda i: -1_987_654_300 - i,
    str: lambda i: f"\x1fcaspen-prepared-sample-{i}\x1f",
    dt.date: lambda i: dt.date(1, 2, 3 + i),
    dt.datetime: lambda i: dt.datetime(1, 2, 3 + i, 4, 5, 6, 789, tzinfo=dt.UTC),
}


def _samples(kinds: dict[str, type]) -> dict[str, Any]:
    return {name: _SAMPLES[kind](i) for i, (name, kind) in enumerate(kinds.items())}


def _slots(samples: dict[str, Any], sql: str, params: tuple) -> tuple:
    """Where each sample is among `params`: ((name, (index, ...)), ...); refused when a
    sample is missing from them or was written into the SQL itself."""
    slots = []
    for name, sample in samples.items():
        places = tuple(
            i for i, param in enumerate(params) if type(param) is type(sample) and param == sample
        )
        if not places or str(sample) in sql:
            raise ImproperlyConfigured(
                f"Prepared value {name!r} does not reach the SQL's parameters as given."
            )
        slots.append((name, places))
    return tuple(slots)


def _fill(kinds: dict[str, type], params: tuple, slots: tuple, values: dict[str, Any]) -> tuple:
    """`params` with each call's value in its sample's places (checked against its kind)."""
    if values.keys() != kinds.keys():
        raise TypeError(f"Prepared query takes {sorted(kinds)}, got {sorted(values)}")
    filled = list(params)
    for name, places in slots:
        value = values[name]
        kind = kinds[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TypeError(f"Prepared value {name!r} must be {kind.__name__}")
        if kind is dt.date and isinstance(value, dt.datetime):
            raise TypeError(f"Prepared value {name!r} must be a date, not a datetime")
        for i in places:
            filled[i] = value
    return tuple(filled)


class _Compiled:
    __slots__ = ("compiler", "sql", "params", "slots", "model", "db")

    def __init__(self, compiler, sql: str, params: tuple, slots, model, db: str):
        self.compiler = compiler
        self.sql = sql
        self.params = params
        self.slots = slots
        self.model = model
        self.db = db


class _Source:
    """What ModelIterable reads of a queryset, with the prepared compiler."""

    __slots__ = ("db", "model", "query", "_known_related_objects")

    def __init__(self, compiled: _Compiled, compiler):
        self.db = compiled.db
        self.model = compiled.model
        self.query = _Query(compiler)
        self._known_related_objects: dict = {}


class _Query:
    __slots__ = ("_compiler",)

    def __init__(self, compiler):
        self._compiler = compiler

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        return self._compiler


class Prepared(Generic[M]):
    """`Prepared(build, client=int, on=dt.date)`: `build(client=..., on=...)` returns the
    queryset (no prefetch_related). `objects(**values)` lists its model instances,
    `rows(**values)` its rows as tuples (for a `values_list()` queryset), `get_or_404`
    the only instance."""

    def __init__(self, build: Callable[..., QuerySet[M, Any]], **kinds: type):
        for name, kind in kinds.items():
            if kind not in _SAMPLES:
                raise ImproperlyConfigured(f"Prepared value {name!r}: no sample for {kind}")
        self._build = build
        self._kinds = kinds
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, using: str | None) -> _Compiled:
        key = using or DEFAULT_DB_ALIAS
        compiled = self._compiled.get(key)
        if compiled is not None:
            return compiled
        samples = _samples(self._kinds)
        queryset = self._build(**samples)
        if getattr(queryset, "_prefetch_related_lookups", ()) or getattr(
            queryset, "_known_related_objects", {}
        ):
            raise ImproperlyConfigured("A prepared queryset cannot prefetch related objects.")
        db = using or queryset.db
        compiler = queryset.query.get_compiler(using=db)
        sql, params = compiler.as_sql()
        params = tuple(params)
        slots = _slots(samples, sql, params)
        compiled = _Compiled(compiler, sql, params, slots, queryset.model, db)
        self._compiled[key] = compiled
        return compiled

    def _compiler(self, values: dict[str, Any], using: str | None):
        compiled = self._compile(using)
        statement = (compiled.sql, _fill(self._kinds, compiled.params, compiled.slots, values))
        compiler = copy.copy(compiled.compiler)
        # This thread's connection (the compiled one may belong to another thread).
        compiler.connection = connections[compiled.db]
        compiler.as_sql = lambda *args, **kwargs: statement
        return compiled, compiler

    def objects(self, *, using: str | None = None, **values: Any) -> list[M]:
        compiled, compiler = self._compiler(values, using)
        source: Any = _Source(compiled, compiler)
        return list(ModelIterable(source))

    def rows(self, *, using: str | None = None, **values: Any) -> list[tuple]:
        _, compiler = self._compiler(values, using)
        return list(compiler.results_iter(tuple_expected=True))

    def count(self, *, using: str | None = None, **values: Any) -> int:
        """The number of rows: `SELECT COUNT(*) FROM (<the query>) subquery`, the shape of
        Django's count of a sliced queryset (build `queryset.values("pk")[:n]` to count
        no further than n)."""
        compiled, compiler = self._compiler(values, using)
        sql, params = compiler.as_sql()
        with compiler.connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({sql}) subquery", params)  # noqa: S608 - our compiled SQL
            row = cursor.fetchone()
        return int(row[0])

    def get_or_404(self, *, using: str | None = None, **values: Any) -> M:
        """The only instance (build a queryset sliced to 2 rows), else Http404; more than
        one is a programming error (as QuerySet.get)."""
        found = self.objects(using=using, **values)
        if not found:
            raise Http404(f"No {self._compile(using).model._meta.object_name} matches the query.")
        if len(found) > 1:
            raise self._compile(using).model.MultipleObjectsReturned
        return found[0]


class PreparedSQL:
    """Plain SQL assembled from compiled querysets (e.g. `invoice_balances_sql`), built
    once per process as `Prepared` builds a queryset's: `build(**samples)` returns
    (sql, params) and `statement(**values)` the same SQL with the call's values."""

    def __init__(self, build: Callable[..., tuple[str, tuple]], **kinds: type):
        for name, kind in kinds.items():
            if kind not in _SAMPLES:
                raise ImproperlyConfigured(f"Prepared value {name!r}: no sample for {kind}")
        self._build = build
        self._kinds = kinds
        self._built: tuple[str, tuple, tuple] | None = None

    def statement(self, **values: Any) -> tuple[str, tuple]:
        if self._built is None:
            samples = _samples(self._kinds)
            sql, params = self._build(**samples)
            params = tuple(params)
            self._built = (sql, params, _slots(samples, sql, params))
        sql, params, slots = self._built
        return sql, _fill(self._kinds, params, slots, values)
