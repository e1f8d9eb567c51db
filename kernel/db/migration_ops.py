"""Migration operations the apps share."""

from __future__ import annotations

from django.db import migrations


def drop_covered_fk_indexes(
    state_operations: list, indexes: dict[str, tuple[str, str]]
) -> migrations.SeparateDatabaseAndState:
    """The `AlterField(db_index=False)` of foreign keys whose own index another index
    already covers (an index on the same column first, or a unique constraint starting
    with it), applied to the database as the DROP INDEX alone.

    Django's own AlterField would also drop and re-add each foreign key's constraint,
    which checks every row of the table again under a lock: nothing changes in the
    constraint, so nothing is checked. `indexes`: index name -> (table, column), for
    the way back (CREATE INDEX)."""
    database_operations = [
        migrations.RunSQL(
            f'DROP INDEX IF EXISTS "{name}"',
            reverse_sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")',
        )
        for name, (table, column) in indexes.items()
    ]
    return migrations.SeparateDatabaseAndState(
        state_operations=state_operations, database_operations=database_operations
    )
