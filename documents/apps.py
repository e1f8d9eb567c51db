from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    """Documents for the client (issue 13): invoice, payment receipt, package statement
    and client statement as print views and PDFs, emailed with each sending recorded, and
    public links to invoices."""

    name = "documents"
