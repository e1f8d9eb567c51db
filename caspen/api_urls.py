"""`/api/`: version 1 of the REST API, its OpenAPI schema and the interactive docs."""

from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from calendar_app.api import (
    AppointmentViewSet,
    CancellationReasonViewSet,
    LocationViewSet,
    PractitionerViewSet,
)
from catalog.api import PackageViewSet, ServiceViewSet, TaxRateViewSet
from clients.api import ClientViewSet
from documents.api import (
    ClientStatementViewSet,
    InvoiceDocumentViewSet,
    PackageStatementViewSet,
    ReceiptViewSet,
)
from integrations.api import WebhookEndpointViewSet
from invoicing.api import (
    CreditNoteViewSet,
    InvoiceViewSet,
    PaymentMethodViewSet,
    PaymentViewSet,
)
from kernel.api.errors import api_method_not_allowed
from kernel.api.viewsets import not_found
from packages.api import ClientPackageViewSet

router = SimpleRouter()
router.register("clients", ClientViewSet, basename="api-client")
router.register("locations", LocationViewSet, basename="api-location")
router.register("practitioners", PractitionerViewSet, basename="api-practitioner")
router.register("services", ServiceViewSet, basename="api-service")
router.register("tax-rates", TaxRateViewSet, basename="api-tax-rate")
router.register("payment-methods", PaymentMethodViewSet, basename="api-payment-method")
router.register(
    "cancellation-reasons", CancellationReasonViewSet, basename="api-cancellation-reason"
)
router.register("packages", PackageViewSet, basename="api-package")
router.register("client-packages", ClientPackageViewSet, basename="api-client-package")
router.register("appointments", AppointmentViewSet, basename="api-appointment")
router.register("invoices", InvoiceViewSet, basename="api-invoice")
router.register("payments", PaymentViewSet, basename="api-payment")
router.register("credit-notes", CreditNoteViewSet, basename="api-credit-note")
# Documents (issue 13): PDFs and sending, as actions under the resources they belong to.
router.register("invoices", InvoiceDocumentViewSet, basename="api-invoice-document")
router.register("payments", ReceiptViewSet, basename="api-receipt")
router.register("client-packages", PackageStatementViewSet, basename="api-package-statement")
router.register("clients", ClientStatementViewSet, basename="api-client-statement")
router.register("webhooks", WebhookEndpointViewSet, basename="api-webhook")

urlpatterns = [
    path("v1/", include(router.urls)),
    path("v1/reports/", include("reports.api")),
    path("schema/", api_method_not_allowed(SpectacularAPIView.as_view()), name="api-schema"),
    path(
        "docs/",
        api_method_not_allowed(SpectacularSwaggerView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    # Last: any other URL under /api/ gets a JSON 404 rather than the HTML page (whatever
    # the method: exempt from Django's CSRF check, whose refusal is an HTML page).
    re_path(r"", csrf_exempt(not_found)),
]
