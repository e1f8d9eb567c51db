"""Client package pages: Create package (popup), Create invoice for package, the client
package page (status, usage, services, appointments, invoices, credit history) and its
actions: Cancel package, Adjust credits, Extend expiry.

Views are thin: access (staff_view + get_object_or_404), form, service, then a partial
or a redirect. Every popup is also a full page at the same URL, for use without
JavaScript.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, F, Prefetch, QuerySet, Sum, Window
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from calendar_app.models import Appointment
from calendar_app.selectors import practitioner_and_location_defaults
from catalog.models import Package, PackageService
from clients.models import Client
from clients.services import client_access_record
from invoicing.models import Invoice, InvoiceStatus
from invoicing.selectors import (
    client_package_unused_value,
    current_invoice_for_client_package,
    default_payment_method,
    invoice_display_status,
    invoice_totals,
    invoices_add_totals,
    invoices_for_client_package,
)
from invoicing.services import (
    PackageSale,
    client_package_cancel_with_refund,
    client_package_sell,
    invoice_for_client_package,
)
from kernel.errors import DomainError
from kernel.money import format_money
from kernel.prepared import Prepared
from kernel.web import (
    INVALID,
    apply_domain_error,
    go_to,
    paginate_known_first,
    posted,
    render_page,
    render_popup,
    safe_next,
    staff_view,
    submit,
)
from packages import services
from packages.forms import (
    AdjustCreditsForm,
    CancelPackageForm,
    ExtendExpiryForm,
    InvoiceForPackageForm,
    SellPackageForm,
)
from packages.models import (
    ClientPackage,
    ClientPackageService,
    CreditLedgerEntry,
    ExpiryChange,
    LedgerKind,
)
from practice.activity import record_activity

# The words of the credit history ("what happened").
LEDGER_WORDS = {
    LedgerKind.GRANT: "Granted",
    LedgerKind.CONSUME: "Consumed",
    LedgerKind.RELEASE: "Released",
    LedgerKind.ADJUST: "Adjusted",
}


# The package page's reads, their SQL built once per process (values as parameters) and
# planned once per connection: each is a package's rows by its id, whose best plan is the
# same for any package (its index on the package), and planning the lists cost PostgreSQL
# ten times their reading (0.6-0.9 ms each against 0.06-0.17 ms on the large practice).
_CLIENT_PACKAGE = Prepared(
    lambda pk: ClientPackage.objects.select_related("client", "canceled_by", "created_by").filter(
        pk=pk
    )[:2],
    pk=int,
).planned()
_COVERED = Prepared(
    lambda package: ClientPackageService.objects.filter(client_package_id=package).order_by("id"),
    package=int,
).planned()
_APPOINTMENTS = Prepared(
    lambda package: _appointments(package).annotate(full_count=Window(Count("pk")))[:PER_PAGE],
    package=int,
).planned()
_INVOICES = Prepared(
    lambda package: invoices_for_client_package(package, totals=False).order_by(
        "-created_at", "-id"
    ),
    package=int,
).planned()
_LEDGER = Prepared(
    lambda package: _ledger(package).annotate(full_count=Window(Count("pk")))[:PER_PAGE],
    package=int,
).planned()
_EXPIRY_CHANGES = Prepared(
    lambda package: (
        ExpiryChange.objects.filter(client_package_id=package)
        .select_related("created_by")
        .order_by("-created_at", "-id")
    ),
    package=int,
).planned()
PER_PAGE = 25


def _appointments(package: int) -> QuerySet[Appointment]:
    return (
        Appointment.objects.filter(client_package_id=package)
        .select_related("service", "practitioner", "location")
        .order_by("starts_at", "id")
    )


def _ledger(package: int) -> QuerySet[CreditLedgerEntry]:
    """Newest first, each row with the Remaining after it (a running sum of the ledger)."""
    return (
        CreditLedgerEntry.objects.filter(client_package_id=package)
        .select_related("service", "appointment", "created_by")
        .annotate(
            remaining_after=Window(Sum("quantity"), order_by=[F("created_at").asc(), F("id").asc()])
        )
        .order_by("-created_at", "-id")
    )


def _client_package(pk: int) -> ClientPackage:
    return _CLIENT_PACKAGE.get_or_404(pk=pk)


def _package_url(client_package: ClientPackage) -> str:
    return reverse("packages:detail", args=[client_package.pk])


def _invoice_url(invoice: Invoice) -> str | None:
    """The invoice page, once the invoicing pages provide it."""
    try:
        return reverse("invoicing:detail", args=[invoice.pk])
    except NoReverseMatch:
        return None


def _catalog() -> list[Package]:
    """The packages that can be sold, with their services, in two queries."""
    included = PackageService.objects.select_related("service").order_by("id")
    return (
        Package.objects.filter(archived=False)
        .prefetch_related(Prefetch("package_services", queryset=included))
        .order_by("name", "id")
    )


# --------------------------------------------------------------------- Create package


@staff_view("packages.add_clientpackage")
def package_create(request: HttpRequest, client_pk: int) -> HttpResponse:
    """Create package, in one popup: select a catalog package, then (for roles that may
    invoice) Practitioner, Location and Invoice later / Create invoice / Create invoice
    and take payment (the full amount or a deposit). Create does it all in one
    transaction (`invoicing.services.client_package_sell`)."""
    client = get_object_or_404(Client, pk=client_pk)
    catalog = _catalog()
    user = request.user
    can_invoice = user.has_perm("invoicing.add_invoice")
    can_pay = can_invoice and user.has_perms(
        ("invoicing.finalize_invoice", "invoicing.add_payment")
    )
    initial: dict = {}
    if can_invoice and request.method != "POST":
        initial = practitioner_and_location_defaults(user, client=client)
        if can_pay:
            initial["method"] = default_payment_method()
    form = SellPackageForm(
        posted(request),
        packages=catalog,
        can_invoice=can_invoice,
        can_pay=can_pay,
        initial=initial,
    )
    status = 200
    if request.method == "POST":
        sent = submit(form, lambda data: client_package_sell(client=client, **form.sale(), by=user))
        if sent.ok:
            return _after_sale(request, sent.result)
        status = sent.status
    context = {"client": client, "form": form, "catalog": catalog}
    return render_popup(request, "packages/create.html", context, status=status)


def _after_sale(request: HttpRequest, sale: PackageSale) -> HttpResponse:
    """Say what was done, then: the client page after a payment (its Overview shows the
    package's payment chip and the balance owing), the Draft invoice after Create
    invoice (to add lines or finalize it), the package page after Invoice later."""
    sold, invoice, payment = sale.client_package, sale.invoice, sale.payment
    done = f"Package created: {sold.name}."
    if invoice is not None and invoice.number:
        balance = invoice_totals(invoice).balance
        done += f" Invoice {invoice.number} finalized"
        if payment is not None:
            done += f", {format_money(payment.amount)} paid by {payment.method.name}"
        done += f"; {format_money(balance)} owing." if balance else "; paid in full."
        messages.success(request, done)
        return go_to(request, reverse("clients:detail", args=[sold.client_id]))
    if invoice is not None:
        messages.success(request, done + " Invoice created.")
        return go_to(request, _invoice_url(invoice) or _package_url(sold))
    messages.success(request, done)
    return go_to(request, _package_url(sold))


# ------------------------------------------------------ Create invoice for package


def _invoice_defaults(request: HttpRequest, client_package: ClientPackage) -> dict:
    """The signed-in user's own practitioner, or the client's last booking's, or the only
    one there is; likewise the location
    (`calendar_app.selectors.practitioner_and_location_defaults`)."""
    return practitioner_and_location_defaults(request.user, client=client_package.client)


def _invoice_window(
    request: HttpRequest,
    client_package: ClientPackage,
    form: InvoiceForPackageForm,
    *,
    existing: Invoice | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "client_package": client_package,
        "client": client_package.client,
        "form": form,
        "existing": existing,
        "existing_url": _invoice_url(existing) if existing else None,
    }
    return render_popup(request, "packages/invoice.html", context, partial="window", status=status)


@staff_view(("packages.view_clientpackage", "invoicing.add_invoice"))
def package_invoice(request: HttpRequest, pk: int) -> HttpResponse:
    """Create invoice for package: Practitioner and Location, then Create (a Draft
    invoice with the package at its amount) or Cancel (invoice later from the package).

    While the package has a non-void invoice this offers that invoice instead.
    """
    client_package = _client_package(pk)
    status = 200
    existing = None
    if request.method == "POST":
        form = InvoiceForPackageForm(request.POST)
        if form.is_valid():
            try:
                invoice = invoice_for_client_package(
                    client_package=client_package,
                    practitioner=form.cleaned_data["practitioner"],
                    location=form.cleaned_data["location"],
                    by=request.user,
                )
            except DomainError as exc:
                # Not `submit`: the refusal names the package's existing invoice, offered
                # in the window instead.
                status = apply_domain_error(form, exc)
                existing = exc.context.get("invoice")
            else:
                messages.success(request, "Invoice created.")
                return go_to(request, _invoice_url(invoice) or _package_url(client_package))
        else:
            status = INVALID
    else:
        form = InvoiceForPackageForm(initial=_invoice_defaults(request, client_package))
        existing = current_invoice_for_client_package(client_package)
    return _invoice_window(
        request,
        client_package,
        form,
        existing=existing,
        status=status,
    )


# ----------------------------------------------------------------- the package page


@staff_view(("clients.view_client", "packages.view_clientpackage"))
def package_activity(request: HttpRequest, pk: int) -> HttpResponse:
    """Activity: every change to the package (sale, cancellation, credits, expiry) and to
    the appointments and invoice lines that refer to it, in plain language."""
    client_package = _client_package(pk)
    client_access_record(client=client_package.client, request=request)
    context = {
        "client_package": client_package,
        "client": client_package.client,
        "status": client_package.get_status_display(),
        "tab": "activity",
        **record_activity(request, client_package),
    }
    return render_page(request, "packages/activity.html", context)


@staff_view(("clients.view_client", "packages.view_clientpackage"))
def package_detail(request: HttpRequest, pk: int) -> HttpResponse:
    client_package = _client_package(pk)
    client_access_record(client=client_package.client, request=request)
    today = timezone.localdate()
    pk = client_package.pk
    covered = _COVERED.objects(package=pk)

    appointments = paginate_known_first(
        request,
        lambda: _appointments(pk),
        PER_PAGE,
        param="appointments_page",
        first=lambda: _APPOINTMENTS.objects(package=pk),
    )

    # The totals read for these few invoices in one grouped query; the current invoice
    # (`current_invoice_for_client_package`: the first non-void one with a line for the
    # package, by id) is among them.
    invoices = invoices_add_totals(_INVOICES.objects(package=pk), today=today)
    invoice_rows = [(invoice, invoice_display_status(invoice, today)) for invoice in invoices]
    current = min(
        (invoice for invoice in invoices if invoice.status != InvoiceStatus.VOID),
        key=lambda invoice: invoice.pk,
        default=None,
    )

    history = paginate_known_first(
        request, lambda: _ledger(pk), PER_PAGE, first=lambda: _LEDGER.objects(package=pk)
    )
    for entry in history:
        entry.what = LEDGER_WORDS.get(entry.kind, entry.get_kind_display())

    context = {
        "client_package": client_package,
        "client": client_package.client,
        "status": client_package.get_status_display(),
        "covered": covered,
        "appointments": appointments,
        "invoice_rows": invoice_rows,
        "current_invoice": current,
        "current_invoice_url": _invoice_url(current) if current else None,
        "history": history,
        "expiry_changes": _EXPIRY_CHANGES.objects(package=pk),
        "can_change": client_package.canceled_at is None,
    }
    return render_page(request, "packages/detail.html", context)


# ------------------------------------------------------------ Cancel / Adjust / Extend


def _action(
    request: HttpRequest,
    client_package: ClientPackage,
    form,
    *,
    act,
    done_message: str | list[str],
    template: str,
    extra: dict | None = None,
) -> HttpResponse:
    """The shape of the package page's popups: validate, call the service, then back to
    the package page with a message, or to `next` when the popup was opened from another
    page (e.g. the Expiring soon report); a refusal is shown above the form (409)."""
    back = safe_next(request, _package_url(client_package))
    status = 200
    if request.method == "POST":
        sent = submit(form, act)
        if sent.ok:
            note = done_message if isinstance(done_message, str) else " ".join(done_message)
            messages.success(request, note)
            return go_to(request, back)
        status = sent.status
    context = {
        "client_package": client_package,
        "client": client_package.client,
        "form": form,
        "next": safe_next(request, ""),
        "back_url": back,
        **(extra or {}),
    }
    return render_popup(request, template, context, status=status)


@staff_view(("packages.view_clientpackage", "packages.cancel_clientpackage"))
def package_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel package; an Admin (who may refund) may also give back the unused part in
    the same step (issue 13): the popup shows the unused value and what can be refunded."""
    client_package = _client_package(pk)
    unused = None
    if client_package.canceled_at is None and request.user.has_perm("invoicing.refund_payment"):
        unused = client_package_unused_value(client_package)
    form = CancelPackageForm(posted(request), unused=unused)
    done = ["Package canceled."]

    def act(data):
        if not data.get("refund_unused"):
            return services.client_package_cancel(
                client_package=client_package, reason=data["reason"], by=request.user
            )
        amount = data.get("refund_amount")
        refund = client_package_cancel_with_refund(
            client_package=client_package,
            reason=data["reason"],
            refund_amount=amount if amount is not None else None,
            by=request.user,
        )
        if refund.credited_invoice is not None:
            done.append(
                f"Draft invoice #{refund.credited_invoice.pk} reduced by "
                f"{format_money(refund.amount)}."
            )
        elif refund.credit_note is not None:
            note = refund.credit_note
            done.append(
                f"Credit note {note.number} of {format_money(note.total_amount)} issued on "
                f"invoice {note.invoice}."
            )
            if refund.refunded:
                done.append(f"{format_money(refund.refunded)} refunded.")
        elif refund.amount:
            done.append(f"{format_money(refund.amount)} refunded.")
        return refund

    return _action(
        request,
        client_package,
        form,
        act=act,
        done_message=done,
        template="packages/cancel.html",
        extra={"unused": unused},
    )


@staff_view(("packages.view_clientpackage", "packages.adjust_credits"))
def package_adjust(request: HttpRequest, pk: int) -> HttpResponse:
    client_package = _client_package(pk)
    form = AdjustCreditsForm(posted(request), client_package=client_package)

    def act(data):
        row = data.get("service")
        services.client_package_adjust(
            client_package=client_package,
            quantity=data["quantity"],
            service=row.service if row is not None else None,
            reason=data["reason"],
            by=request.user,
        )

    return _action(
        request,
        client_package,
        form,
        act=act,
        done_message="Credits adjusted.",
        template="packages/adjust.html",
    )


@staff_view(("packages.view_clientpackage", "packages.extend_expiry"))
def package_extend(request: HttpRequest, pk: int) -> HttpResponse:
    client_package = _client_package(pk)
    form = ExtendExpiryForm(posted(request), initial={"expires_on": client_package.expires_on})
    return _action(
        request,
        client_package,
        form,
        act=lambda data: services.client_package_extend_expiry(
            client_package=client_package,
            expires_on=data["expires_on"],
            reason=data["reason"],
            by=request.user,
        ),
        done_message="Expiry date changed.",
        template="packages/extend.html",
    )
