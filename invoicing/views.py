"""Billing pages: the invoice list, New invoice, an invoice (its draft editing inline),
the popups (Finalize, Delete, Pay invoice, Void, Refund, Void payment) and the print view.

Views are thin: access (`staff_view` + 404), form, service, then a partial or a redirect.
Every popup URL also renders a full page, so each flow works with plain links and posts.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.dateformat import format as date_format
from django.views.decorators.http import require_POST

from calendar_app.selectors import practitioner_and_location_defaults
from clients.models import Client
from documents.views import document_page
from invoicing import services
from invoicing.forms import (
    CatalogPickForm,
    ConfirmForm,
    CreditNoteForm,
    InvoiceCreateForm,
    InvoiceDetailsForm,
    InvoiceFilterForm,
    LineForm,
    PaymentForm,
    ReasonForm,
    RefundForm,
)
from invoicing.models import (
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Refund,
)
from invoicing.rules import (
    credit_notes_refusal,
    invoice_actions,
    money_held_refusal,
    payment_actions,
    why_not_creditable,
    why_not_editable,
    why_not_payable,
    why_not_refundable,
)
from invoicing.selectors import (
    DISPLAY_STATUSES,
    invoice_display_status,
    invoice_totals,
    invoices_add_totals,
    invoices_for_list,
    invoices_list_figures,
    invoices_with_totals,
    refundable_amount,
    refunded_amount,
)
from kernel.errors import DomainError
from kernel.prepared import Prepared
from kernel.templatetags.caspen_tags import money
from kernel.text import search_text
from kernel.web import (
    REFUSED,
    go_to,
    paginate,
    pk_url,
    posted,
    render_page,
    render_popup,
    safe_next,
    staff_view,
    submit,
)

LIST = "invoicing/invoice_list.html"
NEW = "invoicing/invoice_new.html"
DETAIL = "invoicing/invoice_detail.html"
POPUP = "includes/popup_form.html"

# Which part of the invoice page an HTMX request wants, by the id it targets.
DETAIL_PARTIALS = {"invoice-header": "header", "invoice-lines": "lines"}
CLIENT_RESULTS = 8


# --------------------------------------------------------------------------- helpers


# The invoice page's reads, their SQL built once per process (the totals' subqueries
# cost far more to compile than to run).
_INVOICE = Prepared(lambda pk: invoices_with_totals().filter(pk=pk)[:2], pk=int).planned()
_LINES = Prepared(
    lambda invoice: InvoiceLine.objects.filter(invoice_id=invoice).select_related(
        "tax_rate", "client_package", "appointment"
    ),
    invoice=int,
).planned()
_PAYMENTS = Prepared(
    lambda invoice: Payment.objects.filter(invoice_id=invoice).select_related("method"),
    invoice=int,
).planned()
_REFUNDS = Prepared(
    lambda invoice: Refund.objects.filter(payment__invoice_id=invoice),
    invoice=int,
).planned()
_CREDIT_NOTES = Prepared(
    lambda invoice: CreditNote.objects.filter(invoice_id=invoice).select_related("created_by"),
    invoice=int,
).planned()


# The billing list's first page without filters (`invoice_list`).
_FIRST_INVOICES = Prepared(
    lambda: invoices_for_list(totals=False).select_related(None).select_related("client")[:25]
)


def _invoice(pk: int) -> Invoice:
    """The invoice with its totals annotated (404 when there is none)."""
    return _INVOICE.get_or_404(pk=pk)


def _pick_url(invoice: Invoice) -> str:
    return reverse("invoicing:line_from_catalog", args=[invoice.pk])


def _detail_url(invoice: Invoice | int) -> str:
    return reverse("invoicing:detail", args=[getattr(invoice, "pk", invoice)])


def _done(request: HttpRequest, url: str, message: str) -> HttpResponse:
    """After a popup's action: a message, then the page (HTMX reloads it from the popup)."""
    messages.success(request, message)
    return go_to(request, url)


def _day(value) -> str:
    """Dates as staff read them: 24 Nov 2026."""
    return date_format(value, "j M Y")


def _popup(
    request: HttpRequest,
    *,
    invoice: Invoice,
    title: str,
    action: str,
    form=None,
    submit: str = "",
    intro: str = "",
    danger: bool = False,
    refusal: str = "",
    summary: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    """One template for every popup: a title, a few facts, the form and its buttons."""
    context = {
        "invoice": invoice,
        "title": title,
        "action": action,
        "form": form,
        "submit": submit,
        "intro": intro,
        "danger": danger,
        "refusal": refusal,
        "summary": summary or [],
        "next": safe_next(request, ""),
        "cancel_url": safe_next(request, _detail_url(invoice)),
    }
    return render_popup(
        request, POPUP, context, layout="invoicing/popup_layout.html", status=status
    )


def _payments(invoice: Invoice) -> list[Payment]:
    """The invoice's payments with their refunds and what each allows now (two queries,
    however many)."""
    payments = _PAYMENTS.objects(invoice=invoice.pk)
    refunds: dict[int, list[Refund]] = {payment.pk: [] for payment in payments}
    if payments:
        for refund in _REFUNDS.objects(invoice=invoice.pk):
            refunds[refund.payment_id].append(refund)
    for payment in payments:
        payment.refund_list = refunds[payment.pk]
        # As prefetch_related("refunds") leaves it: `payment.refunds.all()` reads these.
        prefetched = payment.refunds.all()
        prefetched._result_cache = payment.refund_list
        prefetched._prefetch_done = True
        payment._prefetched_objects_cache = {"refunds": prefetched}
        payment.actions = payment_actions(payment)
        payment.is_void = payment.status == PaymentStatus.VOID
    return payments


def _lines(invoice: Invoice) -> list[InvoiceLine]:
    return _LINES.objects(invoice=invoice.pk)


def _detail_context(request: HttpRequest, invoice: Invoice, **extra) -> dict:
    actions = invoice_actions(invoice)
    context = {
        "invoice": invoice,
        "totals": invoice_totals(invoice),
        "status_label": invoice_display_status(invoice),
        "lines": _lines(invoice),
        "payments": _payments(invoice) if not invoice.is_draft else [],
        "credit_notes": (_CREDIT_NOTES.objects(invoice=invoice.pk) if not invoice.is_draft else []),
        "actions": actions,
        "can_edit_lines": actions.edit,
        "editing_line_id": None,
        "lines_errors": [],
        "header_errors": [],
    }
    if context["can_edit_lines"] and request.user.has_perm("invoicing.add_invoiceline"):
        context["add_form"] = LineForm(prefix="add")
        context["pick_form"] = CatalogPickForm(prefix="add", pick_url=_pick_url(invoice))
        if extra.pop("focus_add", False):
            # After adding a line, the next one is typed straight away.
            context["add_form"].fields["description"].widget.attrs["autofocus"] = True
    context.update(extra)
    return context


def _render_lines(request, invoice, *, status=200, form=None, **extra) -> HttpResponse:
    """The lines card (HTMX) or the whole invoice page, after a line form was posted."""
    if form is not None:
        extra.setdefault("lines_errors", form.non_field_errors())
    context = _detail_context(request, invoice, **extra)
    return render_page(request, DETAIL, context, partial="lines", status=status)


# ------------------------------------------------------------------------ the list


@staff_view("invoicing.view_invoice")
def invoice_list(request: HttpRequest) -> HttpResponse:
    form = InvoiceFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else {}
    # The totals are read for the page's rows only (one grouped query), and the count and
    # the summary together from the maintained day totals.
    # The rows show the client only (no practitioner or location to join and build).
    invoices = (
        invoices_for_list(**filters, totals=False).select_related(None).select_related("client")
    )
    count, summary = invoices_list_figures(**filters)
    if not any(filters.values()) and request.GET.get("page") in (None, "", "1"):
        # The page as it opens: its rows through SQL built once per process.
        paginator = Paginator(invoices, 25)
        paginator.count = count  # a cached_property: its value
        page = Page(_FIRST_INVOICES.objects(), 1, paginator)
    else:
        page = paginate(request, invoices, count=count)
    rows = invoices_add_totals(list(page.object_list), today=filters.get("today"))
    detail_url, client_url = pk_url("invoicing:detail"), pk_url("clients:detail")
    for invoice in rows:
        invoice.status_label = DISPLAY_STATUSES[invoice.display_status]
        invoice.detail_url = detail_url(invoice.pk)
        invoice.client_url = client_url(invoice.client_id)
    context = {
        "form": form,
        "page": page,
        "invoices": rows,
        "is_filtered": any(filters.values()),
        # Finalized invoices only: drafts are not owed and void ones leave every total.
        "summary": summary,
    }
    return render_page(request, LIST, context, partial="results")


# ------------------------------------------------------------------- New invoice


def _digits(value) -> int | None:
    value = str(value or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


def _client_matches(search: str, exclude: Client | None) -> list[Client]:
    """Clients whose name, email or phone contains every word typed (archived ones can't
    be invoiced, so they are not offered)."""
    words = search.split()[:5]
    if not words:
        return []
    clients = Client.objects.filter(archived=False)
    for word in words:
        clients = clients.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
            | Q(phone__icontains=word)
        )
    if exclude is not None:
        clients = clients.exclude(pk=exclude.pk)
    return list(clients.order_by("last_name", "first_name", "id")[:CLIENT_RESULTS])


def _new_initial(request: HttpRequest) -> dict:
    """Prefill from the link (`?client=` from a client's page) or the obvious choice: the
    user's own practitioner, or the only practitioner or location there is."""
    initial = {"client": _digits(request.GET.get("client"))}
    initial.update(
        practitioner_and_location_defaults(
            request.user,
            practitioner_id=_digits(request.GET.get("practitioner")),
            location_id=_digits(request.GET.get("location")),
        )
    )
    return initial


@staff_view("invoicing.add_invoice")
def invoice_new(request: HttpRequest) -> HttpResponse:
    """New invoice: find the client, choose practitioner and location, create the Draft."""
    status = 200
    if request.method == "POST":
        form = InvoiceCreateForm(request.POST)
        search = request.POST.get("q", "")
        sent = submit(
            form,
            lambda data: services.invoice_create(
                client=data["client"],
                practitioner=data["practitioner"],
                location=data["location"],
                by=request.user,
            ),
        )
        if sent.ok:
            invoice = sent.result
            return _done(
                request,
                _detail_url(invoice),
                f"Draft invoice created for {invoice.client}. Add its lines, then finalize it.",
            )
        status = sent.status
        chosen = _digits(request.POST.get("client"))
    else:
        form = InvoiceCreateForm(initial=_new_initial(request))
        search = request.GET.get("q", "")
        chosen = _digits(request.GET.get("client"))
    selected = Client.objects.filter(pk=chosen).first() if chosen else None
    search = search_text(search)
    context = {
        "form": form,
        "search": search,
        "selected_client": selected,
        "clients": _client_matches(search, exclude=selected),
        "cancel_url": safe_next(request, reverse("invoicing:list")),
    }
    if request.htmx and request.htmx.target == "client-results":
        return render_page(request, NEW, context, partial="client_results", status=status)
    return render_popup(request, NEW, context, status=status)


# ---------------------------------------------------------------- the invoice page


@staff_view("invoicing.view_invoice")
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(pk)
    partial = DETAIL_PARTIALS.get(request.htmx.target or "") if request.htmx else None
    return render_page(request, DETAIL, _detail_context(request, invoice), partial=partial)


@staff_view("invoicing.change_invoice")
def invoice_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a draft's practitioner, location, issue date and notes (inline in its card)."""
    invoice = _invoice(pk)
    refusal = why_not_editable(invoice, "edited")
    if refusal is not None:
        context = _detail_context(request, invoice, header_errors=[refusal.message])
        return render_page(request, DETAIL, context, partial="header", status=REFUSED)
    form = InvoiceDetailsForm(posted(request), invoice=invoice)
    status = 200
    if request.method == "POST":
        sent = submit(
            form, lambda data: services.invoice_update(invoice=invoice, by=request.user, **data)
        )
        if sent.ok:
            messages.success(request, "Invoice details saved.")
            if not request.htmx:
                return redirect(_detail_url(invoice))
            context = _detail_context(request, _invoice(pk))
            return render_page(request, DETAIL, context, partial="header")
        status = sent.status
    context = _detail_context(request, invoice, header_form=form)
    return render_page(request, DETAIL, context, partial="header", status=status)


@staff_view("invoicing.add_invoiceline")
@require_POST
def line_add(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(pk)
    form = LineForm(request.POST, prefix="add")
    sent = submit(
        form,
        lambda _data: services.invoice_line_add(invoice=invoice, by=request.user, **form.values()),
    )
    if sent.ok:
        messages.success(request, "Line added.")
        if not request.htmx:
            return redirect(_detail_url(invoice) + "#invoice-lines")
        return _render_lines(request, _invoice(pk), focus_add=True)
    return _render_lines(request, _invoice(pk), status=sent.status, form=form, add_form=form)


@staff_view("invoicing.add_invoiceline")
def line_from_catalog(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a line, filled in from the service or package picked in the catalog (GET,
    nothing is written): the form again (HTMX), or the invoice page without JavaScript
    ("Fill in"). Staff may still change every value before Add line."""
    invoice = _invoice(pk)
    pick = CatalogPickForm(request.GET, prefix="add", pick_url=_pick_url(invoice))
    context = _detail_context(request, invoice)
    if "add_form" in context:
        context["add_form"] = LineForm(prefix="add", initial=pick.line_initial() or None)
        context["pick_form"] = pick
        context["add_form"].fields["description"].widget.attrs["autofocus"] = True
    partial = "add_line" if request.htmx and "add_form" in context else None
    return render_page(request, DETAIL, context, partial=partial)


@staff_view("invoicing.change_invoiceline")
def line_edit(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    invoice = _invoice(pk)
    line = get_object_or_404(InvoiceLine, pk=line_pk, invoice=invoice)
    refusal = why_not_editable(invoice, "edited")
    if refusal is not None:
        return _render_lines(request, invoice, status=REFUSED, lines_errors=[refusal.message])
    form = LineForm(posted(request), prefix="line", line=line)
    status = 200
    if request.method == "POST":
        sent = submit(
            form,
            lambda _data: services.invoice_line_update(line=line, by=request.user, **form.values()),
        )
        if sent.ok:
            messages.success(request, "Line updated.")
            if not request.htmx:
                return redirect(_detail_url(invoice) + "#invoice-lines")
            return _render_lines(request, _invoice(pk))
        status = sent.status
    return _render_lines(
        request, invoice, status=status, form=form, line_form=form, editing_line_id=line.pk
    )


@staff_view("invoicing.delete_invoiceline")
@require_POST
def line_remove(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    invoice = _invoice(pk)
    line = get_object_or_404(InvoiceLine, pk=line_pk, invoice=invoice)
    try:
        services.invoice_line_remove(line=line, by=request.user)
    except DomainError as exc:
        return _render_lines(request, invoice, status=REFUSED, lines_errors=[exc.message])
    messages.success(request, f"Line “{line.description}” removed.")
    if not request.htmx:
        return redirect(_detail_url(invoice) + "#invoice-lines")
    return _render_lines(request, _invoice(pk))


# ------------------------------------------------------------------------- popups


@staff_view("invoicing.finalize_invoice")
def invoice_finalize(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(pk)
    form = ConfirmForm(posted(request))
    status = 200
    if request.method == "POST":
        sent = submit(
            form, lambda _data: services.invoice_finalize(invoice=invoice, by=request.user)
        )
        if sent.ok:
            finalized = sent.result
            message = f"Invoice {finalized.number} finalized."
            if finalized.status == InvoiceStatus.PAID:
                message += f" Its total is {money(0)}, so it is paid."
            return _done(request, safe_next(request, _detail_url(invoice)), message)
        status = sent.status
    return _popup(
        request,
        invoice=invoice,
        title="Finalize invoice?",
        intro="It gets the next number and can no longer be edited.",
        summary=[("Client", str(invoice.client)), ("Total", money(invoice.total))],
        action=reverse("invoicing:finalize", args=[invoice.pk]),
        form=form,
        submit="Finalize",
        status=status,
    )


@staff_view("invoicing.delete_invoice")
def invoice_delete(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(pk)
    form = ConfirmForm(posted(request))
    status = 200
    if request.method == "POST":
        sent = submit(form, lambda _data: services.invoice_delete(invoice=invoice, by=request.user))
        if sent.ok:
            return _done(
                request,
                reverse("invoicing:list"),
                f"Draft invoice for {invoice.client} deleted.",
            )
        status = sent.status
    return _popup(
        request,
        invoice=invoice,
        title="Delete draft invoice?",
        intro="The draft and its lines are removed. This cannot be undone.",
        summary=[("Client", str(invoice.client)), ("Total", money(invoice.total))],
        action=reverse("invoicing:delete", args=[invoice.pk]),
        form=form,
        submit="Delete",
        danger=True,
        status=status,
    )


@staff_view("invoicing.void_invoice")
def invoice_void(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(pk)
    action = reverse("invoicing:void", args=[invoice.pk])
    title = f"Void invoice {invoice.number}?" if invoice.number else "Void invoice?"
    refusal = (
        money_held_refusal(invoice) or credit_notes_refusal(invoice)
        if request.method != "POST"
        else None
    )
    if refusal is not None:
        # Say so before anyone types a reason: the service would refuse anyway.
        return _popup(
            request,
            invoice=invoice,
            title=title,
            action=action,
            refusal=refusal.message,
            status=REFUSED,
        )
    form = ReasonForm(posted(request))
    status = 200
    if request.method == "POST":
        sent = submit(
            form,
            lambda data: services.invoice_void(
                invoice=invoice, reason=data["reason"], by=request.user
            ),
        )
        if sent.ok:
            return _done(
                request,
                safe_next(request, _detail_url(invoice)),
                f"Invoice {sent.result.number} voided.",
            )
        status = sent.status
    return _popup(
        request,
        invoice=invoice,
        title=title,
        intro="A void invoice keeps its number but leaves every total. This cannot be undone.",
        summary=[
            ("Client", str(invoice.client)),
            ("Total", money(invoice.total)),
            ("Paid", money(invoice.amount_paid)),
        ],
        action=action,
        form=form,
        submit="Void invoice",
        danger=True,
        status=status,
    )


@staff_view("invoicing.add_payment")
def invoice_pay(request: HttpRequest, pk: int) -> HttpResponse:
    """Pay invoice: the amount defaults to the balance; less is a deposit (part payment)."""
    invoice = _invoice(pk)
    totals = invoice_totals(invoice)
    action = reverse("invoicing:pay", args=[invoice.pk])
    summary = [
        ("Client", str(invoice.client)),
        ("Total", money(totals.total)),
        ("Paid", money(totals.amount_paid)),
        ("Balance", money(totals.balance)),
    ]
    title = f"Pay invoice {invoice.number or ''}".strip()
    refusal = why_not_payable(invoice)
    if refusal is not None and request.method != "POST":
        return _popup(
            request,
            invoice=invoice,
            title=title,
            action=action,
            refusal=refusal.message,
            status=REFUSED,
        )
    form = PaymentForm(posted(request), balance=totals.balance)
    status = 200
    if request.method == "POST":
        sent = submit(
            form,
            lambda data: services.payment_record(
                invoice=invoice,
                amount=data["amount"],
                method=data["method"],
                date=data["date"],
                reference=data["reference"],
                by=request.user,
            ),
        )
        if sent.ok:
            balance = invoice_totals(_invoice(pk)).balance
            return _done(
                request,
                safe_next(request, _detail_url(invoice)),
                f"Payment of {money(sent.result.amount)} recorded. Balance {money(balance)}.",
            )
        status = sent.status
    return _popup(
        request,
        invoice=invoice,
        title=title,
        summary=summary,
        action=action,
        form=form,
        submit="Record payment",
        status=status,
    )


@staff_view("invoicing.add_creditnote")
def invoice_credit_note(request: HttpRequest, pk: int) -> HttpResponse:
    """Issue credit note (Admin): take up to the amount owing off an Open invoice."""
    invoice = _invoice(pk)
    totals = invoice_totals(invoice)
    action = reverse("invoicing:credit_note", args=[invoice.pk])
    summary = [
        ("Client", str(invoice.client)),
        ("Total", money(totals.total)),
        ("Paid", money(totals.amount_paid)),
        ("Amount owing", money(totals.balance)),
    ]
    title = f"Issue credit note on {invoice.number or 'invoice'}"
    refusal = why_not_creditable(invoice)
    if refusal is not None and request.method != "POST":
        return _popup(
            request,
            invoice=invoice,
            title=title,
            action=action,
            refusal=refusal.message,
            status=REFUSED,
        )
    form = CreditNoteForm(posted(request), balance=totals.balance)
    status = 200
    if request.method == "POST":
        sent = submit(
            form,
            lambda data: services.credit_note_issue(
                invoice=invoice, amount=data["amount"], reason=data["reason"], by=request.user
            ),
        )
        if sent.ok:
            balance = invoice_totals(_invoice(pk)).balance
            return _done(
                request,
                safe_next(request, _detail_url(invoice)),
                f"Credit note {sent.result.number} of {money(sent.result.total_amount)} issued. "
                f"Balance {money(balance)}.",
            )
        status = sent.status
    return _popup(
        request,
        invoice=invoice,
        title=title,
        intro="A numbered credit note takes the amount off what the invoice asks for. "
        "It can't be changed or removed once issued.",
        summary=summary,
        action=action,
        form=form,
        submit="Issue credit note",
        status=status,
    )


def _payment(pk: int) -> Payment:
    return get_object_or_404(
        Payment.objects.select_related("invoice", "method").prefetch_related("refunds"), pk=pk
    )


@staff_view("invoicing.refund_payment")
def payment_refund(request: HttpRequest, pk: int) -> HttpResponse:
    """Refund a payment in full or in part; the invoice's balance grows again."""
    payment = _payment(pk)
    invoice = _invoice(payment.invoice_id)
    action = reverse("invoicing:payment_refund", args=[payment.pk])
    title = "Refund payment"
    summary = [
        ("Payment", f"{money(payment.amount)} by {payment.method} on {_day(payment.date)}"),
        ("Already refunded", money(refunded_amount(payment))),
    ]
    refusal = why_not_refundable(payment)
    if refusal is not None and request.method != "POST":
        return _popup(
            request,
            invoice=invoice,
            title=title,
            action=action,
            refusal=refusal.message,
            summary=summary,
            status=REFUSED,
        )
    form = RefundForm(posted(request), refundable=refundable_amount(payment))
    status = 200
    if request.method == "POST":
        sent = submit(
            form,
            lambda data: services.payment_refund(
                payment=payment,
                amount=data["amount"],
                reason=data["reason"],
                date=data["date"],
                by=request.user,
            ),
        )
        if sent.ok:
            balance = invoice_totals(_invoice(invoice.pk)).balance
            return _done(
                request,
                safe_next(request, _detail_url(invoice)),
                f"Refund of {money(sent.result.amount)} recorded. Balance {money(balance)}.",
            )
        status = sent.status
    return _popup(
        request,
        invoice=invoice,
        title=title,
        summary=summary,
        action=action,
        form=form,
        submit="Refund",
        status=status,
    )


@staff_view("invoicing.void_payment")
def payment_void(request: HttpRequest, pk: int) -> HttpResponse:
    """Void a payment recorded by mistake: it stays for the record, out of the totals."""
    payment = _payment(pk)
    invoice = _invoice(payment.invoice_id)
    form = ReasonForm(posted(request))
    status = 200
    if request.method == "POST":
        sent = submit(
            form,
            lambda data: services.payment_void(
                payment=payment, reason=data["reason"], by=request.user
            ),
        )
        if sent.ok:
            balance = invoice_totals(_invoice(invoice.pk)).balance
            return _done(
                request,
                safe_next(request, _detail_url(invoice)),
                f"Payment of {money(payment.amount)} voided. Balance {money(balance)}.",
            )
        status = sent.status
    return _popup(
        request,
        invoice=invoice,
        title="Void payment?",
        intro="Void a payment recorded by mistake. It stays on the invoice, crossed out, "
        "and leaves the totals.",
        summary=[
            ("Payment", f"{money(payment.amount)} by {payment.method} on {_day(payment.date)}"),
            ("Reference", payment.reference or "—"),
        ],
        action=reverse("invoicing:payment_void", args=[payment.pk]),
        form=form,
        submit="Void payment",
        danger=True,
        status=status,
    )


# ------------------------------------------------------------------------- print


def invoice_print(request: HttpRequest, pk: int) -> HttpResponse:
    """The invoice as it prints (and as its PDF reads): the documents app's page."""
    return document_page(request, "invoice", pk)
