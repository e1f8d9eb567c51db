"""Querysets whose SQL is built once per shape, then run with each call's values.

Compiling a queryset (resolving its filters and annotations into SQL) costs Django far
more than PostgreSQL needs to answer it for a page's few rows: a pk lookup compiles in
about 0.2 ms, a queryset of correlated-subquery annotations in several. A `Prepared`
builds its queryset once per *shape* (and database alias) with distinctive sample
values, finds where each sample landed among the compiled parameters, and from then on
runs that SQL with the caller's values put in those places: the statement is the one
Django would send, with the caller's parameters (bound as parameters, never pasted into
the SQL). Rows are turned into model instances (or tuples) by Django itself, with the
fields' converters, as a queryset does.

Only the SQL is kept: every call reads the database.

A shape is what may change the SQL's text rather than its parameters: which optional
values are None, each bool's value, and each list's length (an IN list). Declare each
value's kind: `int`, `str`, `dt.date`, `dt.datetime` (aware), `bool`, `list` (a list of
ints), or `int | None` (and so on) for an optional value.

The samples are checked, not trusted. The queryset is compiled twice with different
samples; the two SQL texts must be equal, and every parameter that differs must be a
sample. A builder that derives a parameter from a value (`start - MAX_LENGTH`, a
`__contains` pattern) or pastes a value into the SQL text is refused when first run,
so a value can never be left out or go stale: pass the derived value in instead. Keep
out of prepared querysets anything whose SQL depends on request state other than the
declared values (today's date or the time, the active time zone of a `__date` lookup, a
setting that changes the expression): pass the date or time in as a value, and build one
`Prepared` per other variant.
"""

from __future__ import annotations

import copy
import datetime as dt
import types
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, cast

from django.core.exceptions import EmptyResultSet, ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable
from django.http import Http404

from kernel.db.postgresql.base import plan_once

M = TypeVar("M", bound=Model)

# A sample per kind, unlike any value a queryset holds of its own (n: a counter, so the
# two compiles of a shape and the values of one call all differ).
_SAMPLES: dict[type, Callable[[int], Any]] = {
    int: lambda n: -1_987_654_300 - n,
    str: lambda n: f"\x1fcaspen-prepared-sample-{n}\x1f",
    dt.date: lambda n: dt.date(1, 2, 1) + dt.timedelta(days=n),
    dt.datetime: lambda n: dt.datetime(1, 2, 3, 4, 5, 6, tzinfo=dt.UTC) + dt.timedelta(seconds=n),
}
_SHAPED = (bool, list)  # kinds whose value is (part of) the shape


def _kinds_of(declared: Any) -> tuple[tuple[type, ...], bool]:
    """The kinds a declaration allows, and whether None is allowed."""
    members = declared.__args__ if isinstance(declared, types.UnionType) else (declared,)
    optional = type(None) in members
    kinds = tuple(m for m in members if m is not type(None))
    if len(kinds) != 1 or kinds[0] not in (*_SAMPLES, *_SHAPED):
        raise ImproperlyConfigured(f"Prepared: unsupported kind {declared!r}")
    return kinds, optional


class _Compiled:
    __slots__ = ("compiler", "sql", "params", "slots", "model", "db", "converters")

    def __init__(self, compiler, sql: str, params: tuple, slots, model, db: str):
        self.compiler = compiler
        self.sql = sql
        self.params = params
        self.slots = slots  # (parameter index, value name, list index or None)
        self.model = model
        self.db = db
        # The compiler's converters for its columns, by connection (each thread's own):
        # the same for every run of the query, where Django works them out each time.
        self.converters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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
    the only instance. An empty list value gives no rows and runs no query, as Django."""

    def __init__(self, build: Callable[..., QuerySet[M, Any]], **kinds: Any):
        self._build = build
        self._planned = False
        self._kinds = {name: _kinds_of(kind) for name, kind in kinds.items()}
        self._compiled: dict[tuple, _Compiled | None] = {}

    def planned(self) -> Prepared[M]:
        """Have PostgreSQL plan it once per connection, as a prepared statement
        (`plan_once`): for a read whose best plan is the same for every value (a row by
        its key), where planning costs PostgreSQL more than the read. Returns itself."""
        self._planned = True
        return self

    # -------------------------------------------------------------- checking values

    def _shape(self, values: dict[str, Any]) -> tuple:
        if values.keys() != self._kinds.keys():
            raise TypeError(f"Prepared query takes {sorted(self._kinds)}, got {sorted(values)}")
        shape: list[Any] = []
        for name, ((kind,), optional) in self._kinds.items():
            value = values[name]
            if value is None:
                if not optional:
                    raise TypeError(f"Prepared value {name!r} may not be None")
                shape.append(None)
            elif kind is bool:
                if not isinstance(value, bool):
                    raise TypeError(f"Prepared value {name!r} must be bool")
                shape.append(value)
            elif kind is list:
                if not isinstance(value, list | tuple) or not all(
                    type(item) is int for item in value
                ):
                    raise TypeError(f"Prepared value {name!r} must be a list of ints")
                shape.append(len(value))
            else:
                if (
                    not isinstance(value, kind)
                    or (kind is int and isinstance(value, bool))
                    or (kind is dt.date and isinstance(value, dt.datetime))
                    or (kind is dt.datetime and getattr(value, "tzinfo", None) is None)
                ):
                    raise TypeError(f"Prepared value {name!r} must be {kind.__name__}")
                shape.append(kind)
        return tuple(shape)

    # -------------------------------------------------------------- compiling

    def _samples(self, values: dict[str, Any], start: int) -> tuple[dict[str, Any], dict]:
        """The values with samples in place of every parameter value, and where each
        sample came from ((type, sample) -> (name, list index or None))."""
        n = start
        given: dict[str, Any] = {}
        where: dict[tuple, tuple[str, int | None]] = {}
        for name, ((kind,), _) in self._kinds.items():
            value = values[name]
            if value is None or kind is bool:
                given[name] = value
            elif kind is list:
                items = []
                for index in range(len(value)):
                    n += 1
                    items.append(_SAMPLES[int](n))
                    where[(int, items[-1])] = (name, index)
                given[name] = items
            else:
                n += 1
                given[name] = _SAMPLES[kind](n)
                where[(kind, given[name])] = (name, None)
        return given, where

    def _compile(self, values: dict[str, Any], shape: tuple, using: str | None) -> _Compiled | None:
        first, where = self._samples(values, 0)
        second, _ = self._samples(values, 1000)
        try:
            queryset = self._build(**first)
            if getattr(queryset, "_prefetch_related_lookups", ()) or getattr(
                queryset, "_known_related_objects", {}
            ):
                raise ImproperlyConfigured("A prepared queryset cannot prefetch related objects.")
            db = using or queryset.db
            compiler = queryset.query.get_compiler(using=db)
            sql, params = compiler.as_sql()
            other_sql, other_params = self._build(**second).query.get_compiler(using=db).as_sql()
        except EmptyResultSet:  # an empty IN list: Django runs no query for it either
            return None
        if sql != other_sql or len(params) != len(other_params):
            raise ImproperlyConfigured(
                "Prepared: a value changes the SQL's text, not only its parameters."
            )
        slots = []
        for index, (param, other) in enumerate(zip(params, other_params, strict=True)):
            try:
                source = where.get((type(param), param))
            except TypeError:  # unhashable (a list given whole): never a sample
                source = None
            if source is not None:
                slots.append((index, *source))
            elif param != other:
                raise ImproperlyConfigured(
                    f"Prepared: parameter {param!r} is derived from a value, not the value."
                )
        reached = {(name, item) for _, name, item in slots}
        if reached != set(where.values()):
            raise ImproperlyConfigured("Prepared: a value does not reach the SQL's parameters.")
        if self._planned:
            plan_once(sql)
        return _Compiled(compiler, sql, tuple(params), tuple(slots), queryset.model, db)

    def _compiler(self, values: dict[str, Any], using: str | None):
        shape = self._shape(values)
        key = (using or DEFAULT_DB_ALIAS, shape)
        try:
            compiled = self._compiled[key]
        except KeyError:
            compiled = self._compiled[key] = self._compile(values, shape, using)
        if compiled is None:
            return None, None
        params = list(compiled.params)
        for index, name, item in compiled.slots:
            params[index] = values[name] if item is None else values[name][item]
        statement = (compiled.sql, tuple(params))
        compiler = copy.copy(compiled.compiler)
        # This thread's connection (the compiled one may belong to another thread).
        connection = compiler.connection = connections[compiled.db]
        compiler.as_sql = lambda *args, **kwargs: statement
        if hasattr(compiler, "get_converters"):  # a query's (not PreparedSQL's)
            converters = compiled.converters.get(connection)
            if converters is None:
                # As results_iter asks for them (its columns are set once compiled).
                columns = [s[0] for s in compiler.select[0 : compiler.col_count]]
                converters = compiled.converters[connection] = compiler.get_converters(columns)
            # Holding the converters only: a function holding the compiler would make a
            # reference cycle, left for the garbage collector each time.
            compiler.get_converters = lambda expressions: converters
        return compiled, compiler

    # -------------------------------------------------------------- reading

    def objects(self, *, using: str | None = None, **values: Any) -> list[M]:
        compiled, compiler = self._compiler(values, using)
        if compiled is None:
            return []
        source: Any = _Source(compiled, compiler)
        return list(ModelIterable(source))

    def read_ahead(self, *, using: str | None = None, **values: Any) -> bool:
        """Send this planned read with `values` now, without waiting for its rows: the
        `objects` or `rows` call with the same values that comes next gets them, from the
        round trip that answers it and the reads sent with it (the project's backend:
        `DatabaseWrapper.read_ahead`, in a transaction). Several in turn, then their
        calls in the same order: one round trip. False when nothing was sent."""
        if not self._planned:
            raise ImproperlyConfigured("Only a planned() read is read ahead.")
        compiled, compiler = self._compiler(values, using)
        if compiled is None:
            return False
        read_ahead = getattr(compiler.connection, "read_ahead", None)
        return read_ahead is not None and read_ahead(*compiler.as_sql())

    def rows(self, *, using: str | None = None, **values: Any) -> list[tuple]:
        _, compiler = self._compiler(values, using)
        if compiler is None:
            return []
        return list(compiler.results_iter(tuple_expected=True))

    def count(self, *, using: str | None = None, **values: Any) -> int:
        """The number of rows: `SELECT COUNT(*) FROM (<the query>) subquery`, the shape of
        Django's count of a sliced queryset (build `queryset.values("pk")[:n]` to count
        no further than n)."""
        _, compiler = self._compiler(values, using)
        if compiler is None:
            return 0
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
            model = self._build_model()
            raise Http404(f"No {model._meta.object_name} matches the query.")
        if len(found) > 1:
            raise self._build_model().MultipleObjectsReturned
        return found[0]

    def _build_model(self) -> Any:
        compiled = next((c for c in self._compiled.values() if c is not None), None)
        assert compiled is not None
        return compiled.model


class PreparedSQL:
    """Plain SQL assembled from compiled querysets (e.g. `invoice_balances_sql`), built
    once per process as `Prepared` builds a queryset's, with the same checks:
    `build(**samples)` returns (sql, params) and `statement(**values)` the same SQL with
    the call's values. Values are scalars (`int`, `str`, `dt.date`, `dt.datetime`)."""

    def __init__(self, build: Callable[..., tuple[str, tuple]], **kinds: type):
        # A Prepared whose "queryset" is the SQL given: only its checks and slots are used.
        self._prepared: Prepared = Prepared(lambda **v: cast(Any, _RawSQL(*build(**v))), **kinds)
        for name, ((kind,), optional) in self._prepared._kinds.items():
            if kind not in _SAMPLES or optional:
                raise ImproperlyConfigured(f"PreparedSQL value {name!r}: a scalar kind")

    def planned(self) -> PreparedSQL:
        """As `Prepared.planned`. Returns itself."""
        self._prepared.planned()
        return self

    def statement(self, **values: Any) -> tuple[str, tuple]:
        _, compiler = self._prepared._compiler(values, None)
        return compiler.as_sql()


class _RawSQL:
    """Stands in for a queryset in `Prepared._compile`: SQL already written."""

    db = DEFAULT_DB_ALIAS
    model = None
    _prefetch_related_lookups = ()
    _known_related_objects: dict = {}

    def __init__(self, sql: str, params):
        self.query = self
        self._statement = (sql, tuple(params))

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        return self

    def as_sql(self, *args, **kwargs):
        return self._statement


_BY_PK_SQL: dict[tuple, str] = {}


def column(field: Any) -> str:
    """A concrete field's column name (the stubs allow None: only for fields without one)."""
    assert field.column is not None
    return field.column


def _by_pk_sql(models: tuple[type[Model], ...], extras: tuple[str, ...], db: str) -> str:
    key = (models, extras, db)
    if key not in _BY_PK_SQL:
        quote = connections[db].ops.quote_name
        columns, joins = [], []
        for n, model in enumerate(models):
            columns += [f"t{n}.{quote(column(f))}" for f in model._meta.concrete_fields]
            joins.append(
                f"LEFT JOIN {quote(model._meta.db_table)} t{n} "
                f"ON t{n}.{quote(column(model._meta.pk))} = %s"
            )
        columns += [f"({sql})" for sql in extras]
        _BY_PK_SQL[key] = plan_once(
            f"SELECT {', '.join(columns)} FROM (VALUES (1)) one (x) {' '.join(joins)}"  # noqa: S608 - names from the models
        )
    return _BY_PK_SQL[key]


def rows_by_pk_statement(
    pairs: list[tuple[type[Model], int | None]],
    extras: Sequence[tuple[str, list]] = (),
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> tuple[str, list]:
    """The statement `rows_by_pk` sends for these pairs and extras (its SQL, planned
    once, and its values): to send it ahead (`DatabaseWrapper.read_ahead`)."""
    models = tuple(model for model, _ in pairs)
    texts = tuple(sql for sql, _ in extras)
    params: list[Any] = [p for _, extra_params in extras for p in extra_params]
    return _by_pk_sql(models, texts, using), params + [pk for _, pk in pairs]


def rows_by_pk(
    pairs: list[tuple[type[Model], int | None]],
    extras: Sequence[tuple[str, list]] = (),
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> tuple[list[Any], list[Any]]:
    """Rows of several models by primary key in one query: for each (model, pk), the
    instance (all its fields, as `Model.objects.filter(pk=pk).first()` gives it), or
    None when there is none (or pk is None); and the values of `extras`, each a scalar
    SQL subquery (text fixed per call site, with its parameters)."""
    models = tuple(model for model, _ in pairs)
    sql, params = rows_by_pk_statement(pairs, extras, using=using)
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    found: list[Any] = []
    at = 0
    for model in models:
        fields, names, pk_index, converting = _row_shape(model, connection)
        values = list(row[at : at + len(fields)])
        at += len(fields)
        if values[pk_index] is None:
            found.append(None)
            continue
        for index, col, converters in converting:
            for convert in converters:
                values[index] = convert(values[index], col, connection)
        found.append(model.from_db(using, names, values))
    return found, list(row[at:])


_ROW_SHAPES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _row_shape(model: type[Model], connection) -> tuple:
    """A model's concrete fields, their attribute names, the primary key's index, and the
    converters of the fields that have any (index, column, converters): worked out once
    per connection (each thread's own), as Django works them out for every query."""
    shapes = _ROW_SHAPES.setdefault(connection, {})
    if model not in shapes:
        fields = model._meta.concrete_fields
        converting = []
        for index, field in enumerate(fields):
            converters = connection.ops.get_db_converters(
                field.cached_col
            ) + field.get_db_converters(connection)
            if converters:
                converting.append((index, field.cached_col, converters))
        shapes[model] = (
            fields,
            [f.attname for f in fields],
            fields.index(model._meta.pk),
            converting,
        )
    return shapes[model]


_INSERT_SQL: dict[tuple, tuple[str, list, list]] = {}


def insert_row(
    row: Model, *, with_: str = "", with_params: list | tuple = (), behind: bool = False
) -> Callable[[], None] | None:
    """Save the new instance `row` as `row.save()` would insert it (every local concrete
    field but an automatic primary key, each value prepared by its field, `auto_now`
    set; the database's returning fields read back), from SQL written once per model: a
    hot path's INSERT without compiling it. `with_`: a data-modifying statement run in the
    same statement (`WITH with_ INSERT ...`: one round trip for two writes), with its
    `with_params`. No signals are sent (as `bulk_create`).

    `behind`: sent without waiting for it where the connection can (the project's
    backend, in a transaction: kernel/db/postgresql/base.py), its returning fields (the
    new id) then left unset; its error, if any, is raised by the connection's next
    statement or COMMIT. For a row nothing reads back in the transaction's Python; or
    whose automatic primary key is set already (drawn from its sequence: then it goes
    in the INSERT, as `save()` sends a key that is set). Returns, for a row sent behind,
    a function that waits for it unless something since has (raising its error): to
    have it refused where the caller turns a refusal into a message; else None."""
    model = type(row)
    connection = connections[row._state.db or DEFAULT_DB_ALIAS]
    with_pk = row.pk is not None
    key = (model, connection.alias, with_pk)
    if key not in _INSERT_SQL:
        quote = connection.ops.quote_name
        meta = model._meta
        fields = [
            f
            for f in meta.local_concrete_fields
            if not (f.primary_key and f.db_returning and not with_pk)
            and not getattr(f, "generated", False)
        ]
        returning = list(meta.db_returning_fields)
        _INSERT_SQL[key] = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(column(f)) for f in fields)}) "  # noqa: S608 - names from the model
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"RETURNING {', '.join(quote(column(f)) for f in returning)}",
            fields,
            returning,
        )
    sql, fields, returning = _INSERT_SQL[key]
    cast(Any, row)._prepare_related_fields_for_save(operation_name="save")
    values = [f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields]
    if with_:
        sql, values = f"WITH _before AS ({with_}) {sql}", [*with_params, *values]
    pending = None
    with connection.cursor() as cursor:
        if behind and hasattr(cursor, "execute_behind"):
            # Written once per model and call site: prepared in the pipeline.
            cursor.execute_behind(plan_once(sql), values)
            found: Any = ()  # nothing read back
            returning = []
            pending = cast(Any, connection).sent_behind()  # the project's backend
        else:
            cursor.execute(sql, values)
            found = cursor.fetchone()
    for field, value in zip(returning, found, strict=True):
        for convert in field.get_db_converters(connection):
            value = convert(value, field.cached_col, connection)
        setattr(row, field.attname, value)
    row._state.adding = False
    row._state.db = connection.alias
    return pending
