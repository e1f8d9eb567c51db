"""The money reports' summaries (reports.models: InvoiceBalance, ReceivableDay, RevenueDay,
PackageSale, SaleDay), kept exact by triggers in the transaction of each write.

Each trigger adds the exact delta of the row it fires for (a line's amounts, a payment's,
a refund's, a credit note's) to the rows its invoice's state says it belongs in; an
invoice whose status, dates, location or practitioner change moves its own rows out
under the old values and in under the new ones. A client package's sale is rebuilt from
its grants when a grant is recorded or its amount, tax rate, catalog package or seller
changes, or its tax rate's rate changes. The day summaries (ReceivableDay, RevenueDay,
SaleDay) hold partial sums in slots, as in 0003: each trigger call takes its
transaction's own slot (`reports_summary_slot()`) once and adds into that slot's rows
only, subtractions included, so concurrent writers never wait on each other's summary
rows nor deadlock on them; readers sum over the slots, and the rows already there are
filled into slot 0. Functions run as the tables' owner (SECURITY DEFINER): the app role
may only read the tables (kernel.database). The rows of the data already there are
computed here, once.
"""

from django.conf import settings
from django.db import migrations, models

from reports.summaries import SALES_ZONE_FUNCTION, fill_sql


SQL = """
-- ------------------------------------------------------------------ receivables
-- Open invoices with a balance above 0, by (due date, location, practitioner), and the
-- same summed over practitioners (practitioner 0) and over both (location 0 too).
CREATE FUNCTION reports_recv_add(
    p_status text, p_due date, p_loc bigint, p_prac bigint, p_balance numeric, p_sign int,
    p_slot smallint
) RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
BEGIN
    IF p_status = 'open' AND p_balance > 0 THEN
        INSERT INTO reports_receivableday AS d
            (due_date, location_id, practitioner_id, slot, n, balance)
        VALUES (p_due, p_loc, p_prac, p_slot, p_sign, p_sign * p_balance),
               (p_due, p_loc, 0, p_slot, p_sign, p_sign * p_balance),
               (p_due, 0, 0, p_slot, p_sign, p_sign * p_balance)
        ON CONFLICT ON CONSTRAINT reports_receivable_day_key DO UPDATE SET
            n = d.n + EXCLUDED.n, balance = d.balance + EXCLUDED.balance;
    END IF;
END $fn$;

-- Add `p_delta` to invoice `inv`'s balance, and move it between receivable rows.
CREATE FUNCTION reports_balance_add(inv invoicing_invoice, p_delta numeric, p_slot smallint)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE v_new numeric;
BEGIN
    IF p_delta = 0 THEN
        RETURN;
    END IF;
    INSERT INTO reports_invoicebalance AS b (invoice_id, balance) VALUES (inv.id, p_delta)
    ON CONFLICT (invoice_id) DO UPDATE SET balance = b.balance + EXCLUDED.balance
    RETURNING b.balance INTO v_new;
    IF inv.status = 'open' THEN
        PERFORM reports_recv_add(inv.status, inv.due_date, inv.location_id,
                                 inv.practitioner_id, v_new - p_delta, -1, p_slot);
        PERFORM reports_recv_add(inv.status, inv.due_date, inv.location_id,
                                 inv.practitioner_id, v_new, 1, p_slot);
    END IF;
END $fn$;

-- ------------------------------------------------------------------ revenue
-- `p_n` rows (lines, credit note lines, payments, refunds) in or out of the figures of
-- a day and of its month (span 'd' and 'm'), each by location and practitioner, by
-- location (practitioner 0) and in all (location 0 too).
CREATE FUNCTION reports_rev_add(
    p_day date, p_loc bigint, p_prac bigint, p_n bigint,
    p_net numeric, p_tax numeric, p_paid numeric, p_refunded numeric, p_slot smallint
) RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE v_month date := DATE_TRUNC('month', p_day)::date;
BEGIN
    IF p_day IS NULL OR p_n = 0 THEN
        RETURN;
    END IF;
    INSERT INTO reports_revenueday AS d
        (span, day, location_id, practitioner_id, slot, n, net, tax, paid, refunded)
    VALUES ('d', p_day, p_loc, p_prac, p_slot, p_n, p_net, p_tax, p_paid, p_refunded),
           ('d', p_day, p_loc, 0, p_slot, p_n, p_net, p_tax, p_paid, p_refunded),
           ('d', p_day, 0, 0, p_slot, p_n, p_net, p_tax, p_paid, p_refunded),
           ('m', v_month, p_loc, p_prac, p_slot, p_n, p_net, p_tax, p_paid, p_refunded),
           ('m', v_month, p_loc, 0, p_slot, p_n, p_net, p_tax, p_paid, p_refunded),
           ('m', v_month, 0, 0, p_slot, p_n, p_net, p_tax, p_paid, p_refunded)
    ON CONFLICT ON CONSTRAINT reports_revenue_day_key DO UPDATE SET
        n = d.n + EXCLUDED.n, net = d.net + EXCLUDED.net, tax = d.tax + EXCLUDED.tax,
        paid = d.paid + EXCLUDED.paid, refunded = d.refunded + EXCLUDED.refunded;
END $fn$;

-- An invoice's whole contribution to the revenue days (`p_sign` 1 in, -1 out) as the row
-- `inv` says: its lines and credit notes' lines when finalized, its active payments and
-- their refunds whatever its status.
CREATE FUNCTION reports_rev_invoice(inv invoicing_invoice, p_sign int, p_slot smallint)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE r record;
BEGIN
    IF inv.status IN ('open', 'paid') THEN
        SELECT COUNT(*) AS n, COALESCE(SUM(net_amount), 0) AS net,
               COALESCE(SUM(tax_amount), 0) AS tax
          INTO r FROM invoicing_invoiceline WHERE invoice_id = inv.id;
        PERFORM reports_rev_add(inv.issue_date, inv.location_id, inv.practitioner_id,
                                p_sign * r.n, p_sign * r.net, p_sign * r.tax, 0, 0, p_slot);
        FOR r IN SELECT c.date, COUNT(*) AS n, SUM(cl.net_amount) AS net,
                        SUM(cl.tax_amount) AS tax
                 FROM invoicing_creditnoteline cl
                 JOIN invoicing_creditnote c ON c.id = cl.credit_note_id
                 WHERE c.invoice_id = inv.id GROUP BY c.date LOOP
            PERFORM reports_rev_add(r.date, inv.location_id, inv.practitioner_id,
                                    p_sign * r.n, -p_sign * r.net, -p_sign * r.tax, 0, 0, p_slot);
        END LOOP;
    END IF;
    FOR r IN SELECT date, COUNT(*) AS n, SUM(amount) AS amount FROM invoicing_payment
             WHERE invoice_id = inv.id AND status = 'active' GROUP BY date LOOP
        PERFORM reports_rev_add(r.date, inv.location_id, inv.practitioner_id,
                                p_sign * r.n, 0, 0, p_sign * r.amount, 0, p_slot);
    END LOOP;
    FOR r IN SELECT f.date, COUNT(*) AS n, SUM(f.amount) AS amount FROM invoicing_refund f
             JOIN invoicing_payment p ON p.id = f.payment_id
             WHERE p.invoice_id = inv.id AND p.status = 'active' GROUP BY f.date LOOP
        PERFORM reports_rev_add(r.date, inv.location_id, inv.practitioner_id,
                                p_sign * r.n, 0, 0, 0, p_sign * r.amount, p_slot);
    END LOOP;
END $fn$;

-- ------------------------------------------------------------------ triggers
CREATE FUNCTION reports_money_on_invoice() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE v_balance numeric; s smallint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        RETURN NULL;  -- no lines nor payments yet
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status = NEW.status
            AND OLD.issue_date IS NOT DISTINCT FROM NEW.issue_date
            AND OLD.due_date IS NOT DISTINCT FROM NEW.due_date
            AND OLD.location_id = NEW.location_id
            AND OLD.practitioner_id = NEW.practitioner_id THEN
        RETURN NULL;
    END IF;
    s := reports_summary_slot();
    SELECT balance INTO v_balance FROM reports_invoicebalance WHERE invoice_id = OLD.id;
    v_balance := COALESCE(v_balance, 0);
    PERFORM reports_recv_add(OLD.status, OLD.due_date, OLD.location_id, OLD.practitioner_id,
                             v_balance, -1, s);
    IF TG_OP = 'DELETE' THEN
        PERFORM reports_rev_invoice(OLD, -1, s);
        DELETE FROM reports_invoicebalance WHERE invoice_id = OLD.id;
        RETURN NULL;
    END IF;
    PERFORM reports_recv_add(NEW.status, NEW.due_date, NEW.location_id, NEW.practitioner_id,
                             v_balance, 1, s);
    IF (OLD.status IN ('open', 'paid')) IS DISTINCT FROM (NEW.status IN ('open', 'paid'))
            OR OLD.issue_date IS DISTINCT FROM NEW.issue_date
            OR OLD.location_id <> NEW.location_id
            OR OLD.practitioner_id <> NEW.practitioner_id THEN
        PERFORM reports_rev_invoice(OLD, -1, s);
        PERFORM reports_rev_invoice(NEW, 1, s);
    END IF;
    RETURN NULL;
END $fn$;

CREATE FUNCTION reports_money_on_line() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE inv invoicing_invoice; s smallint;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.invoice_id = NEW.invoice_id
            AND OLD.total_amount = NEW.total_amount AND OLD.net_amount = NEW.net_amount
            AND OLD.tax_amount = NEW.tax_amount THEN
        RETURN NULL;
    END IF;
    s := reports_summary_slot();
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT * INTO inv FROM invoicing_invoice WHERE id = OLD.invoice_id;
        IF FOUND THEN
            PERFORM reports_balance_add(inv, -OLD.total_amount, s);
            IF inv.status IN ('open', 'paid') THEN
                PERFORM reports_rev_add(inv.issue_date, inv.location_id, inv.practitioner_id,
                                        -1, -OLD.net_amount, -OLD.tax_amount, 0, 0, s);
            END IF;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT * INTO inv FROM invoicing_invoice WHERE id = NEW.invoice_id;
        IF FOUND THEN
            PERFORM reports_balance_add(inv, NEW.total_amount, s);
            IF inv.status IN ('open', 'paid') THEN
                PERFORM reports_rev_add(inv.issue_date, inv.location_id, inv.practitioner_id,
                                        1, NEW.net_amount, NEW.tax_amount, 0, 0, s);
            END IF;
        END IF;
    END IF;
    RETURN NULL;
END $fn$;

-- A payment's part (`p_sign` 1 in, -1 out) when active: its amount off the balance and
-- into Paid on its date; its refunds back on the balance and into Refunded on theirs.
CREATE FUNCTION reports_money_payment(pay invoicing_payment, p_sign int, p_slot smallint)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE inv invoicing_invoice; r record; v_refunded numeric := 0;
BEGIN
    IF pay.status <> 'active' THEN
        RETURN;
    END IF;
    SELECT * INTO inv FROM invoicing_invoice WHERE id = pay.invoice_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM reports_rev_add(pay.date, inv.location_id, inv.practitioner_id,
                            p_sign, 0, 0, p_sign * pay.amount, 0, p_slot);
    FOR r IN SELECT date, COUNT(*) AS n, SUM(amount) AS amount FROM invoicing_refund
             WHERE payment_id = pay.id GROUP BY date LOOP
        v_refunded := v_refunded + r.amount;
        PERFORM reports_rev_add(r.date, inv.location_id, inv.practitioner_id,
                                p_sign * r.n, 0, 0, 0, p_sign * r.amount, p_slot);
    END LOOP;
    PERFORM reports_balance_add(inv, p_sign * (v_refunded - pay.amount), p_slot);
END $fn$;

CREATE FUNCTION reports_money_on_payment() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE s smallint;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.invoice_id = NEW.invoice_id AND OLD.status = NEW.status
            AND OLD.amount = NEW.amount AND OLD.date = NEW.date THEN
        RETURN NULL;
    END IF;
    s := reports_summary_slot();
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM reports_money_payment(OLD, -1, s);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM reports_money_payment(NEW, 1, s);
    END IF;
    RETURN NULL;
END $fn$;

CREATE FUNCTION reports_money_refund(
    p_payment bigint, p_date date, p_n int, p_amount numeric, p_slot smallint
)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE inv invoicing_invoice;
BEGIN
    SELECT i.* INTO inv FROM invoicing_invoice i
      JOIN invoicing_payment p ON p.invoice_id = i.id
     WHERE p.id = p_payment AND p.status = 'active';
    IF FOUND THEN
        PERFORM reports_balance_add(inv, p_amount, p_slot);
        PERFORM reports_rev_add(p_date, inv.location_id, inv.practitioner_id,
                                p_n, 0, 0, 0, p_amount, p_slot);
    END IF;
END $fn$;

CREATE FUNCTION reports_money_on_refund() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE s smallint;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.payment_id = NEW.payment_id AND OLD.amount = NEW.amount
            AND OLD.date = NEW.date THEN
        RETURN NULL;
    END IF;
    s := reports_summary_slot();
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM reports_money_refund(OLD.payment_id, OLD.date, -1, -OLD.amount, s);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM reports_money_refund(NEW.payment_id, NEW.date, 1, NEW.amount, s);
    END IF;
    RETURN NULL;
END $fn$;

-- Credit notes: the header's total off the balance; the lines' net and tax off revenue
-- on the credit note's date, when the invoice is finalized (reports_money_credit_line).
-- Both are append-only (the database refuses to change or delete them), so a credit
-- note's date and invoice never change under its lines.
CREATE FUNCTION reports_money_credit_total(
    p_invoice bigint, p_amount numeric, p_slot smallint
)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE inv invoicing_invoice;
BEGIN
    SELECT * INTO inv FROM invoicing_invoice WHERE id = p_invoice;
    IF FOUND THEN
        PERFORM reports_balance_add(inv, p_amount, p_slot);
    END IF;
END $fn$;

CREATE FUNCTION reports_money_on_credit_note() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE s smallint := reports_summary_slot();
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM reports_money_credit_total(OLD.invoice_id, OLD.total_amount, s);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM reports_money_credit_total(NEW.invoice_id, -NEW.total_amount, s);
    END IF;
    RETURN NULL;
END $fn$;

CREATE FUNCTION reports_money_credit_line(
    p_note bigint, p_n int, p_net numeric, p_tax numeric, p_slot smallint
)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE r record;
BEGIN
    SELECT c.date, i.location_id, i.practitioner_id INTO r
      FROM invoicing_creditnote c JOIN invoicing_invoice i ON i.id = c.invoice_id
     WHERE c.id = p_note AND i.status IN ('open', 'paid');
    IF FOUND THEN
        PERFORM reports_rev_add(r.date, r.location_id, r.practitioner_id,
                                p_n, -p_net, -p_tax, 0, 0, p_slot);
    END IF;
END $fn$;

CREATE FUNCTION reports_money_on_credit_line() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE s smallint;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.credit_note_id = NEW.credit_note_id
            AND OLD.net_amount = NEW.net_amount AND OLD.tax_amount = NEW.tax_amount THEN
        RETURN NULL;
    END IF;
    s := reports_summary_slot();
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM reports_money_credit_line(
            OLD.credit_note_id, -1, -OLD.net_amount, -OLD.tax_amount, s);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM reports_money_credit_line(
            NEW.credit_note_id, 1, NEW.net_amount, NEW.tax_amount, s);
    END IF;
    RETURN NULL;
END $fn$;

CREATE TRIGGER reports_money AFTER INSERT OR UPDATE OR DELETE ON invoicing_invoice
    FOR EACH ROW EXECUTE FUNCTION reports_money_on_invoice();
CREATE TRIGGER reports_money AFTER INSERT OR UPDATE OR DELETE ON invoicing_invoiceline
    FOR EACH ROW EXECUTE FUNCTION reports_money_on_line();
CREATE TRIGGER reports_money AFTER INSERT OR UPDATE OR DELETE ON invoicing_payment
    FOR EACH ROW EXECUTE FUNCTION reports_money_on_payment();
CREATE TRIGGER reports_money AFTER INSERT OR UPDATE OR DELETE ON invoicing_refund
    FOR EACH ROW EXECUTE FUNCTION reports_money_on_refund();
CREATE TRIGGER reports_money AFTER INSERT OR UPDATE OR DELETE ON invoicing_creditnote
    FOR EACH ROW EXECUTE FUNCTION reports_money_on_credit_note();
CREATE TRIGGER reports_money AFTER INSERT OR UPDATE OR DELETE ON invoicing_creditnoteline
    FOR EACH ROW EXECUTE FUNCTION reports_money_on_credit_line();

-- ------------------------------------------------------------------ package sales
-- Rebuild client package `p_cp`'s sale (its first grant's local day, credits granted,
-- amount net of tax for either setting) and move it between the sale days, in slot
-- `p_slot` (the transaction's `reports_summary_slot()` when not given).
CREATE FUNCTION reports_refresh_sale(p_cp bigint, p_slot smallint DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE o reports_packagesale; v record; s smallint := COALESCE(p_slot, reports_summary_slot());
BEGIN
    DELETE FROM reports_packagesale WHERE client_package_id = p_cp RETURNING * INTO o;
    IF FOUND THEN
        INSERT INTO reports_saleday AS d
            (day, package_id, seller_id, slot, n, credits, rev_ex, rev_in)
        VALUES (o.day, o.package_id, o.seller_id, s, -1, -o.credits, -o.rev_ex, -o.rev_in)
        ON CONFLICT ON CONSTRAINT reports_sale_day_key DO UPDATE SET
            n = d.n + EXCLUDED.n, credits = d.credits + EXCLUDED.credits,
            rev_ex = d.rev_ex + EXCLUDED.rev_ex, rev_in = d.rev_in + EXCLUDED.rev_in;
    END IF;
    SELECT (g.t AT TIME ZONE reports_sales_zone())::date AS day, c.package_id,
           c.created_by_id AS seller_id, g.credits, c.price AS rev_ex,
           CASE WHEN tr.rate IS NOT NULL
                THEN c.price - ROUND(c.price * tr.rate / (100 + tr.rate), 2)
                ELSE c.price END AS rev_in
      INTO v
      FROM packages_clientpackage c
      LEFT JOIN catalog_taxrate tr ON tr.id = c.tax_rate_id
      CROSS JOIN LATERAL (
          SELECT MIN(l.created_at) AS t, SUM(l.quantity) AS credits
          FROM packages_creditledgerentry l
          WHERE l.client_package_id = c.id AND l.kind = 'grant') g
     WHERE c.id = p_cp AND g.t IS NOT NULL;
    IF FOUND THEN
        INSERT INTO reports_packagesale
            (client_package_id, day, package_id, seller_id, credits, rev_ex, rev_in)
        VALUES (p_cp, v.day, v.package_id, v.seller_id, v.credits, v.rev_ex, v.rev_in);
        INSERT INTO reports_saleday AS d
            (day, package_id, seller_id, slot, n, credits, rev_ex, rev_in)
        VALUES (v.day, v.package_id, v.seller_id, s, 1, v.credits, v.rev_ex, v.rev_in)
        ON CONFLICT ON CONSTRAINT reports_sale_day_key DO UPDATE SET
            n = d.n + 1, credits = d.credits + EXCLUDED.credits,
            rev_ex = d.rev_ex + EXCLUDED.rev_ex, rev_in = d.rev_in + EXCLUDED.rev_in;
    END IF;
END $fn$;

CREATE FUNCTION reports_sales_new_grants() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE v_cp bigint; s smallint;
BEGIN
    FOR v_cp IN SELECT DISTINCT client_package_id FROM new_rows WHERE kind = 'grant' LOOP
        s := COALESCE(s, reports_summary_slot());
        PERFORM reports_refresh_sale(v_cp, s);
    END LOOP;
    RETURN NULL;
END $fn$;

CREATE FUNCTION reports_sales_row_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE s smallint := reports_summary_slot();
BEGIN
    IF TG_TABLE_NAME = 'packages_creditledgerentry' THEN
        PERFORM reports_refresh_sale(OLD.client_package_id, s);
        IF TG_OP = 'UPDATE' AND NEW.client_package_id <> OLD.client_package_id THEN
            PERFORM reports_refresh_sale(NEW.client_package_id, s);
        END IF;
    ELSE
        PERFORM reports_refresh_sale(OLD.id, s);
    END IF;
    RETURN NULL;
END $fn$;

CREATE FUNCTION reports_sales_rate_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE v_cp bigint; s smallint := reports_summary_slot();
BEGIN
    FOR v_cp IN SELECT id FROM packages_clientpackage WHERE tax_rate_id = NEW.id LOOP
        PERFORM reports_refresh_sale(v_cp, s);
    END LOOP;
    RETURN NULL;
END $fn$;

CREATE TRIGGER reports_sales_grants AFTER INSERT ON packages_creditledgerentry
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reports_sales_new_grants();
CREATE TRIGGER reports_sales_ledger_changed AFTER UPDATE ON packages_creditledgerentry
    FOR EACH ROW WHEN (OLD.kind = 'grant' OR NEW.kind = 'grant')
    EXECUTE FUNCTION reports_sales_row_changed();
CREATE TRIGGER reports_sales_ledger_deleted AFTER DELETE ON packages_creditledgerentry
    FOR EACH ROW WHEN (OLD.kind = 'grant')
    EXECUTE FUNCTION reports_sales_row_changed();
CREATE TRIGGER reports_sales_package AFTER UPDATE ON packages_clientpackage
    FOR EACH ROW WHEN (
        OLD.price IS DISTINCT FROM NEW.price
        OR OLD.tax_rate_id IS DISTINCT FROM NEW.tax_rate_id
        OR OLD.package_id IS DISTINCT FROM NEW.package_id
        OR OLD.created_by_id IS DISTINCT FROM NEW.created_by_id)
    EXECUTE FUNCTION reports_sales_row_changed();
CREATE TRIGGER reports_sales_package_deleted AFTER DELETE ON packages_clientpackage
    FOR EACH ROW EXECUTE FUNCTION reports_sales_row_changed();
CREATE TRIGGER reports_sales_tax_rate AFTER UPDATE ON catalog_taxrate
    FOR EACH ROW WHEN (OLD.rate IS DISTINCT FROM NEW.rate)
    EXECUTE FUNCTION reports_sales_rate_changed();

"""

DROP = """
DROP TRIGGER IF EXISTS reports_money ON invoicing_invoice;
DROP TRIGGER IF EXISTS reports_money ON invoicing_invoiceline;
DROP TRIGGER IF EXISTS reports_money ON invoicing_payment;
DROP TRIGGER IF EXISTS reports_money ON invoicing_refund;
DROP TRIGGER IF EXISTS reports_money ON invoicing_creditnote;
DROP TRIGGER IF EXISTS reports_money ON invoicing_creditnoteline;
DROP TRIGGER IF EXISTS reports_sales_grants ON packages_creditledgerentry;
DROP TRIGGER IF EXISTS reports_sales_ledger_changed ON packages_creditledgerentry;
DROP TRIGGER IF EXISTS reports_sales_ledger_deleted ON packages_creditledgerentry;
DROP TRIGGER IF EXISTS reports_sales_package ON packages_clientpackage;
DROP TRIGGER IF EXISTS reports_sales_package_deleted ON packages_clientpackage;
DROP TRIGGER IF EXISTS reports_sales_tax_rate ON catalog_taxrate;
DROP FUNCTION IF EXISTS reports_sales_rate_changed();
DROP FUNCTION IF EXISTS reports_sales_row_changed();
DROP FUNCTION IF EXISTS reports_sales_new_grants();
DROP FUNCTION IF EXISTS reports_refresh_sale(bigint, smallint);
DROP FUNCTION IF EXISTS reports_money_on_credit_line();
DROP FUNCTION IF EXISTS reports_money_credit_line(bigint, int, numeric, numeric, smallint);
DROP FUNCTION IF EXISTS reports_money_on_credit_note();
DROP FUNCTION IF EXISTS reports_money_credit_total(bigint, numeric, smallint);
DROP FUNCTION IF EXISTS reports_money_on_refund();
DROP FUNCTION IF EXISTS reports_money_refund(bigint, date, int, numeric, smallint);
DROP FUNCTION IF EXISTS reports_money_on_payment();
DROP FUNCTION IF EXISTS reports_money_payment(invoicing_payment, int, smallint);
DROP FUNCTION IF EXISTS reports_money_on_line();
DROP FUNCTION IF EXISTS reports_money_on_invoice();
DROP FUNCTION IF EXISTS reports_rev_invoice(invoicing_invoice, int, smallint);
DROP FUNCTION IF EXISTS reports_rev_add(
    date, bigint, bigint, bigint, numeric, numeric, numeric, numeric, smallint);
DROP FUNCTION IF EXISTS reports_balance_add(invoicing_invoice, numeric, smallint);
DROP FUNCTION IF EXISTS reports_recv_add(text, date, bigint, bigint, numeric, int, smallint);
DROP FUNCTION IF EXISTS reports_sales_zone();
"""


def create_zone(apps, schema_editor):
    # The zone whose local days the package sales are judged in (reports.summaries).
    schema_editor.execute(
        SALES_ZONE_FUNCTION.format(zone=schema_editor.quote_value(settings.TIME_ZONE))
    )


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0003_rliab_summaries'),
        ('invoicing', '0011_updated_at'),
        ('packages', '0007_row_count'),
        ('catalog', '0005_updated_at'),
    ]

    operations = [
        migrations.CreateModel(
            name='InvoiceBalance',
            fields=[
                ('invoice_id', models.BigIntegerField(primary_key=True, serialize=False)),
                ('balance', models.DecimalField(decimal_places=2, default=0, max_digits=20)),
            ],
            options={
                'default_permissions': (),
            },
        ),
        migrations.CreateModel(
            name='PackageSale',
            fields=[
                ('client_package_id', models.BigIntegerField(primary_key=True, serialize=False)),
                ('day', models.DateField()),
                ('package_id', models.BigIntegerField()),
                ('seller_id', models.BigIntegerField(null=True)),
                ('credits', models.BigIntegerField()),
                ('rev_ex', models.DecimalField(decimal_places=2, default=0, max_digits=20)),
                ('rev_in', models.DecimalField(decimal_places=2, default=0, max_digits=20)),
            ],
            options={
                'default_permissions': (),
            },
        ),
        migrations.CreateModel(
            name='SaleDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('package_id', models.BigIntegerField()),
                ('seller_id', models.BigIntegerField(null=True)),
                ('slot', models.SmallIntegerField()),
                ('n', models.BigIntegerField(default=0)),
                ('credits', models.BigIntegerField(default=0)),
                ('rev_ex', models.DecimalField(decimal_places=2, default=0, max_digits=20)),
                ('rev_in', models.DecimalField(decimal_places=2, default=0, max_digits=20)),
            ],
            options={
                'default_permissions': (),
                'constraints': [models.UniqueConstraint(fields=('day', 'package_id', 'seller_id', 'slot'), name='reports_sale_day_key', nulls_distinct=False)],
            },
        ),
        migrations.CreateModel(
            name='ReceivableDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('due_date', models.DateField(null=True)),
                ('location_id', models.BigIntegerField()),
                ('practitioner_id', models.BigIntegerField()),
                ('slot', models.SmallIntegerField()),
                ('n', models.BigIntegerField(default=0)),
                ('balance', models.DecimalField(decimal_places=2, default=0, max_digits=20)),
            ],
            options={
                'default_permissions': (),
                'indexes': [models.Index(fields=['practitioner_id', 'due_date'], name='reports_receivable_prac')],
                'constraints': [models.UniqueConstraint(fields=('location_id', 'practitioner_id', 'due_date', 'slot'), name='reports_receivable_day_key', nulls_distinct=False)],
            },
        ),
        migrations.CreateModel(
            name='RevenueDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('span', models.CharField(max_length=1)),
                ('day', models.DateField()),
                ('location_id', models.BigIntegerField()),
                ('practitioner_id', models.BigIntegerField()),
                ('slot', models.SmallIntegerField()),
                ('n', models.BigIntegerField(default=0)),
                ('net', models.DecimalField(decimal_places=2, default=0, max_digits=20)),
                ('tax', models.DecimalField(decimal_places=2, default=0, max_digits=20)),
                ('paid', models.DecimalField(decimal_places=2, default=0, max_digits=20)),
                ('refunded', models.DecimalField(decimal_places=2, default=0, max_digits=20)),
            ],
            options={
                'default_permissions': (),
                'indexes': [models.Index(fields=['practitioner_id', 'span', 'day'], name='reports_revenue_prac')],
                'constraints': [models.UniqueConstraint(fields=('location_id', 'practitioner_id', 'span', 'day', 'slot'), name='reports_revenue_day_key')],
            },
        ),
        migrations.RunPython(create_zone, migrations.RunPython.noop),
        migrations.RunSQL(SQL, DROP),
        # The rows of the data already there (emptied first on the way back).
        migrations.RunSQL(fill_sql(), migrations.RunSQL.noop),
    ]
