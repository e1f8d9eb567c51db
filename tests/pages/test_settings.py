"""The Settings pages (Admin only)."""

import html
import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import CancellationReason, Location, Practitioner
from catalog.models import TaxRate
from invoicing.models import InvoiceStatus, PaymentMethod
from practice import roles
from practice.models import PracticeSettings
from practice.views import SECTIONS
from tests.factories import (
    CancellationReasonFactory,
    InvoiceFactory,
    LocationFactory,
    PaymentMethodFactory,
    PractitionerFactory,
    TaxRateFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
STRONG = "Correct-Horse-42"


def text(response) -> str:
    return html.unescape(response.content.decode())


def field_errors(response, field: str) -> str:
    match = re.search(
        rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', response.content.decode(), re.S
    )
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))) if match else ""


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def all_urls():
    location = LocationFactory()
    urls = [reverse("settings:index"), reverse("settings:staff"), reverse("settings:staff_add")]
    for key in SECTIONS:
        urls += [reverse(f"settings:{key}"), reverse(f"settings:{key}_add")]
    urls += [
        reverse("settings:locations_edit", args=[location.pk]),
        reverse("settings:locations_archive", args=[location.pk]),
    ]
    return urls


# ------------------------------------------------------------------------ access


def test_anonymous_goes_to_sign_in(client):
    for url in (reverse("settings:index"), reverse("settings:staff")):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_admin_opens_every_settings_page(admin_client):
    for url in all_urls():
        assert admin_client.get(url).status_code == 200, url
        assert admin_client.get(url, **HTMX).status_code == 200, url


@pytest.mark.parametrize("persona", ["reception", "practitioner_user", "accountant"])
def test_other_roles_get_403_and_change_nothing(request, client, persona, admin_user):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    for url in all_urls():
        assert client.get(url).status_code == 403, url
    posts = {
        reverse("settings:practice"): {"practice-name": "Hacked", "practice-currency": "AUD"},
        reverse("settings:locations_add"): {"name": "Hacked"},
        reverse("settings:staff_add"): {
            "username": "hacker",
            "role": roles.ADMIN,
            "password1": STRONG,
            "password2": STRONG,
        },
        reverse("settings:staff_edit", args=[user.pk]): {"role": roles.ADMIN},
        reverse("settings:staff_deactivate", args=[admin_user.pk]): {},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
    assert PracticeSettings.load().name != "Hacked"
    assert not Location.objects.filter(name="Hacked").exists()
    assert not User.objects.filter(username="hacker").exists()
    assert not user.groups.filter(name=roles.ADMIN).exists()
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_settings_link_only_for_admin(client, admin_user, reception):
    client.force_login(reception)
    assert reverse("settings:index") not in client.get(reverse("catalog:index")).content.decode()
    client.force_login(admin_user)
    assert reverse("settings:index") in client.get(reverse("catalog:index")).content.decode()


# ------------------------------------------------------------------------ practice and invoices


def test_practice_details_save_and_invalid_input_stays_typed(admin_client):
    url = reverse("settings:practice")
    response = admin_client.post(
        url,
        {"practice-name": "Harbour", "practice-email": "not-an-email", "practice-currency": "AUD"},
    )
    assert response.status_code == 400
    assert "valid email" in field_errors(response, "practice-email")
    assert 'value="not-an-email"' in response.content.decode()

    response = admin_client.post(
        url,
        {
            "practice-name": "Harbour Physio",
            "practice-address": "1 Quay St",
            "practice-email": "hi@harbour.example",
            "practice-currency": "aud",
        },
    )
    assert response.status_code == 302
    settings = PracticeSettings.load()
    assert (settings.name, settings.currency) == ("Harbour Physio", "AUD")


def test_htmx_save_returns_the_card(admin_client):
    response = admin_client.post(
        reverse("settings:practice"),
        {"practice-name": "Card", "practice-currency": "AUD"},
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="practice-card"' in body and "<html" not in body
    assert "Practice details saved." in body  # the message, out of band


def test_invoice_settings_refuse_a_next_number_already_used(admin_client):
    today = timezone.localdate()
    InvoiceFactory(
        status=InvoiceStatus.OPEN,
        number="INV-0002",
        issue_date=today,
        due_date=today,
        finalized_at=timezone.now(),
    )
    before = PracticeSettings.load().invoice_next_number
    response = admin_client.post(
        reverse("settings:invoices"),
        {
            "invoices-invoice_prefix": "INV-",
            "invoices-invoice_next_number": "2",
            "invoices-invoice_number_digits": "4",
            "invoices-payment_terms_days": "30",
        },
    )
    assert response.status_code == 409
    page = text(response)
    assert "INV-0002 is already used by an invoice; choose a higher number." in page
    assert "Invoice settings saved." not in page
    assert PracticeSettings.load().invoice_next_number == before


def test_invoice_settings_out_of_range_are_400(admin_client):
    response = admin_client.post(
        reverse("settings:invoices"),
        {
            "invoices-invoice_next_number": "0",
            "invoices-invoice_number_digits": "abc",
            "invoices-payment_terms_days": "-3",
        },
    )
    assert response.status_code == 400
    for field in ("invoice_next_number", "invoice_number_digits", "payment_terms_days"):
        assert field_errors(response, f"invoices-{field}"), field


# ------------------------------------------------------------------------ the simple lists


def test_tax_rate_popup_add_edit_archive_restore(admin_client):
    response = admin_client.post(
        reverse("settings:tax_rates_add"), {"name": "GST", "rate": "150"}, **HTMX
    )
    assert response.status_code == 400
    assert "less than or equal to 100" in field_errors(response, "rate")
    assert 'value="GST"' in response.content.decode()

    response = admin_client.post(
        reverse("settings:tax_rates_add"), {"name": "VAT", "rate": "12.5"}, **HTMX
    )
    assert response["HX-Redirect"] == reverse("settings:tax_rates")
    rate = TaxRate.objects.get(name="VAT")

    admin_client.post(
        reverse("settings:tax_rates_edit", args=[rate.pk]), {"name": "VAT 15", "rate": "15"}
    )
    admin_client.post(reverse("settings:tax_rates_archive", args=[rate.pk]))
    rate.refresh_from_db()
    assert (rate.name, rate.archived) == ("VAT 15", True)
    admin_client.post(reverse("settings:tax_rates_restore", args=[rate.pk]))
    assert not TaxRate.objects.get(pk=rate.pk).archived


def test_duplicate_payment_method_is_refused_beside_the_name(admin_client):
    PaymentMethodFactory(name="Cash")
    response = admin_client.post(reverse("settings:payment_methods_add"), {"name": "cash"})
    assert response.status_code == 409
    assert "already a payment method" in field_errors(response, "name")


def test_rename_a_cancellation_reason(admin_client):
    reason = CancellationReasonFactory(name="Sick")
    response = admin_client.post(
        reverse("settings:cancellation_reasons_edit", args=[reason.pk]),
        {"name": "Unwell", "late_action": "release", "fee_kind": "fixed"},
    )
    assert response.status_code == 302
    assert CancellationReason.objects.get(pk=reason.pk).name == "Unwell"


def test_practitioner_with_a_linked_staff_user(admin_client):
    user = UserFactory(username="sam", first_name="Sam", role=roles.PRACTITIONER)
    taken = UserFactory(username="kim")
    PractitionerFactory(name="Kim", user=taken)
    form = admin_client.get(reverse("settings:practitioners_add")).content.decode()
    assert "Sam (sam)" in form and "kim" not in form  # users already linked are not offered

    response = admin_client.post(
        reverse("settings:practitioners_add"),
        {"name": "Sam Physio", "colour": "#aa3377", "user": user.pk},
    )
    assert response.status_code == 302
    assert Practitioner.objects.get(name="Sam Physio").user == user

    response = admin_client.post(
        reverse("settings:practitioners_add"), {"name": "Bad", "colour": "red", "user": ""}
    )
    assert response.status_code == 400 and field_errors(response, "colour")


def test_archive_a_location_asks_first(admin_client):
    location = LocationFactory(name="Annex")
    url = reverse("settings:locations_archive", args=[location.pk])
    assert "No new appointments can be booked" in text(admin_client.get(url, **HTMX))
    assert not Location.objects.get(pk=location.pk).archived
    admin_client.post(url)
    assert Location.objects.get(pk=location.pk).archived


def _make_rows(n):
    for _ in range(n):
        TaxRateFactory()
        PaymentMethodFactory(name=f"Method {PaymentMethod.objects.count()}")
        CancellationReasonFactory(name=f"Reason {CancellationReason.objects.count()}")
        LocationFactory()
        PractitionerFactory(user=UserFactory(role=roles.PRACTITIONER))
        UserFactory(role=roles.RECEPTION)


def test_settings_lists_query_count_does_not_grow_with_rows(admin_client):
    urls = [reverse(f"settings:{key}") for key in SECTIONS] + [
        reverse("settings:staff"),
        reverse("settings:index"),
    ]

    def counts():
        result = {}
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                assert admin_client.get(url).status_code == 200
            result[url] = len(queries)
        return result

    _make_rows(3)
    few = counts()
    _make_rows(27)
    assert counts() == few


# ------------------------------------------------------------------------ staff users


def test_admin_adds_a_staff_user_with_a_role(admin_client):
    response = admin_client.post(
        reverse("settings:staff_add"),
        {
            "username": "rosa",
            "first_name": "Rosa",
            "last_name": "Nguyen",
            "email": "rosa@example.com",
            "role": roles.RECEPTION,
            "password1": STRONG,
            "password2": STRONG,
        },
        **HTMX,
    )
    assert response["HX-Redirect"] == reverse("settings:staff")
    rosa = User.objects.get(username="rosa")
    assert rosa.check_password(STRONG) and not rosa.is_staff
    assert list(rosa.groups.values_list("name", flat=True)) == [roles.RECEPTION]
    page = admin_client.get(reverse("settings:staff")).content.decode()
    assert "Rosa Nguyen" in page and "Reception" in page


@pytest.mark.parametrize(
    ("password1", "password2", "message"),
    [
        ("short", "short", "too short"),
        ("12345678901", "12345678901", "entirely numeric"),
        ("password1", "password1", "too common"),
        (STRONG, STRONG + "x", "The two passwords differ."),
    ],
)
def test_weak_or_mismatched_passwords_are_refused_beside_the_field(
    admin_client, password1, password2, message
):
    response = admin_client.post(
        reverse("settings:staff_add"),
        {
            "username": "newbie",
            "role": roles.RECEPTION,
            "password1": password1,
            "password2": password2,
        },
    )
    assert response.status_code == 400
    errors = field_errors(response, "password1") + field_errors(response, "password2")
    assert message in errors
    assert 'value="newbie"' in response.content.decode()
    assert not User.objects.filter(username="newbie").exists()


def test_change_a_users_role(admin_client, reception):
    response = admin_client.post(
        reverse("settings:staff_edit", args=[reception.pk]),
        {"first_name": "Rita", "last_name": "", "email": "", "role": roles.ACCOUNTANT},
    )
    assert response.status_code == 302
    assert list(reception.groups.values_list("name", flat=True)) == [roles.ACCOUNTANT]


def test_admin_cannot_deactivate_themself(admin_client, admin_user):
    page = admin_client.get(reverse("settings:staff")).content.decode()
    assert reverse("settings:staff_deactivate", args=[admin_user.pk]) not in page

    response = admin_client.post(reverse("settings:staff_deactivate", args=[admin_user.pk]), **HTMX)
    assert response.status_code == 409
    assert "You can't deactivate your own account." in text(response)
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_last_admin_cannot_lose_the_role(admin_client, admin_user):
    response = admin_client.post(
        reverse("settings:staff_edit", args=[admin_user.pk]), {"role": roles.RECEPTION}
    )
    assert response.status_code == 409
    assert "Admin role" in field_errors(response, "role")
    assert admin_user.groups.filter(name=roles.ADMIN).exists()


def test_deactivate_and_reactivate_another_user(admin_client, reception):
    response = admin_client.post(reverse("settings:staff_deactivate", args=[reception.pk]))
    assert response.status_code == 302
    reception.refresh_from_db()
    assert not reception.is_active
    admin_client.post(reverse("settings:staff_reactivate", args=[reception.pk]))
    reception.refresh_from_db()
    assert reception.is_active


def test_odd_input_never_fails(admin_client):
    assert admin_client.get(reverse("settings:staff") + "?page=zzz").status_code == 200
    assert admin_client.get(reverse("settings:staff_edit", args=[999999])).status_code == 404
    assert admin_client.post(
        reverse("settings:staff_edit", args=[1]), {"role": "Wizard"}
    ).status_code in (400, 404)
    assert admin_client.get(reverse("settings:locations_edit", args=[999999])).status_code == 404
    assert admin_client.get(reverse("settings:practice")).status_code == 405
