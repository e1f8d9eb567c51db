from django.apps import AppConfig
from django.db.models.signals import post_migrate


class KernelConfig(AppConfig):
    """Helpers every app builds on (errors, money, time and text, web and HTMX, audit,
    hooks, middleware, admin and API plumbing, template tags, database roles). It has no
    models and imports no domain app."""

    name = "kernel"
    verbose_name = "Kernel"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from kernel import database  # registers its system check
        from kernel.db import audit_context
        from kernel.security import stamp_session_on_sign_in

        # After every migrate, as the owner: the app role's privileges (kernel/database.py).
        post_migrate.connect(database.grant_after_migrate)
        user_logged_in.connect(stamp_session_on_sign_in, dispatch_uid="kernel-stamp-session")
        # The audit context is set once per transaction, not before every write.
        audit_context.install()
