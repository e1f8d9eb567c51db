"""Every staff page form the battery posts to: where it posts, a valid submission, and a
page that shows the result; `post_form` and `refused_page` send them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tests.trust.bad_input.common import (
    World,
    fingerprint,
    visible,
)


def _day(days: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def _latest(model_path: str):
    from django.apps import apps

    return apps.get_model(model_path).objects.latest("id")


@dataclass(frozen=True)
class PageForm:
    """A staff page form: where it posts, a valid submission, and a page showing the
    result (for the escaping checks)."""

    url: Callable[[World], str]
    data: Callable[[World], dict[str, Any]]
    shows: Callable[[World], str]
    id_prefix: str = "id_"  # the input's id is id_prefix + the posted name
    role: str = "admin"


PAGE_FORMS: dict[str, PageForm] = {
    "client-add": PageForm(
        url=lambda w: reverse("clients:add"),
        data=lambda w: {
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@example.com",
            "phone": "0400 000 000",
            "date_of_birth": "1990-05-01",
            "notes": "Left knee",
        },
        shows=lambda w: reverse("clients:detail", args=[_latest("clients.Client").pk]),
        role="reception",
    ),
    "client-edit": PageForm(
        url=lambda w: reverse("clients:edit", args=[w.client.pk]),
        data=lambda w: {"first_name": "Jo", "last_name": "Citizen", "notes": "Right knee"},
        shows=lambda w: reverse("clients:detail", args=[w.client.pk]),
        role="reception",
    ),
    "service-add": PageForm(
        url=lambda w: reverse("catalog:service_add"),
        data=lambda w: {"name": "Dry needling", "duration_minutes": "30", "price": "80.00"},
        shows=lambda w: reverse("catalog:services"),
    ),
    "category-add": PageForm(
        url=lambda w: reverse("catalog:category_add"),
        data=lambda w: {"name": "Pilates"},
        shows=lambda w: reverse("catalog:categories"),
    ),
    "package-add": PageForm(
        url=lambda w: reverse("catalog:package_add"),
        data=lambda w: {
            "name": "Ten pack",
            "description": "Ten sessions",
            "credits": "10",
            "price": "800.00",
            "services": [w.practice.follow_up.pk],
            "expires_after_unit": "months",
        },
        shows=lambda w: reverse("catalog:package_detail", args=[_latest("catalog.Package").pk]),
    ),
    "package-edit": PageForm(
        url=lambda w: reverse("catalog:package_edit", args=[w.practice.flexible.pk]),
        data=lambda w: {
            "name": "Flexi 5",
            "description": "Five sessions",
            "credits": "5",
            "price": "400.00",
            "services": [w.practice.initial.pk, w.practice.follow_up.pk],
            "expires_after_unit": "months",
        },
        shows=lambda w: reverse("catalog:package_detail", args=[w.practice.flexible.pk]),
    ),
    "package-cancel": PageForm(
        url=lambda w: reverse("packages:cancel", args=[w.flexi.pk]),
        data=lambda w: {"reason": "Moved away"},
        shows=lambda w: reverse("packages:detail", args=[w.flexi.pk]),
    ),
    "package-adjust": PageForm(
        url=lambda w: reverse("packages:adjust", args=[w.flexi.pk]),
        data=lambda w: {"quantity": "1", "reason": "Goodwill"},
        shows=lambda w: reverse("packages:detail", args=[w.flexi.pk]),
    ),
    "package-adjust-fixed": PageForm(
        url=lambda w: reverse("packages:adjust", args=[w.fixed.pk]),
        data=lambda w: {
            "quantity": "1",
            "service": w.fixed.services.get(service=w.practice.follow_up).pk,
            "reason": "Goodwill",
        },
        shows=lambda w: reverse("packages:detail", args=[w.fixed.pk]),
    ),
    "package-extend": PageForm(
        url=lambda w: reverse("packages:extend", args=[w.fixed.pk]),
        data=lambda w: {
            "expires_on": (w.fixed.expires_on + dt.timedelta(days=30)).isoformat(),
            "reason": "Away for a month",
        },
        shows=lambda w: reverse("packages:detail", args=[w.fixed.pk]),
    ),
    "package-create": PageForm(
        url=lambda w: reverse("packages:create", args=[w.client.pk]),
        data=lambda w: {"package": w.practice.flexible.pk},
        shows=lambda w: reverse("clients:detail", args=[w.client.pk]),
        role="reception",
    ),
    "package-invoice": PageForm(
        url=lambda w: reverse("packages:invoice", args=[w.flexi.pk]),
        data=lambda w: {
            "practitioner": w.practice.practitioner.pk,
            "location": w.practice.location.pk,
        },
        shows=lambda w: reverse("packages:detail", args=[w.flexi.pk]),
        role="reception",
    ),
    "appointment-create": PageForm(
        url=lambda w: reverse("calendar_app:create"),
        data=lambda w: {
            "client": w.client.pk,
            "service": w.practice.follow_up.pk,
            "practitioner": w.practice.practitioner.pk,
            "location": w.practice.location.pk,
            "date": _day(10),
            "start_time": "11:00",
            "notes": "Bring shoes",
            "every_weeks": "1",
            "count": "6",
        },
        shows=lambda w: reverse(
            "calendar_app:detail", args=[_latest("calendar_app.Appointment").pk]
        ),
        id_prefix="appt_",
        role="reception",
    ),
    "appointment-edit": PageForm(
        url=lambda w: reverse("calendar_app:edit", args=[w.appointment.pk]),
        data=lambda w: {
            "service": w.practice.follow_up.pk,
            "practitioner": w.practice.practitioner.pk,
            "location": w.practice.location.pk,
            "date": _day(1),
            "start_time": "09:00",
            "end_time": "09:30",
            "notes": "Moved",
        },
        shows=lambda w: reverse("calendar_app:detail", args=[w.appointment.pk]),
        id_prefix="appt_",
        role="reception",
    ),
    "appointment-cancel": PageForm(
        url=lambda w: reverse("calendar_app:cancel", args=[w.appointment.pk]),
        data=lambda w: {"reason": w.practice.reason.pk},
        shows=lambda w: reverse("calendar_app:detail", args=[w.appointment.pk]),
        id_prefix="appt_",
        role="reception",
    ),
    "appointment-link": PageForm(
        url=lambda w: reverse("calendar_app:link", args=[w.appointment.pk]),
        data=lambda w: {"link_choice": f"{w.flexi.pk}:{w.practice.follow_up.pk}"},
        shows=lambda w: reverse("calendar_app:detail", args=[w.appointment.pk]),
        id_prefix="appt_",
        role="reception",
    ),
    "invoice-new": PageForm(
        url=lambda w: reverse("invoicing:new"),
        data=lambda w: {
            "client": w.client.pk,
            "practitioner": w.practice.practitioner.pk,
            "location": w.practice.location.pk,
        },
        shows=lambda w: reverse("invoicing:detail", args=[_latest("invoicing.Invoice").pk]),
        role="reception",
    ),
    "invoice-details": PageForm(
        url=lambda w: reverse("invoicing:edit", args=[w.draft.pk]),
        data=lambda w: {
            "practitioner": w.practice.practitioner.pk,
            "location": w.practice.location.pk,
            "issue_date": _day(0),
            "notes": "Thank you",
        },
        shows=lambda w: reverse("invoicing:print", args=[w.draft.pk]),
        role="reception",
    ),
    "line-add": PageForm(
        url=lambda w: reverse("invoicing:line_add", args=[w.draft.pk]),
        data=lambda w: {
            "add-description": "Massage",
            "add-quantity": "1",
            "add-unit_price": "60.00",
            "add-discount_percent": "0",
        },
        shows=lambda w: reverse("invoicing:detail", args=[w.draft.pk]),
        role="reception",
    ),
    "line-edit": PageForm(
        url=lambda w: reverse("invoicing:line_edit", args=[w.draft.pk, w.draft_line.pk]),
        data=lambda w: {
            "line-description": "Consultation",
            "line-quantity": "2",
            "line-unit_price": "45.00",
            "line-discount_percent": "0",
        },
        shows=lambda w: reverse("invoicing:print", args=[w.draft.pk]),
        role="reception",
    ),
    "pay": PageForm(
        url=lambda w: reverse("invoicing:pay", args=[w.open.pk]),
        data=lambda w: {
            "amount": "10.00",
            "method": w.cash.pk,
            "date": _day(0),
            "reference": "Receipt 17",
        },
        shows=lambda w: reverse("invoicing:detail", args=[w.open.pk]),
        role="reception",
    ),
    "refund": PageForm(
        url=lambda w: reverse("invoicing:payment_refund", args=[w.payment.pk]),
        data=lambda w: {"amount": "10.00", "date": _day(0), "reason": "Overcharged"},
        shows=lambda w: reverse("invoicing:detail", args=[w.payment.invoice_id]),
    ),
    "invoice-void": PageForm(
        url=lambda w: reverse("invoicing:void", args=[w.open.pk]),
        data=lambda w: {"reason": "Issued twice"},
        shows=lambda w: reverse("invoicing:detail", args=[w.open.pk]),
    ),
    "payment-void": PageForm(
        url=lambda w: reverse("invoicing:payment_void", args=[w.payment.pk]),
        data=lambda w: {"reason": "Typed twice"},
        shows=lambda w: reverse("invoicing:detail", args=[w.payment.invoice_id]),
    ),
    "practice": PageForm(
        url=lambda w: reverse("settings:practice"),
        data=lambda w: {
            "practice-name": "Harbour Physio",
            "practice-address": "1 Quay St",
            "practice-phone": "02 9000 0000",
            "practice-email": "hello@example.com",
            "practice-tax_id": "51 824 753 556",
            "practice-currency": w.settings.currency,
        },
        shows=lambda w: reverse("invoicing:print", args=[w.open.pk]),
    ),
    "invoice-settings": PageForm(
        url=lambda w: reverse("settings:invoices"),
        data=lambda w: {
            "invoices-invoice_prefix": "HP-",
            "invoices-invoice_next_number": "1",
            "invoices-invoice_number_digits": "4",
            "invoices-payment_terms_days": "14",
            "invoices-prices_include_tax": "on",
        },
        shows=lambda w: reverse("settings:index"),
    ),
    "tax-rate-add": PageForm(
        url=lambda w: reverse("settings:tax_rates_add"),
        data=lambda w: {"name": "VAT", "rate": "20"},
        shows=lambda w: reverse("settings:tax_rates"),
    ),
    "payment-method-add": PageForm(
        url=lambda w: reverse("settings:payment_methods_add"),
        data=lambda w: {"name": "Voucher"},
        shows=lambda w: reverse("settings:payment_methods"),
    ),
    "cancellation-reason-add": PageForm(
        url=lambda w: reverse("settings:cancellation_reasons_add"),
        data=lambda w: {"name": "Weather"},
        shows=lambda w: reverse("settings:cancellation_reasons"),
    ),
    "location-add": PageForm(
        url=lambda w: reverse("settings:locations_add"),
        data=lambda w: {"name": "Beach Road", "address": "2 Beach Rd"},
        shows=lambda w: reverse("settings:locations"),
    ),
    "practitioner-add": PageForm(
        url=lambda w: reverse("settings:practitioners_add"),
        data=lambda w: {"name": "Kim Osteo", "colour": "#2f7d6d"},
        shows=lambda w: reverse("settings:practitioners"),
    ),
    "staff-add": PageForm(
        url=lambda w: reverse("settings:staff_add"),
        data=lambda w: {
            "first_name": "Nina",
            "last_name": "New",
            "username": "nina",
            "email": "nina@example.com",
            "role": "Reception",
            "password1": "Correct-horse-9",
            "password2": "Correct-horse-9",
        },
        shows=lambda w: reverse("settings:staff"),
    ),
    # The same forms on rows in other states.
    "package-adjust-completed": PageForm(
        url=lambda w: reverse("packages:adjust", args=[w.completed.pk]),
        data=lambda w: {"quantity": "-1", "reason": "Typo"},
        shows=lambda w: reverse("packages:detail", args=[w.completed.pk]),
    ),
    "package-cancel-canceled": PageForm(
        url=lambda w: reverse("packages:cancel", args=[w.canceled.pk]),
        data=lambda w: {"reason": "Again"},
        shows=lambda w: reverse("packages:detail", args=[w.canceled.pk]),
    ),
    "appointment-link-linked": PageForm(
        url=lambda w: reverse("calendar_app:link", args=[w.linked.pk]),
        data=lambda w: {"link_choice": f"{w.flexi.pk}:{w.practice.follow_up.pk}"},
        shows=lambda w: reverse("calendar_app:detail", args=[w.linked.pk]),
        id_prefix="appt_",
        role="reception",
    ),
    "pay-void-invoice": PageForm(
        url=lambda w: reverse("invoicing:pay", args=[w.void_invoice.pk]),
        data=lambda w: {"amount": "10.00", "method": w.cash.pk, "date": _day(0)},
        shows=lambda w: reverse("invoicing:detail", args=[w.void_invoice.pk]),
        role="reception",
    ),
    "pay-draft-invoice": PageForm(
        url=lambda w: reverse("invoicing:pay", args=[w.draft.pk]),
        data=lambda w: {"amount": "10.00", "method": w.cash.pk, "date": _day(0)},
        shows=lambda w: reverse("invoicing:detail", args=[w.draft.pk]),
        role="reception",
    ),
    "refund-void-payment": PageForm(
        url=lambda w: reverse("invoicing:payment_refund", args=[w.void_payment.pk]),
        data=lambda w: {"amount": "10.00", "date": _day(0), "reason": "Overcharged"},
        shows=lambda w: reverse("invoicing:detail", args=[w.void_payment.invoice_id]),
    ),
    "line-add-open-invoice": PageForm(
        url=lambda w: reverse("invoicing:line_add", args=[w.open.pk]),
        data=lambda w: {"add-description": "Extra", "add-quantity": "1", "add-unit_price": "5"},
        shows=lambda w: reverse("invoicing:detail", args=[w.open.pk]),
        role="reception",
    ),
    "invoice-void-paid": PageForm(
        url=lambda w: reverse("invoicing:void", args=[w.payment.invoice_id]),
        data=lambda w: {"reason": "Mistake"},
        shows=lambda w: reverse("invoicing:detail", args=[w.payment.invoice_id]),
    ),
}


def post_form(pages, world, form_key: str, **changes):
    """Post the valid submission of `form_key` with `changes`; return the response."""
    form = PAGE_FORMS[form_key]
    http = pages(form.role)
    data = form.data(world)
    data.update(changes)
    data = {key: value for key, value in data.items() if value is not None}
    return http.post(form.url(world), data)


def refused_page(pages, world, form_key: str, status: int, **changes):
    """Post `changes`; expect `status` and the database unchanged. Returns the response."""
    form = PAGE_FORMS[form_key]
    pages(form.role)  # signing in writes last_login: before the fingerprint
    form.url(world), form.data(world)  # the rows the form acts on exist before it too
    before = fingerprint()
    response = post_form(pages, world, form_key, **changes)
    assert response.status_code == status, visible(response)[:3000]
    assert fingerprint() == before
    return response
