from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo practice (`manage.py seed_demo`), built through the domain's services."""

    name = "demo"
    verbose_name = "Demo data"
