"""Issue 9, finding 5: every sensitive change is audited with who, when, from where and
what changed: roles and permissions, practice and invoice settings, the catalog (prices,
tax rates, package allowances), locations, practitioners, payment methods and
cancellation reasons. Each test fails on the code before the change (no event)."""

from __future__ import annotations

from decimal import Decimal

import pghistory
import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from calendar_app import services as calendar_services
from catalog import services as catalog_services
from invoicing import services as invoicing_services
from practice import services as practice_services
from practice.models import PracticeSettings
from tests.audit.helpers import events_of, sentences
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def jo(admin_user):
    admin_user.first_name, admin_user.last_name = "Jo", "Admin"
    admin_user.save()
    return admin_user


@pytest.fixture
def as_jo(client, jo):
    client.force_login(jo)
    return client


def test_a_practitioner_made_admin_on_the_staff_page_is_recorded_with_who(
    as_jo, jo, practitioner_user
):
    practitioner_user.first_name, practitioner_user.last_name = "Sam", "Lee"
    practitioner_user.save()
    response = as_jo.post(
        reverse("settings:staff_edit", args=[practitioner_user.pk]),
        {"first_name": "Sam", "last_name": "Lee", "email": "", "role": "Admin"},
        REMOTE_ADDR="198.51.100.20",
    )
    assert response.status_code in (200, 302), response.content[:500]
    added = events_of("caspen.UserGroupsEvent").get(pgh_label="insert", pgh_context__user=jo.pk)
    assert added.pgh_data["user_id"] == practitioner_user.pk
    assert added.pgh_data["group_id"] == Group.objects.get(name="Admin").pk
    assert added.pgh_context["ip"] == "198.51.100.20"
    assert added.pgh_context["url"] == reverse("settings:staff_edit", args=[practitioner_user.pk])
    assert added.pgh_created_at is not None
    said = sentences(events_of("caspen.UserGroupsEvent", "caspen.UserEvent"))
    assert "Jo Admin made Sam Lee an Admin (was Practitioner)" in said
    # Becoming an Admin also opens the Django admin to them: recorded too.
    assert "Jo Admin gave Sam Lee access to the Django admin" in said


def test_deactivation_superuser_and_password_changes_are_recorded(jo):
    sam = UserFactory(username="sam", first_name="Sam", last_name="Lee")
    with pghistory.context(user=jo.pk, ip="192.0.2.1"):
        sam.is_superuser = True
        sam.save()
        sam.set_password("a new long password")
        sam.save()
        sam.is_active = False
        sam.save()
    said = sentences(events_of("caspen.UserEvent").filter(pgh_context__user=jo.pk))
    assert said == [
        "Jo Admin deactivated Sam Lee",
        "Jo Admin changed the password of Sam Lee",
        "Jo Admin made Sam Lee a superuser",
    ]
    # The password hash itself is never copied into the audit.
    assert all("password" not in e.pgh_data for e in events_of("caspen.UserEvent"))


def test_a_sign_in_writes_no_user_event(jo):
    """last_login is left out, so signing in (which stamps it) is not a "change"."""
    from django.contrib.auth.models import update_last_login

    before = events_of("caspen.UserEvent").count()
    update_last_login(None, jo)
    jo.refresh_from_db()
    assert jo.last_login is not None
    assert events_of("caspen.UserEvent").count() == before


def test_user_and_role_permissions_are_recorded(jo):
    sam = UserFactory(username="sam", first_name="Sam", last_name="Lee")
    permission = Permission.objects.get(codename="void_invoice")
    reception = Group.objects.get(name="Reception")
    with pghistory.context(user=jo.pk):
        sam.user_permissions.add(permission)
        reception.permissions.add(permission)
        reception.permissions.remove(permission)
    said = sentences(
        events_of("caspen.UserPermissionsEvent", "caspen.GroupPermissionsEvent").filter(
            pgh_context__user=jo.pk
        )
    )
    assert "Jo Admin gave Sam Lee the permission “Can void an invoice”" in said
    assert "Jo Admin gave the Reception role the permission “Can void an invoice”" in said
    assert "Jo Admin took the permission “Can void an invoice” from the Reception role" in said


def test_a_price_change_is_recorded_from_and_to(jo, practice):
    massage = practice.massage
    old = massage.price
    with pghistory.context(user=jo.pk, ip="192.0.2.2", url="/catalog/services/1/edit/"):
        catalog_services.service_update(
            service=massage,
            name=massage.name,
            category=massage.category,
            duration_minutes=massage.duration_minutes,
            price=Decimal("95.00"),
            tax_rate=massage.tax_rate,
            by=jo,
        )
    event = events_of("catalog.ServiceEvent").get(pgh_label="update")
    assert event.pgh_context == {
        "user": jo.pk,
        "ip": "192.0.2.2",
        "url": "/catalog/services/1/edit/",
    }
    assert sentences(events_of("catalog.ServiceEvent").filter(pgh_label="update")) == [
        f"Jo Admin changed the price of service Remedial massage from {old:.2f} to 95.00"
    ]


def test_a_tax_rate_change_is_recorded(jo):
    gst = catalog_services.tax_rate_create(name="GST", rate=Decimal("10"), by=jo)
    with pghistory.context(user=jo.pk):
        catalog_services.tax_rate_update(tax_rate=gst, name="GST", rate=Decimal("12.5"), by=jo)
        catalog_services.tax_rate_archive(tax_rate=gst, by=jo)
    said = sentences(events_of("catalog.TaxRateEvent").filter(pgh_context__user=jo.pk))
    assert said == [
        "Jo Admin archived tax rate GST",
        "Jo Admin changed the rate of tax rate GST from 10.00% to 12.50%",
    ]


def test_a_package_price_and_allowance_change_is_recorded(jo, practice):
    from catalog.models import PackageService

    allowance = PackageService.objects.get(package=practice.fixed, service=practice.follow_up)
    with pghistory.context(user=jo.pk):
        type(practice.fixed).objects.filter(pk=practice.fixed.pk).update(price=Decimal("437.50"))
        PackageService.objects.filter(pk=allowance.pk).update(allowance=5)
    said = sentences(
        events_of("catalog.PackageEvent", "catalog.PackageServiceEvent").filter(
            pgh_context__user=jo.pk
        )
    )
    old = f"{practice.fixed.price:.2f}"
    assert (
        f"Jo Admin changed the amount of package Physio Starter Pack from {old} to 437.50" in said
    )
    assert (
        "Jo Admin changed how many Physio follow-up package Physio Starter Pack includes from 3 to 5"
        in said
    )


def test_location_practitioner_payment_method_and_reason_changes_are_recorded(jo, practice):
    with pghistory.context(user=jo.pk, ip="192.0.2.3"):
        calendar_services.location_update(
            location=practice.location, name="High Street", address="1 High St", by=jo
        )
        calendar_services.practitioner_archive(practitioner=practice.practitioner, by=jo)
        card = invoicing_services.payment_method_create(name="Card on the day", by=jo)
        invoicing_services.payment_method_rename(method=card, name="Card terminal", by=jo)
        calendar_services.cancellation_reason_rename(
            reason=practice.reason, name="Asked by the client", by=jo
        )
    said = sentences(
        events_of(
            "calendar_app.LocationEvent",
            "calendar_app.PractitionerEvent",
            "invoicing.PaymentMethodEvent",
            "calendar_app.CancellationReasonEvent",
        ).filter(pgh_context__user=jo.pk)
    )
    assert set(said) == {
        "Jo Admin changed location High Street: name from Main Street to High Street, "
        "address from empty to 1 High St",
        "Jo Admin archived practitioner Sam Physio",
        "Jo Admin added payment method Card on the day",
        "Jo Admin renamed payment method Card on the day to Card terminal",
        "Jo Admin renamed cancellation reason Client request to Asked by the client",
    }


def test_practice_settings_including_the_next_invoice_number_are_recorded(as_jo, jo):
    settings = PracticeSettings.load()
    response = as_jo.post(
        reverse("settings:invoices"),
        {
            "invoices-invoice_prefix": "INV-",
            "invoices-invoice_next_number": "100",
            "invoices-invoice_number_digits": "4",
            "invoices-payment_terms_days": "30",
            "invoices-prices_include_tax": "on",
        },
        REMOTE_ADDR="198.51.100.21",
    )
    assert response.status_code in (200, 302), response.content[:500]
    settings.refresh_from_db()
    assert settings.invoice_next_number == 100
    event = events_of("caspen.PracticeSettingsEvent").get(pgh_context__user=jo.pk)
    assert event.pgh_context["ip"] == "198.51.100.21"
    assert event.pgh_diff["invoice_next_number"][1] == 100
    [said] = sentences(events_of("caspen.PracticeSettingsEvent").filter(pgh_context__user=jo.pk))
    assert said.startswith("Jo Admin changed the practice settings: ")
    assert "next invoice number from 1 to 100" in said
    assert "payment terms (days) from 14 to 30" in said


def test_practice_details_are_recorded_through_the_service(jo):
    with pghistory.context(user=jo.pk):
        practice_services.practice_settings_update(changes={"name": "Harbour Physio"}, by=jo)
    [said] = sentences(events_of("caspen.PracticeSettingsEvent").filter(pgh_context__user=jo.pk))
    assert (
        said
        == "Jo Admin changed the practice settings: practice name from My practice to Harbour Physio"
    )


def test_a_role_that_is_not_a_person_reads_as_a_role(as_jo, jo, practitioner_user):
    practitioner_user.first_name, practitioner_user.last_name = "Rosa", "Nguyen"
    practitioner_user.save()
    as_jo.post(
        reverse("settings:staff_edit", args=[practitioner_user.pk]),
        {"first_name": "Rosa", "last_name": "Nguyen", "email": "", "role": "Reception"},
    )
    said = sentences(events_of("caspen.UserGroupsEvent").filter(pgh_context__user=jo.pk))
    assert said == ["Jo Admin gave Rosa Nguyen the Reception role (was Practitioner)"]


def test_api_keys_created_and_revoked_read_in_the_activity(jo, reception):
    from practice.api_keys import api_key_create, api_key_revoke

    reception.first_name, reception.last_name = "Rosa", "Nguyen"
    reception.save()
    with pghistory.context(user=reception.pk):
        created = api_key_create(user=reception, name="Booking website", by=reception)
    with pghistory.context(user=jo.pk, ip="192.0.2.9"):
        api_key_revoke(api_key=created.api_key, by=jo)
    prefix = created.api_key.prefix
    said = sentences(events_of("caspen.ApiKeyEvent"))
    assert said[1] == f"Rosa Nguyen created their API key “Booking website” (csk_{prefix}…)"
    assert said[0].startswith(
        f"Jo Admin revoked Rosa Nguyen’s API key “Booking website” (csk_{prefix}…)"
    )
    revoked = events_of("caspen.ApiKeyEvent").get(pgh_context__user=jo.pk)
    assert revoked.pgh_context["ip"] == "192.0.2.9"
    assert "secret_hash" not in revoked.pgh_data
