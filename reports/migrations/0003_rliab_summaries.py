"""Summaries of the package reports kept by the database (`reports.LiabilityDay`,
`reports.ExpiryDay`): a report then reads a few rows per day instead of every event.

`reports_liabilityday`: per local day and kind, what the package steps moved, and under
"expire" what packages stopped holding when an expiry date passed (on the day after it).
Statement triggers on `reports_packagestep` add what a statement inserts and subtract
what it deletes (the steps' rebuild writes only the rows that change), so the sums are
those of the steps, in the same transaction.

`reports_expiryday`: per expiry date, the client packages still usable (not canceled,
credits left): how many, their credits left and what they hold in cents for each tax
setting. Statement triggers on `packages_clientpackage` (insert, update, delete) and on
`catalog_taxrate` (a rate changes what a package holds when prices include tax) keep it.

Each writing transaction adds into a slot it holds alone (`reports_summary_slot()`: the
first slot whose advisory lock is free, held until it ends), so writers never wait on
each other's summary rows, and the rows stay few (slots × days). The functions run as
the tables' owner (SECURITY DEFINER); the app role may only read the tables.
`reports_rebuild_summaries()` fills both from scratch (here, and after the steps' zone
changes: reports.steps.sync_step_zone).
"""

from django.db import migrations, models

# What steps (a table or transition table `{rows}`) put into the day summary.
STEP_PARTS = """
SELECT (s.t AT TIME ZONE reports_step_zone())::date AS day, s.kind::text AS kind,
       s.dn::bigint AS n, s.dv_ex AS v_ex, s.dv_in AS v_in
FROM {rows} s
WHERE s.dn <> 0 OR s.dv_ex <> 0 OR s.dv_in <> 0
UNION ALL
-- a state live on its event's day that still held when its expiry date's next day began
SELECT s.exp + 1, 'expire', -(s.c - s.k)::bigint,
       (2 * s.p_ex * s.k + s.c) / (2 * s.c) - s.p_ex,
       (2 * s.p_in * s.k + s.c) / (2 * s.c) - s.p_in
FROM {rows} s
WHERE s.c > 0 AND NOT s.x AND s.exp IS NOT NULL
  AND (s.t AT TIME ZONE reports_step_zone())::date <= s.exp
  AND (s.nt IS NULL OR (s.nt AT TIME ZONE reports_step_zone())::date > s.exp)
"""

# What client packages (`{rows}`, their tax rates from `{rates}`) put into the expiry
# summary: the rule of reports.selectors.expiring._held_value.
PACKAGE_PARTS = """
SELECT r.expires_on AS day, 1::bigint AS n, (r.credits - r.consumed)::bigint AS credits,
       p.p_ex - (2 * p.p_ex * r.consumed + r.credits) / (2 * r.credits) AS v_ex,
       p.p_in - (2 * p.p_in * r.consumed + r.credits) / (2 * r.credits) AS v_in
FROM {rows} r
{join} {rates} tr ON tr.id = r.tax_rate_id
CROSS JOIN LATERAL (
    SELECT (100 * r.price)::bigint AS p_ex,
           (100 * CASE WHEN tr.rate IS NOT NULL
                       THEN r.price - ROUND(r.price * tr.rate / (100 + tr.rate), 2)
                       ELSE r.price END)::bigint AS p_in
) p
WHERE r.canceled_at IS NULL AND r.credits > r.consumed AND r.expires_on IS NOT NULL
"""

ADD_DAYS = """
INSERT INTO reports_liabilityday AS d (day, kind, slot, n, v_ex, v_in)
SELECT day, kind, {slot}, {sign} * SUM(n), {sign} * SUM(v_ex), {sign} * SUM(v_in)
FROM ({parts}) p GROUP BY day, kind ORDER BY day, kind
ON CONFLICT (day, kind, slot) DO UPDATE
SET n = d.n + EXCLUDED.n, v_ex = d.v_ex + EXCLUDED.v_ex, v_in = d.v_in + EXCLUDED.v_in;
"""

ADD_EXPIRY = """
INSERT INTO reports_expiryday AS d (day, slot, n, credits, v_ex, v_in)
SELECT day, {slot}, {sign} * SUM(n), {sign} * SUM(credits), {sign} * SUM(v_ex),
       {sign} * SUM(v_in)
FROM ({parts}) p GROUP BY day ORDER BY day
ON CONFLICT (day, slot) DO UPDATE
SET n = d.n + EXCLUDED.n, credits = d.credits + EXCLUDED.credits,
    v_ex = d.v_ex + EXCLUDED.v_ex, v_in = d.v_in + EXCLUDED.v_in;
"""


def _days(rows: str, sign: int, slot: str = "s") -> str:
    return ADD_DAYS.format(slot=slot, sign=sign, parts=STEP_PARTS.format(rows=rows))


def _expiry(rows: str, sign: int, rates: str = "catalog_taxrate", join="LEFT JOIN") -> str:
    parts = PACKAGE_PARTS.format(rows=rows, rates=rates, join=join)
    return ADD_EXPIRY.format(slot="s", sign=sign, parts=parts)


def _keep(function: str, summary: str, add) -> str:
    """A trigger function adding a statement's new rows and subtracting its old ones."""
    return f"""
CREATE FUNCTION {function}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE s smallint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM {summary};
        RETURN NULL;
    END IF;
    s := reports_summary_slot();
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        {add("new_rows", 1)}
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        {add("old_rows", -1)}
    END IF;
    RETURN NULL;
END $fn$;
"""


FUNCTIONS = f"""
-- The slot this transaction writes summaries into: the first one whose advisory lock no
-- other open transaction holds (held until this one ends).
CREATE FUNCTION reports_summary_slot() RETURNS smallint
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE s integer := 0;
BEGIN
    LOOP
        IF pg_try_advisory_xact_lock(1919250543, s) THEN
            RETURN s;
        END IF;
        s := s + 1;
    END LOOP;
END $fn$;

{_keep("reports_liability_days_keep", "reports_liabilityday", _days)}
{_keep("reports_expiry_days_keep", "reports_expiryday", _expiry)}
-- A tax rate's rate changed: its packages hold another value when prices include tax.
CREATE FUNCTION reports_expiry_days_rate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE s smallint;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE o.rate <> n.rate
    ) THEN
        RETURN NULL;
    END IF;
    s := reports_summary_slot();
    {_expiry("packages_clientpackage", -1, "old_rows", "JOIN")}
    {_expiry("packages_clientpackage", 1, "new_rows", "JOIN")}
    RETURN NULL;
END $fn$;

CREATE FUNCTION reports_rebuild_summaries() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE s smallint := reports_summary_slot();
BEGIN
    DELETE FROM reports_liabilityday;
    DELETE FROM reports_expiryday;
    {_days("reports_packagestep", 1)}
    {_expiry("packages_clientpackage", 1)}
END $fn$;
"""

# New ledger rows: a package's one new row recorded after its last step (a booking, a
# credit given back, an adjustment) appends its step from that last step's state, and
# sets the last step's `nt`; exactly the rows a rebuild would write, since an event
# after all the others changes no earlier step but the last one's `nt` (the rebuild is
# one window over the events in order; the amounts and the expiry as sold come from
# other tables, whose changes rebuild the package). Any other package (its first event,
# several rows in one statement, a row sorting before its last step) is rebuilt.
APPEND = """
CREATE FUNCTION reports_steps_new_ledger_rows() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE rebuild bigint[];
BEGIN
    WITH per AS (
        SELECT l.*, COUNT(*) OVER (PARTITION BY l.client_package_id) AS cnt FROM new_rows l
    ),
    app AS (
        SELECT per.client_package_id AS cp, per.created_at AS t, per.id AS src,
               per.kind::text AS kind, s.id AS last_id,
               s.c AS c0, s.k AS k0, s.x AS x0, s.exp AS exp0, s.p_ex, s.p_in,
               s.c + CASE WHEN per.kind IN ('grant', 'adjust') THEN per.quantity ELSE 0 END AS c,
               s.k + CASE WHEN per.kind IN ('consume', 'release') THEN -per.quantity ELSE 0 END
                   AS k,
               (per.created_at AT TIME ZONE reports_step_zone())::date AS d
        FROM per
        JOIN LATERAL (
            SELECT st.* FROM reports_packagestep st
            WHERE st.client_package_id = per.client_package_id AND st.nt IS NULL
            ORDER BY st.t DESC, st.ord DESC, st.src DESC
            LIMIT 1
        ) s ON TRUE
        WHERE per.cnt = 1 AND (per.created_at, 0, per.id) > (s.t, s.ord, s.src)
    ),
    live AS (
        SELECT app.*,
               (c > 0 AND NOT x0 AND (exp0 IS NULL OR d <= exp0)) AS la,
               (c0 > 0 AND NOT x0 AND (exp0 IS NULL OR d <= exp0)) AS lb
        FROM app
    ),
    closed AS (
        UPDATE reports_packagestep o SET nt = live.t FROM live WHERE o.id = live.last_id
    ),
    added AS (
        INSERT INTO reports_packagestep
            (client_package_id, t, ord, src, kind, c, k, x, exp, c0, k0, x0, exp0, p_ex, p_in,
             nt, dn, dv_ex, dv_in)
        SELECT cp, t, 0, src, kind, c, k, x0, exp0, c0, k0, x0, exp0, p_ex, p_in, NULL,
               CASE WHEN la THEN c - k ELSE 0 END - CASE WHEN lb THEN c0 - k0 ELSE 0 END,
               CASE WHEN la THEN p_ex - (2 * p_ex * k + c) / (2 * c) ELSE 0 END
                 - CASE WHEN lb THEN p_ex - (2 * p_ex * k0 + c0) / (2 * c0) ELSE 0 END,
               CASE WHEN la THEN p_in - (2 * p_in * k + c) / (2 * c) ELSE 0 END
                 - CASE WHEN lb THEN p_in - (2 * p_in * k0 + c0) / (2 * c0) ELSE 0 END
        FROM live
        RETURNING client_package_id
    )
    SELECT ARRAY(
        SELECT DISTINCT client_package_id FROM new_rows
        EXCEPT SELECT client_package_id FROM added
    ) INTO rebuild;
    IF CARDINALITY(rebuild) > 0 THEN
        PERFORM reports_refresh_package_steps(rebuild);
    END IF;
    RETURN NULL;
END
$fn$;

DROP TRIGGER reports_steps_ledger ON packages_creditledgerentry;
CREATE TRIGGER reports_steps_ledger AFTER INSERT ON packages_creditledgerentry
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reports_steps_new_ledger_rows();
"""

UNDO_APPEND = """
DROP TRIGGER reports_steps_ledger ON packages_creditledgerentry;
CREATE TRIGGER reports_steps_ledger AFTER INSERT ON packages_creditledgerentry
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reports_steps_new_events();
DROP FUNCTION reports_steps_new_ledger_rows();
"""

def _keep_triggers(prefix: str, table: str) -> str:
    """The statement triggers calling `{prefix}_keep()` on `table`'s changes."""
    function = f"EXECUTE FUNCTION {prefix}_keep()"
    return f"""
CREATE TRIGGER {prefix}_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT {function};
CREATE TRIGGER {prefix}_update AFTER UPDATE ON {table}
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT {function};
CREATE TRIGGER {prefix}_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT {function};
CREATE TRIGGER {prefix}_truncate AFTER TRUNCATE ON {table} FOR EACH STATEMENT {function};
"""


TRIGGERS = f"""
{_keep_triggers("reports_liability_days", "reports_packagestep")}
{_keep_triggers("reports_expiry_days", "packages_clientpackage")}
CREATE TRIGGER reports_expiry_days_rate AFTER UPDATE ON catalog_taxrate
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reports_expiry_days_rate();

-- Expiring soon's rows: the usable packages by expiry date.
CREATE INDEX reports_usable_by_expiry ON packages_clientpackage (expires_on, id)
    WHERE canceled_at IS NULL AND credits > consumed;

SELECT reports_rebuild_summaries();
"""

DROP = """
DROP TRIGGER IF EXISTS reports_liability_days_insert ON reports_packagestep;
DROP TRIGGER IF EXISTS reports_liability_days_update ON reports_packagestep;
DROP TRIGGER IF EXISTS reports_liability_days_delete ON reports_packagestep;
DROP TRIGGER IF EXISTS reports_liability_days_truncate ON reports_packagestep;
DROP TRIGGER IF EXISTS reports_expiry_days_insert ON packages_clientpackage;
DROP TRIGGER IF EXISTS reports_expiry_days_update ON packages_clientpackage;
DROP TRIGGER IF EXISTS reports_expiry_days_delete ON packages_clientpackage;
DROP TRIGGER IF EXISTS reports_expiry_days_truncate ON packages_clientpackage;
DROP TRIGGER IF EXISTS reports_expiry_days_rate ON catalog_taxrate;
DROP INDEX IF EXISTS reports_usable_by_expiry;
DROP FUNCTION IF EXISTS reports_rebuild_summaries();
DROP FUNCTION IF EXISTS reports_expiry_days_rate();
DROP FUNCTION IF EXISTS reports_expiry_days_keep();
DROP FUNCTION IF EXISTS reports_liability_days_keep();
DROP FUNCTION IF EXISTS reports_summary_slot();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0002_package_steps"),
        ("packages", "0007_row_count"),
        ("catalog", "0005_updated_at"),
    ]

    operations = [
        migrations.CreateModel(
            name="ExpiryDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("slot", models.SmallIntegerField()),
                ("n", models.BigIntegerField()),
                ("credits", models.BigIntegerField()),
                ("v_ex", models.BigIntegerField()),
                ("v_in", models.BigIntegerField()),
            ],
            options={
                "default_permissions": (),
                "constraints": [
                    models.UniqueConstraint(fields=("day", "slot"), name="expiry_day_key")
                ],
            },
        ),
        migrations.CreateModel(
            name="LiabilityDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("kind", models.CharField(max_length=10)),
                ("slot", models.SmallIntegerField()),
                ("n", models.BigIntegerField()),
                ("v_ex", models.BigIntegerField()),
                ("v_in", models.BigIntegerField()),
            ],
            options={
                "default_permissions": (),
                "constraints": [
                    models.UniqueConstraint(
                        fields=("day", "kind", "slot"), name="liability_day_key"
                    )
                ],
            },
        ),
        migrations.RunSQL(FUNCTIONS + TRIGGERS, DROP),
        migrations.RunSQL(APPEND, UNDO_APPEND),
    ]
