"""The billing day totals (`InvoiceDayTotal`) computed from scratch.

The triggers of migrations 0008 and 0010 keep the rows exact, delta by delta; this is
what those rows add up to: per issue date, the Open and the Paid invoices, their lines'
total, and their balance (the total, less their active payments, plus those payments'
refunds, less their credit notes). A bulk load that writes with the triggers off
(`demo.copy.summaries_rebuilt`) refills the table with it; the tests compare the kept rows
with it after every kind of change.
"""

from __future__ import annotations

TABLE = "invoicing_invoicedaytotal"
COLUMNS = (
    "issue_date, open_invoices, open_total, open_balance, paid_invoices, paid_total, paid_balance"
)
SELECT = """
SELECT i.issue_date,
       COUNT(*) FILTER (WHERE i.status = 'open'),
       COALESCE(SUM(l.total) FILTER (WHERE i.status = 'open'), 0),
       COALESCE(SUM(COALESCE(l.total, 0) - COALESCE(s.settled, 0))
                FILTER (WHERE i.status = 'open'), 0),
       COUNT(*) FILTER (WHERE i.status = 'paid'),
       COALESCE(SUM(l.total) FILTER (WHERE i.status = 'paid'), 0),
       COALESCE(SUM(COALESCE(l.total, 0) - COALESCE(s.settled, 0))
                FILTER (WHERE i.status = 'paid'), 0)
FROM invoicing_invoice i
LEFT JOIN (
    SELECT invoice_id, SUM(total_amount) AS total FROM invoicing_invoiceline
    GROUP BY invoice_id
) l ON l.invoice_id = i.id
LEFT JOIN (
    SELECT invoice_id, SUM(amount) AS settled FROM (
        SELECT invoice_id, amount FROM invoicing_payment WHERE status = 'active'
        UNION ALL
        SELECT p.invoice_id, -r.amount FROM invoicing_refund r
        JOIN invoicing_payment p ON p.id = r.payment_id WHERE p.status = 'active'
        UNION ALL
        SELECT invoice_id, total_amount FROM invoicing_creditnote
    ) t GROUP BY invoice_id
) s ON s.invoice_id = i.id
WHERE i.status IN ('open', 'paid')
GROUP BY i.issue_date"""


def refill_sql() -> str:
    """The statements that empty the table and fill it from the invoices there."""
    return f"DELETE FROM {TABLE};\nINSERT INTO {TABLE} ({COLUMNS}){SELECT};\n"  # noqa: S608
