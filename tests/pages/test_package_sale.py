"""The Create package popup sells, invoices and takes a payment in one step (issue 13,
part 1): the form re-renders with the error beside the field and nothing is written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from calendar_app.models import AppointmentStatus
from invoicing.models import Invoice, InvoiceStatus, Payment, PaymentMethod
from invoicing.services import client_package_sell, invoice_finalize, payment_method_set_default
from packages.models import ClientPackage
from tests.factories import LocationFactory, PractitionerFactory, next_local

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def create_url(practice) -> str:
    return reverse("packages:create", args=[practice.client.pk])


def sale(practice, **extra) -> dict:
    return {
        "package": practice.fixed.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        **extra,
    }


def test_deposit_in_one_popup(client, practice, reception):
    client.force_login(reception)
    cash = PaymentMethod.objects.get(name="Cash")
    response = client.post(
        create_url(practice),
        sale(practice, invoicing="pay", amount_choice="deposit", amount="100", method=cash.pk),
        headers=HTMX,
    )
    assert response["HX-Redirect"] == reverse("clients:detail", args=[practice.client.pk])
    invoice = Invoice.objects.get()
    assert (invoice.status, invoice.number) == (InvoiceStatus.OPEN, "INV-0001")
    assert Payment.objects.get().amount == Decimal("100.00")
    page = client.get(response["HX-Redirect"]).content.decode()
    assert "Package created: Physio Starter Pack. Invoice INV-0001 finalized" in page
    assert "$100.00 paid by Cash; $300.00 owing." in page


def test_full_amount_pays_in_full(client, practice, reception):
    client.force_login(reception)
    cash = PaymentMethod.objects.get(name="Cash")
    client.post(
        create_url(practice),
        sale(practice, invoicing="pay", amount_choice="full", amount="5", method=cash.pk),
    )
    assert Invoice.objects.get().status == InvoiceStatus.PAID
    assert Payment.objects.get().amount == Decimal("400.00")  # the deposit box is ignored


def test_create_invoice_lands_on_the_draft(client, practice, reception):
    client.force_login(reception)
    response = client.post(create_url(practice), sale(practice, invoicing="invoice"), headers=HTMX)
    invoice = Invoice.objects.get()
    assert invoice.status == InvoiceStatus.DRAFT
    assert response["HX-Redirect"] == reverse("invoicing:detail", args=[invoice.pk])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"amount_choice": "deposit", "amount": "400.01"}, "more than the balance of $400.00"),
        ({"amount_choice": "deposit", "amount": ""}, "Enter the deposit, such as 100.00."),
        ({"amount_choice": "deposit", "amount": "abc"}, "Enter an amount of money"),
        ({"amount_choice": "deposit", "amount": "-5"}, "greater than or equal to 0.01"),
        ({"method": ""}, "Choose the payment method."),
        ({"practitioner": ""}, "Choose the practitioner the invoice is from."),
    ],
)
def test_bad_input_re_renders_the_popup_and_writes_nothing(
    client, practice, reception, extra, message
):
    client.force_login(reception)
    cash = PaymentMethod.objects.get(name="Cash")
    data = sale(practice, invoicing="pay", method=cash.pk)
    data.update(extra)
    response = client.post(create_url(practice), data, headers=HTMX)
    assert response.status_code in (400, 409)
    page = response.content.decode()
    assert message in page
    assert 'class="field field--invalid"' in page  # beside its field
    assert not ClientPackage.objects.exists() and not Invoice.objects.exists()
    assert not Payment.objects.exists()


def test_defaults_come_from_the_client_and_the_practice(client, practice, reception, admin_user):
    # Two practitioners and locations: none is "the only one"; the client's last booking
    # decides, and the practice's default payment method is preselected.
    other = PractitionerFactory(name="Alex Osteo")
    north = LocationFactory(name="North Road")
    past = practice.book(by=reception, practitioner=other, starts_at=next_local(hour=9, days=-3))
    past.location = north
    past.save(update_fields=["location"])
    canceled = practice.book(by=reception, starts_at=next_local(hour=9, days=-1))
    canceled.status = AppointmentStatus.CANCELED
    canceled.save(update_fields=["status"])
    eftpos = PaymentMethod.objects.get(name="EFTPOS")
    payment_method_set_default(method=eftpos, by=admin_user)
    client.force_login(reception)
    page = client.get(create_url(practice)).content.decode()
    assert f'<option value="{other.pk}" selected>Alex Osteo</option>' in page
    assert f'<option value="{north.pk}" selected>North Road</option>' in page
    assert f'<option value="{eftpos.pk}" selected>EFTPOS</option>' in page


def test_a_double_submit_sells_once(client, practice, reception):
    client.force_login(reception)
    cash = PaymentMethod.objects.get(name="Cash")
    data = sale(practice, invoicing="pay", method=cash.pk, form_key="k-1")
    first = client.post(create_url(practice), data, headers=HTMX)
    again = client.post(create_url(practice), data, headers=HTMX)
    assert first["HX-Redirect"] == again["HX-Redirect"]
    assert ClientPackage.objects.count() == 1
    assert (Invoice.objects.count(), Payment.objects.count()) == (1, 1)


def test_settings_choose_the_default_payment_method(client, practice, admin_user):
    admin_client = client
    admin_client.force_login(admin_user)
    eftpos = PaymentMethod.objects.get(name="EFTPOS")
    response = admin_client.post(
        reverse("settings:invoices"),
        {
            "invoices-invoice_prefix": "INV-",
            "invoices-invoice_next_number": "1",
            "invoices-invoice_number_digits": "4",
            "invoices-payment_terms_days": "14",
            "invoices-default_payment_method": eftpos.pk,
        },
    )
    assert response.status_code == 302
    assert list(PaymentMethod.objects.filter(is_default=True)) == [eftpos]
    page = admin_client.get(reverse("settings:index")).content.decode()
    assert f'<option value="{eftpos.pk}" selected>EFTPOS</option>' in page


def test_pay_invoice_starts_with_the_default_method(client, practice, reception, admin_user):
    eftpos = PaymentMethod.objects.get(name="EFTPOS")
    payment_method_set_default(method=eftpos, by=admin_user)
    sold = client_package_sell(
        client=practice.client,
        package=practice.fixed,
        invoicing="invoice",
        practitioner=practice.practitioner,
        location=practice.location,
        by=reception,
    )
    invoice_finalize(invoice=sold.invoice, by=reception)
    client.force_login(reception)
    page = client.get(reverse("invoicing:pay", args=[sold.invoice.pk])).content.decode()
    assert f'<option value="{eftpos.pk}" selected>EFTPOS</option>' in page
