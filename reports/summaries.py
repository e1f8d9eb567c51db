"""The money reports' summaries (`reports.models`: InvoiceBalance, ReceivableDay,
RevenueDay, PackageSale, SaleDay), kept exact by database triggers
(`reports/migrations/0003_rmoney_money_summaries.py`), and the time zone the package
sales' days were judged in.

Package sales count a sale on the local day of its first grant in the zone that
`reports_sales_zone()` (a database function) names: `settings.TIME_ZONE` when the rows
were built. The report checks that name and, if the setting has changed since, computes
from the ledger (exact, slower). After each `migrate`, `sync_sales_zone` (connected in
`reports.apps`) names the current zone and rebuilds every sale, once, when it changed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection

SALES_ZONE_FUNCTION = """
CREATE OR REPLACE FUNCTION reports_sales_zone() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT {zone}::text $fn$
"""


def sales_zone_is_current() -> bool:
    """Whether the sales' days were judged in `settings.TIME_ZONE`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reports_sales_zone() = %s", [settings.TIME_ZONE])
        return bool(cursor.fetchone()[0])


def sync_sales_zone(**kwargs) -> bool:
    """Name settings.TIME_ZONE as the sales' zone and rebuild them, when it differs from
    the zone they were built in. Returns whether it rebuilt them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_proc WHERE proname = 'reports_sales_zone'")
        if cursor.fetchone() is None:  # before the migration that creates the sales
            return False
        if sales_zone_is_current():
            return False
        with connection.schema_editor() as editor:
            editor.execute(
                SALES_ZONE_FUNCTION.format(zone=editor.quote_value(settings.TIME_ZONE))
            )
            editor.execute(
                "SELECT reports_refresh_sale(id) FROM packages_clientpackage ORDER BY id"
            )
    return True
