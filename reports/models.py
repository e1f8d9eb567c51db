"""The reports' own data.

`Report` only carries the permission that opens the Reports area (`reports.view_reports`),
given to the Admin and Accountant roles by practice.roles: no table.

`PackageStep` is a read model of the package liability, kept by the database itself:
one row per event of a client package (a ledger row, an expiry change, its cancellation)
with what the package was just before and just after it. Triggers installed by
`reports/migrations/0002_package_steps.py` rebuild a package's rows whenever one of its
events is recorded, its amount, tax rate, expiry or cancellation changes, or its tax
rate's rate changes; nothing in Python writes it, and the app's database role may
only read it (the function that writes it runs as the tables' owner). The liability then reads the events of
its period and the steps in effect at its opening, through indexes, instead of replaying
every event ever recorded (docs/decisions.md: Package liability).
"""

from django.db import models


class Report(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_reports", "Can view reports")]

    def __str__(self) -> str:
        return "Reports"


class PackageStep(models.Model):
    """One event of a client package and the package's state around it.

    `t`, `ord`, `src`: when the event was recorded, and its order among events of the
    same instant (0 a ledger row, 1 an expiry change, 2 the cancellation) with its row's
    id (`src`, 0 for the cancellation). `kind` is the ledger kind, "extend" or "cancel".
    After the event: `c` credits (as sold ± adjustments), `k` consumed (net of releases),
    `x` canceled, `exp` the expiry date in effect; `c0`, `k0`, `x0`, `exp0` the same just
    before it. `p_ex` and `p_in` are the package's amount in cents net of tax when prices
    exclude tax and when they include it (the practice's setting chooses at read time).
    `nt` is when the package's next event was recorded (NULL for its last): the state
    after this event holds from `t` to `nt`. `dn`, `dv_ex` and `dv_in` are what the event
    moved (credits, and cents for each tax setting): held after it less held before it,
    judged on its local day in the zone `reports_step_zone()` names."""

    client_package = models.ForeignKey(
        "packages.ClientPackage", on_delete=models.CASCADE, related_name="+"
    )
    t = models.DateTimeField()
    ord = models.SmallIntegerField()
    src = models.BigIntegerField()
    kind = models.CharField(max_length=10)
    c = models.IntegerField()
    k = models.IntegerField()
    x = models.BooleanField()
    exp = models.DateField(null=True)
    c0 = models.IntegerField()
    k0 = models.IntegerField()
    x0 = models.BooleanField()
    exp0 = models.DateField(null=True)
    p_ex = models.BigIntegerField()
    p_in = models.BigIntegerField()
    nt = models.DateTimeField(null=True)
    dn = models.IntegerField()
    dv_ex = models.BigIntegerField()
    dv_in = models.BigIntegerField()

    # The app role may only read it (kernel.database): only the triggers write it.
    app_read_only = True

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.kind} of client package {self.client_package_id} at {self.t}"


class DaySummary(models.Model):
    """A summary the database keeps per day for the package reports: partial sums in
    slots (`slot`: the writing transaction's own, `reports_summary_slot()`), whose total
    over the slots is the day's figure; `n` credits or packages, `v_ex` and `v_in` cents
    for each tax setting. Only triggers write it; the app role may only read it."""

    day = models.DateField()
    slot = models.SmallIntegerField()
    n = models.BigIntegerField()
    v_ex = models.BigIntegerField()  # cents, prices excluding tax
    v_in = models.BigIntegerField()  # cents, prices including tax

    app_read_only = True

    class Meta:
        abstract = True
        default_permissions = ()


class LiabilityDay(DaySummary):
    """The package liability's movements summed by day, kept by the database: for each
    local day (`reports_step_zone()`) and kind of event, what the day's package steps
    moved (`PackageStep.dn`, `dv_ex`, `dv_in`), and under kind "expire" what packages
    stopped holding when their expiry date passed (negative, on the day after the expiry
    date: the step's held credits and value, for a step live on its day whose state
    still held when that day began). So what all packages hold at the end of a day is the
    sum of every row up to that day, and a period's movements are its days' rows.

    Triggers on the steps (`reports/migrations/0003_rliab_summaries.py`) add what each
    statement inserts and subtract what it deletes, in the same transaction."""

    kind = models.CharField(max_length=10)

    class Meta(DaySummary.Meta):
        constraints = [
            models.UniqueConstraint(fields=["day", "kind", "slot"], name="liability_day_key")
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.day} (slot {self.slot})"


class ExpiryDay(DaySummary):
    """Client packages still usable (not canceled, credits left) by expiry date, kept by
    the database: how many (`n`), their credits left and what they hold (the rule of
    `reports.selectors.expiring._held_value`). Triggers on the client packages and the
    tax rates keep it in the writing transaction."""

    credits = models.BigIntegerField()

    class Meta(DaySummary.Meta):
        constraints = [models.UniqueConstraint(fields=["day", "slot"], name="expiry_day_key")]

    def __str__(self) -> str:
        return f"expiring on {self.day} (slot {self.slot})"


# ----------------------------------------------------- money summaries (kept by triggers)
# Read models of the money reports, written only by the database functions of
# `reports/migrations/0004_rmoney_money_summaries.py` (SECURITY DEFINER, in the
# transaction of the write that changes them, each trigger O(1) per row written, except
# an invoice's own change of status, dates, location or practitioner, which moves that
# invoice's rows). The day summaries (ReceivableDay, RevenueDay, SaleDay) hold partial
# sums in slots, as `DaySummary` does (`slot`: the writing transaction's own,
# `reports_summary_slot()`): readers sum over the slots, and concurrent writers never
# wait on each other's rows nor deadlock on them. Plain ids, not foreign keys: deleting a draft invoice must not make
# Django's collector write these tables (the app role may only read them).
_SUM = {"max_digits": 20, "decimal_places": 2, "default": 0}


class InvoiceBalance(models.Model):
    """An invoice's balance before its status is looked at: its lines' totals, less its
    active payments, plus those payments' refunds, less its credit notes (the sums of
    `invoicing.selectors.invoices_with_totals`). One row per invoice that has had a
    line, payment, refund or credit note."""

    invoice_id = models.BigIntegerField(primary_key=True)
    balance = models.DecimalField(**_SUM)

    app_read_only = True

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"Balance of invoice {self.invoice_id}"


class ReceivableDay(models.Model):
    """Open invoices with a balance above 0, by due date, location and practitioner: how
    many and their balances (Aged receivables sums these rows by age). Practitioner 0:
    the location's invoices of that due date; location and practitioner 0: all of them.
    Partial sums by `slot` (see above): a group's figures are its rows' sums."""

    due_date = models.DateField(null=True)
    location_id = models.BigIntegerField()
    practitioner_id = models.BigIntegerField()
    slot = models.SmallIntegerField()
    n = models.BigIntegerField(default=0)
    balance = models.DecimalField(**_SUM)

    app_read_only = True

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["location_id", "practitioner_id", "due_date", "slot"],
                name="reports_receivable_day_key",
                nulls_distinct=False,
            )
        ]
        indexes = [
            models.Index(fields=["practitioner_id", "due_date"], name="reports_receivable_prac")
        ]

    def __str__(self) -> str:
        return f"Receivables due {self.due_date}"


class RevenueDay(models.Model):
    """Revenue by day (`span` "d") or month (`span` "m", `day` its first day), location
    and practitioner (the invoice's): the net and tax of finalized invoices' lines by
    issue date less their credit notes' lines by credit note date, active payments and
    their refunds by their own dates. Practitioner 0: the location's figures; location
    and practitioner 0: the practice's. Partial sums by `slot` (see above)."""

    span = models.CharField(max_length=1)
    day = models.DateField()
    location_id = models.BigIntegerField()
    practitioner_id = models.BigIntegerField()
    slot = models.SmallIntegerField()
    n = models.BigIntegerField(default=0)  # how many rows (lines, payments...) it sums
    net = models.DecimalField(**_SUM)
    tax = models.DecimalField(**_SUM)
    paid = models.DecimalField(**_SUM)
    refunded = models.DecimalField(**_SUM)

    app_read_only = True

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["location_id", "practitioner_id", "span", "day", "slot"],
                name="reports_revenue_day_key",
            )
        ]
        indexes = [
            models.Index(fields=["practitioner_id", "span", "day"], name="reports_revenue_prac")
        ]

    def __str__(self) -> str:
        return f"Revenue of {self.day}"


class PackageSale(models.Model):
    """A client package's sale as Package sales counts it: the local day (in the zone
    `reports_sales_zone()` names) of its first grant, the catalog package, the seller,
    the credits granted and its amount net of tax for either tax setting (`rev_ex`:
    prices exclude tax, `rev_in`: they include it)."""

    client_package_id = models.BigIntegerField(primary_key=True)
    day = models.DateField()
    package_id = models.BigIntegerField()
    seller_id = models.BigIntegerField(null=True)
    credits = models.BigIntegerField()
    rev_ex = models.DecimalField(**_SUM)
    rev_in = models.DecimalField(**_SUM)

    app_read_only = True

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"Sale of client package {self.client_package_id}"


class SaleDay(models.Model):
    """`PackageSale` summed by day, catalog package and seller, in partial sums by `slot`
    (see above)."""

    day = models.DateField()
    package_id = models.BigIntegerField()
    seller_id = models.BigIntegerField(null=True)
    slot = models.SmallIntegerField()
    n = models.BigIntegerField(default=0)
    credits = models.BigIntegerField(default=0)
    rev_ex = models.DecimalField(**_SUM)
    rev_in = models.DecimalField(**_SUM)

    app_read_only = True

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["day", "package_id", "seller_id", "slot"],
                name="reports_sale_day_key",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"Package sales of {self.day}"
