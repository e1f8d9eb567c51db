"""Client pages: the list with search as you type, add/edit, archive/restore, and the
client page with its Overview (details and Packages), Appointments and Invoices tabs.

Views are thin: access (staff_view + get_object_or_404), form, service, then a partial
or a redirect. HTMX requests get the named partial of the same template.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from django.contrib import messages
from django.db.models import Count, Q, QuerySet, Window
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from calendar_app.models import Appointment
from calendar_app.selectors import NextAndLast, _booked
from clients import services
from clients.forms import ArchiveForm, ClientForm, ClientSearchForm
from clients.models import Client
from clients.selectors import client_or_404, client_search, client_search_first_page
from clients.services import client_access_record
from invoicing.models import Invoice
from invoicing.selectors import (
    client_balance,
    client_packages_add_payment,
    invoice_display_status,
    invoices_summary,
    invoices_with_totals,
)
from kernel.pagination import paginate_capped
from kernel.prepared import Prepared
from kernel.web import (
    INVALID,
    go_to,
    paginate,
    paginate_known_first,
    pk_url,
    posted,
    render_page,
    render_popup,
    safe_next,
    staff_view,
    submit,
)
from packages.models import ClientPackage
from packages.selectors import client_expired_with_credits_left
from practice.activity import record_activity
from practice.models import PracticeSettings
from reports.selectors.liability import (
    client_liability_remaining,
    client_packages_add_remaining_value,
)


def _partial_for(request: HttpRequest, name: str) -> str | None:
    """`name` for HTMX requests, except the history restore htmx asks for when its cache
    misses (Back after search as you type): that one needs the whole page."""
    if request.htmx and not request.htmx.history_restore_request:
        return name
    return None


@staff_view("clients.view_client")
def client_list(request: HttpRequest) -> HttpResponse:
    form = ClientSearchForm(request.GET)
    status = 200 if form.is_valid() else INVALID
    archived = form.is_valid() and form.cleaned_data["archived"]
    # A capped count: "1–25 of more than 1,000" rather than counting every match.
    words = form.words()
    page = paginate_capped(
        request,
        lambda: client_search(words, archived=archived),
        # The first page of a search (as typed) read through SQL built once per process.
        first=lambda per_page: client_search_first_page(
            words, archived=archived, per_page=per_page
        ),
    )
    # Each row's links built here: three `{% url %}` and a `perms` lookup a row were most
    # of the search partial's time.
    can_change = request.user.has_perm("clients.change_client")
    rows = list(page.object_list)
    detail_url, edit_url = pk_url("clients:detail"), pk_url("clients:edit")
    archive_url = pk_url("clients:archive")
    back = f"?next={quote(request.get_full_path())}"
    for client in rows:
        client.detail_url = detail_url(client.pk)
        if can_change:
            client.edit_url = edit_url(client.pk)
            client.archive_url = archive_url(client.pk) + back
    page.object_list = rows
    context = {
        "form": form,
        "page": page,
        "can_change": can_change,
        "searching": bool(form.words()),
        "archived": archived,
    }
    response = render_page(
        request, "clients/list.html", context, partial=_partial_for(request, "rows"), status=status
    )
    # The same URL answers with a fragment or a page: keep browser caches apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_view("clients.add_client")
def client_add(request: HttpRequest) -> HttpResponse:
    form = ClientForm(posted(request))
    status = 200
    if request.method == "POST":
        sent = submit(form, lambda data: services.client_create(**data, by=request.user))
        if sent.ok:
            messages.success(request, f"Client added: {sent.result}.")
            return go_to(request, reverse("clients:detail", args=[sent.result.pk]))
        status = sent.status
    return render_page(request, "clients/form.html", {"form": form, "client": None}, status=status)


@staff_view("clients.change_client")
def client_edit(request: HttpRequest, pk: int) -> HttpResponse:
    client = _viewed(request, client_or_404(pk))
    form = ClientForm(posted(request), initial=ClientForm.initial_for(client))
    status = 200
    if request.method == "POST":
        sent = submit(
            form, lambda data: services.client_update(client=client, **data, by=request.user)
        )
        if sent.ok:
            messages.success(request, "Client updated.")
            return go_to(request, reverse("clients:detail", args=[client.pk]))
        status = sent.status
    return render_page(
        request, "clients/form.html", {"form": form, "client": client}, status=status
    )


@staff_view("clients.change_client")
def client_archive(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: confirm archiving (or restoring an archived client). POST: do it.

    The form says which way ("archive"/"restore"), so a double submit is refused rather
    than toggling the client back.
    """
    client = client_or_404(pk)
    fallback = reverse("clients:detail", args=[client.pk])
    status = 200
    if request.method == "POST":
        form = ArchiveForm(request.POST)

        def act(data):
            restore = data["action"] == "restore"
            (services.client_restore if restore else services.client_archive)(
                client=client, by=request.user
            )
            return f"{client} restored." if restore else f"{client} archived."

        sent = submit(form, act)
        if sent.ok:
            messages.success(request, sent.result)
            return go_to(request, safe_next(request, fallback))
        status = sent.status
    else:
        form = ArchiveForm(initial={"action": "restore" if client.archived else "archive"})
    upcoming = 0
    if not client.archived:
        upcoming = (
            Appointment.objects.filter(client=client, starts_at__gte=timezone.now())
            .exclude(status="canceled")
            .count()
        )
    context = {
        "client": client,
        "form": form,
        "next": safe_next(request, fallback),
        "upcoming": upcoming,
    }
    return render_popup(request, "clients/archive.html", context, status=status)


def _viewed(request: HttpRequest, client: Client) -> Client:
    """Record that the signed-in user opened the client's record (health data)."""
    client_access_record(client=client, request=request)
    return client


def _next_and_last(client: int, now: dt.datetime) -> QuerySet[Appointment]:
    """calendar_app.selectors.client_next_and_last_appointment's two appointments (the
    same querysets, from its `_booked`), read in one query."""
    upcoming = _booked(client).filter(starts_at__gte=now).order_by("starts_at", "id")
    past = _booked(client).filter(starts_at__lt=now).order_by("-starts_at", "-id")
    return _booked(client).filter(
        Q(pk__in=upcoming.values("pk")[:1]) | Q(pk__in=past.values("pk")[:1])
    )


# Its SQL built once per process and planned once per connection (planning it cost three
# times running it): the client tabs' header reads it on every page.
_VISITS = Prepared(_next_and_last, client=int, now=dt.datetime).planned()


# The first page of the client's packages (most clients have fewer than a page).
_PACKAGES = Prepared(
    lambda client: (
        ClientPackage.objects.filter(client_id=client)
        .select_related("tax_rate")
        .annotate(full_count=Window(Count("pk")))
        .order_by("-start_date", "-id")[:25]
    ),
    client=int,
).planned()


def client_visits(client: Client) -> NextAndLast:
    """The client's next and last appointment, as `client_next_and_last_appointment`
    (a test checks both agree). One query."""
    now = timezone.now()
    both = _VISITS.objects(client=client.pk, now=now)
    upcoming = [appointment for appointment in both if appointment.starts_at >= now]
    last = [appointment for appointment in both if appointment.starts_at < now]
    return NextAndLast(next=upcoming[0] if upcoming else None, last=last[0] if last else None)


def _tabs_context(request: HttpRequest, client: Client, tab: str) -> dict:
    """What every client tab shows in its header: the money owed (and whether any is
    overdue) for roles that see invoices, the next and last appointment for roles that
    see the calendar. Three queries, whatever the client's history."""
    context: dict = {"client": client, "tab": tab}
    if request.user.has_perm("invoicing.view_invoice"):
        context["balance"] = client_balance(client)
    if request.user.has_perm("calendar_app.view_appointment"):
        context["visits"] = client_visits(client)
    return context


@staff_view("clients.view_client")
def client_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Overview: the client's details and their Packages (refreshed in place after the
    Create package popup, via the `clientPackagesChanged` event)."""
    client = _viewed(request, client_or_404(pk))
    context = _tabs_context(request, client, "overview")
    if request.user.has_perm("packages.view_clientpackage"):
        include_tax = PracticeSettings.load().prices_include_tax
        # The page's rows read plainly, then given their value left (in Python, the rule
        # of `client_packages_with_remaining_value`) and payment state (one query): the
        # annotations cost more to compile than the rows to read. The queryset is made
        # only for a page after the first.
        page = paginate_known_first(
            request,
            lambda: (
                ClientPackage.objects.filter(client=client)
                .select_related("tax_rate")
                .order_by("-start_date", "-id")
            ),
            first=lambda: _PACKAGES.objects(client=client.pk),
        )
        rows = client_packages_add_remaining_value(
            list(page.object_list), prices_include_tax=include_tax
        )
        if request.user.has_perm("invoicing.view_invoice"):
            rows = client_packages_add_payment(rows)
        page.object_list = rows
        detail_url = pk_url("packages:detail")
        for package in page.object_list:
            package.detail_url = detail_url(package.pk)
        context["packages"] = page
        context["liability"] = client_liability_remaining(client, prices_include_tax=include_tax)
        context["expired_left"] = client_expired_with_credits_left(client)
    partial = None
    if request.htmx and request.htmx.target == "client-packages":
        partial = "packages"
    return render_page(request, "clients/detail.html", context, partial=partial)


@staff_view("clients.view_client")
def client_activity(request: HttpRequest, pk: int) -> HttpResponse:
    """Activity: every change to the client and to their packages, appointments,
    invoices and their payments, newest first, in plain language (who did what, when)."""
    client = _viewed(request, client_or_404(pk))
    context = _tabs_context(request, client, "activity")
    context.update(record_activity(request, client, also=Invoice.objects.filter(client=client)))
    return render_page(request, "clients/activity.html", context)


APPOINTMENT_LISTS = ("upcoming", "past")


@staff_view(("clients.view_client", "calendar_app.view_appointment"))
def client_appointments(request: HttpRequest, pk: int) -> HttpResponse:
    """Upcoming (soonest first) or past (latest first) appointments; `?show=past`."""
    client = _viewed(request, client_or_404(pk))
    show = request.GET.get("show")
    show = show if show in APPOINTMENT_LISTS else "upcoming"
    now = timezone.now()
    appointments = Appointment.objects.filter(client=client).select_related(
        "service", "practitioner", "location", "client_package"
    )
    upcoming = appointments.filter(starts_at__gte=now)
    past = appointments.filter(starts_at__lt=now)
    chosen = (
        upcoming.order_by("starts_at", "id")
        if show == "upcoming"
        else past.order_by("-starts_at", "-id")
    )
    context = _tabs_context(request, client, "appointments")
    context.update(
        show=show,
        page=paginate(request, chosen),
        upcoming_count=upcoming.count(),
        past_count=past.count(),
    )
    return render_page(
        request, "clients/appointments.html", context, partial=_partial_for(request, "list")
    )


@staff_view(("clients.view_client", "invoicing.view_invoice"))
def client_invoices(request: HttpRequest, pk: int) -> HttpResponse:
    client = _viewed(request, client_or_404(pk))
    today = timezone.localdate()
    invoices = invoices_with_totals(Invoice.objects.filter(client=client)).order_by(
        "-created_at", "-id"
    )
    page = paginate(request, invoices)
    rows = [(invoice, invoice_display_status(invoice, today)) for invoice in page]
    context = _tabs_context(request, client, "invoices")
    context.update(
        page=page,
        rows=rows,
        summary=invoices_summary(Invoice.objects.filter(client=client)),
    )
    return render_page(
        request, "clients/invoices.html", context, partial=_partial_for(request, "list")
    )
