"""The package liability's read model (`reports.models.PackageStep`), kept by triggers.

`reports_refresh_package_steps(ids)` rebuilds the steps of the given client packages from
their events: every ledger row, expiry change and the cancellation, in order (recorded
time, then ledger row, expiry change, cancellation, then id), with what the package was
just before and just after each. Triggers call it for the packages a statement touched:
after ledger rows or expiry changes are inserted (once per statement, from its transition
table, so a bulk insert rebuilds each package once), after a client package's amount, tax
rate, expiry date or cancellation changes, and after a tax rate's rate changes (for every
package with that rate). Services write a package's events under its row lock, so two
transactions never rebuild the same package's steps at once. The existing packages are
rebuilt here, once.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from reports.steps import ZONE_FUNCTION

REFRESH = """
-- SECURITY DEFINER: it runs as the tables' owner, so the app role, which may only read
-- the steps (kernel.database), keeps them through the triggers and nothing else.
CREATE OR REPLACE FUNCTION reports_refresh_package_steps(ids bigint[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
WITH pk AS (
    SELECT cp.id,
           (100 * cp.price)::bigint AS p_ex,
           (100 * CASE WHEN tr.rate IS NOT NULL
                       THEN cp.price - ROUND(cp.price * tr.rate / (100 + tr.rate), 2)
                       ELSE cp.price END)::bigint AS p_in,
           -- the expiry date as sold: before the first change, else the date now
           CASE WHEN fx.found THEN fx.old_expires_on ELSE cp.expires_on END AS exp_sold,
           cp.canceled_at
    FROM packages_clientpackage cp
    LEFT JOIN catalog_taxrate tr ON tr.id = cp.tax_rate_id
    LEFT JOIN LATERAL (
        SELECT TRUE AS found, e.old_expires_on FROM packages_expirychange e
        WHERE e.client_package_id = cp.id ORDER BY e.created_at, e.id LIMIT 1
    ) fx ON TRUE
    WHERE cp.id = ANY(ids)
),
ev AS (
    SELECT l.client_package_id AS cp, l.created_at AS t, 0 AS ord, l.id AS src,
           l.kind::text AS kind,
           CASE WHEN l.kind IN ('grant', 'adjust') THEN l.quantity ELSE 0 END AS dc,
           CASE WHEN l.kind IN ('consume', 'release') THEN -l.quantity ELSE 0 END AS dk,
           NULL::date AS new_exp
    FROM packages_creditledgerentry l WHERE l.client_package_id = ANY(ids)
    UNION ALL
    SELECT e.client_package_id, e.created_at, 1, e.id, 'extend', 0, 0, e.new_expires_on
    FROM packages_expirychange e WHERE e.client_package_id = ANY(ids)
    UNION ALL
    SELECT pk.id, pk.canceled_at, 2, 0, 'cancel', 0, 0, NULL
    FROM pk WHERE pk.canceled_at IS NOT NULL
),
w1 AS (
    -- One window: after each event, C, k, canceled, the expiry dates set so far, and
    -- when the next event came.
    SELECT ev.*, pk.p_ex, pk.p_in, pk.exp_sold,
           SUM(dc) OVER w AS c,
           SUM(dk) OVER w AS k,
           BOOL_OR(kind = 'cancel') OVER w AS x,
           ARRAY_AGG(new_exp) FILTER (WHERE kind = 'extend') OVER w AS xs,
           LEAD(t) OVER w AS nt
    FROM ev JOIN pk ON pk.id = ev.cp
    WINDOW w AS (PARTITION BY ev.cp ORDER BY t, ord, src ROWS UNBOUNDED PRECEDING)
),
w2 AS (
    SELECT cp, t, ord, src, kind, c, k, x,
           CASE WHEN xs IS NULL THEN exp_sold ELSE xs[CARDINALITY(xs)] END AS exp,
           c - dc AS c0, k - dk AS k0, x AND kind <> 'cancel' AS x0,
           CASE WHEN kind <> 'extend' THEN
                     CASE WHEN xs IS NULL THEN exp_sold ELSE xs[CARDINALITY(xs)] END
                WHEN CARDINALITY(xs) = 1 THEN exp_sold
                ELSE xs[CARDINALITY(xs) - 1] END AS exp0,
           p_ex, p_in, nt,
           (t AT TIME ZONE reports_step_zone())::date AS d
    FROM w1
),
w3 AS (
    -- live after and before the event, on its local day
    SELECT w2.*,
           (c > 0 AND NOT x AND (exp IS NULL OR d <= exp)) AS la,
           (c0 > 0 AND NOT x0 AND (exp0 IS NULL OR d <= exp0)) AS lb
    FROM w2
),
new AS (
    -- held = P - V(k), V(k) = round_half_up(P * k / C) in cents = (2Pk + C) div 2C;
    -- an event moves held(after) - held(before)
    SELECT cp, t, ord, src, kind, c, k, x, exp, c0, k0, x0, exp0, p_ex, p_in, nt,
           CASE WHEN la THEN c - k ELSE 0 END - CASE WHEN lb THEN c0 - k0 ELSE 0 END AS dn,
           CASE WHEN la THEN p_ex - (2 * p_ex * k + c) / (2 * c) ELSE 0 END
             - CASE WHEN lb THEN p_ex - (2 * p_ex * k0 + c0) / (2 * c0) ELSE 0 END AS dv_ex,
           CASE WHEN la THEN p_in - (2 * p_in * k + c) / (2 * c) ELSE 0 END
             - CASE WHEN lb THEN p_in - (2 * p_in * k0 + c0) / (2 * c0) ELSE 0 END AS dv_in
    FROM w3
),
-- Only what changed is written: usually the package's last step (its `nt`) and the new
-- one. Both statements see the steps as they were, so a step equal in both stays.
gone AS (
    DELETE FROM reports_packagestep o
    WHERE o.client_package_id = ANY(ids) AND NOT EXISTS (
        SELECT 1 FROM new n
        WHERE n.cp = o.client_package_id
          AND (n.t, n.ord, n.src, n.kind, n.c, n.k, n.x, n.exp, n.c0, n.k0, n.x0, n.exp0,
               n.p_ex, n.p_in, n.nt, n.dn, n.dv_ex, n.dv_in)
              IS NOT DISTINCT FROM
              (o.t, o.ord, o.src, o.kind, o.c, o.k, o.x, o.exp, o.c0, o.k0, o.x0, o.exp0,
               o.p_ex, o.p_in, o.nt, o.dn, o.dv_ex, o.dv_in))
)
INSERT INTO reports_packagestep
    (client_package_id, t, ord, src, kind, c, k, x, exp, c0, k0, x0, exp0, p_ex, p_in, nt,
     dn, dv_ex, dv_in)
SELECT n.* FROM new n
WHERE NOT EXISTS (
    SELECT 1 FROM reports_packagestep o
    WHERE o.client_package_id = n.cp
      AND (n.t, n.ord, n.src, n.kind, n.c, n.k, n.x, n.exp, n.c0, n.k0, n.x0, n.exp0,
           n.p_ex, n.p_in, n.nt, n.dn, n.dv_ex, n.dv_in)
          IS NOT DISTINCT FROM
          (o.t, o.ord, o.src, o.kind, o.c, o.k, o.x, o.exp, o.c0, o.k0, o.x0, o.exp0,
           o.p_ex, o.p_in, o.nt, o.dn, o.dv_ex, o.dv_in));
$fn$;

CREATE OR REPLACE FUNCTION reports_steps_new_events() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM reports_refresh_package_steps(
        ARRAY(SELECT DISTINCT client_package_id FROM new_rows));
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION reports_steps_package_changed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM reports_refresh_package_steps(ARRAY[NEW.id]);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION reports_steps_rate_changed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM reports_refresh_package_steps(
        ARRAY(SELECT id FROM packages_clientpackage WHERE tax_rate_id = NEW.id));
    RETURN NULL;
END
$fn$;

CREATE TRIGGER reports_steps_ledger AFTER INSERT ON packages_creditledgerentry
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reports_steps_new_events();
CREATE TRIGGER reports_steps_expiry AFTER INSERT ON packages_expirychange
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reports_steps_new_events();
CREATE TRIGGER reports_steps_package AFTER UPDATE ON packages_clientpackage
    FOR EACH ROW WHEN (
        OLD.canceled_at IS DISTINCT FROM NEW.canceled_at
        OR OLD.price IS DISTINCT FROM NEW.price
        OR OLD.tax_rate_id IS DISTINCT FROM NEW.tax_rate_id
        OR OLD.expires_on IS DISTINCT FROM NEW.expires_on)
    EXECUTE FUNCTION reports_steps_package_changed();
CREATE TRIGGER reports_steps_tax_rate AFTER UPDATE ON catalog_taxrate
    FOR EACH ROW WHEN (OLD.rate IS DISTINCT FROM NEW.rate)
    EXECUTE FUNCTION reports_steps_rate_changed();

-- The steps in effect at an instant S (t < S <= nt) of packages holding something, read
-- from the index alone (an index-only scan needs the columns under the expression too).
CREATE INDEX reports_step_held ON reports_packagestep
    USING gist (tstzrange(t, nt, '(]'))
    INCLUDE (t, nt, c, k, x, exp, p_ex, p_in, client_package_id)
    WHERE c > k AND NOT x;
-- The movements of a period, read from the index alone.
CREATE INDEX reports_step_moves ON reports_packagestep
    (t) INCLUDE (kind, dn, dv_ex, dv_in, client_package_id, ord, src);

SELECT reports_refresh_package_steps(ARRAY(SELECT id FROM packages_clientpackage));
"""

DROP = """
DROP TRIGGER IF EXISTS reports_steps_ledger ON packages_creditledgerentry;
DROP TRIGGER IF EXISTS reports_steps_expiry ON packages_expirychange;
DROP TRIGGER IF EXISTS reports_steps_package ON packages_clientpackage;
DROP TRIGGER IF EXISTS reports_steps_tax_rate ON catalog_taxrate;
DROP FUNCTION IF EXISTS reports_steps_new_events();
DROP FUNCTION IF EXISTS reports_steps_package_changed();
DROP FUNCTION IF EXISTS reports_steps_rate_changed();
DROP FUNCTION IF EXISTS reports_refresh_package_steps(bigint[]);
DROP INDEX IF EXISTS reports_step_held;
DROP INDEX IF EXISTS reports_step_moves;
DROP FUNCTION IF EXISTS reports_step_zone();
"""


def create_zone(apps, schema_editor):
    # The zone whose local days the steps' movements are judged in (reports.steps).
    schema_editor.execute(ZONE_FUNCTION.format(zone=schema_editor.quote_value(settings.TIME_ZONE)))


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("packages", "0005_list_indexes"),
        ("catalog", "0003_audit_reference_data"),
    ]

    operations = [
        migrations.CreateModel(
            name="PackageStep",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("t", models.DateTimeField()),
                ("ord", models.SmallIntegerField()),
                ("src", models.BigIntegerField()),
                ("kind", models.CharField(max_length=10)),
                ("c", models.IntegerField()),
                ("k", models.IntegerField()),
                ("x", models.BooleanField()),
                ("exp", models.DateField(null=True)),
                ("c0", models.IntegerField()),
                ("k0", models.IntegerField()),
                ("x0", models.BooleanField()),
                ("exp0", models.DateField(null=True)),
                ("p_ex", models.BigIntegerField()),
                ("p_in", models.BigIntegerField()),
                ("nt", models.DateTimeField(null=True)),
                ("dn", models.IntegerField()),
                ("dv_ex", models.BigIntegerField()),
                ("dv_in", models.BigIntegerField()),
                (
                    "client_package",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="packages.clientpackage",
                    ),
                ),
            ],
            options={"default_permissions": ()},
        ),
        migrations.RunPython(create_zone, migrations.RunPython.noop),
        migrations.RunSQL(REFRESH, DROP),
    ]
