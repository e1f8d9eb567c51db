"""practice.services: practice settings, locations, practitioners, cancellation reasons,
payment methods and staff users with their roles."""

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from calendar_app import services as calendar_services
from calendar_app.models import CancellationReason, Location, Practitioner
from invoicing import services as invoicing_services
from invoicing.models import Invoice, InvoiceStatus, PaymentMethod
from invoicing.selectors import invoice_number_taken
from kernel.errors import DomainError, NotAllowed
from practice import roles, services
from practice.models import PracticeSettings
from tests.factories import (
    InvoiceFactory,
    LocationFactory,
    PractitionerFactory,
    UserFactory,
)
from tests.refusals import refused

pytestmark = pytest.mark.django_db

STRONG = "Correct-Horse-42"


def _issued(number: str) -> Invoice:
    today = timezone.localdate()
    return InvoiceFactory(
        status=InvoiceStatus.OPEN,
        number=number,
        issue_date=today,
        due_date=today,
        finalized_at=timezone.now(),
    )


# ------------------------------------------------------------------ practice settings


def test_practice_details_are_saved(admin_user):
    services.practice_details_update(
        name="Harbour Physio",
        address="1 Quay St",
        phone="02 9999 0000",
        email="hello@harbour.example",
        tax_id="ABN 1",
        currency="nzd",
        by=admin_user,
    )
    settings = PracticeSettings.load()
    assert (settings.name, settings.currency, settings.email) == (
        "Harbour Physio",
        "NZD",
        "hello@harbour.example",
    )


def test_currency_cannot_change_once_an_invoice_is_issued(admin_user):
    _issued("INV-0001")
    current = PracticeSettings.load().currency
    with refused("currency_locked", match="can no longer change", field="currency"):
        services.practice_details_update(
            name="P", currency="USD" if current != "USD" else "EUR", by=admin_user
        )
    assert PracticeSettings.load().currency == current
    # Same currency is fine.
    services.practice_details_update(name="P", currency=current, by=admin_user)


def test_invoice_settings_refuse_a_next_number_an_invoice_already_has(admin_user):
    _issued("INV-0003")
    kwargs = {
        "invoice_prefix": "INV-",
        "invoice_number_digits": 4,
        "payment_terms_days": 30,
        "prices_include_tax": False,
    }
    with refused(
        "invoice_number_taken",
        field="invoice_next_number",
        message="INV-0003 is already used by an invoice; choose a higher number.",
    ):
        services.invoice_settings_update(**kwargs, invoice_next_number=3, by=admin_user)
    assert PracticeSettings.load().invoice_next_number != 3  # nothing changed
    # Another prefix makes the same number free.
    settings = services.invoice_settings_update(
        **{**kwargs, "invoice_prefix": "B-"}, invoice_next_number=3, by=admin_user
    )
    assert invoice_number_taken(settings) is None
    settings = services.invoice_settings_update(**kwargs, invoice_next_number=4, by=admin_user)
    assert (settings.invoice_next_number, settings.payment_terms_days) == (4, 30)
    assert settings.prices_include_tax is False
    assert Invoice.objects.count() == 1


def test_invoice_settings_without_a_numbering_change_save_even_if_the_number_is_taken(
    admin_user,
):
    """A number taken some other way (rows written around the settings) does not block
    changing the payment terms; finalizing still refuses it."""
    settings = PracticeSettings.load()
    _issued(settings.format_invoice_number(settings.invoice_next_number))
    updated = services.invoice_settings_update(
        invoice_prefix=settings.invoice_prefix,
        invoice_next_number=settings.invoice_next_number,
        invoice_number_digits=settings.invoice_number_digits,
        payment_terms_days=7,
        prices_include_tax=settings.prices_include_tax,
        by=admin_user,
    )
    assert updated.payment_terms_days == 7
    assert invoice_number_taken(updated) is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [("invoice_next_number", 0), ("invoice_number_digits", 13), ("payment_terms_days", -1)],
)
def test_invoice_settings_refuse_numbers_out_of_range(admin_user, field, value):
    kwargs = {
        "invoice_prefix": "INV-",
        "invoice_next_number": 1,
        "invoice_number_digits": 4,
        "payment_terms_days": 14,
        "prices_include_tax": True,
    }
    with refused("invalid_number", field=field):
        services.invoice_settings_update(**{**kwargs, field: value}, by=admin_user)


# ------------------------------------------------------------------ simple lists


def test_locations_add_edit_archive_restore(admin_user):
    location = calendar_services.location_create(
        name=" Main  Street ", address="1 Main St", by=admin_user
    )
    assert location.name == "Main Street"
    calendar_services.location_update(
        location=location, name="Main St clinic", address="", by=admin_user
    )
    calendar_services.location_archive(location=location, by=admin_user)
    assert Location.objects.get(pk=location.pk).archived
    calendar_services.location_restore(location=location, by=admin_user)
    location.refresh_from_db()
    assert (location.name, location.archived) == ("Main St clinic", False)


def test_practitioners_link_at_most_one_staff_user(admin_user):
    user = UserFactory(username="sam")
    first = calendar_services.practitioner_create(
        name="Sam", colour="#AA3377", user=user, by=admin_user
    )
    assert first.colour == "#aa3377"
    with refused("user_already_linked", match="already linked", field="user"):
        calendar_services.practitioner_create(name="Sam again", user=user, by=admin_user)
    # Editing the same practitioner keeps its own user.
    calendar_services.practitioner_update(
        practitioner=first, name="Sam P", colour="#123456", user=user, by=admin_user
    )
    calendar_services.practitioner_archive(practitioner=first, by=admin_user)
    assert Practitioner.objects.get(pk=first.pk).archived


def test_practitioner_colour_must_be_a_hex_colour(admin_user):
    with refused("invalid_colour", field="colour"):
        calendar_services.practitioner_create(name="X", colour="red", by=admin_user)


def test_payment_methods_and_reasons_have_unique_names(admin_user):
    method = invoicing_services.payment_method_create(name="Bank transfer", by=admin_user)
    with refused("name_taken", match="already a payment method", field="name"):
        invoicing_services.payment_method_create(name="bank TRANSFER", by=admin_user)
    invoicing_services.payment_method_rename(
        method=method, name="Bank transfer (EFT)", by=admin_user
    )
    invoicing_services.payment_method_archive(method=method, by=admin_user)
    assert PaymentMethod.objects.get(pk=method.pk).archived

    reason = calendar_services.cancellation_reason_create(name="Sick", by=admin_user)
    with refused("name_taken", match="already a cancellation reason", field="name"):
        calendar_services.cancellation_reason_create(name="sick", by=admin_user)
    calendar_services.cancellation_reason_rename(reason=reason, name="Unwell", by=admin_user)
    calendar_services.cancellation_reason_archive(reason=reason, by=admin_user)
    calendar_services.cancellation_reason_restore(reason=reason, by=admin_user)
    assert CancellationReason.objects.get(pk=reason.pk).name == "Unwell"


# ------------------------------------------------------------------ staff users


def test_add_a_staff_user_in_one_role(admin_user):
    user = services.staff_user_create(
        username="rosa",
        first_name="Rosa",
        last_name="Nguyen",
        email="rosa@example.com",
        role=roles.RECEPTION,
        password=STRONG,
        by=admin_user,
    )
    assert user.check_password(STRONG)
    assert list(user.groups.values_list("name", flat=True)) == [roles.RECEPTION]
    assert not user.is_staff


def test_admins_get_the_django_admin(admin_user):
    user = services.staff_user_create(
        username="boss", role=roles.ADMIN, password=STRONG, by=admin_user
    )
    assert user.is_staff


@pytest.mark.parametrize("password", ["short", "password123", "12345678901", "rosa.nguyen1"])
def test_initial_password_must_pass_the_validators(admin_user, password):
    with refused("invalid_password", field="password"):
        services.staff_user_create(
            username="rosa.nguyen",
            first_name="Rosa",
            role=roles.RECEPTION,
            password=password,
            by=admin_user,
        )
    assert not User.objects.filter(username="rosa.nguyen").exists()


def test_usernames_are_unique_whatever_the_case(admin_user):
    with refused("username_taken", match="taken", field="username"):
        services.staff_user_create(
            username="ALICE", role=roles.RECEPTION, password=STRONG, by=admin_user
        )


def test_role_must_be_one_of_the_roles(admin_user):
    with refused("invalid_role", match="Choose one of the roles", field="role"):
        services.staff_user_create(username="x", role="Superhero", password=STRONG, by=admin_user)


def test_change_role_replaces_the_group_and_is_staff(admin_user, reception):
    services.staff_user_update(user=reception, first_name="Rita", role=roles.ADMIN, by=admin_user)
    reception.refresh_from_db()
    assert list(reception.groups.values_list("name", flat=True)) == [roles.ADMIN]
    assert reception.is_staff and reception.first_name == "Rita"

    services.staff_user_update(user=reception, role=roles.ACCOUNTANT, by=admin_user)
    reception.refresh_from_db()
    assert list(reception.groups.values_list("name", flat=True)) == [roles.ACCOUNTANT]
    assert not reception.is_staff


def test_the_last_active_admin_cannot_lose_the_role(admin_user):
    # Through the system (by=None) so the self-demotion rule is not what refuses.
    with refused("last_admin", match="only active Admin"):
        services.staff_user_update(user=admin_user, role=roles.RECEPTION, by=None)
    assert admin_user.groups.filter(name=roles.ADMIN).exists()


def test_the_last_active_admin_cannot_be_deactivated(admin_user):
    with refused("last_admin", match="only active Admin"):
        services.staff_user_deactivate(user=admin_user, by=None)
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_an_admin_cannot_deactivate_themself_even_with_other_admins(admin_user):
    UserFactory(username="bob", role=roles.ADMIN)
    with refused("deactivate_self", match="your own account"):
        services.staff_user_deactivate(user=admin_user, by=admin_user)


def test_an_admin_cannot_remove_their_own_admin_role(admin_user):
    UserFactory(username="bob", role=roles.ADMIN)
    with refused("own_admin_role", match="your own Admin role"):
        services.staff_user_update(user=admin_user, role=roles.RECEPTION, by=admin_user)


def test_with_two_admins_one_can_deactivate_and_demote_the_other(admin_user):
    bob = UserFactory(username="bob", role=roles.ADMIN)
    services.staff_user_deactivate(user=bob, by=admin_user)
    bob.refresh_from_db()
    assert not bob.is_active
    # Bob is inactive, so Alice is now the last active Admin.
    with refused("last_admin", match="only active Admin"):
        services.staff_user_update(user=admin_user, role=roles.RECEPTION, by=None)
    services.staff_user_reactivate(user=bob, by=admin_user)
    services.staff_user_update(user=bob, role=roles.RECEPTION, by=admin_user)
    assert not bob.groups.filter(name=roles.ADMIN).exists()


def test_an_inactive_admin_does_not_count(admin_user):
    UserFactory(username="gone", role=roles.ADMIN, is_active=False)
    with refused("last_admin", match="only active Admin"):
        services.staff_user_deactivate(user=admin_user, by=None)


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(roles_exist):
    alice = UserFactory(username="alice", role=roles.ADMIN)
    bob = UserFactory(username="bob", role=roles.ADMIN)
    barrier = threading.Barrier(2)
    outcomes = []

    def demote(user, by):
        try:
            barrier.wait()
            services.staff_user_deactivate(user=user, by=by)
            outcomes.append("done")
        except DomainError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=demote, args=(bob, alice)),
        threading.Thread(target=demote, args=(alice, bob)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["done", "last_admin"]
    assert User.objects.filter(is_active=True, groups__name=roles.ADMIN).count() == 1


# ------------------------------------------------------------------ permissions


@pytest.mark.parametrize("persona", ["reception", "practitioner_user", "accountant"])
def test_only_admin_changes_the_settings(request, persona, admin_user):
    user = request.getfixturevalue(persona)
    location = LocationFactory()
    practitioner = PractitionerFactory()
    attempts = [
        lambda: services.practice_details_update(name="X", currency="AUD", by=user),
        lambda: services.invoice_settings_update(
            invoice_prefix="X",
            invoice_next_number=1,
            invoice_number_digits=4,
            payment_terms_days=1,
            prices_include_tax=True,
            by=user,
        ),
        lambda: calendar_services.location_create(name="X", by=user),
        lambda: calendar_services.location_archive(location=location, by=user),
        lambda: calendar_services.practitioner_create(name="X", by=user),
        lambda: calendar_services.practitioner_archive(practitioner=practitioner, by=user),
        lambda: calendar_services.cancellation_reason_create(name="X", by=user),
        lambda: invoicing_services.payment_method_create(name="X", by=user),
        lambda: services.staff_user_create(
            username="x", role=roles.ADMIN, password=STRONG, by=user
        ),
        lambda: services.staff_user_update(user=user, role=roles.ADMIN, by=user),
        lambda: services.staff_user_deactivate(user=admin_user, by=user),
    ]
    for attempt in attempts:
        with pytest.raises(NotAllowed):
            attempt()
    assert not user.groups.filter(name=roles.ADMIN).exists()
    assert not Location.objects.filter(name="X").exists()
