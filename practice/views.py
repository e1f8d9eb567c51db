"""Settings pages (Admin only): practice details and invoice settings, then one page per
list the practice manages: tax rates, payment methods, cancellation reasons, locations,
practitioners and staff users.

The five simple lists work the same way (add and edit in a popup, archive after a
confirmation, restore), so each is described once by a `Section` and served by the same
few views. Staff users have their own views: they have roles, passwords and the "last
Admin" rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from calendar_app import selectors as calendar_selectors
from calendar_app import services as calendar_services
from calendar_app.forms import service_label
from calendar_app.models import CancellationReason, Location, Practitioner
from catalog import services as catalog_services
from catalog.models import TaxRate
from invoicing import services as invoicing_services
from invoicing.models import PaymentMethod
from invoicing.selectors import invoice_number_taken
from kernel.errors import DomainError
from kernel.web import (
    INVALID,
    apply_domain_error,
    go_to,
    paginate,
    posted,
    render_page,
    render_popup,
    staff_view,
)
from practice import selectors, services
from practice.forms import (
    CancellationReasonForm,
    CancellationSettingsForm,
    DocumentSettingsForm,
    EmailSettingsForm,
    InvoiceSettingsForm,
    LocationForm,
    NameForm,
    PracticeDetailsForm,
    PractitionerForm,
    PractitionerServicesForm,
    StaffUserCreateForm,
    StaffUserForm,
    TaxRateForm,
    WorkingHoursForm,
)
from practice.models import PracticeLogo, PracticeSettings

SETTINGS = "caspen.change_practicesettings"

# Names the services give their inputs -> the form fields that show them.
FIELD_ALIASES = {"password": "password1"}


def _refused(form: forms.Form, exc: DomainError) -> int:
    """Show a service's refusal beside the field it names, else above the form."""
    name = exc.context.get("field")
    name = FIELD_ALIASES.get(name, name)
    return apply_domain_error(form, exc, name if name in form.fields else None)


# Settings popups opened without JavaScript keep the Settings page around them.
SETTINGS_PAGE = "settings/base_settings.html"


def _popup_form(request, form, *, title, action, submit, cancel, section, status=200, intro=""):
    context = {
        "form": form,
        "title": title,
        "action": action,
        "submit": submit,
        "cancel": cancel,
        "section": section,
        "intro": intro,
    }
    return render_popup(
        request, "includes/popup_form.html", context, layout=SETTINGS_PAGE, status=status
    )


def _confirm(request, *, title, text, action, button, cancel, section, error=None, status=200):
    context = {
        "title": title,
        "text": text,
        "action": action,
        "button": button,
        "cancel": cancel,
        "section": section,
        "error": error,
    }
    return render_popup(
        request, "includes/confirm.html", context, layout=SETTINGS_PAGE, status=status
    )


# ------------------------------------------------------------ practice and invoices


def _index_page(
    request,
    *,
    practice_form=None,
    invoice_form=None,
    documents_form=None,
    cancellation_form=None,
    email_form=None,
    status=200,
    partial=None,
):
    settings = PracticeSettings.load()
    context = {
        "documents_form": documents_form or DocumentSettingsForm.for_settings(settings),
        "logo": PracticeLogo.objects.filter(pk=1).first(),
        "section": "practice",
        "settings": settings,
        "practice_form": practice_form or PracticeDetailsForm.for_settings(settings),
        "invoice_form": invoice_form or InvoiceSettingsForm.for_settings(settings),
        "cancellation_form": cancellation_form or CancellationSettingsForm.for_settings(settings),
        "email_form": email_form or EmailSettingsForm.for_settings(settings),
        "number_taken": invoice_number_taken(settings),
        "example_number": settings.format_invoice_number(settings.invoice_next_number),
    }
    return render_page(request, "settings/index.html", context, partial=partial, status=status)


@staff_view(SETTINGS)
def index(request: HttpRequest) -> HttpResponse:
    """Practice details and invoice settings, each a card with its own Save."""
    return _index_page(request)


def _save_card(request, form_class, update, *, form_kw: str, card: str, saved: str):
    """One card of the Settings page saved on its own: the form, then the service; a
    refusal re-renders the card with the errors beside the fields."""
    form = form_class.for_settings(PracticeSettings.load(), request.POST)
    status = 200
    if not form.is_valid():
        status = INVALID
    else:
        try:
            update(**form.cleaned_data, by=request.user)
        except DomainError as exc:
            status = _refused(form, exc)
    if status != 200:
        return _index_page(request, **{form_kw: form}, status=status, partial=card)
    messages.success(request, saved)
    if request.htmx:
        return _index_page(request, partial=card)
    return redirect("settings:index")


@require_POST
@staff_view(SETTINGS)
def practice_details(request: HttpRequest) -> HttpResponse:
    return _save_card(
        request,
        PracticeDetailsForm,
        services.practice_details_update,
        form_kw="practice_form",
        card="practice_card",
        saved="Practice details saved.",
    )


@require_POST
@staff_view(SETTINGS)
def invoice_settings(request: HttpRequest) -> HttpResponse:
    def update(*, default_payment_method, by, **values) -> None:
        services.invoice_settings_update(**values, by=by)
        invoicing_services.payment_method_set_default(method=default_payment_method, by=by)

    return _save_card(
        request,
        InvoiceSettingsForm,
        update,
        form_kw="invoice_form",
        card="invoice_card",
        saved="Invoice settings saved.",
    )


@require_POST
@staff_view(SETTINGS)
def document_settings(request: HttpRequest) -> HttpResponse:
    """Logo and payment instructions (a plain form post: it carries a file)."""
    form = DocumentSettingsForm.for_settings(PracticeSettings.load(), request.POST, request.FILES)
    status = 200
    if not form.is_valid():
        status = INVALID
    else:
        try:
            services.document_settings_update(**form.values(), by=request.user)
        except DomainError as exc:
            status = _refused(form, exc)
    if status != 200:
        return _index_page(request, documents_form=form, status=status)
    messages.success(request, "Document settings saved.")
    return redirect(reverse("settings:index") + "#documents-card")


@require_POST
@staff_view(SETTINGS)
def cancellation_settings(request: HttpRequest) -> HttpResponse:
    """Missed and refunds (issue 13): what Missed does, how unused credits are valued."""
    return _save_card(
        request,
        CancellationSettingsForm,
        services.cancellation_settings_update,
        form_kw="cancellation_form",
        card="cancellation_card",
        saved="Missed and refund settings saved.",
    )


@require_POST
@staff_view(SETTINGS)
def email_settings(request: HttpRequest) -> HttpResponse:
    """Appointment emails (issue 14): confirmations on or off, reminder lead time."""
    return _save_card(
        request,
        EmailSettingsForm,
        services.email_settings_update,
        form_kw="email_form",
        card="email_card",
        saved="Appointment email settings saved.",
    )


# ------------------------------------------------------------ the simple lists


@dataclass(frozen=True)
class Section:
    """One list the practice manages, and how the pages change it."""

    key: str  # URL name prefix and sub-navigation key
    title: str  # "Tax rates"
    noun: str  # "tax rate"
    intro: str
    archive_text: str
    model: type
    form: type[forms.Form]
    perm: str  # app label for the add_/change_ permissions
    create: Callable[..., Any]
    update: Callable[..., Any]
    archive: Callable[..., Any]
    restore: Callable[..., Any]
    object_arg: str  # the service's keyword for the object
    initial: Callable[[Any], dict]
    edit_verb: str = "Edit"
    queryset: Callable[[], QuerySet] | None = None
    form_kwargs: Callable[[Any], dict] = field(default=lambda obj: {})

    @property
    def add_perm(self) -> str:
        return f"{self.perm}.add_{self.model._meta.model_name}"

    @property
    def change_perm(self) -> str:
        return f"{self.perm}.change_{self.model._meta.model_name}"

    # URL names for the templates: {% url config.edit_name item.pk %}
    @property
    def add_name(self) -> str:
        return f"settings:{self.key}_add"

    @property
    def edit_name(self) -> str:
        return f"settings:{self.key}_edit"

    @property
    def archive_name(self) -> str:
        return f"settings:{self.key}_archive"

    @property
    def restore_name(self) -> str:
        return f"settings:{self.key}_restore"

    def rows(self) -> QuerySet:
        queryset = self.queryset() if self.queryset else self.model.objects.all()
        return queryset.order_by("archived", "name", "id")


SECTIONS: dict[str, Section] = {
    section.key: section
    for section in (
        Section(
            key="tax_rates",
            title="Tax rates",
            noun="tax rate",
            intro="Chosen on services, packages and invoice lines. Invoices keep the rate they were issued with.",
            archive_text="Archived tax rates are no longer offered. Services, packages and invoices that use it keep it.",
            model=TaxRate,
            form=TaxRateForm,
            perm="catalog",
            create=catalog_services.tax_rate_create,
            update=catalog_services.tax_rate_update,
            archive=catalog_services.tax_rate_archive,
            restore=catalog_services.tax_rate_restore,
            object_arg="tax_rate",
            initial=lambda obj: {"name": obj.name, "rate": obj.rate},
        ),
        Section(
            key="payment_methods",
            title="Payment methods",
            noun="payment method",
            intro="Offered when recording a payment on an invoice.",
            archive_text="Archived payment methods are no longer offered. Payments already recorded keep it.",
            model=PaymentMethod,
            form=NameForm,
            perm="invoicing",
            create=invoicing_services.payment_method_create,
            update=invoicing_services.payment_method_rename,
            archive=invoicing_services.payment_method_archive,
            restore=invoicing_services.payment_method_restore,
            object_arg="method",
            initial=lambda obj: {"name": obj.name},
            edit_verb="Rename",
        ),
        Section(
            key="cancellation_reasons",
            title="Cancellation reasons",
            noun="cancellation reason",
            intro="Staff choose one when they cancel an appointment. Each may have a notice "
            "window and what happens inside it: release the credit, keep it, or charge a fee.",
            archive_text="Archived reasons are no longer offered. Appointments canceled with it keep it.",
            model=CancellationReason,
            form=CancellationReasonForm,
            perm="calendar_app",
            create=calendar_services.cancellation_reason_create,
            update=calendar_services.cancellation_reason_update,
            archive=calendar_services.cancellation_reason_archive,
            restore=calendar_services.cancellation_reason_restore,
            object_arg="reason",
            initial=lambda obj: {
                "name": obj.name,
                "notice_hours": obj.notice_hours,
                "late_action": obj.late_action,
                "fee_kind": obj.fee_kind,
                "fee_value": obj.fee_value,
            },
        ),
        Section(
            key="locations",
            title="Locations",
            noun="location",
            intro="Where appointments happen.",
            archive_text="No new appointments can be booked at an archived location. Appointments already booked stay.",
            model=Location,
            form=LocationForm,
            perm="calendar_app",
            create=calendar_services.location_create,
            update=calendar_services.location_update,
            archive=calendar_services.location_archive,
            restore=calendar_services.location_restore,
            object_arg="location",
            initial=lambda obj: {"name": obj.name, "address": obj.address},
        ),
        Section(
            key="practitioners",
            title="Practitioners",
            noun="practitioner",
            intro="Staff members with a calendar. Link one to a staff user so they can sign in to it.",
            archive_text="Archived practitioners take no new bookings. Their appointments and invoices stay.",
            model=Practitioner,
            form=PractitionerForm,
            perm="calendar_app",
            create=calendar_services.practitioner_create,
            update=calendar_services.practitioner_update,
            archive=calendar_services.practitioner_archive,
            restore=calendar_services.practitioner_restore,
            object_arg="practitioner",
            initial=lambda obj: {
                "name": obj.name,
                "colour": obj.colour,
                "user": obj.user_id,
                "provider_number": obj.provider_number,
            },
            queryset=lambda: Practitioner.objects.select_related("user"),
            form_kwargs=lambda obj: {"practitioner": obj},
        ),
    )
}

SUBNAV = [
    ("practice", "Practice and invoices", "settings:index"),
    *[(key, section.title, f"settings:{key}") for key, section in SECTIONS.items()],
    ("staff", "Staff users", "settings:staff"),
]


def _section_list(section: Section):
    @staff_view(SETTINGS)
    def view(request: HttpRequest) -> HttpResponse:
        context = {
            "section": section.key,
            "config": section,
            "page": paginate(request, section.rows()),
        }
        return render_page(request, "settings/section.html", context, partial="list")

    view.__name__ = f"{section.key}_list"
    return view


def _section_add(section: Section):
    @staff_view((SETTINGS, section.add_perm))
    def view(request: HttpRequest) -> HttpResponse:
        page = {
            "title": f"Add a {section.noun}",
            "action": reverse(f"settings:{section.key}_add"),
            "submit": f"Add {section.noun}",
            "cancel": reverse(f"settings:{section.key}"),
            "section": section.key,
        }
        if request.method != "POST":
            return _popup_form(request, section.form(**section.form_kwargs(None)), **page)
        form = section.form(request.POST, **section.form_kwargs(None))
        if not form.is_valid():
            return _popup_form(request, form, **page, status=INVALID)
        try:
            obj = section.create(**form.cleaned_data, by=request.user)
        except DomainError as exc:
            return _popup_form(request, form, **page, status=_refused(form, exc))
        messages.success(request, f"{section.noun.capitalize()} {obj.name} added.")
        return go_to(request, reverse(f"settings:{section.key}"))

    view.__name__ = f"{section.key}_add"
    return view


def _section_edit(section: Section):
    @staff_view((SETTINGS, section.change_perm))
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        obj = get_object_or_404(section.model, pk=pk)
        page = {
            "title": f"{section.edit_verb} {obj.name}",
            "action": reverse(f"settings:{section.key}_edit", args=[obj.pk]),
            "submit": f"Save {section.noun}",
            "cancel": reverse(f"settings:{section.key}"),
            "section": section.key,
        }
        kwargs = section.form_kwargs(obj)
        if request.method != "POST":
            return _popup_form(
                request, section.form(initial=section.initial(obj), **kwargs), **page
            )
        form = section.form(request.POST, initial=section.initial(obj), **kwargs)
        if not form.is_valid():
            return _popup_form(request, form, **page, status=INVALID)
        try:
            obj = section.update(**{section.object_arg: obj}, **form.cleaned_data, by=request.user)
        except DomainError as exc:
            return _popup_form(request, form, **page, status=_refused(form, exc))
        messages.success(request, f"{section.noun.capitalize()} {obj.name} saved.")
        return go_to(request, reverse(f"settings:{section.key}"))

    view.__name__ = f"{section.key}_edit"
    return view


def _section_archive(section: Section):
    @staff_view((SETTINGS, section.change_perm))
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        obj = get_object_or_404(section.model, pk=pk)
        confirm = {
            "title": f"Archive {obj.name}?",
            "text": f"{section.archive_text} You can restore it later.",
            "action": reverse(f"settings:{section.key}_archive", args=[obj.pk]),
            "button": f"Archive {section.noun}",
            "cancel": reverse(f"settings:{section.key}"),
            "section": section.key,
        }
        if request.method != "POST":
            return _confirm(request, **confirm)
        try:
            section.archive(**{section.object_arg: obj}, by=request.user)
        except DomainError as exc:
            return _confirm(request, **confirm, error=exc.message, status=409)
        messages.success(request, f"{section.noun.capitalize()} {obj.name} archived.")
        return go_to(request, reverse(f"settings:{section.key}"))

    view.__name__ = f"{section.key}_archive"
    return view


def _section_restore(section: Section):
    @require_POST
    @staff_view((SETTINGS, section.change_perm))
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        obj = get_object_or_404(section.model, pk=pk)
        try:
            section.restore(**{section.object_arg: obj}, by=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{section.noun.capitalize()} {obj.name} restored.")
        return redirect(f"settings:{section.key}")

    view.__name__ = f"{section.key}_restore"
    return view


SECTION_VIEWS = {
    key: {
        "list": _section_list(section),
        "add": _section_add(section),
        "edit": _section_edit(section),
        "archive": _section_archive(section),
        "restore": _section_restore(section),
    }
    for key, section in SECTIONS.items()
}


# ------------------------------------------------------------ working hours (issue 11)


@staff_view((SETTINGS, "calendar_app.change_practitioner"))
def practitioner_hours(request: HttpRequest, pk: int) -> HttpResponse:
    """A practitioner's working hours: per weekday, up to two stretches at a location.
    The calendar shades the rest; a booking outside them asks for a confirmation."""
    practitioner = get_object_or_404(Practitioner, pk=pk)
    hours = calendar_selectors.working_hours_of([practitioner.pk]).get(practitioner.pk, [])
    form = WorkingHoursForm(posted(request), hours=hours)
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            status = INVALID
        else:
            try:
                calendar_services.working_hours_set(
                    practitioner=practitioner, hours=form.cleaned_data["hours"], by=request.user
                )
            except DomainError as exc:
                weekday = exc.context.get("weekday")
                field = f"d{weekday}_1_starts" if weekday is not None else None
                status = apply_domain_error(form, exc, field)
            else:
                messages.success(request, f"Working hours of {practitioner.name} saved.")
                return redirect("settings:practitioner_hours", pk=practitioner.pk)
    context = {"section": "practitioners", "practitioner": practitioner, "form": form}
    return render_page(request, "settings/working_hours.html", context, status=status)


# ------------------------------------------------------------ staff users


def _staff_user(pk: int):
    return get_object_or_404(get_user_model(), pk=pk)


@staff_view((SETTINGS, "auth.view_user"))
def staff(request: HttpRequest) -> HttpResponse:
    """Staff users with their role and whether they can sign in."""
    page = paginate(request, selectors.staff_users())
    for user in page.object_list:
        user.role = selectors.role_of(user)
    return render_page(
        request, "settings/staff.html", {"section": "staff", "page": page}, partial="list"
    )


@staff_view((SETTINGS, "auth.add_user"))
def staff_add(request: HttpRequest) -> HttpResponse:
    page = {
        "title": "Add a staff user",
        "action": reverse("settings:staff_add"),
        "submit": "Add staff user",
        "cancel": reverse("settings:staff"),
        "section": "staff",
        "intro": "They sign in with this username and password; ask them to keep the password private.",
    }
    if request.method != "POST":
        return _popup_form(request, StaffUserCreateForm(), **page)
    form = StaffUserCreateForm(request.POST)
    if not form.is_valid():
        return _popup_form(request, form, **page, status=INVALID)
    data = form.cleaned_data
    try:
        user = services.staff_user_create(
            username=data["username"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            email=data["email"],
            role=data["role"],
            password=data["password1"],
            by=request.user,
        )
    except DomainError as exc:
        return _popup_form(request, form, **page, status=_refused(form, exc))
    messages.success(request, f"Staff user {user.username} added as {data['role']}.")
    return go_to(request, reverse("settings:staff"))


@staff_view((SETTINGS, "auth.change_user"))
def staff_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _staff_user(pk)
    page = {
        "title": f"Edit {user.get_full_name() or user.username}",
        "action": reverse("settings:staff_edit", args=[user.pk]),
        "submit": "Save staff user",
        "cancel": reverse("settings:staff"),
        "section": "staff",
    }
    initial = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": selectors.role_of(user),
    }
    if request.method != "POST":
        return _popup_form(request, StaffUserForm(initial=initial), **page)
    form = StaffUserForm(request.POST, initial=initial)
    if not form.is_valid():
        return _popup_form(request, form, **page, status=INVALID)
    try:
        user = services.staff_user_update(user=user, **form.cleaned_data, by=request.user)
    except DomainError as exc:
        return _popup_form(request, form, **page, status=_refused(form, exc))
    messages.success(request, f"Staff user {user.username} saved.")
    return go_to(request, reverse("settings:staff"))


@staff_view((SETTINGS, "auth.change_user"))
def staff_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    user = _staff_user(pk)
    name = user.get_full_name() or user.username
    confirm = {
        "title": f"Deactivate {name}?",
        "text": "They can no longer sign in. Everything they did stays recorded, and you can "
        "reactivate them later.",
        "action": reverse("settings:staff_deactivate", args=[user.pk]),
        "button": "Deactivate",
        "cancel": reverse("settings:staff"),
        "section": "staff",
    }
    if request.method != "POST":
        return _confirm(request, **confirm)
    try:
        services.staff_user_deactivate(user=user, by=request.user)
    except DomainError as exc:
        return _confirm(request, **confirm, error=exc.message, status=409)
    messages.success(request, f"{name} is deactivated and can no longer sign in.")
    return go_to(request, reverse("settings:staff"))


@require_POST
@staff_view((SETTINGS, "auth.change_user"))
def staff_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    user = _staff_user(pk)
    services.staff_user_reactivate(user=user, by=request.user)
    messages.success(request, f"{user.get_full_name() or user.username} can sign in again.")
    return redirect("settings:staff")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Staff land on the calendar, the screen they use all day."""
    return redirect("calendar_app:calendar")


# ------------------------------------------------------- services per practitioner (issue 11)


def _service_groups(services, ticked: set[int], typed: set[str] | None):
    """[(category name, [(service, checked)])] in category order; `typed` (the posted
    values) wins over `ticked` (what is saved) when the form is shown again."""
    groups: list[tuple[str, list]] = []
    for service in services:
        name = service.category.name if service.category else "Other services"
        if not groups or groups[-1][0] != name:
            groups.append((name, []))
        checked = str(service.pk) in typed if typed is not None else service.pk in ticked
        groups[-1][1].append((service, service_label(service), checked))
    return groups


@staff_view((SETTINGS, "calendar_app.change_practitioner"))
def practitioner_services(request: HttpRequest, pk: int) -> HttpResponse:
    """Which services a practitioner provides at each location: Create appointment offers
    only those. A location with nothing ticked offers every active service (the default)."""
    practitioner = get_object_or_404(Practitioner, pk=pk)
    locations = list(Location.objects.filter(archived=False).order_by("name", "id"))
    services = list(calendar_selectors.services_provided(None, None))
    form = PractitionerServicesForm(
        request.POST if request.method == "POST" else None,
        locations=locations,
        services=services,
    )
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            status = INVALID
        else:
            by_pk = {service.pk: service for service in services}
            try:
                for location in locations:
                    calendar_services.practitioner_services_set(
                        practitioner=practitioner,
                        location=location,
                        services=[by_pk[i] for i in form.chosen()[location.pk]],
                        by=request.user,
                    )
            except DomainError as exc:
                status = _refused(form, exc)
            else:
                messages.success(request, f"Services of {practitioner.name} saved.")
                return go_to(request, reverse("settings:practitioners"))
    saved = calendar_selectors.provided_service_ids(practitioner)
    rows = []
    for location in locations:
        name = f"services_{location.pk}"
        typed = set(request.POST.getlist(name)) if request.method == "POST" else None
        rows.append(
            {
                "location": location,
                "name": name,
                "field": form[name],
                "groups": _service_groups(services, saved.get(location.pk, set()), typed),
            }
        )
    context = {
        "title": f"Services of {practitioner.name}",
        "practitioner": practitioner,
        "form": form,
        "rows": rows,
        "has_services": bool(services),
        "action": reverse("settings:practitioner_services", args=[practitioner.pk]),
        "cancel": reverse("settings:practitioners"),
        "section": "practitioners",
    }
    return render_popup(
        request,
        "settings/practitioner_services.html",
        context,
        layout=SETTINGS_PAGE,
        status=status,
    )
