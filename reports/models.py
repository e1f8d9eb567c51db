"""Reports hold no data of their own; this model only carries the permission that opens
the Reports area (`reports.view_reports`), given to the Admin and Accountant roles by
practice.roles. No table: `managed = False` and nothing reads or writes it."""

from django.db import models


class Report(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_reports", "Can view reports")]

    def __str__(self) -> str:
        return "Reports"
