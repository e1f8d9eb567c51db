"""The Django admin: every page renders, lists cost a constant number of queries, history
is read-only, and every write goes through a service (so its rules and messages hold)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import Appointment, AppointmentStatus
from calendar_app.services import appointment_book_series, practitioner_services_set
from clients.models import Client
from invoicing.models import Invoice, InvoiceLine, InvoiceStatus, Payment, PaymentStatus, Refund
from invoicing.services import (
    credit_note_issue,
    invoice_create,
    invoice_finalize,
    invoice_for_client_package,
    payment_record,
    payment_refund,
)
from packages.models import (
    ClientPackage,
    ClientPackageStatus,
    CreditLedgerEntry,
    ExpiryChange,
    LedgerKind,
)
from packages.services import client_package_cancel, client_package_extend_expiry
from practice import roles
from practice.models import PracticeSettings
from tests.factories import ClientFactory, PaymentMethodFactory, PractitionerFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(model, view="changelist", *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def superuser(db):
    return UserFactory(username="sue", is_staff=True, is_superuser=True)


@pytest.fixture
def client_as(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def su(client_as, superuser):
    return client_as(superuser)


@pytest.fixture
def world(practice):
    """One of everything, written through the services."""
    from calendar_app.services import working_hours_set
    from clients.models import ClientAccess
    from practice.api_keys import api_key_create

    cash = PaymentMethodFactory(name="Cash")
    working_hours_set(
        practitioner=practice.practitioner,
        hours=[(0, practice.location, dt.time(9), dt.time(17))],
        by=None,
    )
    api_key_create(user=UserFactory(username="integrator"), name="Booking website", by=None)
    ClientAccess.objects.create(client=practice.client, path="/clients/", via="page")
    fixed = practice.sell()
    flexible = practice.sell(practice.flexible)
    client_package_extend_expiry(
        client_package=fixed,
        expires_on=fixed.expires_on + dt.timedelta(days=14),
        reason="Client was away",
        by=None,
    )
    linked = practice.book(by=None, client_package=fixed, service=practice.initial)
    plain = practice.book(by=None, hour=12)
    appointment_book_series(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        service=practice.follow_up,
        starts_at=linked.starts_at + dt.timedelta(days=2),
        every_weeks=1,
        weekdays=[0, 3],
        count=3,
        by=None,
    )
    invoice = invoice_finalize(
        invoice=invoice_for_client_package(
            client_package=fixed,
            practitioner=practice.practitioner,
            location=practice.location,
            by=None,
        ),
        by=None,
    )
    payment = payment_record(invoice=invoice, amount="150.00", method=cash, by=None)
    payment_refund(payment=payment, amount="20.00", reason="Goodwill", by=None)
    admin = UserFactory(username="cn-admin", is_superuser=True)
    credit_note_issue(invoice=invoice, amount="10.00", reason="Goodwill", by=admin)
    draft = invoice_for_client_package(
        client_package=flexible,
        practitioner=practice.practitioner,
        location=practice.location,
        by=None,
    )
    # Issue 11: the practitioner provides every service but the massage there.
    practitioner_services_set(
        practitioner=practice.practitioner,
        location=practice.location,
        services=[practice.initial, practice.follow_up],
        by=None,
    )
    practice.cash = cash
    practice.fixed_sold, practice.flexible_sold = fixed, flexible
    practice.linked, practice.plain = linked, plain
    practice.invoice, practice.draft, practice.payment = invoice, draft, payment
    return practice


# ---------------------------------------------------------------------------- rendering


def test_site_is_branded(su):
    response = su.get(reverse("admin:index"))
    assert response.status_code == 200
    assert "Caspen administration" in response.content.decode()


@pytest.mark.parametrize(
    "model_admin",
    [ma for ma in admin.site._registry.values() if ma.opts.app_label in roles.PROJECT_APPS],
    ids=lambda ma: f"{ma.opts.app_label}.{ma.opts.model_name}",
)
def test_every_admin_page_renders(su, world, model_admin):
    model = model_admin.model
    assert su.get(url(model)).status_code == 200
    assert su.get(url(model) + "?q=Citizen").status_code == 200
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"no {model.__name__} in the test data"
    assert su.get(url(model, "change", obj.pk)).status_code == 200
    add = su.get(url(model, "add"))
    assert add.status_code == (200 if model_admin.has_add_permission(add.wsgi_request) else 403)


def test_changelist_filters_render(su, world):
    for status in ClientPackageStatus.values:
        assert su.get(url(ClientPackage) + f"?status={status}").status_code == 200
    for status in ("draft", "open", "part_paid", "overdue", "paid", "void"):
        assert su.get(url(Invoice) + f"?status={status}").status_code == 200
    assert su.get(url(Appointment) + "?linked=yes").status_code == 200


def test_client_autocomplete_for_the_add_forms(su, world):
    response = su.get(
        reverse("admin:autocomplete"),
        {
            "term": "Citiz",
            "app_label": "packages",
            "model_name": "clientpackage",
            "field_name": "client",
        },
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["Jo Citizen"]


def test_client_package_status_filter_uses_the_domain_rule(su, world):
    client_package_cancel(client_package=world.flexible_sold, reason="Moved away", by=None)
    response = su.get(url(ClientPackage) + "?status=canceled")
    assert [cp.pk for cp in response.context["cl"].result_list] == [world.flexible_sold.pk]
    response = su.get(url(ClientPackage) + "?status=active")
    assert [cp.pk for cp in response.context["cl"].result_list] == [world.fixed_sold.pk]


def test_invoice_status_filter_matches_the_displayed_status(su, world):
    response = su.get(url(Invoice) + "?status=part_paid")
    assert [i.pk for i in response.context["cl"].result_list] == [world.invoice.pk]
    response = su.get(url(Invoice) + "?status=draft")
    assert [i.pk for i in response.context["cl"].result_list] == [world.draft.pk]
    assert "Part paid" in su.get(url(Invoice)).content.decode()


# -------------------------------------------------------------------------- query counts


def _grow(practice, start: int, stop: int) -> None:
    """Rows `start`..`stop-1` of every listed kind: a client with a package (and an
    expiry change), a linked appointment, an invoice for the package with a payment and
    for every other one a refund."""
    cash = PaymentMethodFactory(name="Cash")
    for i in range(start, stop):
        client = ClientFactory()
        sold = practice.sell(practice.flexible, client=client)
        practice.book(
            by=None,
            client=client,
            client_package=sold,
            practitioner=PractitionerFactory(),
            days=1 + i,
        )
        invoice = invoice_finalize(
            invoice=invoice_for_client_package(
                client_package=sold,
                practitioner=practice.practitioner,
                location=practice.location,
                by=None,
            ),
            by=None,
        )
        payment = payment_record(invoice=invoice, amount="100.00", method=cash, by=None)
        if i % 2:
            payment_refund(payment=payment, amount="10.00", reason="Goodwill", by=None)
        client_package_extend_expiry(
            client_package=sold,
            expires_on=timezone.localdate() + dt.timedelta(days=365),
            reason="Gift",
            by=None,
        )


LISTS = [
    Client,
    ClientPackage,
    CreditLedgerEntry,
    Appointment,
    Invoice,
    Payment,
    Refund,
    ExpiryChange,
]


def _count_queries(client, path: str) -> int:
    # Once before counting: a process's first request fills what it keeps (permissions,
    # settings), which a later request reads from memory whatever the rows.
    assert client.get(path).status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_changelist_queries_do_not_grow_with_rows(su, practice, django_assert_max_num_queries):
    _grow(practice, 0, 3)
    few = {model: _count_queries(su, url(model)) for model in LISTS}
    _grow(practice, 3, 30)
    for model in LISTS:
        assert model.objects.count() >= 3
        with django_assert_max_num_queries(few[model]):
            su.get(url(model))
        assert _count_queries(su, url(model)) == few[model], model.__name__


# --------------------------------------------------------------------------- read-only


@pytest.mark.parametrize("model", [CreditLedgerEntry, ExpiryChange, Payment, Refund])
def test_history_cannot_be_added_changed_or_deleted(su, world, model):
    model_admin = admin.site._registry[model]
    request = su.get(url(model)).wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    obj = model.objects.order_by("pk").first()
    before = list(model.objects.order_by("pk").values())
    assert su.get(url(model, "add")).status_code == 403
    assert su.post(url(model, "change", obj.pk), {}).status_code == 403
    assert su.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    response = su.post(
        url(model), {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
    )
    assert response.status_code in (200, 302)
    assert list(model.objects.order_by("pk").values()) == before


def test_practice_settings_is_one_row_never_deleted(su):
    settings = PracticeSettings.load()
    assert su.get(url(PracticeSettings, "add")).status_code == 403
    assert su.post(url(PracticeSettings, "delete", settings.pk), {"post": "yes"}).status_code == 403
    assert PracticeSettings.objects.count() == 1


def test_practice_settings_refuses_a_used_invoice_number(su, world):
    settings = PracticeSettings.load()
    data = {
        "name": "Harbour Physio",
        "address": "",
        "phone": "",
        "email": "",
        "tax_id": "",
        "currency": "AUD",
        "prices_include_tax": "on",
        "payment_terms_days": 14,
        "invoice_prefix": "INV-",
        "invoice_number_digits": 4,
        "invoice_next_number": 1,  # INV-0001 is world.invoice
        "confirmation_emails": "on",
        "reminder_hours": 24,
    }
    response = su.post(url(PracticeSettings, "change", settings.pk), data)
    assert response.status_code == 200
    assert "already used by an invoice" in response.content.decode()
    data["invoice_next_number"] = settings.invoice_next_number
    response = su.post(url(PracticeSettings, "change", settings.pk), data)
    assert response.status_code == 302
    settings.refresh_from_db()
    assert settings.name == "Harbour Physio"


def test_client_package_change_form_is_read_only(su, world):
    response = su.get(url(ClientPackage, "change", world.fixed_sold.pk))
    assert response.status_code == 200
    assert response.context["title"].startswith("View")
    assert su.post(url(ClientPackage, "change", world.fixed_sold.pk), {}).status_code == 403


def test_finalized_invoice_is_read_only_and_cannot_be_deleted(su, world):
    response = su.get(url(Invoice, "change", world.invoice.pk))
    assert response.context["title"].startswith("View")
    assert su.post(url(Invoice, "delete", world.invoice.pk), {"post": "yes"}).status_code == 403
    assert Invoice.objects.filter(pk=world.invoice.pk).exists()


# ------------------------------------------------------------------------------ actions


def act(client, model, action: str, objs, **data):
    payload = {"action": action, "_selected_action": [o.pk for o in objs], **data}
    return client.post(url(model), payload, follow=True)


def test_cancel_packages_asks_for_a_reason_then_calls_the_service(su, world, superuser):
    page = act(su, ClientPackage, "cancel_packages", [world.flexible_sold])
    assert page.status_code == 200
    assert "reason" in page.context["form"].fields
    refused = act(su, ClientPackage, "cancel_packages", [world.flexible_sold], apply="yes")
    assert refused.context["form"].errors["reason"]
    done = act(
        su, ClientPackage, "cancel_packages", [world.flexible_sold], apply="yes", reason="Moved"
    )
    assert messages_of(done) == ["Canceled 1 client package."]
    world.flexible_sold.refresh_from_db()
    assert world.flexible_sold.status == ClientPackageStatus.CANCELED
    assert world.flexible_sold.canceled_by == superuser


def test_cancelling_a_canceled_package_shows_the_domain_message_and_changes_nothing(su, world):
    client_package_cancel(client_package=world.flexible_sold, reason="First", by=None)
    before = ClientPackage.objects.values().get(pk=world.flexible_sold.pk)
    response = act(
        su, ClientPackage, "cancel_packages", [world.flexible_sold], apply="yes", reason="Again"
    )
    assert any("already canceled" in m for m in messages_of(response))
    assert ClientPackage.objects.values().get(pk=world.flexible_sold.pk) == before


def test_accountant_cannot_adjust_credits(client_as, world):
    accountant = UserFactory(username="ann", role=roles.ACCOUNTANT, is_staff=True)
    before = list(CreditLedgerEntry.objects.values())
    client = client_as(accountant)
    first = act(client, ClientPackage, "adjust_credits", [world.flexible_sold])
    assert messages_of(first) == ["Your role does not allow this action."]
    applied = act(
        client,
        ClientPackage,
        "adjust_credits",
        [world.flexible_sold],
        apply="yes",
        quantity=2,
        reason="Goodwill",
    )
    assert "Your role does not allow this action." in messages_of(applied)
    assert list(CreditLedgerEntry.objects.values()) == before


def test_adjust_credits_writes_a_ledger_row(su, world):
    response = act(
        su,
        ClientPackage,
        "adjust_credits",
        [world.fixed_sold],
        apply="yes",
        quantity=2,
        service=world.follow_up.pk,
        reason="Goodwill",
    )
    assert messages_of(response) == ["Adjusted the credits of 1 client package."]
    world.fixed_sold.refresh_from_db()
    assert world.fixed_sold.credits == 6
    row = CreditLedgerEntry.objects.filter(kind=LedgerKind.ADJUST).get()
    assert (row.quantity, row.service, row.reason) == (2, world.follow_up, "Goodwill")


def test_adjust_credits_of_a_fixed_package_without_a_service_is_refused(su, world):
    response = act(
        su, ClientPackage, "adjust_credits", [world.fixed_sold], apply="yes", quantity=1, reason="x"
    )
    assert any("Choose which service" in m for m in messages_of(response))
    world.fixed_sold.refresh_from_db()
    assert world.fixed_sold.credits == 4


def test_extend_expiry_records_the_change(su, world):
    new_date = world.fixed_sold.expires_on + dt.timedelta(days=30)
    response = act(
        su,
        ClientPackage,
        "extend_expiry",
        [world.fixed_sold],
        apply="yes",
        expires_on=new_date.isoformat(),
        reason="Injury",
    )
    assert messages_of(response) == ["Changed the expiry date of 1 client package."]
    world.fixed_sold.refresh_from_db()
    assert world.fixed_sold.expires_on == new_date
    assert world.fixed_sold.expiry_changes.last().reason == "Injury"


def test_create_invoice_action_offers_the_existing_invoice_instead(su, world):
    response = act(
        su,
        ClientPackage,
        "create_invoice",
        [world.fixed_sold],
        apply="yes",
        practitioner=world.practitioner.pk,
        location=world.location.pk,
    )
    assert any("already on invoice INV-0001" in m for m in messages_of(response))


def test_mark_arrived_before_the_day_is_refused(su, world):
    response = act(su, Appointment, "mark_arrived", [world.plain])
    assert any("before the appointment's day" in m for m in messages_of(response))
    world.plain.refresh_from_db()
    assert world.plain.status == AppointmentStatus.BOOKED


def test_mark_missed_for_a_started_appointment(su, world):
    past = world.book(by=None, starts_at=timezone.now() - dt.timedelta(hours=2))
    response = act(su, Appointment, "mark_missed", [past])
    assert messages_of(response) == ["Marked 1 appointment Missed."]
    past.refresh_from_db()
    assert past.status == AppointmentStatus.MISSED


def test_cancel_appointment_releases_its_credit(su, world):
    page = act(su, Appointment, "cancel_appointments", [world.linked])
    assert set(page.context["form"].fields) == {"reason", "keep_credit"}
    response = act(
        su,
        Appointment,
        "cancel_appointments",
        [world.linked],
        apply="yes",
        reason=world.reason.pk,
    )
    assert messages_of(response) == ["Canceled 1 appointment."]
    world.linked.refresh_from_db()
    world.fixed_sold.refresh_from_db()
    assert world.linked.status == AppointmentStatus.CANCELED
    assert world.linked.client_package is None
    assert world.fixed_sold.consumed == 0


def test_cancel_with_keep_credit_keeps_it(su, world):
    act(
        su,
        Appointment,
        "cancel_appointments",
        [world.linked],
        apply="yes",
        reason=world.reason.pk,
        keep_credit="on",
    )
    world.fixed_sold.refresh_from_db()
    assert world.fixed_sold.consumed == 1


def test_unlink_releases_the_credit_and_refuses_an_unlinked_one(su, world):
    page = act(su, Appointment, "unlink_package", [world.linked, world.plain])
    assert set(page.context["form"].fields) == {"reason"}
    response = act(su, Appointment, "unlink_package", [world.linked, world.plain], apply="yes")
    shown = messages_of(response)
    assert any("not linked to a package" in m for m in shown)
    assert any(m.startswith("Unlinked 1 appointment") for m in shown)
    world.fixed_sold.refresh_from_db()
    assert world.fixed_sold.consumed == 0


def test_unlinking_a_missed_appointment_in_the_admin_needs_the_admins_reason(su, world):
    """The admin's action asks for the reason DOMAIN.md's used credit needs, and the
    ledger keeps it (the pages and the API ask the same)."""
    Appointment.objects.filter(pk=world.linked.pk).update(status=AppointmentStatus.MISSED)
    refused = act(su, Appointment, "unlink_package", [world.linked], apply="yes")
    assert any("reason" in m.lower() for m in messages_of(refused))
    world.fixed_sold.refresh_from_db()
    assert world.fixed_sold.consumed == 1
    done = act(
        su, Appointment, "unlink_package", [world.linked], apply="yes", reason="Charged in error"
    )
    assert messages_of(done)[0].startswith("Unlinked 1 appointment")
    release = CreditLedgerEntry.objects.get(kind=LedgerKind.RELEASE, appointment=world.linked)
    assert "Charged in error" in release.reason


def test_delete_appointments_goes_through_the_service(su, world):
    page = act(su, Appointment, "delete_selected", [world.linked])
    assert page.status_code == 200 and "Yes, delete" in page.content.decode()
    response = act(su, Appointment, "delete_selected", [world.linked], apply="yes")
    assert messages_of(response) == ["Deleted 1 appointment."]
    world.fixed_sold.refresh_from_db()
    assert world.fixed_sold.consumed == 0
    assert CreditLedgerEntry.objects.filter(kind=LedgerKind.RELEASE).count() == 1


def test_delete_view_of_an_appointment_releases_its_credit(su, world):
    response = su.post(url(Appointment, "delete", world.linked.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Appointment.objects.filter(pk=world.linked.pk).exists()
    world.fixed_sold.refresh_from_db()
    assert world.fixed_sold.consumed == 0


def test_finalize_shows_refusals_and_numbers_the_rest(su, world):
    empty = invoice_create(
        client=world.client, practitioner=world.practitioner, location=world.location, by=None
    )
    response = act(su, Invoice, "finalize", [world.draft, empty, world.invoice])
    shown = messages_of(response)
    assert any("Add at least one line before finalizing." in m for m in shown)
    assert any("already finalized" in m for m in shown)
    assert "Finalized 1 invoice." in shown
    world.draft.refresh_from_db()
    assert world.draft.number == "INV-0002"


def test_void_an_invoice_with_payments_is_refused(su, world):
    response = act(su, Invoice, "void_invoices", [world.invoice], apply="yes", reason="Oops")
    assert any("Refund or void its payments" in m for m in messages_of(response))
    world.invoice.refresh_from_db()
    assert world.invoice.status == InvoiceStatus.OPEN


def test_delete_drafts_deletes_only_drafts(su, world):
    response = act(su, Invoice, "delete_selected", [world.draft, world.invoice], apply="yes")
    shown = messages_of(response)
    assert any("Only draft invoices can be deleted" in m for m in shown)
    assert "Deleted 1 invoice." in shown
    assert not Invoice.objects.filter(pk=world.draft.pk).exists()
    assert Invoice.objects.filter(pk=world.invoice.pk).exists()


def test_void_payment_then_the_invoice_can_be_voided(su, world):
    fresh = payment_record(invoice=world.invoice, amount="10.00", method=world.cash, by=None)
    response = act(su, Payment, "void_payments", [fresh, world.payment], apply="yes", reason="")
    shown = messages_of(response)
    assert "Voided 1 payment." in shown
    assert any("has refunds" in m for m in shown)
    fresh.refresh_from_db()
    assert fresh.status == PaymentStatus.VOID


# ------------------------------------------------------------------- add and change forms


def test_adding_a_client_package_assigns_it_through_the_service(su, world, superuser):
    client = ClientFactory()
    response = su.post(
        url(ClientPackage, "add"),
        {
            "client": client.pk,
            "package": world.fixed.pk,
            "start_date": "2026-01-31",
            "invoice_practitioner": world.practitioner.pk,
            "invoice_location": world.location.pk,
        },
    )
    assert response.status_code == 302
    sold = ClientPackage.objects.get(client=client)
    assert sold.expires_on == dt.date(2026, 4, 30)
    assert sold.created_by == superuser
    assert sorted(sold.ledger.values_list("kind", "quantity")) == [("grant", 1), ("grant", 3)]
    assert InvoiceLine.objects.get(client_package=sold).invoice.status == InvoiceStatus.DRAFT


def test_adding_a_package_for_an_archived_client_shows_the_message(su, world):
    client = ClientFactory(archived=True)
    response = su.post(
        url(ClientPackage, "add"),
        {"client": client.pk, "package": world.fixed.pk, "start_date": "2026-01-31"},
    )
    assert response.status_code == 200
    assert "is archived" in str(response.context["adminform"].form.non_field_errors())
    assert not ClientPackage.objects.filter(client=client).exists()


def _appointment_data(world, start: dt.datetime, **extra) -> dict:
    local = timezone.localtime(start)
    return {
        "client": world.client.pk,
        "practitioner": world.practitioner.pk,
        "location": world.location.pk,
        "service": world.follow_up.pk,
        "starts_at_0": local.date().isoformat(),
        "starts_at_1": local.strftime("%H:%M"),
        "ends_at_0": "",
        "ends_at_1": "",
        "notes": "",
        **extra,
    }


def test_adding_an_appointment_books_it_and_links_the_package(su, world):
    start = world.linked.starts_at + dt.timedelta(days=1)
    data = _appointment_data(world, start, client_package=world.flexible_sold.pk)
    response = su.post(url(Appointment, "add"), data)
    assert response.status_code == 302
    booked = Appointment.objects.get(starts_at=start)
    assert booked.client_package == world.flexible_sold
    assert booked.ends_at == start + dt.timedelta(minutes=30)
    world.flexible_sold.refresh_from_db()
    assert world.flexible_sold.consumed == 1


def test_an_overlapping_booking_shows_the_message_instead_of_failing(su, world):
    data = _appointment_data(world, world.plain.starts_at, client_package=world.flexible_sold.pk)
    count = Appointment.objects.count()
    response = su.post(url(Appointment, "add"), data)
    assert response.status_code == 200
    errors = str(response.context["adminform"].form.non_field_errors())
    assert "already has an appointment at that time" in errors
    assert Appointment.objects.count() == count
    world.flexible_sold.refresh_from_db()
    assert world.flexible_sold.consumed == 0


def test_editing_a_linked_appointment_past_expiry_is_refused(su, world):
    world.fixed_sold.refresh_from_db()
    late = timezone.make_aware(
        dt.datetime.combine(world.fixed_sold.expires_on + dt.timedelta(days=3), dt.time(9))
    )
    data = _appointment_data(world, late, service=world.initial.pk)
    response = su.post(url(Appointment, "change", world.linked.pk), data)
    assert response.status_code == 200
    assert "Unlink the package first" in str(response.context["adminform"].form.non_field_errors())
    before = world.linked.starts_at
    world.linked.refresh_from_db()
    assert world.linked.starts_at == before


def test_editing_an_appointment_goes_through_the_service(su, world):
    later = world.plain.starts_at + dt.timedelta(days=1)
    response = su.post(
        url(Appointment, "change", world.plain.pk),
        _appointment_data(world, later, notes="Moved"),
    )
    assert response.status_code == 302
    world.plain.refresh_from_db()
    assert (world.plain.starts_at, world.plain.notes) == (later, "Moved")
    assert world.plain.ends_at == later + dt.timedelta(minutes=30)


def _line_formset(prefix: str = "lines", **first) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    data.update({f"{prefix}-0-{key}": value for key, value in first.items()})
    return data


def test_adding_an_invoice_with_a_line_uses_the_services(su, world, superuser):
    data = {
        "client": world.client.pk,
        "practitioner": world.practitioner.pk,
        "location": world.location.pk,
        "issue_date": "",
        "notes": "",
        **_line_formset(
            description="Hydrotherapy",
            quantity="2",
            unit_price="45.50",
            discount_percent="0",
            tax_rate="",
            client_package="",
            appointment="",
        ),
    }
    response = su.post(url(Invoice, "add"), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    invoice = Invoice.objects.filter(created_by=superuser).get()
    line = invoice.lines.get()
    assert (line.description, line.total_amount) == ("Hydrotherapy", Decimal("91.00"))


def test_a_line_for_an_invoiced_package_is_refused_and_nothing_is_saved(su, world):
    data = {
        "client": world.client.pk,
        "practitioner": world.practitioner.pk,
        "location": world.location.pk,
        "issue_date": "",
        "notes": "",
        **_line_formset(
            description="Pack again",
            quantity="1",
            unit_price="10.00",
            discount_percent="0",
            client_package=world.fixed_sold.pk,
        ),
    }
    count = Invoice.objects.count()
    response = su.post(url(Invoice, "add"), data)
    assert response.status_code == 200
    assert "already on invoice INV-0001" in str(
        response.context["adminform"].form.non_field_errors()
    )
    assert Invoice.objects.count() == count


def test_a_draft_invoice_is_edited_through_invoice_update(su, world):
    line = world.draft.lines.get()
    data = {
        "practitioner": world.practitioner.pk,
        "location": world.location.pk,
        "issue_date": "2026-03-01",
        "notes": "Thanks",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "1",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-id": line.pk,
        "lines-0-invoice": world.draft.pk,
        "lines-0-description": line.description,
        "lines-0-quantity": "1",
        "lines-0-unit_price": "300.00",
        "lines-0-discount_percent": "0",
        "lines-0-tax_rate": "",
        "lines-0-client_package": world.flexible_sold.pk,
        "lines-0-appointment": "",
        "payments-TOTAL_FORMS": "0",
        "payments-INITIAL_FORMS": "0",
        "payments-MIN_NUM_FORMS": "0",
        "payments-MAX_NUM_FORMS": "0",
    }
    response = su.post(url(Invoice, "change", world.draft.pk), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    world.draft.refresh_from_db()
    line.refresh_from_db()
    assert (world.draft.issue_date, world.draft.notes) == (dt.date(2026, 3, 1), "Thanks")
    assert line.total_amount == Decimal("300.00")


def test_extend_expiry_before_the_start_date_is_refused(su, world):
    before = world.fixed_sold.start_date - dt.timedelta(days=1)
    response = act(
        su,
        ClientPackage,
        "extend_expiry",
        [world.fixed_sold],
        apply="yes",
        expires_on=before.isoformat(),
        reason="Typo",
    )
    assert any("can't be before the start date" in m for m in messages_of(response))
    assert world.fixed_sold.expiry_changes.count() == 1  # only the fixture's


def test_a_practitioner_cannot_finalize_invoices_in_the_admin(client_as, world):
    pete = UserFactory(username="pete", role=roles.PRACTITIONER, is_staff=True)
    response = act(client_as(pete), Invoice, "finalize", [world.draft])
    assert messages_of(response) == ["Your role does not allow this action."]
    world.draft.refresh_from_db()
    assert world.draft.status == InvoiceStatus.DRAFT


# ------------------------------------------------------------------------------ clients


def _client_form(**fields) -> dict:
    data = {"first_name": "Ann", "last_name": "Lee", "email": "", "phone": "", "notes": ""}
    data["date_of_birth"] = ""
    return {**data, **fields}


def test_adding_a_client_goes_through_the_service(su):
    response = su.post(
        url(Client, "add"), _client_form(first_name="  Ann   Marie ", phone="+61 400 000 000")
    )
    assert response.status_code == 302
    # client_create collapses inner whitespace; a plain ModelForm save would not.
    client = Client.objects.get(last_name="Lee")
    assert client.first_name == "Ann Marie"
    assert not client.archived


def test_a_client_refused_by_the_service_shows_its_message_and_saves_nothing(su):
    before = Client.objects.count()
    response = su.post(url(Client, "add"), _client_form(phone="call me maybe"))
    assert response.status_code == 200
    errors = str(response.context["adminform"].form.errors["phone"])
    assert "Enter a phone number using digits" in errors
    assert Client.objects.count() == before


def test_editing_and_archiving_a_client_use_the_services(su):
    client = ClientFactory(first_name="Ann", last_name="Lee", phone="")
    change = url(Client, "change", client.pk)
    page = su.get(change)
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update(phone="0400 000 000", archived="on")
    assert su.post(change, data).status_code == 302
    client.refresh_from_db()
    assert (client.phone, client.archived) == ("0400 000 000", True)

    data.pop("archived")
    data["phone"] = "not a phone"
    refused = su.post(change, data)
    assert refused.status_code == 200
    assert "Enter a phone number" in str(refused.context["adminform"].form.errors["phone"])
    client.refresh_from_db()
    assert (client.phone, client.archived) == ("0400 000 000", True)  # nothing half-saved


def test_clients_are_archived_in_the_admin_never_deleted(su):
    ann = ClientFactory(first_name="Ann", last_name="Lee")
    bob = ClientFactory(first_name="Bob", last_name="Ng", archived=True)
    assert su.get(url(Client, "delete", ann.pk)).status_code == 403
    actions = su.get(url(Client)).context["action_form"].fields["action"].choices
    assert "delete_selected" not in [name for name, _label in actions]
    response = act(su, Client, "archive_clients", [ann, bob])
    assert messages_of(response) == [f"{bob}: {bob} is already archived.", "Archived 1 client."]
    ann.refresh_from_db()
    assert ann.archived
    restored = act(su, Client, "restore_clients", [ann, bob])
    assert messages_of(restored) == ["Restored 2 clients."]
    assert not Client.objects.filter(pk__in=[ann.pk, bob.pk], archived=True).exists()


def test_an_accountant_cannot_archive_clients_in_the_admin(client_as):
    accountant = UserFactory(username="ann", role=roles.ACCOUNTANT, is_staff=True)
    ann = ClientFactory()
    act(client_as(accountant), Client, "archive_clients", [ann])
    ann.refresh_from_db()
    assert not ann.archived


def test_admin_service_capacity_is_at_least_one(su):
    from catalog.models import Service

    url = reverse("admin:catalog_service_add")
    data = {"name": "Pilates", "duration_minutes": "60", "price": "35.00", "capacity": "0"}
    response = su.post(url, data)
    assert response.status_code == 200
    assert "capacity" in response.context["adminform"].form.errors
    su.post(url, {**data, "capacity": "8"})
    assert Service.objects.get(name="Pilates").capacity == 8


def test_admin_books_attendees_into_a_class_and_refuses_a_full_one(su, world):
    from tests.factories import ClientFactory, ServiceFactory

    pilates = ServiceFactory(name="Clinical pilates class", duration_minutes=60, capacity=2)
    practitioner_services_set(
        practitioner=world.practitioner,
        location=world.location,
        services=[world.initial, world.follow_up, pilates],
        by=None,
    )
    start = world.plain.starts_at + dt.timedelta(days=3)
    for _ in range(2):
        data = _appointment_data(world, start, service=pilates.pk, client=ClientFactory().pk)
        sent = su.post(url(Appointment, "add"), data)
        assert sent.status_code == 302, sent.context["adminform"].form.errors
    booked = Appointment.objects.filter(service=pilates)
    assert booked.count() == 2 and booked.values("class_session").distinct().count() == 1
    data = _appointment_data(world, start, service=pilates.pk, client=ClientFactory().pk)
    response = su.post(url(Appointment, "add"), data)
    assert response.status_code == 200
    errors = str(response.context["adminform"].form.non_field_errors())
    assert "This class is full (2 of 2)." in errors
    assert Appointment.objects.filter(service=pilates).count() == 2
    change = su.get(url(Appointment, "change", booked.first().pk)).content.decode()
    assert "Class session" in change
