"""Reads of the catalog for the pages and the API: lists with their filters, ready to
paginate (related rows joined or prefetched, so a page costs the same few queries
whatever its length)."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from catalog.models import Package, PackageService, Service, ServiceCategory

SHOWS = ("active", "archived", "all")


def _shown(queryset: QuerySet, show: str) -> QuerySet:
    """Active (not archived), archived, or all rows."""
    if show == "active":
        return queryset.filter(archived=False)
    if show == "archived":
        return queryset.filter(archived=True)
    return queryset


def packages_with_details() -> QuerySet[Package]:
    """Packages with their tax rate, their services in order and how many were sold."""
    included = PackageService.objects.select_related("service").order_by("id")
    return (
        Package.objects.select_related("tax_rate")
        .annotate(sold=Count("sales", distinct=True))
        .prefetch_related(Prefetch("package_services", queryset=included))
    )


def packages_for_list(*, show: str = "active", q: str = "") -> QuerySet[Package]:
    """The Packages tab: by name, filtered by status and by a name search."""
    packages = _shown(packages_with_details(), show)
    if q:
        packages = packages.filter(name__icontains=q)
    return packages.order_by("name", "id")


def services_for_list(
    *, show: str = "active", q: str = "", category: str = ""
) -> QuerySet[Service]:
    """The Services tab: by name; `q` searches names and categories; `category` is a
    category id, "none" (no category) or empty (any)."""
    rows = _shown(Service.objects.select_related("category", "tax_rate"), show)
    if q:
        rows = rows.filter(Q(name__icontains=q) | Q(category__name__icontains=q))
    if category.isdigit():
        rows = rows.filter(category_id=int(category))
    elif category == "none":
        rows = rows.filter(category__isnull=True)
    return rows.order_by("name", "id")


def categories_with_service_counts() -> QuerySet[ServiceCategory]:
    """Categories by name, each with how many active services it holds."""
    return ServiceCategory.objects.annotate(
        service_count=Count("services", filter=Q(services__archived=False))
    ).order_by("name", "id")
