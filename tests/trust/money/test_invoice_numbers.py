"""Invoice numbers stay one readable series and the counter never overflows (issue 9,
findings 6 and 7).

- A next number of 2,147,483,647 (the integer column's maximum) was accepted, and every
  finalize then failed with a 500 moving the counter on. Now the settings accept at most
  LAST_INVOICE_NUMBER, and finalizing refuses cleanly once the counter is past it.
- Changing the number of digits gave INV-343 next to INV-0343. Now the digits cannot
  change once invoices are numbered (Settings page, admin, services alike).
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from invoicing.models import Invoice
from invoicing.selectors import LAST_INVOICE_NUMBER
from invoicing.services import invoice_finalize
from practice.models import PracticeSettings
from practice.services import invoice_settings_update
from tests.invoicing.helpers import db_state, draft, open_invoice
from tests.refusals import refused
from tests.trust.bad_input.common import beside

pytestmark = pytest.mark.django_db

SETTINGS = {
    "invoice_prefix": "INV-",
    "invoice_next_number": 1,
    "invoice_number_digits": 4,
    "payment_terms_days": 14,
    "prices_include_tax": True,
}


def _settings_post(**changes) -> dict:
    return {f"invoices-{name}": value for name, value in {**SETTINGS, **changes}.items()}


def _admin_post(**changes) -> dict:
    settings = PracticeSettings.load()
    data = {
        "name": settings.name,
        "address": "",
        "phone": "",
        "email": "",
        "tax_id": "",
        "currency": settings.currency,
        "prices_include_tax": "on",
        "payment_terms_days": 14,
        "invoice_prefix": "INV-",
        "invoice_number_digits": 4,
        "invoice_next_number": settings.invoice_next_number,
        "confirmation_emails": "on" if settings.confirmation_emails else "",
        "reminder_hours": settings.reminder_hours,
    }
    return {**data, **changes}


# ---------------------------------------------------------------- the counter's end


def test_the_settings_refuse_a_next_number_beyond_the_last(admin_user):
    with refused("invalid_number", field="invoice_next_number", unchanged=db_state):
        invoice_settings_update(**{**SETTINGS, "invoice_next_number": 2_147_483_647}, by=admin_user)
    invoice_settings_update(**{**SETTINGS, "invoice_next_number": LAST_INVOICE_NUMBER}, by=None)


def test_the_settings_page_and_the_admin_refuse_2147483647_beside_the_field(admin_user, client):
    client.force_login(admin_user)
    response = client.post(
        reverse("settings:invoices"), _settings_post(invoice_next_number=2_147_483_647)
    )
    assert response.status_code == 400
    assert "999999999" in beside(response, "id_invoices-invoice_next_number")
    url = reverse("admin:caspen_practicesettings_change", args=[1])
    response = client.post(url, _admin_post(invoice_next_number=2_147_483_647))
    assert response.status_code == 200
    assert "999,999,999" in beside(response, "id_invoice_next_number")
    assert PracticeSettings.load().invoice_next_number == 1


def test_finalizing_the_last_number_works_and_the_next_finalize_is_refused(admin_user, client):
    invoice_settings_update(**{**SETTINGS, "invoice_next_number": LAST_INVOICE_NUMBER}, by=None)
    last = open_invoice("10.00")
    assert last.number == f"INV-{LAST_INVOICE_NUMBER}"
    assert PracticeSettings.load().invoice_next_number == LAST_INVOICE_NUMBER + 1
    pending = draft("20.00")
    with refused("invoice_numbers_used_up", unchanged=db_state):
        invoice_finalize(invoice=pending, by=None)
    # The page answers with the refusal, not a server error.
    client.force_login(admin_user)
    response = client.post(
        reverse("invoicing:finalize", args=[pending.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 409
    assert "Invoice numbers are used up" in response.content.decode()


def test_a_counter_written_around_the_settings_at_the_column_maximum_refuses_cleanly():
    PracticeSettings.objects.filter(pk=1).update(invoice_next_number=2_147_483_647)
    pending = draft("20.00")
    with refused("invoice_numbers_used_up", unchanged=db_state):
        invoice_finalize(invoice=pending, by=None)


# ------------------------------------------------------------------------- digits


def test_the_digits_can_change_until_an_invoice_is_numbered(admin_user):
    draft("10.00")  # a draft has no number yet
    invoice_settings_update(**{**SETTINGS, "invoice_number_digits": 6}, by=admin_user)
    assert open_invoice("10.00").number == "INV-000001"


def test_the_digits_cannot_change_once_invoices_are_numbered(admin_user, client):
    open_invoice("10.00")
    for digits in (3, 5):
        with refused("invoice_digits_locked", field="invoice_number_digits", unchanged=db_state):
            invoice_settings_update(
                **{**SETTINGS, "invoice_next_number": 2, "invoice_number_digits": digits},
                by=admin_user,
            )
    # The other settings still change.
    invoice_settings_update(
        **{**SETTINGS, "invoice_next_number": 2, "invoice_prefix": "F-"}, by=None
    )

    client.force_login(admin_user)
    response = client.post(
        reverse("settings:invoices"),
        _settings_post(invoice_next_number=2, invoice_number_digits=3),
    )
    assert response.status_code == 409
    assert "can't change once invoices are numbered" in beside(
        response, "id_invoices-invoice_number_digits"
    )
    url = reverse("admin:caspen_practicesettings_change", args=[1])
    response = client.post(url, _admin_post(invoice_number_digits=3))
    assert response.status_code == 200
    assert "can't change once invoices are numbered" in beside(response, "id_invoice_number_digits")
    assert PracticeSettings.load().invoice_number_digits == 4
    numbers = set(Invoice.objects.exclude(number=None).values_list("number", flat=True))
    assert numbers == {"INV-0001"}
