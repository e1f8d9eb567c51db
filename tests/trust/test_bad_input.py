"""Bad input, answered (issue "Trust", section 5).

A battery of odd and hostile input sent through the staff page forms and the REST API:
empty, 10,000-character and NUL-containing strings; credits 0, -1, 1.5; amounts with a
third decimal, huge, NaN and Infinity; impossible dates and times inside the DST gap of
the practice's time zone (Australia/Sydney: 2026-10-04 02:30 does not exist); expiry
before start; refunds above the paid amount; payments on void invoices; links to
expired, completed and other clients' packages; unlinking twice; ids that do not exist
or are out of range in URLs, form fields and JSON bodies; the wrong content type;
deeply nested JSON; emoji and right-to-left names; and `<script>` in every text field.

Every refusal is a 4xx (pages: 400 invalid, 409 refused, 404 unknown id; API: 400, 404,
409, 415), never a 500; it says why (the message beside the field, or above the form);
and it leaves the database exactly as it was (`fingerprint()` of every table the product
writes). Odd but valid input (emoji, right-to-left, `<script>` in a name) is stored as
typed, escaped in every page that shows it, and returned verbatim by the API.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from clients.models import Client
from invoicing.models import PaymentMethod
from practice.models import PracticeSettings
from tests.factories import ClientFactory, PackageFactory, next_local

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
LONG = "x" * 10_000
NUL = "a\x00b"
BAD_IDS = {"zero": 0, "minus-one": -1, "two-to-the-63": 2**63, "abc": "abc"}
# 2026-10-04 02:00 in Sydney the clocks jump to 03:00: 02:30 never happens that night.
DST_GAP_DAY = "2026-10-04"
DST_GAP_TIME = "02:30"
DEEP = 10_000

# Every table the product writes; a refused request must leave each one as it was.
TABLES = [
    "clients_client",
    "packages_clientpackage",
    "packages_clientpackageservice",
    "packages_creditledgerentry",
    "packages_expirychange",
    "calendar_app_appointment",
    "calendar_app_appointmentseries",
    "calendar_app_location",
    "calendar_app_practitioner",
    "calendar_app_cancellationreason",
    "invoicing_invoice",
    "invoicing_invoiceline",
    "invoicing_payment",
    "invoicing_refund",
    "invoicing_paymentmethod",
    "catalog_package",
    "catalog_packageservice",
    "catalog_service",
    "catalog_servicecategory",
    "catalog_taxrate",
    "caspen_practicesettings",
    "auth_user",
]


def fingerprint() -> dict[str, str]:
    """An md5 of every row of every table in TABLES (one query)."""
    sql = " UNION ALL ".join(
        f"SELECT '{table}', md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')) "
        f"FROM {table} t"
        for table in TABLES
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(cursor.fetchall())


def stored(value: str) -> list[str]:
    """The tables holding a row with `value` in one of its columns."""
    found = []
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT count(*) FROM {table} t WHERE strpos(t::text, %s) > 0", [value])
            if cursor.fetchone()[0]:
                found.append(table)
    return found


def visible(response) -> str:
    """The page's text as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    page = response.content.decode()
    page = re.sub(r"<(script|style)\b[^>]*>.*?</\1>", " ", page, flags=re.S)
    page = html.unescape(re.sub(r"<[^>]+>", " ", page))
    return re.sub(r"\s+", " ", page).strip()


def beside(response, field_id: str) -> str:
    """The error messages shown beside the input with id `field_id` ("" when none)."""
    page = response.content.decode()
    match = re.search(
        rf'<(ul|div)\b[^>]*\bid="{re.escape(field_id)}_error"[^>]*>(.*?)</\1>', page, flags=re.S
    )
    if match is None:
        return ""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", match.group(2)))).strip()


def assert_escaped(response) -> None:
    page = response.content.decode()
    assert SCRIPT not in page
    assert ESCAPED in page


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# ---------------------------------------------------------------------- the practice


class World:
    """The practice of tests.conftest plus one row in each state the battery acts on,
    each made (through the services, by the system) only when a test asks for it."""

    def __init__(self, practice):
        self.practice = practice
        self.client = practice.client
        self.today = timezone.localdate()

    # Client packages of Jo Citizen (and one of someone else).

    @cached_property
    def fixed(self):
        """Physio Starter Pack: active, expires in 3 months, one follow-up used by
        `linked` (the day after tomorrow, 09:00)."""
        from calendar_app.services import appointment_link

        sold = self.practice.sell(self.practice.fixed)
        appointment = self.practice.book(by=None, days=2, hour=9)
        appointment_link(appointment=appointment, client_package=sold, by=None)
        return sold

    @cached_property
    def flexi(self):
        """Flexi 5: active, no expiry, nothing used."""
        return self.practice.sell(self.practice.flexible)

    @cached_property
    def expired(self):
        """A Physio Starter Pack sold 400 days ago: expired."""
        return self.practice.sell(
            self.practice.fixed, start_date=self.today - dt.timedelta(days=400)
        )

    @cached_property
    def completed(self):
        """A one-credit package whose credit is used."""
        from calendar_app.services import appointment_link

        single = PackageFactory(
            name="Single follow-up", credits=1, services=[self.practice.follow_up]
        )
        sold = self.practice.sell(single)
        used = self.practice.book(by=None, days=6, hour=9)
        appointment_link(appointment=used, client_package=sold, by=None)
        return sold

    @cached_property
    def canceled(self):
        from packages.services import client_package_cancel

        return client_package_cancel(
            client_package=self.practice.sell(self.practice.flexible),
            reason="Client moved away",
            by=None,
        )

    @cached_property
    def other_client(self):
        return ClientFactory(first_name="Olga", last_name="Other")

    @cached_property
    def others(self):
        """Another client's active Flexi 5."""
        return self.practice.sell(self.practice.flexible, client=self.other_client)

    # Appointments of Jo Citizen.

    @cached_property
    def appointment(self):
        """Booked tomorrow at 09:00, not linked."""
        return self.practice.book(by=None, days=1, hour=9)

    @cached_property
    def linked(self):
        """The appointment the fixed package pays for (the day after tomorrow, 09:00)."""
        return self.fixed.appointments.get()

    # Invoices and payments.

    def _invoice(self, *prices: str, finalize: bool = True):
        from invoicing.services import invoice_create, invoice_finalize

        invoice = invoice_create(
            client=self.client,
            practitioner=self.practice.practitioner,
            location=self.practice.location,
            lines=[
                {"description": f"Item {n}", "quantity": 1, "unit_price": Decimal(price)}
                for n, price in enumerate(prices, 1)
            ],
            by=None,
        )
        return invoice_finalize(invoice=invoice, by=None) if finalize else invoice

    @cached_property
    def draft(self):
        return self._invoice("90.00", finalize=False)

    @cached_property
    def draft_line(self):
        return self.draft.lines.get()

    @cached_property
    def open(self):
        """Open, 90.00, nothing paid."""
        return self._invoice("90.00")

    @cached_property
    def void_invoice(self):
        from invoicing.services import invoice_void

        return invoice_void(invoice=self._invoice("70.00"), reason="Duplicate", by=None)

    @cached_property
    def cash(self):
        return PaymentMethod.objects.get(name="Cash")

    @cached_property
    def payment(self):
        """40.00 paid on an Open invoice of 100.00."""
        from invoicing.services import payment_record

        return payment_record(
            invoice=self._invoice("100.00"), amount=Decimal("40.00"), method=self.cash, by=None
        )

    @cached_property
    def void_payment(self):
        """A voided payment of 20.00 on an Open invoice of 50.00."""
        from invoicing.services import payment_record, payment_void

        payment = payment_record(
            invoice=self._invoice("50.00"), amount=Decimal("20.00"), method=self.cash, by=None
        )
        return payment_void(payment=payment, reason="Typed twice", by=None)

    @cached_property
    def settings(self):
        return PracticeSettings.load()


@pytest.fixture
def world(practice, roles_exist):
    return World(practice)


PERSONAS = {
    "admin": "admin_user",
    "reception": "reception",
    "practitioner": "practitioner_user",
    "accountant": "accountant",
}


@pytest.fixture
def users(request, roles_exist):
    """`users[role]`: the persona of tests.conftest, made when first asked for."""

    class Users(dict):
        def __missing__(self, role):
            self[role] = request.getfixturevalue(PERSONAS[role])
            return self[role]

    return Users()


@pytest.fixture
def pages(client, users):
    """`pages(role)`: Django's test client signed in with that role."""

    signed_in = []

    def sign_in(role: str = "admin"):
        if signed_in != [role]:  # signing in writes last_login: only when the role changes
            client.force_login(users[role])
            signed_in[:] = [role]
        return client

    return sign_in


@pytest.fixture
def api(users):
    """`api(role)`: an API client with that role's token."""
    from rest_framework.authtoken.models import Token

    def make(role: str = "admin") -> APIClient:
        token, _ = Token.objects.get_or_create(user=users[role])
        http = APIClient()
        http.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return http

    return make


# ------------------------------------------------------------------ the page forms


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


# ------------------------------------------------- text fields of the page forms

REQUIRED = "This field is required."


@dataclass(frozen=True)
class TextField:
    form: str
    name: str  # as posted (with the form's prefix)
    max_length: int | None
    required: str | None = None  # the message for an empty value; None: optional
    script: str | None = None  # why `<script>…` is refused; None: it is accepted
    too_long: str | None = None  # the message for 10,000 characters, when not the usual


TEXT_FIELDS = [
    TextField("client-add", "first_name", 100, REQUIRED),
    TextField("client-add", "last_name", 100, REQUIRED),
    TextField("client-add", "email", 254, script="Enter a valid email address."),
    TextField("client-add", "phone", 40, script="Use digits, spaces, +, - or brackets."),
    TextField("client-add", "notes", 5000),
    TextField("client-edit", "first_name", 100, REQUIRED),
    TextField("client-edit", "last_name", 100, REQUIRED),
    TextField("client-edit", "notes", 5000),
    TextField("service-add", "name", 200, REQUIRED),
    TextField("category-add", "name", 100, REQUIRED),
    TextField("package-add", "name", 200, REQUIRED),
    TextField("package-add", "description", 5000),
    TextField("package-edit", "name", 200, REQUIRED),
    TextField("package-edit", "description", 5000),
    TextField("package-cancel", "reason", 500, "Give a reason for canceling the package."),
    TextField("package-adjust", "reason", 500, "Give a reason for the adjustment."),
    TextField("package-extend", "reason", 500, "Give a reason for changing the expiry date."),
    TextField("appointment-create", "notes", 5000),
    TextField("appointment-edit", "notes", 5000),
    TextField("invoice-details", "notes", 5000),
    TextField("line-add", "add-description", 500, REQUIRED),
    TextField("line-edit", "line-description", 500, REQUIRED),
    TextField("pay", "reference", 200),
    TextField("refund", "reason", 2000, "Enter a reason for the refund."),
    TextField("invoice-void", "reason", 2000),
    TextField("payment-void", "reason", 2000),
    TextField("practice", "practice-name", 200, REQUIRED),
    TextField("practice", "practice-address", 5000),
    TextField("practice", "practice-phone", 40),
    TextField("practice", "practice-email", 320, script="Enter a valid email address."),
    TextField("practice", "practice-tax_id", 40),
    TextField(
        "practice",
        "practice-currency",
        3,
        REQUIRED,
        script="Ensure this value has at most 3 characters (it has 25).",
    ),
    TextField(
        "invoice-settings",
        "invoices-invoice_prefix",
        20,
        script="Ensure this value has at most 20 characters (it has 25).",
    ),
    TextField("tax-rate-add", "name", 100, REQUIRED),
    TextField("payment-method-add", "name", 100, REQUIRED),
    TextField("cancellation-reason-add", "name", 100, REQUIRED),
    TextField("location-add", "name", 200, REQUIRED),
    TextField("location-add", "address", 5000),
    TextField("practitioner-add", "name", 200, REQUIRED),
    TextField(
        "practitioner-add",
        "colour",
        None,
        REQUIRED,
        script="Choose a colour such as #2f7d6d.",
        too_long="Choose a colour such as #2f7d6d.",
    ),
    TextField("staff-add", "first_name", 150),
    TextField("staff-add", "last_name", 150),
    TextField(
        "staff-add",
        "username",
        150,
        REQUIRED,
        script="Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
    ),
    TextField("staff-add", "email", 320, script="Enter a valid email address."),
]


def _text_cases():
    for f in TEXT_FIELDS:
        too_long = (
            f.too_long or f"Ensure this value has at most {f.max_length} characters (it has 10000)."
        )
        yield pytest.param(f, NUL, "Null characters are not allowed.", id=f"{f.form}-{f.name}-nul")
        yield pytest.param(f, LONG, too_long, id=f"{f.form}-{f.name}-10000-chars")
        if f.required:
            yield pytest.param(f, "", f.required, id=f"{f.form}-{f.name}-empty")


@pytest.mark.parametrize(("text_field", "value", "message"), list(_text_cases()))
def test_page_forms_refuse_empty_overlong_and_nul_text(pages, world, text_field, value, message):
    response = refused_page(pages, world, text_field.form, 400, **{text_field.name: value})
    form = PAGE_FORMS[text_field.form]
    assert message in beside(response, form.id_prefix + text_field.name)


@pytest.mark.parametrize("text_field", TEXT_FIELDS, ids=[f"{f.form}-{f.name}" for f in TEXT_FIELDS])
def test_script_in_every_page_text_field_is_stored_as_typed_and_escaped(pages, world, text_field):
    form = PAGE_FORMS[text_field.form]
    if text_field.script is not None:
        # Refused (an email, a phone, a code): the form shows the typed value, escaped.
        response = refused_page(pages, world, text_field.form, 400, **{text_field.name: SCRIPT})
        assert text_field.script in beside(response, form.id_prefix + text_field.name)
        assert_escaped(response)
        return
    response = post_form(pages, world, text_field.form, **{text_field.name: SCRIPT})
    assert response.status_code == 302, visible(response)[:2000]
    assert stored(SCRIPT), "the value was not stored as typed"
    shown = pages(form.role).get(form.shows(world))
    assert shown.status_code == 200
    assert_escaped(shown)


# -------------------------------------- numbers, amounts, dates and rules (pages)

INVALID_CHOICE = "Select a valid choice. That choice is not one of the available choices."
WHOLE = "Enter a whole number."
NUMBER = "Enter a number."
VALID_DATE = "Enter a valid date."
TWO_PLACES = "Ensure that there are no more than 2 decimal places."


def digits(n: int) -> str:
    return f"Ensure that there are no more than {n} digits in total."


def refusal(form, changes, status, message, where=None, *, id):
    """One refused page submission: `changes` (a dict, or a function of the world) made
    to the valid data of `form`; the `status` and `message` expected, beside the field
    `where` (its posted name) or anywhere on the page."""
    return pytest.param(form, changes, status, message, where, id=id)


def _qty(w):
    return f"qty_{w.practice.follow_up.pk}"


def _amounts(form, name, max_digits=12, low="0.01"):
    """The odd amounts, typed into the money field `name` of `form`."""
    for value, message, tag in (
        ("10.005", TWO_PLACES, "three-decimals"),
        ("1e20", digits(max_digits), "1e20"),
        ("99999999999999", digits(max_digits), "fourteen-nines"),
        ("NaN", NUMBER, "nan"),
        ("Infinity", NUMBER, "infinity"),
        ("-1", f"Ensure this value is greater than or equal to {low}.", "minus-one"),
    ):
        yield refusal(form, {name: value}, 400, message, name, id=f"{form}-{name}-{tag}")


def _credits(form, name, low=1, zero=None):
    for value, message, tag in (
        ("0", zero or f"Ensure this value is greater than or equal to {low}.", "zero"),
        ("-1", f"Ensure this value is greater than or equal to {low}.", "minus-one"),
        ("1.5", WHOLE, "one-and-a-half"),
    ):
        if value == "-1" and low < 0:
            continue  # -1 removes a credit: valid (refused below what is used, see below)
        yield refusal(form, {name: value}, 400, message, name, id=f"{form}-{name}-{tag}")


def _ids(form, name, message=INVALID_CHOICE, where="field"):
    for tag, value in BAD_IDS.items():
        yield refusal(
            form,
            {name: value},
            400,
            message,
            name if where == "field" else None,
            id=f"{form}-{name}-{tag}",
        )


PAGE_REFUSALS = [
    # Credits and other whole numbers.
    *_credits("package-add", "credits"),
    *_credits("package-edit", "credits"),
    *[
        refusal(
            "package-add",
            lambda w, v=value: {"define_quantities": "on", _qty(w): v, "credits": "10"},
            400,
            message,
            lambda w: _qty(w),
            id=f"package-add-quantity-{tag}",
        )
        for value, message, tag in (
            ("0", "Ensure this value is greater than or equal to 1.", "zero"),
            ("-1", "Ensure this value is greater than or equal to 1.", "minus-one"),
            ("1.5", WHOLE, "one-and-a-half"),
        )
    ],
    *[
        refusal(
            "package-add",
            {"expires": "on", "expires_after_value": value},
            400,
            message,
            "expires_after_value",
            id=f"package-add-expires-after-{tag}",
        )
        for value, message, tag in (
            ("0", "Ensure this value is greater than or equal to 1.", "zero"),
            ("-1", "Ensure this value is greater than or equal to 1.", "minus-one"),
            ("1.5", WHOLE, "one-and-a-half"),
        )
    ],
    *_credits("package-adjust", "quantity", low=-1000, zero="Enter a number other than 0."),
    refusal(
        "package-adjust",
        {"quantity": "-1000000"},
        400,
        "Ensure this value is greater than or equal to -1000.",
        "quantity",
        id="package-adjust-quantity-minus-a-million",
    ),
    refusal(
        "package-adjust-completed",
        {},
        409,
        "Can't remove 1 credit(s): only 0 remain.",
        id="package-adjust-below-consumed",
    ),
    *_credits("service-add", "duration_minutes"),
    *_credits("invoice-settings", "invoices-invoice_next_number"),
    # Amounts of money (and rates).
    *_amounts("service-add", "price", low="0"),
    *_amounts("package-add", "price", low="0"),
    *_amounts("line-add", "add-unit_price", low="0"),
    *_amounts("line-edit", "line-unit_price", low="0"),
    *_amounts("pay", "amount"),
    *_amounts("refund", "amount"),
    *_amounts("tax-rate-add", "rate", max_digits=5, low="0"),
    refusal(
        "line-add",
        {"add-quantity": "0"},
        400,
        "Ensure this value is greater than or equal to 0.01.",
        "add-quantity",
        id="line-add-quantity-zero",
    ),
    refusal(
        "line-add", {"add-quantity": "NaN"}, 400, NUMBER, "add-quantity", id="line-add-quantity-nan"
    ),
    refusal(
        "line-add",
        {"add-discount_percent": "10.005"},
        400,
        TWO_PLACES,
        "add-discount_percent",
        id="line-add-discount-three-decimals",
    ),
    refusal(
        "line-add",
        {"add-discount_percent": "Infinity"},
        400,
        NUMBER,
        "add-discount_percent",
        id="line-add-discount-infinity",
    ),
    # Impossible dates, and times that do not exist on the practice's clock.
    *[
        refusal(form, {name: "2026-02-30"}, 400, VALID_DATE, name, id=f"{form}-{name}-feb-30")
        for form, name in (
            ("client-add", "date_of_birth"),
            ("package-extend", "expires_on"),
            ("appointment-create", "date"),
            ("appointment-edit", "date"),
            ("invoice-details", "issue_date"),
            ("pay", "date"),
            ("refund", "date"),
        )
    ],
    refusal(
        "appointment-create",
        {"start_time": "25:00"},
        400,
        "Enter a valid time.",
        "start_time",
        id="appointment-create-hour-25",
    ),
    *[
        refusal(
            form,
            {"date": DST_GAP_DAY, "start_time": DST_GAP_TIME, "end_time": "03:30"},
            400,
            "02:30 does not exist on 4 Oct 2026: the clocks go forward from 02:00 to 03:00.",
            "start_time",
            id=f"{form}-start-in-dst-gap",
        )
        for form in ("appointment-create", "appointment-edit")
    ],
    refusal(
        "appointment-create",
        {"date": DST_GAP_DAY, "start_time": "01:30", "end_time": "02:15"},
        400,
        "02:15 does not exist on 4 Oct 2026: the clocks go forward from 02:00 to 03:00.",
        "end_time",
        id="appointment-create-end-in-dst-gap",
    ),
    refusal(
        "appointment-create",
        {"start_time": "11:00", "end_time": "10:00"},
        400,
        "The end must be after the start.",
        "end_time",
        id="appointment-create-end-before-start",
    ),
    # Expiry before start (and too far ahead).
    refusal(
        "package-extend",
        lambda w: {"expires_on": (w.fixed.start_date - dt.timedelta(days=1)).isoformat()},
        409,
        "The expiry date can't be before the start date",
        id="package-extend-expiry-before-start",
    ),
    refusal(
        "package-extend",
        {"expires_on": "2101-01-01"},
        400,
        "Check the year: that date is too far ahead.",
        "expires_on",
        id="package-extend-expiry-in-2101",
    ),
    # Money rules.
    refusal(
        "refund",
        {"amount": "40.01"},
        409,
        "The amount is more than what can still be refunded on this payment ($40.00).",
        id="refund-above-the-paid-amount",
    ),
    refusal(
        "refund-void-payment",
        {},
        409,
        "This payment is void and cannot be refunded.",
        id="refund-of-a-void-payment",
    ),
    refusal(
        "pay",
        {"amount": "90.01"},
        409,
        "The amount is more than the balance of $90.00.",
        id="pay-above-the-balance",
    ),
    refusal("pay-void-invoice", {}, 409, "is void.", id="pay-a-void-invoice"),
    refusal(
        "pay-draft-invoice",
        {},
        409,
        "Finalize the invoice before taking a payment.",
        id="pay-a-draft-invoice",
    ),
    refusal(
        "line-add-open-invoice",
        {},
        409,
        "is finalized and cannot be changed.",
        id="add-a-line-to-an-open-invoice",
    ),
    refusal(
        "invoice-void-paid",
        {},
        409,
        "Refund or void its payments",
        id="void-an-invoice-with-payments",
    ),
    refusal(
        "package-cancel-canceled", {}, 409, "is already canceled.", id="cancel-a-canceled-package"
    ),
    # Linking: expired, completed, canceled, someone else's, not covered, already linked.
    *[
        refusal(
            "appointment-link",
            lambda w, state=state: {
                "link_choice": f"{getattr(w, state).pk}:{w.practice.follow_up.pk}"
            },
            status,
            message,
            id=f"link-{state}-package",
        )
        for state, status, message in (
            ("expired", 409, "Physio Starter Pack expired on"),
            ("completed", 409, "No credits left in Single follow-up."),
            ("canceled", 409, "Flexi 5 is canceled and cannot be used."),
            ("others", 400, "Select a package, then the service it covers."),
        )
    ],
    refusal(
        "appointment-link",
        lambda w: {"link_choice": f"{w.flexi.pk}:{w.practice.massage.pk}"},
        400,
        "Select a package, then the service it covers.",
        id="link-a-service-not-covered",
    ),
    *[
        refusal(
            "appointment-link",
            {"link_choice": choice},
            400,
            "Select a package, then the service it covers.",
            id=f"link-choice-{tag}",
        )
        for tag, choice in (
            ("abc", "abc"),
            ("zero", "0:0"),
            ("minus-one", "-1:-1"),
            ("two-to-the-63", f"{2**63}:{2**63}"),
            ("empty", ""),
        )
    ],
    refusal(
        "appointment-link",
        {"link_choice": "1\x00:1"},
        400,
        "Null characters are not allowed.",
        id="link-choice-nul",
    ),
    refusal(
        "appointment-link-linked",
        {},
        409,
        "already linked to a package. Unlink it first",
        id="link-an-already-linked-appointment",
    ),
    *[
        refusal(
            "appointment-create",
            lambda w, state=state: {"client_package": getattr(w, state).pk},
            status,
            message,
            id=f"book-with-{state}-package",
        )
        for state, status, message in (
            ("expired", 409, "Physio Starter Pack expired on"),
            ("completed", 409, "No credits left in Single follow-up."),
            ("canceled", 409, "Flexi 5 is canceled and cannot be used."),
            ("others", 400, "That package belongs to another client; choose the package again."),
        )
    ],
    # Unlinking twice: the appointment is no longer linked.
    refusal(
        "appointment-edit",
        {"unlink_package": "1"},
        409,
        "This appointment is not linked to a package.",
        id="unlink-twice",
    ),
    # Ids that do not exist or are out of range, in form fields.
    *_ids("appointment-create", "client", "That client can't be booked; choose another."),
    *_ids("appointment-create", "service"),
    *_ids("appointment-create", "practitioner"),
    *_ids("appointment-create", "location"),
    *_ids(
        "appointment-create",
        "client_package",
        "That package can't be used here; choose it again under “View”.",
        where="page",
    ),
    *_ids("appointment-edit", "service"),
    *_ids("appointment-cancel", "reason"),
    *_ids("invoice-new", "client", "That client no longer exists. Search again."),
    *_ids("invoice-new", "practitioner"),
    *_ids("invoice-details", "location"),
    *_ids(
        "package-create",
        "package",
        "That package is no longer in the catalog; select another.",
        where="page",
    ),
    *_ids("package-invoice", "practitioner"),
    *_ids("package-adjust-fixed", "service"),
    *_ids("pay", "method"),
    *_ids("line-add", "add-tax_rate"),
    *_ids("service-add", "category"),
    *_ids("package-add", "services", "is not", where="page"),
    *_ids("practitioner-add", "user"),
]


@pytest.mark.parametrize(("form_key", "changes", "status", "message", "where"), PAGE_REFUSALS)
def test_page_forms_refuse_bad_input(pages, world, form_key, changes, status, message, where):
    changes = changes(world) if callable(changes) else changes
    response = refused_page(pages, world, form_key, status, **changes)
    if where is None:
        assert message in visible(response)
    else:
        name = where(world) if callable(where) else where
        assert message in beside(response, PAGE_FORMS[form_key].id_prefix + name)


# ------------------------------------------- odd but valid: stored and escaped

NAMES = {
    "emoji": ("Zoë 😀", "Smith"),
    "right-to-left": ("مريم", "العلي"),
    "mixed": ("Zoë 😀 مريم", "O'Brien-<b>"),
}


@pytest.mark.parametrize(("first", "last"), NAMES.values(), ids=NAMES.keys())
def test_page_stores_emoji_and_right_to_left_names_as_typed(pages, world, first, last):
    http = pages("reception")
    response = http.post(reverse("clients:add"), {"first_name": first, "last_name": last})
    assert response.status_code == 302
    client = Client.objects.get(first_name=first)
    assert (client.first_name, client.last_name) == (first, last)
    for url in (
        reverse("clients:detail", args=[client.pk]),
        reverse("clients:list"),
        reverse("clients:list") + "?" + f"q={first.split()[0]}",
    ):
        page = http.get(url)
        assert page.status_code == 200
        assert f"{first} {last}" in visible(page), url
        assert "<b>" not in page.content.decode()


@pytest.mark.parametrize(("first", "last"), NAMES.values(), ids=NAMES.keys())
def test_api_stores_emoji_and_right_to_left_names_as_typed(api, world, first, last):
    http = api("reception")
    response = http.post(
        "/api/v1/clients/", {"first_name": first, "last_name": last}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert (response.json()["first_name"], response.json()["last_name"]) == (first, last)
    found = http.get("/api/v1/clients/", {"search": first.split()[0]}).json()["results"]
    assert [(c["first_name"], c["last_name"]) for c in found] == [(first, last)]


class Scripted:
    """`<script>` typed into every text field a client's story touches, through the
    services (the pages' and API's route in): the client's names, email-free notes, an
    appointment's notes, a package, an invoice's lines and notes, a payment's reference,
    a refund's reason, the practice's name and address."""

    def __init__(self, world):
        from calendar_app.services import appointment_book, appointment_link
        from invoicing.services import (
            invoice_create,
            invoice_finalize,
            payment_record,
            payment_refund,
        )
        from packages.services import client_package_cancel
        from practice.services import practice_details_update

        p = world.practice
        settings = PracticeSettings.load()
        practice_details_update(
            name=SCRIPT, address=SCRIPT, phone=SCRIPT[:40], currency=settings.currency, by=None
        )
        self.client = Client.objects.create(first_name=SCRIPT, last_name=SCRIPT, notes=SCRIPT)
        package = PackageFactory(name=SCRIPT, description=SCRIPT, services=[p.follow_up])
        self.package = p.sell(package, client=self.client)
        self.appointment = appointment_book(
            client=self.client,
            practitioner=p.practitioner,
            location=p.location,
            service=p.follow_up,
            starts_at=next_local(hour=14, days=3),
            notes=SCRIPT,
            by=None,
        )
        appointment_link(appointment=self.appointment, client_package=self.package, by=None)
        self.invoice = invoice_finalize(
            invoice=invoice_create(
                client=self.client,
                practitioner=p.practitioner,
                location=p.location,
                notes=SCRIPT,
                lines=[{"description": SCRIPT, "quantity": 1, "unit_price": Decimal("90")}],
                by=None,
            ),
            by=None,
        )
        self.payment = payment_record(
            invoice=self.invoice,
            amount=Decimal("50.00"),
            method=world.cash,
            reference=SCRIPT,
            by=None,
        )
        payment_refund(payment=self.payment, amount=Decimal("5.00"), reason=SCRIPT, by=None)
        self.canceled = client_package_cancel(
            client_package=p.sell(package, client=self.client), reason=SCRIPT, by=None
        )


@pytest.fixture
def scripted(world):
    return Scripted(world)


SHOWN_ON = {
    "client-page": lambda s: reverse("clients:detail", args=[s.client.pk]),
    "client-list": lambda s: reverse("clients:list"),
    "client-list-search": lambda s: reverse("clients:list") + "?q=script",
    "client-appointments": lambda s: reverse("clients:appointments", args=[s.client.pk]),
    "client-invoices": lambda s: reverse("clients:invoices", args=[s.client.pk]),
    "client-edit-form": lambda s: reverse("clients:edit", args=[s.client.pk]),
    "package-page": lambda s: reverse("packages:detail", args=[s.package.pk]),
    "canceled-package-page": lambda s: reverse("packages:detail", args=[s.canceled.pk]),
    "catalog": lambda s: reverse("catalog:index"),
    "catalog-package": lambda s: reverse("catalog:package_detail", args=[s.package.package_id]),
    "calendar-day": lambda s: (
        reverse("calendar_app:calendar")
        + f"?date={timezone.localdate(s.appointment.starts_at).isoformat()}"
    ),
    "calendar-panel": lambda s: reverse("calendar_app:detail", args=[s.appointment.pk]),
    "calendar-edit-form": lambda s: reverse("calendar_app:edit", args=[s.appointment.pk]),
    "invoice-page": lambda s: reverse("invoicing:detail", args=[s.invoice.pk]),
    "invoice-print": lambda s: reverse("invoicing:print", args=[s.invoice.pk]),
    "invoice-list": lambda s: reverse("invoicing:list"),
    "payment-void-popup": lambda s: reverse("invoicing:payment_void", args=[s.payment.pk]),
    "settings": lambda s: reverse("settings:index"),
}


@pytest.mark.parametrize("where", SHOWN_ON.values(), ids=SHOWN_ON.keys())
def test_script_is_escaped_wherever_it_is_shown(pages, scripted, where):
    response = pages("admin").get(where(scripted))
    assert response.status_code == 200
    assert_escaped(response)


def test_script_in_an_htmx_fragment_is_escaped_too(pages, scripted):
    response = pages("admin").get(
        reverse("clients:list"), {"q": "script"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert_escaped(response)


API_SHOWS = {
    "client": (lambda s: f"/api/v1/clients/{s.client.pk}/", ["first_name", "last_name", "notes"]),
    "appointment": (lambda s: f"/api/v1/appointments/{s.appointment.pk}/", ["notes"]),
    "client-package": (
        lambda s: f"/api/v1/client-packages/{s.canceled.pk}/",
        ["name", "cancel_reason"],
    ),
    "invoice": (lambda s: f"/api/v1/invoices/{s.invoice.pk}/", ["notes"]),
}


@pytest.mark.parametrize(("where", "fields"), API_SHOWS.values(), ids=API_SHOWS.keys())
def test_api_returns_script_verbatim_as_data(api, scripted, where, fields):
    response = api("admin").get(where(scripted))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert {name: body[name] for name in fields} == {name: SCRIPT for name in fields}


def test_api_returns_script_in_invoice_lines_payments_and_refunds_verbatim(api, scripted):
    body = api("admin").get(f"/api/v1/invoices/{scripted.invoice.pk}/").json()
    assert body["lines"][0]["description"] == SCRIPT
    assert body["payments"][0]["reference"] == SCRIPT
    assert body["payments"][0]["refunds"][0]["reason"] == SCRIPT


# ------------------------------------------------------- unknown ids in page URLs

PAGE_URLS = {
    # path template (the id goes in {}), method
    "client": ("/clients/{}/", "get"),
    "client-edit": ("/clients/{}/edit/", "post"),
    "package-create": ("/packages/new/for-client/{}/", "post"),
    "package": ("/packages/{}/", "get"),
    "package-cancel": ("/packages/{}/cancel/", "post"),
    "package-adjust": ("/packages/{}/adjust/", "post"),
    "catalog-package-edit": ("/catalog/packages/{}/edit/", "post"),
    "service-edit": ("/catalog/services/{}/edit/", "post"),
    "appointment": ("/calendar/{}/", "get"),
    "appointment-edit": ("/calendar/{}/edit/", "post"),
    "appointment-link": ("/calendar/{}/link/", "post"),
    "appointment-cancel": ("/calendar/{}/cancel/", "post"),
    "appointment-invoice": ("/calendar/{}/invoice/", "post"),
    "invoice": ("/billing/{}/", "get"),
    "invoice-pay": ("/billing/{}/pay/", "post"),
    "invoice-line-edit": (lambda w: f"/billing/{w.draft.pk}/lines/{{}}/edit/", "post"),
    "payment-refund": ("/billing/payments/{}/refund/", "post"),
    "payment-void": ("/billing/payments/{}/void/", "post"),
    "location-edit": ("/settings/locations/{}/edit/", "post"),
    "staff-deactivate": ("/settings/staff/{}/deactivate/", "post"),
}


@pytest.mark.parametrize("bad_id", BAD_IDS.values(), ids=BAD_IDS.keys())
@pytest.mark.parametrize(("path", "method"), PAGE_URLS.values(), ids=PAGE_URLS.keys())
def test_unknown_ids_in_page_urls_are_404(pages, world, path, method, bad_id):
    path = path(world) if callable(path) else path
    http = pages("admin")
    before = fingerprint()
    response = getattr(http, method)(path.format(bad_id), {"reason": "x", "quantity": "1"})
    assert response.status_code == 404
    assert "Page not found" in visible(response) or "not found" in visible(response).lower()
    assert fingerprint() == before


# --------------------------------------------------- odd query strings on pages

PAGE_QUERIES = [
    ("/clients/", {"q": LONG}, 400, "at most 100 characters"),
    ("/catalog/", {"q": NUL}, 200, None),
    ("/catalog/", {"q": LONG, "page": "abc"}, 200, None),
    ("/catalog/services/", {"q": NUL, "category": str(2**63)}, 200, None),
    ("/billing/", {"q": NUL}, 200, "Null characters are not allowed."),
    ("/billing/", {"issued_from": "2026-02-30"}, 200, "Enter a valid date."),
    ("/billing/new/", {"q": NUL, "client": "abc"}, 200, None),
    ("/billing/new/", {"q": LONG, "client": str(2**63)}, 200, None),
    (
        "/calendar/",
        {"date": "2026-02-30", "practitioner": "abc", "location": str(2**63)},
        200,
        None,
    ),
    ("/calendar/", {"date": DST_GAP_DAY, "view": "week"}, 200, None),
    ("/calendar/new/", {"start": f"{DST_GAP_DAY}T{DST_GAP_TIME}", "client": "-1"}, 200, None),
    ("/calendar/new/", {"start": NUL, "service": "abc"}, 200, None),
    ("/calendar/new/clients/", {"client_query": NUL}, 200, None),
    (
        "/calendar/new/packages/",
        {"client": "abc", "date": "2026-02-30", "service": str(2**63)},
        200,
        None,
    ),
    (lambda w: f"/clients/{w.client.pk}/", {"page": str(2**63)}, 200, None),
    (lambda w: f"/packages/{w.fixed.pk}/", {"page": NUL, "appointments_page": "-1"}, 200, None),
]


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    PAGE_QUERIES,
    ids=[
        f"{path if isinstance(path, str) else 'detail'}-{'-'.join(params)}"
        for path, params, _, _ in PAGE_QUERIES
    ],
)
def test_odd_query_strings_on_pages_are_answered(pages, world, path, params, status, message):
    path = path(world) if callable(path) else path
    http = pages("reception")
    before = fingerprint()
    response = http.get(path, params, headers={"HX-Request": "true"} if "/new/" in path else {})
    assert response.status_code == status
    if message:
        assert message in visible(response)
    assert fingerprint() == before


# --------------------------------------- wrong content type and wrong role (pages)


@pytest.mark.parametrize(
    ("form_key", "message"),
    [
        ("client-add", "This field is required."),
        (
            "appointment-create",
            "Choose a client: type a name or phone number, then pick the client.",
        ),
        ("pay", "Choose a payment method."),
        ("line-add", "This field is required."),
    ],
)
def test_json_posted_to_a_page_form_is_400_with_messages(pages, world, form_key, message):
    form = PAGE_FORMS[form_key]
    http = pages(form.role)
    url, data = form.url(world), form.data(world)
    before = fingerprint()
    response = http.post(url, json.dumps(data), content_type="application/json")
    assert response.status_code == 400
    assert message in visible(response)
    assert fingerprint() == before


@pytest.mark.parametrize(
    ("form_key", "role"),
    [
        ("refund", "practitioner"),
        ("appointment-create", "accountant"),
        ("service-add", "reception"),
        ("package-adjust", "reception"),
        ("practice", "reception"),
        ("line-add", "practitioner"),
    ],
)
def test_page_forms_refuse_the_wrong_role_with_403(pages, world, form_key, role):
    form = PAGE_FORMS[form_key]
    http = pages(role)
    url, data = form.url(world), form.data(world)
    before = fingerprint()
    response = http.post(url, data)
    assert response.status_code == 403
    assert fingerprint() == before


# ============================================================================ the API

V1 = "/api/v1"


@dataclass(frozen=True)
class Endpoint:
    """An API operation: method, path and a valid body, as functions of the world."""

    method: str
    path: Callable[[World], str]
    body: Callable[[World], dict[str, Any]] = field(default=lambda w: {})
    role: str = "admin"


ENDPOINTS: dict[str, Endpoint] = {
    "client-create": Endpoint(
        "post",
        lambda w: f"{V1}/clients/",
        lambda w: {"first_name": "Ann", "last_name": "Lee"},
        "reception",
    ),
    "client-patch": Endpoint(
        "patch", lambda w: f"{V1}/clients/{w.client.pk}/", lambda w: {"notes": "Knee"}, "reception"
    ),
    "service-create": Endpoint(
        "post",
        lambda w: f"{V1}/services/",
        lambda w: {"name": "Dry needling", "duration_minutes": 30, "price": "80.00"},
    ),
    "package-create": Endpoint(
        "post",
        lambda w: f"{V1}/packages/",
        lambda w: {
            "name": "Ten pack",
            "description": "Ten sessions",
            "credits": 10,
            "price": "800.00",
            "services": [{"service": w.practice.follow_up.pk}],
        },
    ),
    "package-create-fixed": Endpoint(
        "post",
        lambda w: f"{V1}/packages/",
        lambda w: {
            "name": "Three pack",
            "kind": "fixed",
            "credits": 3,
            "price": "240.00",
            "services": [{"service": w.practice.follow_up.pk, "allowance": 3}],
            "expires_after": {"value": 3, "unit": "months"},
        },
    ),
    "tax-rate-create": Endpoint(
        "post", lambda w: f"{V1}/tax-rates/", lambda w: {"name": "VAT", "rate": "20.00"}
    ),
    "location-create": Endpoint(
        "post",
        lambda w: f"{V1}/locations/",
        lambda w: {"name": "Beach Rd", "address": "2 Beach Rd"},
    ),
    "practitioner-create": Endpoint(
        "post",
        lambda w: f"{V1}/practitioners/",
        lambda w: {"name": "Kim Osteo", "colour": "#2f7d6d"},
    ),
    "payment-method-create": Endpoint(
        "post", lambda w: f"{V1}/payment-methods/", lambda w: {"name": "Voucher"}
    ),
    "cancellation-reason-create": Endpoint(
        "post", lambda w: f"{V1}/cancellation-reasons/", lambda w: {"name": "Weather"}
    ),
    "sell": Endpoint(
        "post",
        lambda w: f"{V1}/client-packages/",
        lambda w: {"client": w.client.pk, "package": w.practice.flexible.pk},
        "reception",
    ),
    "extend": Endpoint(
        "patch",
        lambda w: f"{V1}/client-packages/{w.fixed.pk}/",
        lambda w: {
            "expires_on": (w.fixed.expires_on + dt.timedelta(days=30)).isoformat(),
            "reason": "Away for a month",
        },
    ),
    "package-cancel": Endpoint(
        "post",
        lambda w: f"{V1}/client-packages/{w.flexi.pk}/cancel/",
        lambda w: {"reason": "Moved"},
    ),
    "package-cancel-canceled": Endpoint(
        "post",
        lambda w: f"{V1}/client-packages/{w.canceled.pk}/cancel/",
        lambda w: {"reason": "Again"},
    ),
    "adjust": Endpoint(
        "post",
        lambda w: f"{V1}/client-packages/{w.flexi.pk}/adjust/",
        lambda w: {"quantity": 1, "reason": "Goodwill"},
    ),
    "adjust-completed": Endpoint(
        "post",
        lambda w: f"{V1}/client-packages/{w.completed.pk}/adjust/",
        lambda w: {"quantity": -1, "reason": "Typo"},
    ),
    "package-invoice": Endpoint(
        "post",
        lambda w: f"{V1}/client-packages/{w.flexi.pk}/invoice/",
        lambda w: {"practitioner": w.practice.practitioner.pk, "location": w.practice.location.pk},
        "reception",
    ),
    "book": Endpoint(
        "post",
        lambda w: f"{V1}/appointments/",
        lambda w: {
            "client": w.client.pk,
            "practitioner": w.practice.practitioner.pk,
            "location": w.practice.location.pk,
            "service": w.practice.follow_up.pk,
            "starts_at": next_local(hour=11, days=10).isoformat(),
            "notes": "Bring shoes",
        },
        "reception",
    ),
    "appointment-patch": Endpoint(
        "patch",
        lambda w: f"{V1}/appointments/{w.appointment.pk}/",
        lambda w: {"notes": "Moved"},
        "reception",
    ),
    "link": Endpoint(
        "post",
        lambda w: f"{V1}/appointments/{w.appointment.pk}/link/",
        lambda w: {"client_package": w.flexi.pk},
        "reception",
    ),
    "link-linked": Endpoint(
        "post",
        lambda w: f"{V1}/appointments/{w.linked.pk}/link/",
        lambda w: {"client_package": w.flexi.pk},
        "reception",
    ),
    "unlink-unlinked": Endpoint(
        "post", lambda w: f"{V1}/appointments/{w.appointment.pk}/unlink/", role="reception"
    ),
    "appointment-cancel": Endpoint(
        "post",
        lambda w: f"{V1}/appointments/{w.appointment.pk}/cancel/",
        lambda w: {"reason": w.practice.reason.pk},
        "reception",
    ),
    "invoice-create": Endpoint(
        "post",
        lambda w: f"{V1}/invoices/",
        lambda w: {
            "client": w.client.pk,
            "practitioner": w.practice.practitioner.pk,
            "location": w.practice.location.pk,
            "notes": "Thank you",
            "lines": [{"description": "Massage", "quantity": "1", "unit_price": "60.00"}],
        },
        "reception",
    ),
    "invoice-patch": Endpoint(
        "patch",
        lambda w: f"{V1}/invoices/{w.draft.pk}/",
        lambda w: {"notes": "Thanks"},
        "reception",
    ),
    "invoice-patch-open": Endpoint(
        "patch", lambda w: f"{V1}/invoices/{w.open.pk}/", lambda w: {"notes": "Thanks"}, "reception"
    ),
    "pay": Endpoint(
        "post",
        lambda w: f"{V1}/invoices/{w.open.pk}/payments/",
        lambda w: {"amount": "10.00", "method": w.cash.pk, "reference": "Receipt 17"},
        "reception",
    ),
    "pay-void-invoice": Endpoint(
        "post",
        lambda w: f"{V1}/invoices/{w.void_invoice.pk}/payments/",
        lambda w: {"amount": "10.00", "method": w.cash.pk},
        "reception",
    ),
    "refund": Endpoint(
        "post",
        lambda w: f"{V1}/payments/{w.payment.pk}/refund/",
        lambda w: {"amount": "10.00", "reason": "Overcharged"},
    ),
    "invoice-void": Endpoint(
        "post", lambda w: f"{V1}/invoices/{w.open.pk}/void/", lambda w: {"reason": "Issued twice"}
    ),
    "payment-void": Endpoint(
        "post", lambda w: f"{V1}/payments/{w.payment.pk}/void/", lambda w: {"reason": "Typed twice"}
    ),
}


def _put(body: dict, path: str, value: Any) -> dict:
    """`body` with `value` at `path` ("lines.0.description")."""
    body = json.loads(json.dumps(body))
    *parents, last = path.split(".")
    target: Any = body
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return body


def _errors_at(body: Any, path: str) -> str:
    """The messages the API gave for `path` ("lines.0.description"), joined."""
    for key in path.split("."):
        if isinstance(body, list):
            body = body[int(key)] if key.isdigit() and int(key) < len(body) else {}
        elif isinstance(body, dict):
            body = body.get(key, {})
    if isinstance(body, list):
        return " ".join(str(item) for item in body)
    return str(body)


def send(api, world, name: str, /, raw: str | None = None, content_type=None, **changes):
    """Call endpoint `name` with its valid body changed at the given paths (`__` for `.`)."""
    endpoint = ENDPOINTS[name]
    http = api(endpoint.role)
    body = endpoint.body(world)
    for path, value in changes.items():
        body = _put(body, path.replace("__", "."), value)
    path = endpoint.path(world)
    if raw is not None:
        return http.generic(endpoint.method.upper(), path, raw, content_type=content_type)
    return getattr(http, endpoint.method)(path, body, format="json")


def refused_api(api, world, name: str, status: int, /, **kwargs):
    endpoint = ENDPOINTS[name]
    api(endpoint.role), endpoint.path(world), endpoint.body(world)  # rows exist before
    before = fingerprint()
    response = send(api, world, name, **kwargs)
    assert response.status_code == status, response.content[:2000]
    assert response["Content-Type"] == "application/json"
    assert fingerprint() == before
    return response


# ------------------------------------------------------------ text fields (API)

BLANK = "This field may not be blank."


@dataclass(frozen=True)
class ApiText:
    endpoint: str
    path: str  # in the body: "lines.0.description"
    max_length: int
    required: bool = False
    script_status: int = 0  # 0: `<script>…` is accepted; else the refusal's status
    script_message: str = ""


API_TEXT_FIELDS = [
    ApiText("client-create", "first_name", 100, True),
    ApiText("client-create", "last_name", 100, True),
    ApiText(
        "client-create",
        "email",
        254,
        script_status=400,
        script_message="Enter a valid email address.",
    ),
    ApiText(
        "client-create",
        "phone",
        40,
        script_status=409,
        script_message="Enter a phone number using digits, spaces, +, - or brackets.",
    ),
    ApiText("client-create", "notes", 5000),
    ApiText("client-patch", "first_name", 100, True),
    ApiText("client-patch", "notes", 5000),
    ApiText("service-create", "name", 200, True),
    ApiText("service-create", "category", 100),
    ApiText("package-create", "name", 200, True),
    ApiText("package-create", "description", 5000),
    ApiText("tax-rate-create", "name", 100, True),
    ApiText("location-create", "name", 200, True),
    ApiText("location-create", "address", 5000),
    ApiText("practitioner-create", "name", 200, True),
    ApiText("payment-method-create", "name", 100, True),
    ApiText("cancellation-reason-create", "name", 200, True),
    ApiText("extend", "reason", 2000, True),
    ApiText("package-cancel", "reason", 2000, True),
    ApiText("adjust", "reason", 2000, True),
    ApiText("book", "notes", 5000),
    ApiText("appointment-patch", "notes", 5000),
    ApiText("invoice-create", "notes", 5000),
    ApiText("invoice-create", "lines.0.description", 500, True),
    ApiText("invoice-patch", "notes", 5000),
    ApiText("pay", "reference", 200),
    ApiText("refund", "reason", 5000, True),
    ApiText("invoice-void", "reason", 5000),
    ApiText("payment-void", "reason", 5000),
]


def _api_text_cases():
    for f in API_TEXT_FIELDS:
        name = f"{f.endpoint}-{f.path}"
        yield pytest.param(f, NUL, "Null characters are not allowed.", id=f"{name}-nul")
        yield pytest.param(
            f,
            LONG,
            f"Ensure this field has no more than {f.max_length} characters.",
            id=f"{name}-10000-chars",
        )
        if f.required:
            yield pytest.param(f, "", BLANK, id=f"{name}-empty")


@pytest.mark.parametrize(("text_field", "value", "message"), list(_api_text_cases()))
def test_api_refuses_empty_overlong_and_nul_text(api, world, text_field, value, message):
    response = refused_api(
        api, world, text_field.endpoint, 400, **{text_field.path.replace(".", "__"): value}
    )
    assert message in _errors_at(response.json(), text_field.path)


@pytest.mark.parametrize(
    "text_field", API_TEXT_FIELDS, ids=[f"{f.endpoint}-{f.path}" for f in API_TEXT_FIELDS]
)
def test_api_takes_script_in_every_text_field_as_data(api, world, text_field):
    changes = {text_field.path.replace(".", "__"): SCRIPT}
    if text_field.script_status:
        response = refused_api(api, world, text_field.endpoint, text_field.script_status, **changes)
        body = response.json()
        found = body.get("detail") or _errors_at(body, text_field.path)
        assert text_field.script_message in found
        return
    response = send(api, world, text_field.endpoint, **changes)
    assert response.status_code in (200, 201), response.json()
    assert response["Content-Type"] == "application/json"
    assert stored(SCRIPT), "the value was not stored as typed"
    reasons = ("refund", "payment-void", "invoice-void", "package-cancel", "extend", "adjust")
    if text_field.endpoint not in reasons:
        # The resource comes back with the value verbatim (reasons live elsewhere).
        assert SCRIPT in json.dumps(response.json(), ensure_ascii=False)


# ------------------------------------- numbers, amounts, dates and rules (API)

API_TWO_PLACES = "Ensure that there are no more than 2 decimal places."
API_NUMBER = "A valid number is required."
API_INTEGER = "A valid integer is required."
API_DATE = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
API_DATETIME = "Datetime has wrong format."


def api_refusal(endpoint, changes, status, expected, *, id):
    """One refused API call: `changes` ({"lines__0__unit_price": "NaN"}, or a function of
    the world) to the valid body of `endpoint`; `expected` is {"path": "message"} for a
    400 or the rule's code for a 409."""
    return pytest.param(endpoint, changes, status, expected, id=id)


def _api_amounts(endpoint, path, max_digits=12, values=None):
    cases = {
        "10.005": ("three-decimals", API_TWO_PLACES),
        "1e20": ("1e20", f"Ensure that there are no more than {max_digits} digits in total."),
        "99999999999999": (
            "fourteen-nines",
            f"Ensure that there are no more than {max_digits} digits in total.",
        ),
        "NaN": ("nan", API_NUMBER),
        "Infinity": ("infinity", API_NUMBER),
    }
    for value in values or cases:
        tag, message = cases[value]
        yield api_refusal(
            endpoint, {path: value}, 400, {path: message}, id=f"{endpoint}-{path}-{tag}"
        )


def _api_whole(endpoint, path, low=1, zero=None, values=("0", "-1", "1.5")):
    for value in values:
        if value == "1.5":
            message, tag = API_INTEGER, "one-and-a-half"
        elif value == "0" and zero:
            message, tag = zero, "zero"
        else:
            message = f"Ensure this value is greater than or equal to {low}."
            tag = "zero" if value == "0" else "minus-one"
        number = float(value) if value == "1.5" else int(value)
        yield api_refusal(
            endpoint, {path: number}, 400, {path: message}, id=f"{endpoint}-{path}-{tag}"
        )


def _api_ids(endpoint, path):
    for tag, value in BAD_IDS.items():
        message = "Incorrect type" if value == "abc" else "object does not exist"
        yield api_refusal(
            endpoint, {path: value}, 400, {path: message}, id=f"{endpoint}-{path}-{tag}"
        )


DST_GAP = "02:30 does not exist on 4 Oct 2026: the clocks go forward from 02:00 to 03:00."

API_REFUSALS = [
    # Credits and other whole numbers.
    *_api_whole("package-create", "credits"),
    *_api_whole("package-create-fixed", "services__0__allowance"),
    *_api_whole("package-create-fixed", "expires_after__value"),
    *_api_whole(
        "adjust", "quantity", zero="Enter a whole number of credits other than 0.", values=("0",)
    ),
    api_refusal("adjust-completed", {}, 409, "adjust_below_consumed", id="adjust-below-consumed"),
    *_api_whole("service-create", "duration_minutes"),
    api_refusal(
        "book",
        {"repeat": {"every_weeks": 0, "weekdays": [7], "count": 1.5}},
        400,
        {
            "repeat.every_weeks": "greater than or equal to 1",
            "repeat.weekdays.0": "less than or equal to 6",
            "repeat.count": API_INTEGER,
        },
        id="book-repeat-out-of-range",
    ),
    # Amounts of money (and rates).
    *_api_amounts("service-create", "price"),
    *_api_amounts("package-create", "price"),
    *_api_amounts("invoice-create", "lines__0__unit_price"),
    *_api_amounts("invoice-create", "lines__0__quantity", max_digits=10),
    *_api_amounts("refund", "amount"),
    *_api_amounts("pay", "amount", values=("10.005", "1e20", "99999999999999")),
    *_api_amounts("tax-rate-create", "rate", max_digits=5),
    api_refusal(
        "invoice-create",
        {"lines__0__discount": "100.01"},
        400,
        {"lines__0__discount": "less than or equal to 100"},
        id="invoice-line-discount-above-100",
    ),
    # Impossible dates, and times that do not exist on the practice's clock.
    api_refusal(
        "client-create",
        {"date_of_birth": "2026-02-30"},
        400,
        {"date_of_birth": API_DATE},
        id="client-date-of-birth-feb-30",
    ),
    api_refusal(
        "extend", {"expires_on": "2026-02-30"}, 400, {"expires_on": API_DATE}, id="extend-feb-30"
    ),
    api_refusal(
        "invoice-create",
        {"issue_date": "2026-02-30"},
        400,
        {"issue_date": API_DATE},
        id="invoice-issue-date-feb-30",
    ),
    api_refusal("pay", {"date": "2026-02-30"}, 400, {"date": API_DATE}, id="pay-feb-30"),
    api_refusal("refund", {"date": "2026-02-30"}, 400, {"date": API_DATE}, id="refund-feb-30"),
    api_refusal(
        "book",
        {"starts_at": "2026-02-30T10:00:00"},
        400,
        {"starts_at": API_DATETIME},
        id="book-feb-30",
    ),
    api_refusal(
        "book",
        {"starts_at": f"{DST_GAP_DAY}T{DST_GAP_TIME}:00"},
        400,
        {"starts_at": DST_GAP},
        id="book-start-in-dst-gap",
    ),
    api_refusal(
        "book",
        {"starts_at": f"{DST_GAP_DAY}T01:30:00", "ends_at": f"{DST_GAP_DAY}T02:30:00"},
        400,
        {"ends_at": DST_GAP},
        id="book-end-in-dst-gap",
    ),
    api_refusal(
        "appointment-patch",
        {"starts_at": f"{DST_GAP_DAY}T{DST_GAP_TIME}"},
        400,
        {"starts_at": DST_GAP},
        id="move-start-into-dst-gap",
    ),
    api_refusal(
        "book",
        {"starts_at": "2026-12-01T10:00:00", "ends_at": "2026-12-01T09:00:00"},
        409,
        "invalid_time",
        id="book-end-before-start",
    ),
    # Expiry before start.
    api_refusal(
        "extend",
        lambda w: {"expires_on": (w.fixed.start_date - dt.timedelta(days=1)).isoformat()},
        409,
        "expiry_before_start",
        id="extend-expiry-before-start",
    ),
    # Money rules.
    api_refusal(
        "refund",
        {"amount": "40.01"},
        409,
        "amount_exceeds_refundable",
        id="refund-above-the-paid-amount",
    ),
    api_refusal(
        "pay", {"amount": "90.01"}, 409, "amount_exceeds_balance", id="pay-above-the-balance"
    ),
    api_refusal("pay-void-invoice", {}, 409, "invoice_not_open", id="pay-a-void-invoice"),
    api_refusal("invoice-patch-open", {}, 409, "invoice_not_draft", id="edit-an-open-invoice"),
    api_refusal(
        "package-cancel-canceled", {}, 409, "package_canceled", id="cancel-a-canceled-package"
    ),
    # Linking: expired, completed, canceled, someone else's, not covered, already linked.
    *[
        api_refusal(
            "link",
            lambda w, state=state: {"client_package": getattr(w, state).pk},
            409,
            code,
            id=f"link-{state}-package",
        )
        for state, code in (
            ("expired", "package_expired"),
            ("completed", "no_credits_left"),
            ("canceled", "package_not_eligible"),
            ("others", "package_other_client"),
        )
    ],
    api_refusal(
        "link",
        lambda w: {"client_package": w.flexi.pk, "service": w.practice.massage.pk},
        409,
        "service_not_covered",
        id="link-a-service-not-covered",
    ),
    api_refusal("link-linked", {}, 409, "already_linked", id="link-an-already-linked-appointment"),
    *[
        api_refusal(
            "book",
            lambda w, state=state: {"client_package": getattr(w, state).pk},
            409,
            code,
            id=f"book-with-{state}-package",
        )
        for state, code in (
            ("expired", "package_expired"),
            ("completed", "no_credits_left"),
            ("others", "package_other_client"),
        )
    ],
    api_refusal("unlink-unlinked", {}, 409, "not_linked", id="unlink-an-unlinked-appointment"),
    # Ids that do not exist or are out of range, in JSON bodies.
    *_api_ids("sell", "client"),
    *_api_ids("sell", "package"),
    *_api_ids("book", "client"),
    *_api_ids("book", "service"),
    *_api_ids("book", "client_package"),
    *_api_ids("link", "client_package"),
    *_api_ids("appointment-cancel", "reason"),
    *_api_ids("invoice-create", "practitioner"),
    *_api_ids("invoice-create", "lines__0__tax_rate"),
    *_api_ids("package-invoice", "location"),
    *_api_ids("pay", "method"),
    *_api_ids("package-create", "services__0__service"),
    *_api_ids("service-create", "tax_rate"),
]


@pytest.mark.parametrize(("endpoint", "changes", "status", "expected"), API_REFUSALS)
def test_api_refuses_bad_input(api, world, endpoint, changes, status, expected):
    changes = changes(world) if callable(changes) else changes
    response = refused_api(api, world, endpoint, status, **changes)
    body = response.json()
    if status == 409:
        assert body["code"] == expected
        assert body["detail"]
    else:
        for path, message in expected.items():
            assert message in _errors_at(body, path.replace("__", ".")), body


# --------------------------------------------------------- unknown ids in API URLs

API_URLS = {
    "client-patch": ("patch", "clients/{}/"),
    "client-package-cancel": ("post", "client-packages/{}/cancel/"),
    "client-package-adjust": ("post", "client-packages/{}/adjust/"),
    "client-package-ledger": ("get", "client-packages/{}/ledger/"),
    "appointment-patch": ("patch", "appointments/{}/"),
    "appointment-delete": ("delete", "appointments/{}/"),
    "appointment-link": ("post", "appointments/{}/link/"),
    "appointment-unlink": ("post", "appointments/{}/unlink/"),
    "appointment-cancel": ("post", "appointments/{}/cancel/"),
    "invoice-delete": ("delete", "invoices/{}/"),
    "invoice-void": ("post", "invoices/{}/void/"),
    "invoice-pay": ("post", "invoices/{}/payments/"),
    "payment-refund": ("post", "payments/{}/refund/"),
    "payment-void": ("post", "payments/{}/void/"),
}


@pytest.mark.parametrize("bad_id", BAD_IDS.values(), ids=BAD_IDS.keys())
@pytest.mark.parametrize(("method", "path"), API_URLS.values(), ids=API_URLS.keys())
def test_unknown_ids_in_api_urls_are_404(api, world, method, path, bad_id):
    http = api("admin")
    before = fingerprint()
    response = getattr(http, method)(
        f"{V1}/{path.format(bad_id)}",
        {"reason": "x", "quantity": 1, "amount": "1.00"},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert fingerprint() == before


# ----------------------------------------- wrong content type and deep JSON (API)

BODY_ENDPOINTS = [
    "client-create",
    "client-patch",
    "package-create",
    "sell",
    "adjust",
    "book",
    "link",
    "invoice-create",
    "pay",
    "refund",
]
WRONG_TYPES = {
    "text-plain": ("text/plain", lambda body: json.dumps(body)),
    "form-encoded": (
        "application/x-www-form-urlencoded",
        lambda body: "&".join(f"{key}={value}" for key, value in body.items()),
    ),
    "xml": ("application/xml", lambda body: "<client><first_name>Ann</first_name></client>"),
}


@pytest.mark.parametrize("kind", WRONG_TYPES, ids=WRONG_TYPES.keys())
@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
def test_api_refuses_other_content_types_with_415(api, world, endpoint, kind):
    content_type, encode = WRONG_TYPES[kind]
    raw = encode(ENDPOINTS[endpoint].body(world))
    response = refused_api(api, world, endpoint, 415, raw=raw, content_type=content_type)
    assert response.json()["code"] == "unsupported_media_type"
    assert content_type in response.json()["detail"]


NESTINGS = {
    "array": "[" * DEEP + "]" * DEEP,
    "object": '{"a":' * DEEP + "1" + "}" * DEEP,
    "inside-a-field": '{"notes": ' + "[" * DEEP + "]" * DEEP + "}",
}


@pytest.mark.parametrize("nesting", NESTINGS.values(), ids=NESTINGS.keys())
@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
def test_api_refuses_json_nested_10000_deep_with_400(api, world, endpoint, nesting):
    response = refused_api(api, world, endpoint, 400, raw=nesting, content_type="application/json")
    assert response.json() == {
        "detail": "JSON parse error - the body is nested too deeply.",
        "code": "parse_error",
    }


# ------------------------------------------------------------------ unlinking twice


def test_unlinking_twice_on_the_page_is_refused_the_second_time(pages, world):
    http = pages("reception")
    appointment = world.linked
    data = PAGE_FORMS["appointment-edit"].data(world)
    data.update(date=_day(2), start_time="09:00", end_time="09:30", unlink_package="1")
    url = reverse("calendar_app:edit", args=[appointment.pk])
    assert http.post(url, data).status_code == 302
    world.fixed.refresh_from_db()
    assert world.fixed.consumed == 0
    before = fingerprint()
    again = http.post(url, data)
    assert again.status_code == 409
    assert "This appointment is not linked to a package." in visible(again)
    assert fingerprint() == before


def test_unlinking_twice_through_the_api_is_409_the_second_time(api, world):
    http = api("reception")
    url = f"{V1}/appointments/{world.linked.pk}/unlink/"
    assert http.post(url, format="json").status_code == 200
    before = fingerprint()
    again = http.post(url, format="json")
    assert again.status_code == 409
    assert again.json() == {
        "detail": "This appointment is not linked to a package.",
        "code": "not_linked",
    }
    assert fingerprint() == before


# 2026-04-05 03:00 in Sydney the clocks go back to 02:00: 02:00-03:00 happens twice.
REPEATED_HOUR = "2026-04-05T02:30:00"


def test_a_booking_in_the_hour_that_repeats_lasts_its_real_duration_on_the_page(pages, world):
    """02:30 is taken as its first occurrence; 60 minutes later is the second 02:30
    (an end computed on the wall clock, 03:30, would make it last two hours)."""
    http = pages("reception")
    data = PAGE_FORMS["appointment-create"].data(world)
    data.update(date="2026-04-05", start_time="02:30", service=world.practice.massage.pk)
    assert http.post(reverse("calendar_app:create"), data).status_code == 302
    booked = _latest("calendar_app.Appointment")
    assert booked.ends_at - booked.starts_at == dt.timedelta(minutes=60)


def test_a_booking_in_the_hour_that_repeats_lasts_its_real_duration_in_the_api(api, world):
    response = send(api, world, "book", starts_at=REPEATED_HOUR)
    assert response.status_code == 201, response.json()
    booked = response.json()
    assert (booked["starts_at"], booked["ends_at"]) == (
        "2026-04-05T02:30:00+11:00",
        "2026-04-05T02:00:00+10:00",
    )


# --------------------------------------------------------- odd Idempotency-Key headers

ODD_KEYS = {
    "nul": ("a\x00b", 400),
    "10000-chars": (LONG, 400),
    "emoji": ("key-😀", 400),
    "empty": ("", 400),
}


@pytest.mark.parametrize(("key", "status"), ODD_KEYS.values(), ids=ODD_KEYS.keys())
def test_api_refuses_odd_idempotency_keys(api, world, key, status):
    http = api("reception")
    before = fingerprint()
    response = http.post(
        f"{V1}/clients/",
        {"first_name": "Ann", "last_name": "Lee"},
        format="json",
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == status
    assert "Use 1 to 255 printable ASCII characters" in response.json()["Idempotency-Key"][0]
    assert fingerprint() == before


def test_api_refuses_an_idempotency_key_reused_for_another_body_with_422(api, world):
    http = api("reception")
    first = http.post(
        f"{V1}/clients/",
        {"first_name": "Ann", "last_name": "Lee"},
        format="json",
        headers={"Idempotency-Key": "k-1"},
    )
    assert first.status_code == 201
    before = fingerprint()
    again = http.post(
        f"{V1}/clients/",
        {"first_name": "Bob", "last_name": "Lee"},
        format="json",
        headers={"Idempotency-Key": "k-1"},
    )
    assert again.status_code == 422
    assert again.json()["code"] == "idempotency_key_reused"
    assert fingerprint() == before
