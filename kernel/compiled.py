"""A queryset's SQL built by the ORM once per process and run again with new values.

Django compiles a queryset into SQL on every evaluation: for a query with joins or a
correlated subquery that is ~0.5-1 ms of Python, often more than the database takes to
answer it. The SQL of a given *shape* (which filters apply, how many ids an IN list
holds) never changes, only its parameters do. `CompiledQuery` builds the queryset with
stand-in values, finds each stand-in among the compiled parameters, and from then on
puts the real values at those positions: the ORM still writes the SQL (one place for
the filters), and every call still runs the query (no result is kept).

The stand-ins are checked, not trusted: the queryset is compiled twice with different
stand-ins, and every parameter that differs between the two must be one of them. A
builder that derives a parameter from a value (`start - MAX_LENGTH`) fails at once
instead of running with a stale constant; pass the derived value in instead.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet

# Values no caller passes: ids far below any key, datetimes in the year 1000.
_INT_BASE = -(2**62)
_TIME_BASE = dt.datetime(1000, 1, 1, tzinfo=dt.UTC)

# A compiled shape: the SQL, then per parameter either (name, index) of the value to put
# there (index None: the value itself, else that item of a list), or a constant.
_Slot = tuple[str, int | None]
_Compiled = tuple[str, tuple[tuple[bool, Any], ...], str] | None


class CompiledQuery:
    """`build(**values)` returns a values_list() queryset; `rows(**values)` runs its SQL
    with `values` and returns the rows as the database driver gives them (tuples).

    Values may be None or a bool (each a shape of its own: the SQL may differ), an int,
    an aware datetime, or a list of ints (a shape per length). The columns must need no
    conversion from the database (plain ids, text, numbers, timestamps): the ORM's field
    converters are not applied, and a queryset that has some is refused.
    """

    def __init__(self, build: Callable[..., QuerySet]) -> None:
        self._build = build
        self._shapes: dict[tuple, _Compiled] = {}

    def rows(self, **values: Any) -> list[tuple]:
        key = tuple((name, _shape(value)) for name, value in sorted(values.items()))
        try:
            compiled = self._shapes[key]
        except KeyError:
            compiled = self._shapes[key] = self._compile(values)
        if compiled is None:  # an empty IN list: Django runs no query for it either
            return []
        sql, slots, alias = compiled
        params = [_value(values, item) if is_slot else item for is_slot, item in slots]
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def _compile(self, values: dict[str, Any]) -> _Compiled:
        counter = itertools.count(1)
        first, first_where = _stand_ins(values, counter)
        second, _ = _stand_ins(values, counter)
        try:
            queryset = self._build(**first)
            compiler = queryset.query.get_compiler(queryset.db)
            sql, params = compiler.as_sql()
            other_sql, other_params = self._build(**second).query.sql_with_params()
        except EmptyResultSet:
            return None
        if compiler.get_converters([column[0] for column in compiler.select]):
            raise TypeError("CompiledQuery: a column needs a converter; select plain columns")
        if sql != other_sql or len(params) != len(other_params):
            raise ValueError("CompiledQuery: the SQL depends on the values, not only the shape")
        slots: list[tuple[bool, Any]] = []
        for param, other in zip(params, other_params, strict=True):
            key = _key(param)
            where = first_where.get(key) if key is not None else None
            if where is not None:
                slots.append((True, where))
            elif param == other:
                slots.append((False, param))
            else:
                raise ValueError(f"CompiledQuery: parameter {param!r} is derived from a value")
        return sql, tuple(slots), queryset.db


def _shape(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return dt.datetime
    if isinstance(value, list | tuple) and all(
        isinstance(item, int) and not isinstance(item, bool) for item in value
    ):
        return (list, len(value))
    raise TypeError(f"CompiledQuery: unsupported value {value!r}")


def _stand_ins(values: dict[str, Any], counter) -> tuple[dict[str, Any], dict[tuple, _Slot]]:
    """The values with stand-ins, and where each stand-in came from."""
    given: dict[str, Any] = {}
    where: dict[tuple, _Slot] = {}
    for name, value in values.items():
        if value is None or isinstance(value, bool):
            given[name] = value
        elif isinstance(value, int):
            given[name] = _INT_BASE - next(counter)
            where[(type(given[name]), given[name])] = (name, None)
        elif isinstance(value, dt.datetime):
            given[name] = _TIME_BASE + dt.timedelta(seconds=next(counter))
            where[(type(given[name]), given[name])] = (name, None)
        else:
            items = [_INT_BASE - next(counter) for _ in value]
            given[name] = items
            for index, item in enumerate(items):
                where[(int, item)] = (name, index)
    return given, where


def _key(param: Any) -> tuple | None:
    try:
        hash(param)
    except TypeError:  # a list or a dict given whole: never a stand-in
        return None
    return (type(param), param)


def _value(values: dict[str, Any], slot: _Slot) -> Any:
    name, index = slot
    return values[name] if index is None else values[name][index]
