from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    """Documents for the client (issue 13): invoice, payment receipt, package statement
    and client statement as print views and PDFs, emailed with each sending recorded, and
    public links to invoices."""

    name = "documents"

    def ready(self) -> None:
        from django.core import checks

        checks.register(email_configured, deploy=True)
        # Issue 14: a booking queues its confirmation email (kernel.hooks.event).
        from documents import receivers  # noqa: F401


def email_configured(app_configs=None, **kwargs):
    """`check --deploy`: without EMAIL_URL, documents "sent" to clients only reach the
    console."""
    from django.conf import settings
    from django.core import checks

    if settings.EMAIL_URL:
        return []
    return [
        checks.Warning(
            "EMAIL_URL is not set: emails to clients are written to the console, not sent.",
            hint="Set EMAIL_URL=smtp://user:password@host:587 (README: Configuration).",
            id="caspen.W010",
        )
    ]
