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
