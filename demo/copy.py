"""Fast inserts for the large demo: ids reserved from each table's own sequence, rows
written with PostgreSQL's COPY (psycopg), so the database's constraints, foreign keys
and audit triggers all still run, at a fraction of the cost of an INSERT per batch.
Around a copy, `summaries_rebuilt` turns the summaries' row triggers off and computes the
summaries after, set-based."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence

from django.db import connection, models
from django.utils import timezone

from invoicing import day_totals
from reports.summaries import MONEY_ROW_TABLES, refill_sql

# Row triggers that keep practice-wide summaries, on the tables the year's invoices are
# copied into: the money reports' (reports 0004) and the billing day totals' (invoicing
# 0008). Each is a per-row upsert into a few shared rows.
SUMMARY_ROW_TRIGGERS = ("reports_money", "invoicing_day_total")
# Every table those summaries are computed from: none may change while they are rebuilt.
SUMMARY_SOURCES = (
    "invoicing_invoice",
    "invoicing_invoiceline",
    "invoicing_payment",
    "invoicing_refund",
    "invoicing_creditnote",
    "invoicing_creditnoteline",
)


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


@contextlib.contextmanager
def summaries_rebuilt(targets: Sequence[type[models.Model]]) -> Iterator[bool]:
    """Write the block's rows into `targets` with the summary row triggers off, then
    compute those summaries from scratch; yields whether it could (else the triggers
    stay on).

    Each such trigger adds its row into the same few rows (a month's revenue over every
    location, a due date's receivables, a day's billing totals); inside the seed's one
    transaction no old version of a row can be pruned, so every upsert walks a longer
    update chain than the last: the year's invoices, lines and payments took over 15
    minutes. Off, they are copied at COPY's speed, and the summaries are refilled,
    set-based, by the queries the migrations filled them with and the tests compare them
    to (`reports.summaries.REBUILD`, `invoicing.day_totals`): the figures the triggers
    would have added up to, the day summaries in slot 0.

    Only the tables' owner may turn a trigger off (ALTER TABLE), and the change belongs to
    this transaction (a failure rolls it back with the rest): the tables stay locked
    against writes until it ends, and every other session only ever sees the triggers
    on, so the app role can never skip them. On a connection whose role does not own the
    tables (the seed inside a caller's transaction, as the app), the triggers stay on and
    keep the summaries row by row: exact, and slow only at size.
    """
    quote = connection.ops.quote_name
    toggles = [
        f"ALTER TABLE {quote(model._meta.db_table)} {{}} TRIGGER {quote(trigger)}"
        for model in targets
        for trigger in SUMMARY_ROW_TRIGGERS
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bool_and(pg_has_role(current_user, relowner, 'USAGE')) FROM pg_class "
            "WHERE oid = ANY(%s::regclass[])",
            [[*SUMMARY_SOURCES, *MONEY_ROW_TABLES, day_totals.TABLE]],
        )
        owner = bool(cursor.fetchone()[0])
        if owner:
            cursor.execute(
                f"LOCK TABLE {', '.join(map(quote, SUMMARY_SOURCES))} IN SHARE ROW EXCLUSIVE MODE"
            )
            for sql in toggles:
                cursor.execute(sql.format("DISABLE"))
    yield owner
    if owner:
        with connection.cursor() as cursor:
            for sql in toggles:
                cursor.execute(sql.format("ENABLE"))
            cursor.execute(refill_sql(MONEY_ROW_TABLES) + day_totals.refill_sql())
