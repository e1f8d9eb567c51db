"""The catalog pages: packages, services and categories.

Every role reads the catalog (they hold its view permissions); only Admin changes it.
Views are thin: an access check, a form, a service from `catalog.services`, then a
partial (HTMX) or a redirect.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from catalog import selectors, services
from catalog.forms import CategoryForm, PackageForm, ServiceForm
from catalog.models import Package, Service, ServiceCategory
from kernel.errors import DomainError
from kernel.text import search_text
from kernel.web import (
    INVALID,
    apply_domain_error,
    go_to,
    paginate,
    render_page,
    render_popup,
    staff_view,
)

SHOW_CHOICES = (("active", "Active"), ("archived", "Archived"), ("all", "All"))


def _show(request: HttpRequest) -> str:
    show = request.GET.get("show", "active")
    return show if show in dict(SHOW_CHOICES) else "active"


# ------------------------------------------------------------------------ packages


@staff_view("catalog.view_package")
def index(request: HttpRequest) -> HttpResponse:
    """Packages: name, kind, credits, amount, services, expiry, sold count, status."""
    show = _show(request)
    q = search_text(request.GET.get("q"))
    page = paginate(request, selectors.packages_for_list(show=show, q=q))
    context = {"page": page, "show": show, "show_choices": SHOW_CHOICES, "q": q, "tab": "packages"}
    return render_page(request, "catalog/packages.html", context, partial="list")


@staff_view("catalog.view_package")
def package_detail(request: HttpRequest, pk: int) -> HttpResponse:
    package = get_object_or_404(selectors.packages_with_details(), pk=pk)
    return render_page(
        request, "catalog/package_detail.html", {"package": package, "tab": "packages"}
    )


def _package_form_page(
    request: HttpRequest, form: PackageForm, *, status: int = 200
) -> HttpResponse:
    context = {"form": form, "package": form.package, "tab": "packages"}
    return render_page(request, "catalog/package_form.html", context, partial="form", status=status)


@staff_view("catalog.add_package")
def package_add(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _package_form_page(request, PackageForm())
    form = PackageForm(request.POST)
    if not form.is_valid():
        return _package_form_page(request, form, status=INVALID)
    try:
        package = services.package_create(**form.service_kwargs(), by=request.user)
    except DomainError as exc:
        return _package_form_page(request, form, status=apply_domain_error(form, exc))
    messages.success(request, f"Package {package.name} added.")
    return go_to(request, reverse("catalog:index"))


@staff_view("catalog.change_package")
def package_edit(request: HttpRequest, pk: int) -> HttpResponse:
    package = get_object_or_404(Package.objects.select_related("tax_rate"), pk=pk)
    if request.method != "POST":
        return _package_form_page(request, PackageForm(package=package))
    form = PackageForm(request.POST, package=package)
    if not form.is_valid():
        return _package_form_page(request, form, status=INVALID)
    try:
        package = services.package_update(package=package, **form.service_kwargs(), by=request.user)
    except DomainError as exc:
        return _package_form_page(request, form, status=apply_domain_error(form, exc))
    messages.success(request, f"Package {package.name} saved.")
    return go_to(request, reverse("catalog:package_detail", args=[package.pk]))


def _confirm(request, *, obj, title, text, action, button, cancel, error=None, status=200):
    context = {
        "object": obj,
        "title": title,
        "text": text,
        "action": action,
        "button": button,
        "cancel": cancel,
        "error": error,
        "tab": "packages" if isinstance(obj, Package) else "services",
    }
    return render_popup(
        request, "includes/confirm.html", context, layout="catalog/base_catalog.html", status=status
    )


@staff_view("catalog.change_package")
def package_archive(request: HttpRequest, pk: int) -> HttpResponse:
    package = get_object_or_404(Package, pk=pk)
    confirm = {
        "obj": package,
        "title": f"Archive {package.name}?",
        "text": "Archived packages can't be sold; packages already sold keep working. "
        "You can restore it later.",
        "action": reverse("catalog:package_archive", args=[package.pk]),
        "button": "Archive package",
        "cancel": reverse("catalog:index"),
    }
    if request.method != "POST":
        return _confirm(request, **confirm)
    try:
        services.package_archive(package=package, by=request.user)
    except DomainError as exc:
        return _confirm(request, **confirm, error=exc.message, status=409)
    messages.success(
        request, f"Package {package.name} archived. Packages already sold keep working."
    )
    return go_to(request, reverse("catalog:index"))


@require_POST
@staff_view("catalog.change_package")
def package_restore(request: HttpRequest, pk: int) -> HttpResponse:
    package = get_object_or_404(Package, pk=pk)
    try:
        services.package_restore(package=package, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Package {package.name} is on sale again.")
    return redirect(reverse("catalog:index") + "?show=archived")


# ------------------------------------------------------------------------ services


@staff_view("catalog.view_service")
def service_list(request: HttpRequest) -> HttpResponse:
    show = _show(request)
    q = search_text(request.GET.get("q"))
    category = request.GET.get("category", "")
    page = paginate(request, selectors.services_for_list(show=show, q=q, category=category))
    context = {
        "page": page,
        "show": show,
        "show_choices": SHOW_CHOICES,
        "q": q,
        "category": category,
        "categories": ServiceCategory.objects.order_by("name"),
        "tab": "services",
    }
    return render_page(request, "catalog/services.html", context, partial="list")


def _popup_form(request, form, *, title, action, submit, cancel, tab, status=200):
    context = {
        "form": form,
        "title": title,
        "action": action,
        "submit": submit,
        "cancel": cancel,
        "tab": tab,
    }
    return render_popup(
        request,
        "includes/popup_form.html",
        context,
        layout="catalog/base_catalog.html",
        status=status,
    )


def _service_kwargs(form: ServiceForm) -> dict:
    return {
        key: form.cleaned_data[key]
        for key in ("name", "category", "duration_minutes", "price", "tax_rate", "capacity")
    }


@staff_view("catalog.add_service")
def service_add(request: HttpRequest) -> HttpResponse:
    page = {
        "title": "Add a service",
        "action": reverse("catalog:service_add"),
        "submit": "Add service",
        "cancel": reverse("catalog:services"),
        "tab": "services",
    }
    if request.method != "POST":
        return _popup_form(request, ServiceForm(), **page)
    form = ServiceForm(request.POST)
    if not form.is_valid():
        return _popup_form(request, form, **page, status=INVALID)
    try:
        service = services.service_create(**_service_kwargs(form), by=request.user)
    except DomainError as exc:
        return _popup_form(request, form, **page, status=apply_domain_error(form, exc))
    messages.success(request, f"Service {service.name} added.")
    return go_to(request, reverse("catalog:services"))


@staff_view("catalog.change_service")
def service_edit(request: HttpRequest, pk: int) -> HttpResponse:
    service = get_object_or_404(Service.objects.select_related("tax_rate"), pk=pk)
    page = {
        "title": f"Edit {service.name}",
        "action": reverse("catalog:service_edit", args=[service.pk]),
        "submit": "Save service",
        "cancel": reverse("catalog:services"),
        "tab": "services",
    }
    if request.method != "POST":
        return _popup_form(request, ServiceForm(service=service), **page)
    form = ServiceForm(request.POST, service=service)
    if not form.is_valid():
        return _popup_form(request, form, **page, status=INVALID)
    try:
        service = services.service_update(service=service, **_service_kwargs(form), by=request.user)
    except DomainError as exc:
        return _popup_form(request, form, **page, status=apply_domain_error(form, exc))
    messages.success(request, f"Service {service.name} saved.")
    return go_to(request, reverse("catalog:services"))


@staff_view("catalog.change_service")
def service_archive(request: HttpRequest, pk: int) -> HttpResponse:
    service = get_object_or_404(Service, pk=pk)
    confirm = {
        "obj": service,
        "title": f"Archive {service.name}?",
        "text": "Archived services can't be booked or added to packages. Appointments, "
        "invoices and packages already sold keep it. You can restore it later.",
        "action": reverse("catalog:service_archive", args=[service.pk]),
        "button": "Archive service",
        "cancel": reverse("catalog:services"),
    }
    if request.method != "POST":
        return _confirm(request, **confirm)
    try:
        services.service_archive(service=service, by=request.user)
    except DomainError as exc:
        return _confirm(request, **confirm, error=exc.message, status=409)
    messages.success(request, f"Service {service.name} archived.")
    return go_to(request, reverse("catalog:services"))


@require_POST
@staff_view("catalog.change_service")
def service_restore(request: HttpRequest, pk: int) -> HttpResponse:
    service = get_object_or_404(Service, pk=pk)
    services.service_restore(service=service, by=request.user)
    messages.success(request, f"Service {service.name} can be booked again.")
    return redirect(reverse("catalog:services") + "?show=archived")


# ------------------------------------------------------------------------ categories


@staff_view("catalog.view_servicecategory")
def category_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.categories_with_service_counts()
    context = {"page": paginate(request, rows), "tab": "categories"}
    return render_page(request, "catalog/categories.html", context, partial="list")


@staff_view("catalog.add_servicecategory")
def category_add(request: HttpRequest) -> HttpResponse:
    page = {
        "title": "Add a category",
        "action": reverse("catalog:category_add"),
        "submit": "Add category",
        "cancel": reverse("catalog:categories"),
        "tab": "categories",
    }
    if request.method != "POST":
        return _popup_form(request, CategoryForm(), **page)
    form = CategoryForm(request.POST)
    if not form.is_valid():
        return _popup_form(request, form, **page, status=INVALID)
    try:
        category = services.category_create(name=form.cleaned_data["name"], by=request.user)
    except DomainError as exc:
        return _popup_form(request, form, **page, status=apply_domain_error(form, exc))
    messages.success(request, f"Category {category.name} added.")
    return go_to(request, reverse("catalog:categories"))


@staff_view("catalog.change_servicecategory")
def category_edit(request: HttpRequest, pk: int) -> HttpResponse:
    category = get_object_or_404(ServiceCategory, pk=pk)
    page = {
        "title": f"Rename {category.name}",
        "action": reverse("catalog:category_edit", args=[category.pk]),
        "submit": "Save category",
        "cancel": reverse("catalog:categories"),
        "tab": "categories",
    }
    if request.method != "POST":
        return _popup_form(request, CategoryForm(initial={"name": category.name}), **page)
    form = CategoryForm(request.POST)
    if not form.is_valid():
        return _popup_form(request, form, **page, status=INVALID)
    try:
        category = services.category_update(
            category=category, name=form.cleaned_data["name"], by=request.user
        )
    except DomainError as exc:
        return _popup_form(request, form, **page, status=apply_domain_error(form, exc))
    messages.success(request, f"Category {category.name} saved.")
    return go_to(request, reverse("catalog:categories"))
