"""The `data` of a webhook event: the object as the REST API shows it (GET
/api/v1/<resource>/<id>/), read inside the transaction that changed it."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.renderers import JSONRenderer

from calendar_app.api import AppointmentOut
from calendar_app.models import Appointment
from invoicing.api import InvoiceOut, PaymentOut, invoices_for_output
from invoicing.models import Invoice, Payment
from packages.api import ClientPackageOut, client_packages_for_output
from packages.models import ClientPackage


def _appointment(pk: int) -> Any:
    return AppointmentOut(Appointment.objects.get(pk=pk)).data


def _client_package(pk: int) -> Any:
    return ClientPackageOut(
        client_packages_for_output(ClientPackage.objects.filter(pk=pk)).get()
    ).data


def _invoice(pk: int) -> Any:
    return InvoiceOut(invoices_for_output(Invoice.objects.filter(pk=pk)).get()).data


def _payment(pk: int) -> Any:
    return PaymentOut(Payment.objects.prefetch_related("refunds").get(pk=pk)).data


SERIALIZERS = {
    "appointment": _appointment,
    "client_package": _client_package,
    "invoice": _invoice,
    "payment": _payment,
}


def object_data(object_type: str, pk: int) -> dict[str, Any]:
    """The object's API representation as plain JSON values (decimals as strings)."""
    return json.loads(JSONRenderer().render(SERIALIZERS[object_type](pk)))
