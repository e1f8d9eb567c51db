"""Every index of the product's own tables earns its place: none repeats another or is
the first columns of another (each costs every INSERT, and every UPDATE that is not HOT,
one more index entry: a booking wrote 8 such entries for nothing, issue 10). Foreign keys
whose lookups another index already serves say `db_index=False`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection

COVERED = """
WITH idx AS (
    SELECT t.relname::text AS tbl, c.relname AS name, i.indkey::text AS keys,
           i.indclass::text AS ops,
           i.indisunique AS uniq, i.indpred IS NULL AS whole, i.indexprs IS NULL AS plain,
           am.amname AS am
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_am am ON am.oid = c.relam
)
SELECT a.tbl, a.name, b.name
FROM idx a JOIN idx b ON a.tbl = b.tbl AND a.name <> b.name
WHERE a.am = 'btree' AND b.am = 'btree' AND NOT a.uniq
  AND a.whole AND b.whole AND a.plain AND b.plain
  AND (b.keys = a.keys OR b.keys LIKE a.keys || ' %%')
  -- with the same operator classes (a text_pattern_ops index serves LIKE 'x%%' alone)
  AND (b.ops = a.ops OR b.ops LIKE a.ops || ' %%')
  AND a.tbl = ANY(%s)
ORDER BY 1, 2
"""


def _own_tables() -> list[str]:
    """The tables of the product's own apps: those whose package sits at the project's top
    level (third-party ones, Django's and axes', are theirs to keep)."""
    tables = []
    own = [c for c in apps.get_app_configs() if Path(c.path).parent == settings.BASE_DIR]
    for config in own:
        for model in config.get_models(include_auto_created=True):
            owner = model._meta.auto_created or model  # a many-to-many's own table: its model's
            if not model._meta.proxy and not owner._meta.proxy:
                tables.append(model._meta.db_table)
    return tables


@pytest.mark.django_db
def test_no_index_of_the_products_tables_is_covered_by_another():
    tables = _own_tables()
    assert "calendar_app_appointment" in tables and "packages_creditledgerentry" in tables
    with connection.cursor() as cursor:
        cursor.execute(COVERED, [tables])
        covered = cursor.fetchall()
    assert covered == [], "\n".join(f"{t}: {a} is covered by {b}" for t, a, b in covered)


@pytest.mark.django_db
def test_the_covered_check_finds_a_covered_index():
    """The check above can fail: an index on the first columns of another, or on the same
    columns, is found; one with other operator classes (for LIKE) or a condition is not."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE covered_probe (a text, b int, c int)")
        for sql in (
            "CREATE INDEX probe_ab ON covered_probe (a, b)",
            "CREATE INDEX probe_a ON covered_probe (a)",  # covered by probe_ab
            "CREATE INDEX probe_c ON covered_probe (c)",
            "CREATE INDEX probe_c_again ON covered_probe (c)",  # covered by probe_c
            "CREATE INDEX probe_a_like ON covered_probe (a text_pattern_ops)",  # not covered
            "CREATE INDEX probe_b_some ON covered_probe (b) WHERE c > 0",  # not covered
        ):
            cursor.execute(sql)
        cursor.execute(COVERED, [["covered_probe"]])
        found = cursor.fetchall()
    assert found == [
        ("covered_probe", "probe_a", "probe_ab"),
        ("covered_probe", "probe_c", "probe_c_again"),
        ("covered_probe", "probe_c_again", "probe_c"),
    ]


@pytest.mark.django_db
def test_the_migrations_make_the_models_schema():
    """No model change is left without its migration (the indexes dropped above are
    migrations that change the models' state and the database alike)."""
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
