"""Staff roles (Django groups) and what each may do, per DOMAIN.md "People and permissions".

The data migration `caspen.0002_roles` creates the groups from `ROLE_PERMISSIONS`;
`python manage.py sync_roles` re-applies it after new permissions appear.
"""

from __future__ import annotations

ADMIN = "Admin"
RECEPTION = "Reception"
PRACTITIONER = "Practitioner"
ACCOUNTANT = "Accountant"
ROLES = (ADMIN, RECEPTION, PRACTITIONER, ACCOUNTANT)

_VIEW_REFERENCE = [
    "catalog.view_service",
    "catalog.view_servicecategory",
    "catalog.view_package",
    "catalog.view_packageservice",
    "catalog.view_taxrate",
    "calendar_app.view_location",
    "calendar_app.view_practitioner",
    "calendar_app.view_cancellationreason",
    "invoicing.view_paymentmethod",
    "caspen.view_practicesettings",
]
_VIEW_PACKAGES = [
    "packages.view_clientpackage",
    "packages.view_clientpackageservice",
    "packages.view_creditledgerentry",
    "packages.view_expirychange",
]
_VIEW_INVOICES = [
    "invoicing.view_invoice",
    "invoicing.view_invoiceline",
    "invoicing.view_payment",
    "invoicing.view_refund",
    "invoicing.view_creditnote",
    "invoicing.view_creditnoteline",
]
_VIEW_CALENDAR = ["calendar_app.view_appointment", "calendar_app.view_appointmentseries"]
_EDIT_CALENDAR = [
    "calendar_app.add_appointment",
    "calendar_app.change_appointment",
    "calendar_app.delete_appointment",
    "calendar_app.add_appointmentseries",
    "calendar_app.change_appointmentseries",
]
_EDIT_CLIENTS = ["clients.view_client", "clients.add_client", "clients.change_client"]
_EDIT_INVOICES = [
    "invoicing.add_invoice",
    "invoicing.change_invoice",
    "invoicing.delete_invoice",
    "invoicing.finalize_invoice",
    "invoicing.add_invoiceline",
    "invoicing.change_invoiceline",
    "invoicing.delete_invoiceline",
    "invoicing.add_payment",
]

# Documents for the client (issue 13): email them (each sending recorded), share an
# invoice by a public link and revoke it.
_SEND_DOCUMENTS = ["documents.send_document", "documents.view_documentsending"]
_SHARE_INVOICES = [
    "documents.view_invoicelink",
    "documents.add_invoicelink",
    "documents.change_invoicelink",
]

# Admin holds every permission of the project's apps (set in the migration).
ROLE_PERMISSIONS: dict[str, list[str]] = {
    RECEPTION: [
        *_VIEW_REFERENCE,
        *_EDIT_CLIENTS,
        *_VIEW_CALENDAR,
        *_EDIT_CALENDAR,
        *_VIEW_PACKAGES,
        "packages.add_clientpackage",
        "packages.cancel_clientpackage",
        "packages.link_clientpackage",
        *_VIEW_INVOICES,
        *_EDIT_INVOICES,
        *_SEND_DOCUMENTS,
        *_SHARE_INVOICES,
    ],
    PRACTITIONER: [
        *_VIEW_REFERENCE,
        *_EDIT_CLIENTS,
        *_VIEW_CALENDAR,
        *_EDIT_CALENDAR,
        *_VIEW_PACKAGES,
        "packages.link_clientpackage",
        *_VIEW_INVOICES,
    ],
    ACCOUNTANT: [
        *_VIEW_REFERENCE,
        "clients.view_client",
        *_VIEW_CALENDAR,
        *_VIEW_PACKAGES,
        *_VIEW_INVOICES,
        *_EDIT_INVOICES,
        "invoicing.void_invoice",
        "invoicing.refund_payment",
        "invoicing.void_payment",
        "invoicing.add_refund",
        "reports.view_reports",
        *_SEND_DOCUMENTS,
        "documents.view_invoicelink",
    ],
}

PROJECT_APPS = (
    "caspen",
    "clients",
    "catalog",
    "packages",
    "calendar_app",
    "invoicing",
    "reports",
    "documents",
)
ADMIN_EXTRA_APPS = ("auth",)


def sync_roles(apps) -> None:
    """Create the groups and give each exactly its permissions (idempotent)."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate; create them now so the groups can
    # hold them. Historical app configs have no models_module, which create_permissions
    # requires, so lend one for the call.
    for app_config in apps.get_app_configs():
        previous = getattr(app_config, "models_module", None)
        app_config.models_module = previous or True
        try:
            create_permissions(app_config, verbosity=0)
        finally:
            app_config.models_module = previous

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    migrated = {config.label for config in apps.get_app_configs() if any(config.get_models())}
    admin, _ = Group.objects.get_or_create(name=ADMIN)
    admin.permissions.set(
        Permission.objects.filter(content_type__app_label__in=PROJECT_APPS + ADMIN_EXTRA_APPS)
    )
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            if app_label not in migrated:
                # An app whose first migration has not run yet (an earlier migration
                # syncing): that app's own migration syncs the roles again.
                continue
            wanted.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
