from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self) -> None:
        from reports.steps import sync_step_zone
        from reports.summaries import sync_sales_zone

        post_migrate.connect(sync_step_zone, sender=self, dispatch_uid="reports_step_zone")
        post_migrate.connect(sync_sales_zone, sender=self, dispatch_uid="reports_sales_zone")
