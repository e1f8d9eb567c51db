"""The practice settings in the Django admin obey the Settings page's rules, with the same
messages (issue 8: the admin used to save the form itself)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from invoicing.models import InvoiceStatus
from practice.models import PracticeSettings
from tests.factories import InvoiceFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGE = "admin:caspen_practicesettings_change"


@pytest.fixture
def su(client, roles_exist):
    client.force_login(UserFactory(username="sue", is_staff=True, is_superuser=True))
    return client


def _form(settings: PracticeSettings, **changes) -> dict:
    data = {
        "name": settings.name,
        "address": settings.address,
        "phone": settings.phone,
        "email": settings.email,
        "tax_id": settings.tax_id,
        "currency": settings.currency,
        "payment_terms_days": settings.payment_terms_days,
        "invoice_prefix": settings.invoice_prefix,
        "invoice_number_digits": settings.invoice_number_digits,
        "invoice_next_number": settings.invoice_next_number,
        "reminder_hours": settings.reminder_hours,
    }
    if settings.prices_include_tax:
        data["prices_include_tax"] = "on"
    if settings.confirmation_emails:
        data["confirmation_emails"] = "on"
    return {**data, **changes}


def _issue_an_invoice(number: str = "INV-0001") -> None:
    today = timezone.localdate()
    InvoiceFactory(
        status=InvoiceStatus.OPEN,
        number=number,
        issue_date=today,
        due_date=today,
        finalized_at=timezone.now(),
    )


def _settings_page_message(client, currency: str) -> str:
    """What the Settings page says for the same change (the wording must be the same)."""
    response = client.post(
        reverse("settings:practice"),
        {"practice-name": PracticeSettings.load().name, "practice-currency": currency},
    )
    assert response.status_code == 409
    return response.content.decode()


def test_admin_refuses_a_currency_change_once_invoices_are_issued(su):
    settings = PracticeSettings.load()
    other = "EUR" if settings.currency != "EUR" else "GBP"
    _issue_an_invoice()
    response = su.post(reverse(CHANGE, args=[settings.pk]), _form(settings, currency=other))
    assert response.status_code == 200  # the form again, not a redirect
    message = (
        f"Invoices have been issued in {settings.currency}, so the currency can no longer change."
    )
    errors = response.context["adminform"].form.errors
    assert errors["currency"] == [message]  # beside the field
    assert message in _settings_page_message(su, other)
    assert PracticeSettings.load().currency == settings.currency


def test_admin_changes_the_currency_while_no_invoice_is_issued(su):
    settings = PracticeSettings.load()
    other = "EUR" if settings.currency != "EUR" else "GBP"
    response = su.post(reverse(CHANGE, args=[settings.pk]), _form(settings, currency=other))
    assert response.status_code == 302
    assert PracticeSettings.load().currency == other


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("payment_terms_days", 400, "Enter between 0 and 365 days."),
        ("invoice_number_digits", 13, "Enter between 1 and 12 digits."),
    ],
)
def test_admin_keeps_the_settings_pages_limits(su, field, value, message):
    settings = PracticeSettings.load()
    response = su.post(reverse(CHANGE, args=[settings.pk]), _form(settings, **{field: value}))
    assert response.status_code == 200
    assert message in response.context["adminform"].form.errors[field]
    assert getattr(PracticeSettings.load(), field) == getattr(settings, field)


def test_admin_refuses_a_next_invoice_number_already_used_like_the_settings_page(su):
    settings = PracticeSettings.load()
    used = settings.format_invoice_number(settings.invoice_next_number)
    _issue_an_invoice(used)
    page = su.post(
        reverse("settings:invoices"),
        {
            "invoices-invoice_prefix": settings.invoice_prefix,
            "invoices-invoice_next_number": str(settings.invoice_next_number),
            "invoices-invoice_number_digits": str(settings.invoice_number_digits),
            "invoices-payment_terms_days": "30",
        },
    )
    # Unchanged numbering saves (the payment terms change); a change onto a used number
    # is refused in both places with one message.
    assert page.status_code == 302
    settings = PracticeSettings.load()
    assert settings.payment_terms_days == 30
    lower = settings.invoice_next_number + 5
    _issue_an_invoice(settings.format_invoice_number(lower))
    message = f"{settings.format_invoice_number(lower)} is already used by an invoice; choose a higher number."
    response = su.post(
        reverse(CHANGE, args=[settings.pk]), _form(settings, invoice_next_number=lower)
    )
    assert response.context["adminform"].form.errors["invoice_next_number"] == [message]
    page = su.post(
        reverse("settings:invoices"),
        {
            "invoices-invoice_prefix": settings.invoice_prefix,
            "invoices-invoice_next_number": str(lower),
            "invoices-invoice_number_digits": str(settings.invoice_number_digits),
            "invoices-payment_terms_days": str(settings.payment_terms_days),
        },
    )
    assert page.status_code == 409
    assert message in page.content.decode()
    assert PracticeSettings.load().invoice_next_number == settings.invoice_next_number
