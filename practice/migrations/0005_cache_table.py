from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    # The cache lives in PostgreSQL so every server process shares it (API throttling
    # counts requests per user across all workers).
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("caspen", "0004_idempotency_key")]
    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
