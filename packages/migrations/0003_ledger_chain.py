"""Seal every ledger row into its package's hash chain (packages/chain.py).

Existing rows are sealed in id order per package, with the append-only trigger set aside
for this one update (as the tables' owner, inside the migration's transaction).
"""

import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models

from packages.chain import SEALED_FIELDS, seal

TABLE = "packages_creditledgerentry"


def seal_existing_rows(apps, schema_editor):
    entries = apps.get_model("packages", "CreditLedgerEntry")
    rows = entries.objects.using(schema_editor.connection.alias).order_by("client_package_id", "id")
    updates, package, previous = [], None, ""
    for row in rows.values_list("id", *SEALED_FIELDS).iterator(chunk_size=5000):
        if row[1] != package:
            package, previous = row[1], ""
        previous = seal(row[1:], previous)
        updates.append((previous, row[0]))
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
        cursor.executemany(f"UPDATE {TABLE} SET chain_hash = %s WHERE id = %s", updates)
        cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")


class Migration(migrations.Migration):
    dependencies = [
        ("calendar_app", "0004_appointmentevent_appointmentseriesevent_and_more"),
        ("catalog", "0002_default_tax_rates"),
        ("packages", "0002_clientpackageevent_clientpackageserviceevent_and_more"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name="creditledgerentry",
            name="insert_insert",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="creditledgerentry",
            name="update_update",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="creditledgerentry",
            name="delete_delete",
        ),
        migrations.AddField(
            model_name="creditledgerentry",
            name="chain_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="creditledgerentryevent",
            name="chain_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(seal_existing_rows, migrations.RunPython.noop),
        pgtrigger.migrations.AddTrigger(
            model_name="creditledgerentry",
            trigger=pgtrigger.compiler.Trigger(
                name="insert_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "packages_creditledgerentryevent" ("appointment_id", "chain_hash", "client_package_id", "created_at", "created_by_id", "id", "kind", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "quantity", "reason", "service_id") VALUES (NEW."appointment_id", NEW."chain_hash", NEW."client_package_id", NEW."created_at", NEW."created_by_id", NEW."id", NEW."kind", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."quantity", NEW."reason", NEW."service_id"); RETURN NULL;',
                    hash="19a732d80b91cba33f2693f96d6e13a5f98c3f55",
                    operation="INSERT",
                    pgid="pgtrigger_insert_insert_b7f2b",
                    table="packages_creditledgerentry",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="creditledgerentry",
            trigger=pgtrigger.compiler.Trigger(
                name="update_update",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.* IS DISTINCT FROM NEW.*)",
                    func='INSERT INTO "packages_creditledgerentryevent" ("appointment_id", "chain_hash", "client_package_id", "created_at", "created_by_id", "id", "kind", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "quantity", "reason", "service_id") VALUES (NEW."appointment_id", NEW."chain_hash", NEW."client_package_id", NEW."created_at", NEW."created_by_id", NEW."id", NEW."kind", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."quantity", NEW."reason", NEW."service_id"); RETURN NULL;',
                    hash="023976986360ece9ec31ec8509348718acb01ef1",
                    operation="UPDATE",
                    pgid="pgtrigger_update_update_e46eb",
                    table="packages_creditledgerentry",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="creditledgerentry",
            trigger=pgtrigger.compiler.Trigger(
                name="delete_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "packages_creditledgerentryevent" ("appointment_id", "chain_hash", "client_package_id", "created_at", "created_by_id", "id", "kind", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "quantity", "reason", "service_id") VALUES (OLD."appointment_id", OLD."chain_hash", OLD."client_package_id", OLD."created_at", OLD."created_by_id", OLD."id", OLD."kind", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."quantity", OLD."reason", OLD."service_id"); RETURN NULL;',
                    hash="9e2dfa93dc3a067f032f0a8162070999a9ab10a0",
                    operation="DELETE",
                    pgid="pgtrigger_delete_delete_e2e1f",
                    table="packages_creditledgerentry",
                    when="AFTER",
                ),
            ),
        ),
        migrations.AddConstraint(
            model_name="creditledgerentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("chain_hash__regex", "^[0-9a-f]{64}$")),
                name="ledger_row_is_sealed",
            ),
        ),
    ]
