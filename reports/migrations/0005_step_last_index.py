"""Each client package's last step (`nt IS NULL`: the state in effect now) found through
an index of those steps alone.

The ledger trigger (0003, `reports_steps_new_ledger_rows`) looks up the package's last
step for every ledger row it records: a booking's consume, an unlink's release. Through
the index on `client_package_id` it read every step the package had and kept one, so a
booking cost more with each credit the package had used (a 1,000-credit package: up to
2,000 steps read). This index holds one entry a package, its last step.
"""

from django.db import migrations

CREATE = """
CREATE INDEX reports_step_last ON reports_packagestep (client_package_id) WHERE nt IS NULL;
"""

DROP = "DROP INDEX IF EXISTS reports_step_last;"


class Migration(migrations.Migration):
    dependencies = [("reports", "0004_rmoney_money_summaries")]

    operations = [migrations.RunSQL(CREATE, DROP)]
