"""Document pages: each document's print view (with Download PDF, Email and its sendings),
its PDF, the Email popup, public links to invoices (create, revoke) and the public
invoice page a client opens from such a link without signing in.

Views are thin: access (`staff_view` + 404), form, service, then a page or a redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from clients.models import Client
from clients.services import client_access_record
from documents import selectors, services
from documents.forms import ConfirmForm, SendForm, period_form
from documents.models import DocumentKind, InvoiceLink
from documents.rendering import document_pdf
from documents.selectors import Document
from invoicing.models import CreditNote, Invoice, Payment
from kernel.errors import DomainError
from kernel.web import (
    REFUSED,
    apply_domain_error,
    go_to,
    posted,
    render_page,
    render_popup,
    safe_next,
    staff_view,
)
from packages.models import ClientPackage

PAGE = "documents/page.html"
POPUP = "includes/popup_form.html"
PUBLIC = "documents/public.html"
REFUSED_LINK = "documents/link_refused.html"


@dataclass(frozen=True)
class Kind:
    """How one kind of document is found, who may see it and where it belongs."""

    slug: str
    perms: tuple[str, ...]
    load: Callable[[HttpRequest, int], Document]
    back: Callable[[Document], tuple[str, str]]  # (label, url) of the page it belongs to
    logs_client_read: bool = False


def _invoice(request: HttpRequest, pk: int) -> Document:
    return selectors.invoice_document(get_object_or_404(Invoice, pk=pk))


def _receipt(request: HttpRequest, pk: int) -> Document:
    return selectors.receipt_document(get_object_or_404(Payment, pk=pk))


def _credit_note(request: HttpRequest, pk: int) -> Document:
    return selectors.credit_note_document(get_object_or_404(CreditNote, pk=pk))


def _package(request: HttpRequest, pk: int) -> Document:
    return selectors.package_statement_document(get_object_or_404(ClientPackage, pk=pk))


def _client(request: HttpRequest, pk: int) -> Document:
    client = get_object_or_404(Client, pk=pk)
    start, end = period_form(request.GET).period()
    return selectors.client_statement_document(client, start, end)


def _invoice_page(document: Document) -> tuple[str, str]:
    invoice = document.context["invoice"]
    return "Back to the invoice", reverse("invoicing:detail", args=[invoice.pk])


KINDS: dict[str, Kind] = {
    kind.slug: kind
    for kind in (
        Kind("invoice", ("invoicing.view_invoice",), _invoice, _invoice_page),
        Kind("receipt", ("invoicing.view_payment",), _receipt, _invoice_page),
        Kind("credit-note", ("invoicing.view_creditnote",), _credit_note, _invoice_page),
        Kind(
            "package-statement",
            ("packages.view_clientpackage",),
            _package,
            lambda d: (
                "Back to the package",
                reverse("packages:detail", args=[d.context["client_package"].pk]),
            ),
            logs_client_read=True,
        ),
        Kind(
            "client-statement",
            ("clients.view_client", "invoicing.view_invoice"),
            _client,
            lambda d: ("Back to the client", reverse("clients:detail", args=[d.client.pk])),
            logs_client_read=True,
        ),
    )
}
SLUGS = {DocumentKind(kind.slug.replace("-", "_")): kind.slug for kind in KINDS.values()}
# What Email offers: a credit note is printed and downloaded only.
SENDABLE = frozenset(set(DocumentKind) - {DocumentKind.CREDIT_NOTE})


def document_url(name: str, document: Document, pk: int) -> str:
    """The URL of a document's page, PDF or Email popup (a statement keeps its period)."""
    url = reverse(f"documents:{name}", args=[SLUGS[DocumentKind(document.kind)], pk])
    if document.kind == DocumentKind.CLIENT_STATEMENT:
        start, end = document.target["period_start"], document.target["period_end"]
        url += f"?start={start:%Y-%m-%d}&end={end:%Y-%m-%d}"
    return url


def _load(request: HttpRequest, slug: str, pk: int) -> tuple[Kind, Document]:
    kind = KINDS[slug]
    document = kind.load(request, pk)
    if kind.logs_client_read:
        client_access_record(client=document.client, request=request)
    return kind, document


def pdf_response(document: Document, *, inline: bool = False) -> HttpResponse:
    response = HttpResponse(document_pdf(document), content_type="application/pdf")
    # RFC 6266: an ASCII name or the UTF-8 one (client names are not always ASCII).
    response["Content-Disposition"] = content_disposition_header(not inline, document.filename)
    return response


def _checked(*extra_perms: str):
    """404 for an unknown kind, then one `staff_view` with the kind's own permissions and
    `extra_perms` (403): one transaction, one form key, however many permissions."""

    def decorator(view):
        def wrapped(request: HttpRequest, kind: str, pk: int, **kwargs) -> HttpResponse:
            if kind not in KINDS:
                return render(request, "404.html", status=404)
            guarded = staff_view((*KINDS[kind].perms, *extra_perms))(view)
            return guarded(request, kind, pk, **kwargs)

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        return wrapped

    return decorator


def _page_context(request: HttpRequest, kind: Kind, document: Document, pk: int, **extra):
    back_label, back_url = kind.back(document)
    context = {
        "document": document,
        **document.context,
        "back_label": back_label,
        "back_url": back_url,
        "pdf_url": document_url("pdf", document, pk),
        "email_url": document_url("email", document, pk),
        "sendings": list(selectors.sendings_of(document)[:50]),
        "can_send": request.user.has_perm(services.SEND_PERM) and document.kind in SENDABLE,
    }
    if document.kind == DocumentKind.CLIENT_STATEMENT:
        context["period_form"] = period_form(request.GET)
    if document.kind == DocumentKind.INVOICE:
        invoice = document.context["invoice"]
        context["links"] = list(selectors.invoice_links(invoice)[:50])
        context["now"] = timezone.now()
        context["can_share"] = (
            request.user.has_perm("documents.add_invoicelink")
            and not invoice.is_draft
            and invoice.status != "void"
        )
    context.update(extra)
    return context


@_checked()
@require_GET
def document_page(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """The document as it prints, with Download PDF, Email and its sendings."""
    config, document = _load(request, kind, pk)
    return render_page(request, PAGE, _page_context(request, config, document, pk))


@_checked()
@require_GET
def document_download(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    _config, document = _load(request, kind, pk)
    return pdf_response(document)


@_checked(services.SEND_PERM)
def document_email(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """Email: the client's address (or another), then the PDF is sent and recorded."""
    config, document = _load(request, kind, pk)
    if document.kind not in SENDABLE:
        return render(request, "404.html", status=404)
    # Back where the popup was opened (the invoice's page), else the document's page.
    page_url = safe_next(request, document_url("page", document, pk))
    form = SendForm(posted(request), client_email=document.client.email)
    status = 200
    summary = [("Document", document.title), ("Client", str(document.client))]
    if request.method == "POST" and form.is_valid():
        try:
            sending = services.document_send(
                document=document, to=form.cleaned_data["to"], by=request.user
            )
        except DomainError as exc:
            status = apply_domain_error(form, exc, "to" if exc.field == "to" else None)
        else:
            if sending.status == "sent":
                messages.success(request, f"{document.title} emailed to {sending.to}.")
                return go_to(request, page_url)
            # The failure is recorded (and listed on the page); say so here, in the popup.
            form.add_error(None, f"The email to {sending.to} was not sent: {sending.error}")
            status = REFUSED
    elif request.method == "POST":
        status = 400
    context = {
        "title": f"Email {document.kind_label.lower()}",
        "intro": "The PDF is attached to the email. Each sending is recorded on the document.",
        "summary": summary,
        "action": document_url("email", document, pk),
        "form": form,
        "submit": "Send",
        "cancel_url": page_url,
        "next": safe_next(request, ""),
    }
    return render_popup(request, POPUP, context, status=status)


# ------------------------------------------------------------------- public links


@staff_view("documents.add_invoicelink")
def invoice_link_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm, then show the new link once (only its hash is kept)."""
    invoice = get_object_or_404(Invoice, pk=pk)
    page_url = reverse("documents:page", args=["invoice", pk])
    context = {
        "title": "Share a link to the invoice",
        "intro": "Anyone with the link can view and download this invoice, without signing "
        "in, until it expires or you revoke it.",
        "summary": [("Invoice", str(invoice)), ("Client", str(invoice.client))],
        "action": reverse("documents:link_create", args=[pk]),
        "cancel_url": page_url,
        "submit": "Create link",
        "form": None,
    }
    if request.method == "POST":
        try:
            link, token = services.invoice_link_create(invoice=invoice, by=request.user)
        except DomainError as exc:
            context["refusal"] = exc.message
            return render_popup(request, POPUP, context, status=REFUSED)
        url = request.build_absolute_uri(reverse("public:invoice", args=[token]))
        return render_popup(
            request,
            "documents/link_created.html",
            {"title": "Link created", "url": url, "link": link, "cancel_url": page_url},
        )
    context["form"] = ConfirmForm()
    return render_popup(request, POPUP, context)


@staff_view("documents.change_invoicelink")
def invoice_link_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    link = get_object_or_404(InvoiceLink.objects.select_related("invoice"), pk=pk)
    page_url = reverse("documents:page", args=["invoice", link.invoice_id])
    context = {
        "title": "Revoke the link?",
        "intro": "Whoever has the link will see that it was withdrawn. This cannot be undone.",
        "summary": [
            ("Invoice", str(link.invoice)),
            ("Created", timezone.localtime(link.created_at).strftime("%d %b %Y %H:%M")),
        ],
        "action": reverse("documents:link_revoke", args=[pk]),
        "cancel_url": page_url,
        "submit": "Revoke link",
        "danger": True,
        "form": None,
    }
    if request.method == "POST":
        try:
            services.invoice_link_revoke(link=link, by=request.user)
        except DomainError as exc:
            context["refusal"] = exc.message
            return render_popup(request, POPUP, context, status=REFUSED)
        messages.success(request, "The link was revoked.")
        return go_to(request, page_url)
    context["form"] = ConfirmForm()
    return render_popup(request, POPUP, context)


def _public_invoice(
    request: HttpRequest, token: str
) -> tuple[Document | None, HttpResponse | None]:
    link, state = selectors.invoice_link_for_token(token)
    if link is None or state != "active":
        # Nothing about the invoice or the practice: only why the link does not work.
        status = 404 if state == "unknown" else 410
        response = render(request, REFUSED_LINK, {"state": state}, status=status)
        return None, response
    return selectors.invoice_document(link.invoice), None


@never_cache
@require_GET
def public_invoice(request: HttpRequest, token: str) -> HttpResponse:
    """The invoice for the client, from a public link, without signing in."""
    document, refused = _public_invoice(request, token)
    if refused is not None:
        return refused
    context = {
        "document": document,
        **document.context,
        "pdf_url": reverse("public:invoice_pdf", args=[token]),
    }
    response = render(request, PUBLIC, context)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@require_GET
def public_invoice_pdf(request: HttpRequest, token: str) -> HttpResponse:
    document, refused = _public_invoice(request, token)
    if refused is not None:
        return refused
    response = pdf_response(document)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
