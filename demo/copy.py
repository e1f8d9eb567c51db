"""Fast inserts for the large demo: ids reserved from each table's own sequence, rows
written with PostgreSQL's COPY (psycopg), so the database's constraints, foreign keys
and audit triggers all still run, at a fraction of the cost of an INSERT per batch."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection, models
from django.utils import timezone


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` fresh primary keys from the table's sequence (one query)."""
    if count == 0:
        return []
    table = model._meta.db_table
    column = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def copy_rows(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence]) -> int:
    """COPY `rows` (tuples of the model's `fields`, by attname) into the model's table;
    return how many were written.

    The audit's insert trigger of the table is skipped for these rows (pgtrigger's own
    `pgtrigger.ignore` setting, for this transaction, put back after): a generated demo
    history has no one to attribute, and its million events would double the time.
    Every other trigger and constraint runs (append-only, foreign keys, checks)."""
    opts = model._meta
    fields, rows = _with_updated_at(model, fields, rows)
    columns = ", ".join(connection.ops.quote_name(opts.get_field(n).column) for n in fields)
    sql = f"COPY {connection.ops.quote_name(opts.db_table)} ({columns}) FROM STDIN"
    count = 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(array_agg(tgname::text), '{}') FROM pg_trigger "
            "WHERE tgrelid = %s::regclass AND tgname LIKE 'pgtrigger_insert_insert_%%'",
            [opts.db_table],
        )
        cursor.execute("SELECT set_config('pgtrigger.ignore', %s, true)", [cursor.fetchone()[0]])
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        cursor.execute("SELECT set_config('pgtrigger.ignore', '{}', true)")
    return count


def _with_updated_at(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence]
) -> tuple[Sequence[str], Iterable[Sequence]]:
    """`updated_at` (kernel.changes: kept by a trigger on UPDATE, set by Django on
    INSERT, no database default) added to rows that leave it out: the row's `created_at`
    when it has one, else now."""
    names = {f.attname for f in model._meta.concrete_fields}
    if "updated_at" not in names or "updated_at" in fields:
        return fields, rows
    if "created_at" in fields:
        at = list(fields).index("created_at")
        return [*fields, "updated_at"], ((*row, row[at]) for row in rows)
    now = timezone.now()
    return [*fields, "updated_at"], ((*row, now) for row in rows)


def concrete_attnames(model: type[models.Model]) -> list[str]:
    """Every stored column of `model`, by attname (`client_id`, not `client`)."""
    return [field.attname for field in model._meta.concrete_fields]


def copy_objects(model: type[models.Model], objs: Sequence[models.Model]) -> int:
    """COPY unsaved instances whose primary keys (and every field, including
    auto_now_add ones) are already set."""
    names = concrete_attnames(model)
    return copy_rows(model, names, ([getattr(obj, n) for n in names] for obj in objs))
