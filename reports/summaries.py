"""The money reports' summaries (`reports.models`: InvoiceBalance, ReceivableDay,
RevenueDay, PackageSale, SaleDay), kept exact by database triggers
(`reports/migrations/0004_rmoney_money_summaries.py`), and the time zone the package
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
            editor.execute(SALES_ZONE_FUNCTION.format(zone=editor.quote_value(settings.TIME_ZONE)))
            editor.execute(
                "SELECT reports_refresh_sale(id) FROM packages_clientpackage ORDER BY id"
            )
    return True


# Each summary table computed from scratch, in the order they are filled (the receivables
# read the balances, the sale days the sales): (table, its columns, the SELECT). The
# migration fills the tables with them; the tests compare the kept rows with them.
REBUILD: tuple[tuple[str, str, str], ...] = (
    (
        "reports_invoicebalance",
        "invoice_id, balance",
        """
SELECT t.invoice_id, SUM(t.amount) FROM (
    SELECT invoice_id, total_amount AS amount FROM invoicing_invoiceline
    UNION ALL
    SELECT invoice_id, -amount FROM invoicing_payment WHERE status = 'active'
    UNION ALL
    SELECT p.invoice_id, r.amount FROM invoicing_refund r
    JOIN invoicing_payment p ON p.id = r.payment_id WHERE p.status = 'active'
    UNION ALL
    SELECT invoice_id, -total_amount FROM invoicing_creditnote
) t JOIN invoicing_invoice i ON i.id = t.invoice_id
GROUP BY t.invoice_id""",
    ),
    (
        "reports_receivableday",
        "due_date, location_id, practitioner_id, n, balance",
        """
SELECT i.due_date, COALESCE(i.location_id, 0), COALESCE(i.practitioner_id, 0),
       COUNT(*), SUM(b.balance)
FROM invoicing_invoice i JOIN reports_invoicebalance b ON b.invoice_id = i.id
WHERE i.status = 'open' AND b.balance > 0
GROUP BY GROUPING SETS ((1, i.location_id, i.practitioner_id), (1, i.location_id), (1))""",
    ),
    (
        "reports_revenueday",
        "span, day, location_id, practitioner_id, n, net, tax, paid, refunded",
        """
SELECT span, CASE WHEN span = 'd' THEN day ELSE DATE_TRUNC('month', day)::date END,
       COALESCE(loc, 0), COALESCE(prac, 0),
       COUNT(*), SUM(net), SUM(tax), SUM(paid), SUM(refunded)
FROM (VALUES ('d'), ('m')) sp(span), (
    SELECT i.issue_date AS day, i.location_id AS loc, i.practitioner_id AS prac,
           l.net_amount AS net, l.tax_amount AS tax, 0 AS paid, 0 AS refunded
    FROM invoicing_invoiceline l JOIN invoicing_invoice i ON i.id = l.invoice_id
    WHERE i.status IN ('open', 'paid')
    UNION ALL
    SELECT c.date, i.location_id, i.practitioner_id, -cl.net_amount, -cl.tax_amount, 0, 0
    FROM invoicing_creditnoteline cl
    JOIN invoicing_creditnote c ON c.id = cl.credit_note_id
    JOIN invoicing_invoice i ON i.id = c.invoice_id
    WHERE i.status IN ('open', 'paid')
    UNION ALL
    SELECT p.date, i.location_id, i.practitioner_id, 0, 0, p.amount, 0
    FROM invoicing_payment p JOIN invoicing_invoice i ON i.id = p.invoice_id
    WHERE p.status = 'active'
    UNION ALL
    SELECT r.date, i.location_id, i.practitioner_id, 0, 0, 0, r.amount
    FROM invoicing_refund r JOIN invoicing_payment p ON p.id = r.payment_id
    JOIN invoicing_invoice i ON i.id = p.invoice_id
    WHERE p.status = 'active'
) t
WHERE day IS NOT NULL
GROUP BY GROUPING SETS ((1, 2, loc, prac), (1, 2, loc), (1, 2))""",
    ),
    (
        "reports_packagesale",
        "client_package_id, day, package_id, seller_id, credits, rev_ex, rev_in",
        """
SELECT c.id, (g.t AT TIME ZONE reports_sales_zone())::date, c.package_id, c.created_by_id,
       g.credits, c.price,
       CASE WHEN tr.rate IS NOT NULL
            THEN c.price - ROUND(c.price * tr.rate / (100 + tr.rate), 2)
            ELSE c.price END
FROM (SELECT client_package_id, MIN(created_at) AS t, SUM(quantity) AS credits
      FROM packages_creditledgerentry WHERE kind = 'grant'
      GROUP BY client_package_id) g
JOIN packages_clientpackage c ON c.id = g.client_package_id
LEFT JOIN catalog_taxrate tr ON tr.id = c.tax_rate_id""",
    ),
    (
        "reports_saleday",
        "day, package_id, seller_id, n, credits, rev_ex, rev_in",
        """
SELECT day, package_id, seller_id, COUNT(*), SUM(credits), SUM(rev_ex), SUM(rev_in)
FROM reports_packagesale GROUP BY 1, 2, 3""",
    ),
)


# The day summaries hold partial sums in slots (each writing transaction adds into its
# own, `reports_summary_slot()`): their groups (the columns that name one) and their
# counts (bigint; the other figures are numeric). A group's figures are its rows' sums.
SLOTTED: dict[str, str] = {
    "reports_receivableday": "due_date, location_id, practitioner_id",
    "reports_revenueday": "span, day, location_id, practitioner_id",
    "reports_saleday": "day, package_id, seller_id",
}
_COUNTS = ("n", "credits")


def fill_sql() -> str:
    """The statements that fill the (empty) summary tables from the data there (the day
    summaries into slot 0)."""
    return "".join(_fill(table, columns, select) for table, columns, select in REBUILD)


# The summaries the money row triggers (`reports_money`, on invoices, their lines,
# payments, refunds, credit notes and their lines) keep; the package sales are kept by
# the ledger's and the client packages' triggers.
MONEY_ROW_TABLES = ("reports_invoicebalance", "reports_receivableday", "reports_revenueday")


def refill_sql(tables: tuple[str, ...] = MONEY_ROW_TABLES) -> str:
    """The statements that empty summary `tables` (every slot) and fill them from the data
    there, as the migration does (the day summaries into slot 0), in REBUILD's order (the
    receivables read the balances)."""
    unknown = set(tables) - {table for table, _columns, _select in REBUILD}
    if unknown:
        raise ValueError(f"no rebuild for {sorted(unknown)}")
    return "".join(
        f"DELETE FROM {table};\n{_fill(table, columns, select)}"  # noqa: S608 - REBUILD's names
        for table, columns, select in REBUILD
        if table in tables
    )


def _fill(table: str, columns: str, select: str) -> str:
    if table in SLOTTED:
        columns, select = f"{columns}, slot", f"\nSELECT t.*, 0 FROM ({select}) t"
    return f"INSERT INTO {table} ({columns}){select};\n"


def kept_sql(table: str, columns: str) -> str:
    """A SELECT of `columns` of summary `table` as its readers see it: one row per group,
    summed over the slots."""
    if table not in SLOTTED:
        return f"SELECT {columns} FROM {table}"  # noqa: S608
    key = SLOTTED[table]
    figures = [c.strip() for c in columns.split(",") if c.strip() not in key.split(", ")]
    sums = ", ".join(f"SUM({c})::bigint" if c in _COUNTS else f"SUM({c})" for c in figures)
    return f"SELECT {key}, {sums} FROM {table} GROUP BY {key}"  # noqa: S608
