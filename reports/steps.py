"""The package liability's steps (`reports.models.PackageStep`) and the time zone they
were judged in.

Each step stores what its event moved, judged on the event's local day in the zone that
`reports_step_zone()` (a database function) names: `settings.TIME_ZONE` when the steps
were built. The report checks that name in its statement and, if the setting has changed
since, works the movements out again from the stored states (exact, slower). After each
`migrate`, `sync_step_zone` (connected in `reports.apps`) names the current zone and
rebuilds every package's steps, once, when it changed, and the summaries whose days are
the steps' (`reports.LiabilityDay`, `reports_rebuild_summaries()`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection

ZONE_FUNCTION = """
CREATE OR REPLACE FUNCTION reports_step_zone() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT {zone}::text $fn$
"""


def sync_step_zone(**kwargs) -> bool:
    """Name settings.TIME_ZONE as the steps' zone and rebuild them, when it differs from
    the zone they were built in. Returns whether it rebuilt them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_proc WHERE proname = 'reports_step_zone'")
        if cursor.fetchone() is None:  # before the migration that creates the steps
            return False
        cursor.execute("SELECT reports_step_zone()")
        if cursor.fetchone()[0] == settings.TIME_ZONE:
            return False
        with connection.schema_editor() as editor:
            editor.execute(ZONE_FUNCTION.format(zone=editor.quote_value(settings.TIME_ZONE)))
            editor.execute(
                "SELECT reports_refresh_package_steps(ARRAY(SELECT id FROM packages_clientpackage))"
            )
            cursor.execute("SELECT 1 FROM pg_proc WHERE proname = 'reports_rebuild_summaries'")
            if cursor.fetchone() is not None:
                editor.execute("SELECT reports_rebuild_summaries()")
    return True
