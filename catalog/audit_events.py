"""What audit events of the catalog mean, in words (the Activity pages; see kernel.audit)."""

from __future__ import annotations

from kernel.audit import AuditEvent, describes, money_text, record_sentence

SERVICE_FIELDS = {
    "name": "name",
    "price": "price",
    "duration_minutes": "duration (minutes)",
    "tax_rate_id": "tax rate",
    "category_id": "category",
}
PACKAGE_FIELDS = {
    "name": "name",
    "price": "amount",
    "credits": "credits",
    "kind": "kind",
    "tax_rate_id": "tax rate",
    "expires_after_value": "expiry",
    "expires_after_unit": "expiry unit",
    "description": "description",
}


def _tax_refs(event: AuditEvent):
    for pk in {event.after("tax_rate_id"), event.before("tax_rate_id")}:
        yield "catalog.TaxRate", pk


def _names(event: AuditEvent, field: str, model: str) -> None:
    """Show a changed reference by name ("tax rate from GST (10%) to none")."""
    if event.changed(field):
        before, after = event.diff[field]
        event.diff[field] = [
            event.name_of(model, before, "none") if before is not None else None,
            event.name_of(model, after, "none") if after is not None else None,
        ]


def _money(event: AuditEvent, field: str) -> None:
    if event.changed(field):
        event.diff[field] = [money_text(value) for value in event.diff[field]]


@describes("catalog.ServiceEvent", kind="Catalog", refs=_tax_refs)
def service_sentence(event: AuditEvent) -> str:
    _names(event, "tax_rate_id", "catalog.TaxRate")
    _money(event, "price")
    return record_sentence(event, "service", SERVICE_FIELDS)


@describes("catalog.PackageEvent", kind="Catalog", refs=_tax_refs)
def package_sentence(event: AuditEvent) -> str:
    _names(event, "tax_rate_id", "catalog.TaxRate")
    _money(event, "price")
    return record_sentence(event, "package", PACKAGE_FIELDS, hidden={"description"})


@describes("catalog.TaxRateEvent", kind="Catalog")
def tax_rate_sentence(event: AuditEvent) -> str:
    if event.changed("rate"):
        event.diff["rate"] = [f"{money_text(value)}%" for value in event.diff["rate"]]
    return record_sentence(event, "tax rate", {"name": "name", "rate": "rate"})


@describes("catalog.ServiceCategoryEvent", kind="Catalog")
def category_sentence(event: AuditEvent) -> str:
    return record_sentence(event, "service category", {"name": "name"})


def _package_service_refs(event: AuditEvent):
    yield "catalog.Package", event.data.get("package_id")
    yield "catalog.Service", event.data.get("service_id")


@describes("catalog.PackageServiceEvent", kind="Catalog", refs=_package_service_refs)
def package_service_sentence(event: AuditEvent) -> str:
    package = event.name_of("catalog.Package", event.data.get("package_id"), "a package")
    service = event.name_of("catalog.Service", event.data.get("service_id"), "a service")
    allowance = event.after("allowance")
    if event.label == "insert":
        times = f" ({allowance} included)" if allowance else ""
        return f"added {service} to package {package}{times}"
    if event.label == "delete":
        return f"removed {service} from package {package}"
    if event.changed("allowance"):
        before = event.before("allowance")
        return (
            f"changed how many {service} package {package} includes from "
            f"{before if before is not None else 'any'} to "
            f"{allowance if allowance is not None else 'any'}"
        )
    return f"changed {service} in package {package}"
