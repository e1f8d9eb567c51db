"""DOMAIN.md, People and permissions, at the service layer: every write service × every role.

Admin: everything, including catalog, settings, voids, refunds, credit adjustments.
Reception: clients, calendar, packages, invoices, payments.
Practitioner: calendar, clients, link and unlink; invoices read-only.
Accountant: invoices, payments, refunds, reports; calendar read-only.

Services check the permission themselves (`kernel.errors.require_perm`), so this one
matrix holds for the pages, the API and the admin alike (each also has its own matrix:
`tests/api/test_permissions.py`, `tests/pages/test_billing.py`, ...). A role that may
act must succeed outright (the world is set up so every call is valid); a role that may
not gets `NotAllowed` and nothing changes. Each role's attempt runs in a savepoint that
is rolled back, so every role meets the same world.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import transaction

from calendar_app import services as calendar
from catalog import services as catalog
from clients import services as clients
from documents import selectors as document_selectors
from documents import services as documents
from invoicing import services as invoicing
from kernel.errors import NotAllowed
from packages import services as packages
from practice import roles
from practice import services as practice_settings
from practice.models import PracticeSettings
from tests.api.conftest import World
from tests.factories import (
    ClientFactory,
    ServiceCategoryFactory,
    TaxRateFactory,
    UserFactory,
    next_local,
)

pytestmark = pytest.mark.django_db

ADMIN = frozenset({roles.ADMIN})
CLIENTS_AND_CALENDAR = frozenset({roles.ADMIN, roles.RECEPTION, roles.PRACTITIONER})
SELL_PACKAGES = frozenset({roles.ADMIN, roles.RECEPTION})
INVOICES_AND_PAYMENTS = frozenset({roles.ADMIN, roles.RECEPTION, roles.ACCOUNTANT})
MONEY_BACK = frozenset({roles.ADMIN, roles.ACCOUNTANT})  # refunds and voids


def _session_of(appointment):
    """A class session at `appointment`'s place and time (for "All arrived")."""
    from calendar_app.models import ClassSession

    return ClassSession.objects.create(
        practitioner_id=appointment.practitioner_id,
        location_id=appointment.location_id,
        service_id=appointment.service_id,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
    )


def fresh(obj):
    """The row as the database has it now (earlier attempts were rolled back)."""
    return type(obj).objects.get(pk=obj.pk)


@dataclass(frozen=True)
class Op:
    name: str
    call: Callable[[World, object], object]
    allowed: frozenset[str]


OPS = [
    # Clients
    Op(
        "client_create",
        lambda w, by: clients.client_create(first_name="New", last_name="Client", by=by),
        CLIENTS_AND_CALENDAR,
    ),
    Op(
        "client_update",
        lambda w, by: clients.client_update(client=fresh(w.client), phone="0400 000 000", by=by),
        CLIENTS_AND_CALENDAR,
    ),
    Op(
        "client_archive",
        lambda w, by: clients.client_archive(client=fresh(w.client), by=by),
        CLIENTS_AND_CALENDAR,
    ),
    Op(
        "client_restore",
        lambda w, by: clients.client_restore(client=fresh(w.archived_client), by=by),
        CLIENTS_AND_CALENDAR,
    ),
    # Calendar
    Op(
        "appointment_book",
        lambda w, by: w.practice.book(by=by, days=3, hour=14),
        CLIENTS_AND_CALENDAR,
    ),
    Op(
        "appointment_book_series",
        lambda w, by: calendar.appointment_book_series(
            client=w.client,
            practitioner=w.practice.practitioner,
            location=w.practice.location,
            service=w.practice.follow_up,
            starts_at=next_local(hour=16, days=3),
            every_weeks=1,
            weekdays=[next_local(days=3).weekday()],
            count=2,
            by=by,
        ),
        CLIENTS_AND_CALENDAR,
    ),
    Op(
        "appointment_edit",
        lambda w, by: calendar.appointment_edit(
            appointment=fresh(w.appointment), notes="Bring shoes", by=by
        ),
        CLIENTS_AND_CALENDAR,
    ),
    Op(
        "appointment_unlink_and_edit",
        lambda w, by: calendar.appointment_unlink_and_edit(
            appointment=fresh(w.linked), notes="Paid at the desk", by=by
        ),
        CLIENTS_AND_CALENDAR,
    ),
    Op(
        "appointment_cancel",
        lambda w, by: calendar.appointment_cancel(
            appointment=fresh(w.appointment), reason=w.practice.reason, by=by
        ),
        CLIENTS_AND_CALENDAR,
    ),
    Op(
        "appointment_cancel_by_rules",
        lambda w, by: invoicing.appointment_cancel_by_rules(
            appointment=fresh(w.appointment), reason=w.practice.reason, by=by
        ),
        CLIENTS_AND_CALENDAR,
    ),
    Op(
        "appointment_missed_by_rules",
        lambda w, by: invoicing.appointment_missed_by_rules(appointment=fresh(w.past), by=by),
        CLIENTS_AND_CALENDAR,
    ),
    Op(
        "appointment_mark_missed",
        lambda w, by: calendar.appointment_mark_missed(appointment=fresh(w.past), by=by),
        CLIENTS_AND_CALENDAR,
    ),
    Op(
        "appointment_mark_arrived",
        lambda w, by: calendar.appointment_mark_arrived(appointment=fresh(w.past), by=by),
        CLIENTS_AND_CALENDAR,
    ),
    Op(
        "class_session_mark_arrived",
        lambda w, by: calendar.class_session_mark_arrived(session=_session_of(w.past), by=by),
        CLIENTS_AND_CALENDAR,
    ),
    Op(
        "appointment_delete",
        lambda w, by: calendar.appointment_delete(appointment=fresh(w.appointment), by=by),
        CLIENTS_AND_CALENDAR,
    ),
    # Packages: sell and cancel (Reception), link and unlink (also Practitioner),
    # adjust credits and change expiry (Admin only, docs/decisions.md)
    Op(
        "client_package_assign",
        lambda w, by: packages.client_package_assign(
            client=w.client, package=w.practice.flexible, by=by
        ),
        SELL_PACKAGES,
    ),
    Op(
        "client_package_cancel",
        lambda w, by: packages.client_package_cancel(
            client_package=fresh(w.sold), reason="Moved away", by=by
        ),
        SELL_PACKAGES,
    ),
    Op(
        "client_package_cancel_with_refund",
        lambda w, by: invoicing.client_package_cancel_with_refund(
            client_package=fresh(w.sold), reason="Moved away", by=by
        ),
        ADMIN,
    ),
    Op(
        "appointment_link",
        lambda w, by: calendar.appointment_link(
            appointment=fresh(w.appointment), client_package=fresh(w.sold), by=by
        ),
        CLIENTS_AND_CALENDAR,
    ),
    Op(
        "appointment_unlink",
        lambda w, by: calendar.appointment_unlink(appointment=fresh(w.linked), by=by),
        CLIENTS_AND_CALENDAR,
    ),
    Op(
        "client_package_adjust",
        lambda w, by: packages.client_package_adjust(
            client_package=fresh(w.sold),
            quantity=1,
            service=w.practice.follow_up,
            reason="Goodwill",
            by=by,
        ),
        ADMIN,
    ),
    Op(
        "client_package_extend_expiry",
        lambda w, by: packages.client_package_extend_expiry(
            client_package=fresh(w.sold),
            expires_on=fresh(w.sold).expires_on + dt.timedelta(days=30),
            reason="Injury break",
            by=by,
        ),
        ADMIN,
    ),
    # Invoices and payments
    Op(
        "invoice_create",
        lambda w, by: invoicing.invoice_create(
            client=w.client,
            practitioner=w.practice.practitioner,
            location=w.practice.location,
            by=by,
        ),
        INVOICES_AND_PAYMENTS,
    ),
    Op(
        "invoice_update",
        lambda w, by: invoicing.invoice_update(invoice=fresh(w.draft), notes="Thanks", by=by),
        INVOICES_AND_PAYMENTS,
    ),
    Op(
        "invoice_line_add",
        lambda w, by: invoicing.invoice_line_add(
            invoice=fresh(w.draft), description="Extra", quantity=1, unit_price="10", by=by
        ),
        INVOICES_AND_PAYMENTS,
    ),
    Op(
        "invoice_line_update",
        lambda w, by: invoicing.invoice_line_update(
            line=fresh(w.draft).lines.get(), unit_price="95", by=by
        ),
        INVOICES_AND_PAYMENTS,
    ),
    Op(
        "invoice_line_remove",
        lambda w, by: invoicing.invoice_line_remove(line=fresh(w.draft).lines.get(), by=by),
        INVOICES_AND_PAYMENTS,
    ),
    Op(
        "invoice_finalize",
        lambda w, by: invoicing.invoice_finalize(invoice=fresh(w.draft), by=by),
        INVOICES_AND_PAYMENTS,
    ),
    Op(
        "invoice_delete",
        lambda w, by: invoicing.invoice_delete(invoice=fresh(w.draft), by=by),
        INVOICES_AND_PAYMENTS,
    ),
    Op(
        "invoice_for_client_package",
        lambda w, by: invoicing.invoice_for_client_package(
            client_package=fresh(w.sold),
            practitioner=w.practice.practitioner,
            location=w.practice.location,
            by=by,
        ),
        INVOICES_AND_PAYMENTS,
    ),
    Op(
        # Sell, invoice, finalize and take payment: who may do every step (issue 13).
        "client_package_sell",
        lambda w, by: invoicing.client_package_sell(
            client=w.practice.client,
            package=w.practice.fixed,
            invoicing="pay",
            practitioner=w.practice.practitioner,
            location=w.practice.location,
            method=fresh(w.cash),
            by=by,
        ),
        SELL_PACKAGES & INVOICES_AND_PAYMENTS,
    ),
    Op(
        "invoice_for_appointment",
        lambda w, by: invoicing.invoice_for_appointment(appointment=fresh(w.appointment), by=by),
        INVOICES_AND_PAYMENTS,
    ),
    Op(
        "payment_record",
        lambda w, by: invoicing.payment_record(
            invoice=fresh(w.unpaid), amount="10.00", method=w.cash, by=by
        ),
        INVOICES_AND_PAYMENTS,
    ),
    Op(
        "payment_refund",
        lambda w, by: invoicing.payment_refund(
            payment=fresh(w.payment), amount="10.00", reason="Overcharged", by=by
        ),
        MONEY_BACK,
    ),
    Op(
        "payment_void",
        lambda w, by: invoicing.payment_void(payment=fresh(w.payment), by=by),
        MONEY_BACK,
    ),
    Op(
        "credit_note_issue",
        lambda w, by: invoicing.credit_note_issue(
            invoice=fresh(w.unpaid), amount="5.00", reason="Goodwill", by=by
        ),
        ADMIN,
    ),
    Op(
        "invoice_void",
        lambda w, by: invoicing.invoice_void(invoice=fresh(w.unpaid), reason="Wrong client", by=by),
        MONEY_BACK,
    ),
    # Catalog (Admin)
    Op(
        "package_create",
        lambda w, by: catalog.package_create(
            name="Massage 3", credits=3, price=Decimal("240"), services=[w.practice.massage], by=by
        ),
        ADMIN,
    ),
    Op(
        "package_archive",
        lambda w, by: catalog.package_archive(package=fresh(w.practice.flexible), by=by),
        ADMIN,
    ),
    Op(
        "service_create",
        lambda w, by: catalog.service_create(
            name="Dry needling", category=None, duration_minutes=30, price=Decimal("80"), by=by
        ),
        ADMIN,
    ),
    Op(
        "service_archive",
        lambda w, by: catalog.service_archive(service=fresh(w.practice.massage), by=by),
        ADMIN,
    ),
    Op(
        "package_update",
        lambda w, by: catalog.package_update(
            package=fresh(w.practice.flexible),
            name="Flexi 6",
            credits=6,
            price=Decimal("480"),
            services=[w.practice.initial, w.practice.follow_up],
            by=by,
        ),
        ADMIN,
    ),
    Op(
        "package_restore",
        lambda w, by: catalog.package_restore(package=fresh(w.practice.flexible), by=by),
        ADMIN,
    ),
    Op(
        "service_update",
        lambda w, by: catalog.service_update(
            service=fresh(w.practice.massage),
            name="Remedial massage",
            category=None,
            duration_minutes=60,
            price=Decimal("120"),
            by=by,
        ),
        ADMIN,
    ),
    Op(
        "service_restore",
        lambda w, by: catalog.service_restore(service=fresh(w.practice.massage), by=by),
        ADMIN,
    ),
    Op("category_create", lambda w, by: catalog.category_create(name="Pilates", by=by), ADMIN),
    Op(
        "category_update",
        lambda w, by: catalog.category_update(category=fresh(w.category), name="Rehab", by=by),
        ADMIN,
    ),
    Op(
        "tax_rate_create",
        lambda w, by: catalog.tax_rate_create(name="Reduced", rate=Decimal("5"), by=by),
        ADMIN,
    ),
    Op(
        "tax_rate_update",
        lambda w, by: catalog.tax_rate_update(
            tax_rate=fresh(w.tax_rate), name="Reduced", rate=Decimal("5"), by=by
        ),
        ADMIN,
    ),
    Op(
        "tax_rate_archive",
        lambda w, by: catalog.tax_rate_archive(tax_rate=fresh(w.tax_rate), by=by),
        ADMIN,
    ),
    Op(
        "tax_rate_restore",
        lambda w, by: catalog.tax_rate_restore(tax_rate=fresh(w.tax_rate), by=by),
        ADMIN,
    ),
    # Settings (Admin)
    Op(
        "practice_details_update",
        lambda w, by: practice_settings.practice_details_update(
            name="Harbour Physio", currency=PracticeSettings.load().currency, by=by
        ),
        ADMIN,
    ),
    Op(
        "practice_settings_update",
        lambda w, by: practice_settings.practice_settings_update(
            changes={"payment_terms_days": 21}, by=by
        ),
        ADMIN,
    ),
    Op(
        "cancellation_settings_update",
        lambda w, by: practice_settings.cancellation_settings_update(missed_action="keep", by=by),
        ADMIN,
    ),
    Op(
        "email_settings_update",
        lambda w, by: practice_settings.email_settings_update(
            confirmation_emails=True, reminder_hours=24, by=by
        ),
        ADMIN,
    ),
    Op(
        "invoice_settings_update",
        lambda w, by: practice_settings.invoice_settings_update(
            invoice_prefix="INV-",
            invoice_next_number=100,
            invoice_number_digits=4,
            payment_terms_days=14,
            prices_include_tax=True,
            by=by,
        ),
        ADMIN,
    ),
    Op(
        "location_create",
        lambda w, by: calendar.location_create(name="Second site", by=by),
        ADMIN,
    ),
    *(
        Op(
            f"location_{action}",
            lambda w, by, a=action: getattr(calendar, f"location_{a}")(
                location=fresh(w.practice.location), by=by
            ),
            ADMIN,
        )
        for action in ("archive", "restore")
    ),
    Op(
        "location_update",
        lambda w, by: calendar.location_update(
            location=fresh(w.practice.location), name="Main Street", address="1 Main St", by=by
        ),
        ADMIN,
    ),
    Op(
        "practitioner_create",
        lambda w, by: calendar.practitioner_create(name="Pat Osteo", by=by),
        ADMIN,
    ),
    Op(
        "practitioner_update",
        lambda w, by: calendar.practitioner_update(
            practitioner=fresh(w.practice.practitioner), name="Sam Physio", colour="#336699", by=by
        ),
        ADMIN,
    ),
    Op(
        "practitioner_services_set",
        lambda w, by: calendar.practitioner_services_set(
            practitioner=fresh(w.practice.practitioner),
            location=fresh(w.practice.location),
            services=[fresh(w.practice.follow_up)],
            by=by,
        ),
        ADMIN,
    ),
    *(
        Op(
            f"practitioner_{action}",
            lambda w, by, a=action: getattr(calendar, f"practitioner_{a}")(
                practitioner=fresh(w.practice.practitioner), by=by
            ),
            ADMIN,
        )
        for action in ("archive", "restore")
    ),
    Op(
        "working_hours_set",
        lambda w, by: calendar.working_hours_set(
            practitioner=fresh(w.practice.practitioner),
            hours=[(0, w.practice.location, dt.time(9), dt.time(17))],
            by=by,
        ),
        ADMIN,
    ),
    Op(
        "payment_method_set_default",
        lambda w, by: invoicing.payment_method_set_default(method=fresh(w.cash), by=by),
        ADMIN,
    ),
    Op(
        "payment_method_create",
        lambda w, by: invoicing.payment_method_create(name="Voucher", by=by),
        ADMIN,
    ),
    Op(
        "payment_method_rename",
        lambda w, by: invoicing.payment_method_rename(
            method=fresh(w.cash), name="Cash (notes)", by=by
        ),
        ADMIN,
    ),
    *(
        Op(
            f"payment_method_{action}",
            lambda w, by, a=action: getattr(invoicing, f"payment_method_{a}")(
                method=fresh(w.cash), by=by
            ),
            ADMIN,
        )
        for action in ("archive", "restore")
    ),
    Op(
        "cancellation_reason_create",
        lambda w, by: calendar.cancellation_reason_create(name="Weather", by=by),
        ADMIN,
    ),
    Op(
        "cancellation_reason_update",
        lambda w, by: calendar.cancellation_reason_update(
            reason=fresh(w.practice.reason), name="Client asked", notice_hours=24, by=by
        ),
        ADMIN,
    ),
    Op(
        "cancellation_reason_rename",
        lambda w, by: calendar.cancellation_reason_rename(
            reason=fresh(w.practice.reason), name="Client asked", by=by
        ),
        ADMIN,
    ),
    *(
        Op(
            f"cancellation_reason_{action}",
            lambda w, by, a=action: getattr(calendar, f"cancellation_reason_{a}")(
                reason=fresh(w.practice.reason), by=by
            ),
            ADMIN,
        )
        for action in ("archive", "restore")
    ),
    Op(
        "staff_user_create",
        lambda w, by: practice_settings.staff_user_create(
            username="newstaff", role=roles.RECEPTION, password="Correct-Horse-42", by=by
        ),
        ADMIN,
    ),
    Op(
        "staff_user_update",
        lambda w, by: practice_settings.staff_user_update(
            user=fresh(w.colleague), first_name="Col", role=roles.ACCOUNTANT, by=by
        ),
        ADMIN,
    ),
    *(
        Op(
            f"staff_user_{action}",
            lambda w, by, a=action: getattr(practice_settings, f"staff_user_{a}")(
                user=fresh(w.colleague), by=by
            ),
            ADMIN,
        )
        for action in ("deactivate", "reactivate")
    ),
    Op(
        "document_settings_update",
        lambda w, by: practice_settings.document_settings_update(
            payment_instructions="BSB 062-000", by=by
        ),
        ADMIN,
    ),
    # Documents (issue 13): email a document; share an invoice by a public link
    Op(
        "document_send",
        lambda w, by: documents.document_send(
            document=document_selectors.invoice_document(w.open), to="jo@example.com", by=by
        ),
        INVOICES_AND_PAYMENTS,
    ),
    Op(
        "invoice_link_create",
        lambda w, by: documents.invoice_link_create(invoice=w.open, by=by),
        SELL_PACKAGES,
    ),
    Op(
        "invoice_link_revoke",
        lambda w, by: documents.invoice_link_revoke(
            link=documents.invoice_link_create(invoice=w.open, by=None)[0], by=by
        ),
        SELL_PACKAGES,
    ),
]


class _RollBack(Exception):
    """Raised to undo one role's attempt."""


@pytest.fixture
def personas(admin_user, reception, practitioner_user, accountant):
    return {
        roles.ADMIN: admin_user,
        roles.RECEPTION: reception,
        roles.PRACTITIONER: practitioner_user,
        roles.ACCOUNTANT: accountant,
    }


class MatrixWorld(World):
    """The API tests' world plus the rows only the settings and catalog services need."""

    def __init__(self, practice):
        super().__init__(practice)
        self.archived_client = ClientFactory(archived=True)
        self.category = ServiceCategoryFactory(name="Physio")
        self.tax_rate = TaxRateFactory(name="Special", rate=Decimal("7"))
        self.colleague = UserFactory(username="colleague", role=roles.RECEPTION)


@pytest.fixture
def world(practice, roles_exist):
    return MatrixWorld(practice)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_each_role_may_call_exactly_its_services(op, world, personas):
    outcomes = {}
    for role, user in personas.items():
        try:
            with transaction.atomic():
                try:
                    op.call(world, user)
                    outcomes[role] = "done"
                except NotAllowed:
                    outcomes[role] = "not allowed"
                raise _RollBack
        except _RollBack:
            pass
    expected = {role: "done" if role in op.allowed else "not allowed" for role in personas}
    assert outcomes == expected


def test_the_matrix_covers_every_write_service():
    """A new write service (a public function taking `by`) must join the matrix."""
    import inspect

    modules = (calendar, practice_settings, catalog, clients, invoicing, packages, documents)
    public = {
        name
        for module in modules
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__
        and not name.startswith("_")
        and "by" in inspect.signature(function).parameters
    }
    # Helpers called, under their locks, by services that have checked the permission.
    # `client_package_snapshot` builds the rows of a sale, unsaved (the demo's bulk path).
    helpers = {
        "link_locked",
        "unlink_locked",
        "consume",
        "release",
        "move",
        "client_package_snapshot",
    }
    assert public - helpers == {op.name for op in OPS}


READ = {
    "clients.view_client": set(roles.ROLES),
    "calendar_app.view_appointment": set(roles.ROLES),
    "packages.view_clientpackage": set(roles.ROLES),
    "packages.view_creditledgerentry": set(roles.ROLES),
    "invoicing.view_invoice": set(roles.ROLES),
    "invoicing.view_payment": set(roles.ROLES),
    "catalog.view_package": set(roles.ROLES),
}


@pytest.mark.parametrize("perm", sorted(READ))
def test_every_role_reads_clients_calendar_packages_and_invoices(perm, personas):
    """Practitioner: invoices read-only; Accountant: calendar (and clients) read-only."""
    assert {role for role, user in personas.items() if user.has_perm(perm)} == READ[perm]
