"""`/api/v1/`: documents as PDF and their sending by email (issue 13).

    GET  invoices/{id}/pdf/                  the invoice (application/pdf)
    POST invoices/{id}/send/                 email it: {"to"?}; answers the sending
    GET  payments/{id}/receipt/pdf/          the payment's receipt
    POST payments/{id}/receipt/send/
    GET  client-packages/{id}/statement/pdf/ the package's credit history with values
    POST client-packages/{id}/statement/send/
    GET  clients/{id}/statement/pdf/?start=&end=   invoices and payments over a period
    POST clients/{id}/statement/send/        {"to"?, "start"?, "end"?}

Sending answers 201 with the sending record when the mail server accepted the email, and
502 with the same record (status "failed", the server's message in `error`) when it did
not: the failure is recorded either way, never swallowed.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from clients.models import Client
from clients.services import client_access_record
from documents import selectors, services
from documents.models import DocumentSending
from documents.selectors import Document, default_statement_period
from documents.views import pdf_response
from invoicing.models import Invoice, Payment
from kernel.api.viewsets import ApiViewSet
from packages.models import ClientPackage


@extend_schema_serializer(
    examples=[
        OpenApiExample("To the client's address", value={}),
        OpenApiExample("To another address", value={"to": "accounts@citizenfamily.example.com"}),
    ]
)
class SendIn(serializers.Serializer):
    """Where to send the document; by default the client's email address."""

    to = serializers.EmailField(
        required=False,
        allow_blank=True,
        help_text="Where to send it; the client's email address when left out.",
    )


@extend_schema_serializer(
    examples=[OpenApiExample("Last quarter", value={"start": "2026-01-01", "end": "2026-03-31"})]
)
class StatementSendIn(SendIn):
    """Where to send the statement and the period it covers."""

    start = serializers.DateField(required=False, help_text="Default: 89 days before `end`.")
    end = serializers.DateField(required=False, help_text="Default: today.")


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Sent",
            value={
                "id": 52,
                "kind": "invoice",
                "client": 42,
                "invoice": 305,
                "payment": None,
                "client_package": None,
                "period_start": None,
                "period_end": None,
                "to": "jo.citizen@example.com",
                "subject": "Invoice INV-00305 from Richmond Physio",
                "status": "sent",
                "error": "",
                "sent_at": "2026-03-02T10:15:00+11:00",
                "sent_by": "reception.amy",
            },
            status_codes=["201"],
        ),
        OpenApiExample(
            "The mail server refused it",
            value={
                "id": 52,
                "kind": "invoice",
                "client": 42,
                "invoice": 305,
                "payment": None,
                "client_package": None,
                "period_start": None,
                "period_end": None,
                "to": "old.address@example.com",
                "subject": "Invoice INV-00305 from Richmond Physio",
                "status": "failed",
                "error": "550 Mailbox unavailable",
                "sent_at": "2026-03-02T10:15:00+11:00",
                "sent_by": "reception.amy",
            },
            status_codes=["502"],
        ),
    ]
)
class SendingOut(serializers.ModelSerializer):
    """A record of a document sent by email (or of a failed attempt)."""

    sent_by = serializers.SerializerMethodField()

    class Meta:
        model = DocumentSending
        fields = [
            "id",
            "kind",
            "client",
            "invoice",
            "payment",
            "client_package",
            "period_start",
            "period_end",
            "to",
            "subject",
            "status",
            "error",
            "sent_at",
            "sent_by",
        ]
        read_only_fields = fields

    def get_sent_by(self, sending: DocumentSending) -> str | None:
        return sending.sent_by.get_username() if sending.sent_by else None


PDF = {
    (200, "application/pdf"): OpenApiResponse(
        response=OpenApiTypes.BINARY, description="The document as a PDF."
    )
}
SENT = {
    201: OpenApiResponse(SendingOut, description="Sent: the sending record."),
    502: OpenApiResponse(
        SendingOut, description='The mail server refused or failed: the record, status "failed".'
    ),
}
PERIOD = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="Default: 89 days before `end`."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Default: today."),
]


class _DocumentViewSet(ApiViewSet):
    """Actions only (no list or detail of their own): the resources are the invoices',
    payments', packages' and clients' own endpoints."""

    pagination_class = None
    filter_backends: list = []
    # What OPTIONS describes (DRF's metadata asks every view for a serializer).
    serializer_class = SendIn

    def _pdf(self, document: Document) -> HttpResponse:
        return pdf_response(document)

    def _send(self, document: Document, to: str | None) -> Response:
        sending = services.document_send(document=document, to=to, by=self.request.user)
        code = status.HTTP_201_CREATED if sending.status == "sent" else status.HTTP_502_BAD_GATEWAY
        return Response(SendingOut(sending).data, status=code)


class InvoiceDocumentViewSet(_DocumentViewSet):
    queryset = Invoice.objects.all()
    action_permissions = {
        "pdf": ("invoicing.view_invoice",),
        "send": ("invoicing.view_invoice", services.SEND_PERM),
    }

    @extend_schema(
        summary="The invoice as a PDF",
        description="The invoice as a PDF document, as the client receives it.",
        responses=PDF,
    )
    @action(detail=True, methods=["get"])
    def pdf(self, request, pk=None):
        return self._pdf(selectors.invoice_document(self.get_object()))

    @extend_schema(
        summary="Email the invoice's PDF",
        description="Emails the invoice (PDF) to the client, or to `to`. The sending is recorded; a mail server failure answers 502 with the record (status `failed`).",
        request=SendIn,
        responses=SENT,
    )
    @action(detail=True, methods=["post"])
    def send(self, request, pk=None):
        data = self.validated(SendIn)
        return self._send(selectors.invoice_document(self.get_object()), data.get("to"))


class ReceiptViewSet(_DocumentViewSet):
    queryset = Payment.objects.all()
    action_permissions = {
        "receipt_pdf": ("invoicing.view_payment",),
        "receipt_send": ("invoicing.view_payment", services.SEND_PERM),
    }

    @extend_schema(
        summary="The payment's receipt as a PDF",
        description="The payment's receipt as a PDF document.",
        responses=PDF,
    )
    @action(detail=True, methods=["get"], url_path="receipt/pdf")
    def receipt_pdf(self, request, pk=None):
        return self._pdf(selectors.receipt_document(self.get_object()))

    @extend_schema(
        summary="Email the payment's receipt",
        description="Emails the receipt (PDF) to the client, or to `to`. The sending is recorded; a mail server failure answers 502 with the record (status `failed`).",
        request=SendIn,
        responses=SENT,
    )
    @action(detail=True, methods=["post"], url_path="receipt/send")
    def receipt_send(self, request, pk=None):
        data = self.validated(SendIn)
        return self._send(selectors.receipt_document(self.get_object()), data.get("to"))


class PackageStatementViewSet(_DocumentViewSet):
    queryset = ClientPackage.objects.all()
    action_permissions = {
        "statement_pdf": ("packages.view_clientpackage",),
        "statement_send": ("packages.view_clientpackage", services.SEND_PERM),
    }

    def _document(self) -> Document:
        client_package = self.get_object()
        client_access_record(client=client_package.client, request=self.request, via="api")
        return selectors.package_statement_document(client_package)

    @extend_schema(
        summary="The package's statement (credit history with values) as a PDF",
        description="The client package's statement as a PDF document: its credit history with the value of each movement.",
        responses=PDF,
    )
    @action(detail=True, methods=["get"], url_path="statement/pdf")
    def statement_pdf(self, request, pk=None):
        return self._pdf(self._document())

    @extend_schema(
        summary="Email the package's statement",
        description="Emails the package's statement (PDF) to the client, or to `to`. The sending is recorded; a mail server failure answers 502 with the record (status `failed`).",
        request=SendIn,
        responses=SENT,
    )
    @action(detail=True, methods=["post"], url_path="statement/send")
    def statement_send(self, request, pk=None):
        data = self.validated(SendIn)
        return self._send(self._document(), data.get("to"))


class PeriodIn(serializers.Serializer):
    """The period a statement covers."""

    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)

    def validate(self, attrs):
        default_start, default_end = default_statement_period()
        end = attrs.get("end") or default_end
        start = attrs.get("start") or (end - (default_end - default_start))
        if end < start:
            raise serializers.ValidationError({"end": "The period ends before it starts."})
        if (end - start).days > 3660:
            raise serializers.ValidationError({"start": "Choose a period of at most ten years."})
        return {**attrs, "start": start, "end": end}


class ClientStatementViewSet(_DocumentViewSet):
    queryset = Client.objects.all()
    action_permissions = {
        "statement_pdf": ("clients.view_client", "invoicing.view_invoice"),
        "statement_send": ("clients.view_client", "invoicing.view_invoice", services.SEND_PERM),
    }

    def _document(self, period: dict) -> Document:
        client = self.get_object()
        client_access_record(client=client, request=self.request, via="api")
        return selectors.client_statement_document(client, period["start"], period["end"])

    @extend_schema(
        summary="The client's statement (invoices and payments over a period) as a PDF",
        description="The client's statement as a PDF document: their invoices and payments over a period (`start`/`end`, the last 90 days by default).",
        parameters=PERIOD,
        responses=PDF,
    )
    @action(detail=True, methods=["get"], url_path="statement/pdf")
    def statement_pdf(self, request, pk=None):
        return self._pdf(self._document(self.validated(PeriodIn, data=request.query_params)))

    @extend_schema(
        summary="Email the client's statement",
        description="Emails the client's statement (PDF) to the client, or to `to`. The sending is recorded; a mail server failure answers 502 with the record (status `failed`).",
        request=StatementSendIn,
        responses=SENT,
    )
    @action(detail=True, methods=["post"], url_path="statement/send")
    def statement_send(self, request, pk=None):
        data = self.validated(StatementSendIn)
        period = self.validated(PeriodIn, data={k: v for k, v in data.items() if k != "to"})
        return self._send(self._document(period), data.get("to"))
