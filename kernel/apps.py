from django.apps import AppConfig


class KernelConfig(AppConfig):
    """Helpers every app builds on (errors, money, time and text, web and HTMX, audit,
    hooks, middleware, admin and API plumbing, template tags). It has no models and
    imports no domain app."""

    name = "kernel"
    verbose_name = "Kernel"
