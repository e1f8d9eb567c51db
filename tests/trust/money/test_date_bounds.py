"""One range of dates for the whole practice (kernel.time: 1900 to 2200), checked by the
services, so the admin, the pages and the API all refuse a far-away date beside its
field (issue 9, finding 6).

Before: the admin accepted a client package starting on 31/12/9999 (500: its expiry
overflowed) and an appointment in year 9999, which then broke the client's
Appointments tab and the API list.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import Appointment
from calendar_app.services import appointment_book, appointment_edit
from invoicing.services import invoice_create, invoice_update, payment_record, payment_refund
from kernel.time import DATE_RANGE_MESSAGE, LATEST_DATE
from packages.models import ClientPackage
from packages.services import client_package_extend_expiry
from tests.invoicing.helpers import cash, db_state, draft, open_invoice
from tests.refusals import refused
from tests.trust.bad_input.common import beside

pytestmark = pytest.mark.django_db

FAR = dt.date(9999, 12, 31)


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


# --------------------------------------------------------------------- services


def test_a_package_cannot_start_or_expire_outside_the_practice_years(practice):
    with refused("invalid_date", field="start_date", message=DATE_RANGE_MESSAGE):
        practice.sell(practice.fixed, start_date=FAR)
    with refused("invalid_date", field="start_date"):
        practice.sell(practice.fixed, start_date=dt.date(1899, 12, 31))
    last = practice.sell(practice.fixed, start_date=LATEST_DATE)  # the last day is fine
    assert last.expires_on == dt.date(2201, 3, 31)
    sold = practice.sell(practice.fixed)
    with refused("invalid_date", field="expires_on"):
        client_package_extend_expiry(client_package=sold, expires_on=FAR, reason="x", by=None)


def test_an_appointment_cannot_be_booked_or_moved_outside_the_practice_years(practice):
    with refused("invalid_date", field="starts_at"):
        practice.book(by=None, starts_at=_at(FAR, 23))  # start + duration would overflow
    booked = practice.book(by=None)
    with refused("invalid_date", field="starts_at"):
        appointment_edit(appointment=booked, by=None, starts_at=_at(FAR))
    with refused("invalid_date", field="ends_at"):
        appointment_book(
            client=practice.client,
            practitioner=practice.practitioner,
            location=practice.location,
            service=practice.follow_up,
            starts_at=_at(LATEST_DATE, 23),
            ends_at=_at(LATEST_DATE + dt.timedelta(days=1), 0),
            by=None,
        )


def test_invoice_payment_and_refund_dates_stay_in_the_practice_years(practice):
    with refused("invalid_date", field="issue_date", unchanged=db_state):
        invoice_create(
            client=practice.client,
            practitioner=practice.practitioner,
            location=practice.location,
            issue_date=FAR,
            by=None,
        )
    pending = draft("10.00")
    with refused("invalid_date", field="issue_date", unchanged=db_state):
        invoice_update(invoice=pending, issue_date=FAR, by=None)
    invoice = open_invoice("10.00")
    with refused("invalid_date", field="date", unchanged=db_state):
        payment_record(invoice=invoice, amount=Decimal("5"), method=cash(), date=FAR, by=None)
    payment = payment_record(invoice=invoice, amount=Decimal("5"), method=cash(), by=None)
    with refused("invalid_date", field="date", unchanged=db_state):
        payment_refund(payment=payment, amount=Decimal("1"), reason="x", date=FAR, by=None)


# ------------------------------------------------------------------------ admin


@pytest.fixture
def su(client, admin_user):
    admin_user.is_superuser = True
    admin_user.save(update_fields=["is_superuser"])
    client.force_login(admin_user)
    return client


def test_the_admin_refuses_a_package_starting_on_31_12_9999_beside_the_field(su, practice):
    response = su.post(
        reverse("admin:packages_clientpackage_add"),
        {
            "client": practice.client.pk,
            "package": practice.fixed.pk,
            "start_date": "9999-12-31",
        },
    )
    assert response.status_code == 200
    assert beside(response, "id_start_date") == DATE_RANGE_MESSAGE
    assert not ClientPackage.objects.exists()


def test_the_admin_refuses_an_appointment_in_year_9999_beside_the_field(su, practice):
    response = su.post(
        reverse("admin:calendar_app_appointment_add"),
        {
            "client": practice.client.pk,
            "practitioner": practice.practitioner.pk,
            "location": practice.location.pk,
            "service": practice.follow_up.pk,
            "starts_at_0": "9999-12-31",
            "starts_at_1": "23:00",
            "ends_at_0": "",
            "ends_at_1": "",
            "notes": "",
        },
    )
    assert response.status_code == 200
    assert beside(response, "id_starts_at") == DATE_RANGE_MESSAGE
    assert not Appointment.objects.exists()
    # The client's pages and the API list still answer.
    assert su.get(reverse("clients:appointments", args=[practice.client.pk])).status_code == 200


def _action(su, url, action, pks, **data):
    return su.post(
        url, {"action": action, "_selected_action": pks, "apply": "yes", **data}, follow=True
    )


def test_the_admin_actions_refuse_far_dates_and_huge_credit_adjustments(su, practice):
    sold = practice.sell(practice.flexible)
    url = reverse("admin:packages_clientpackage_changelist")
    response = _action(su, url, "extend_expiry", [sold.pk], expires_on="9999-12-31", reason="x")
    assert DATE_RANGE_MESSAGE in beside(response, "id_expires_on")
    response = _action(su, url, "adjust_credits", [sold.pk], quantity=str(10**20), reason="x")
    assert "10000" in beside(response, "id_quantity")
    sold.refresh_from_db()
    assert (sold.expires_on, sold.credits) == (None, 5)


# ------------------------------------------- the admin's other unbounded numbers


def _inline_prefix(page) -> str:
    import re

    return re.search(r'name="([\w-]+)-TOTAL_FORMS"', page.content.decode()).group(1)


def test_the_admin_holds_catalog_numbers_to_the_pages_limits(su, practice):
    from catalog.models import Package

    add = reverse("admin:catalog_package_add")
    prefix = _inline_prefix(su.get(add))
    data = {
        "name": "Forever",
        "description": "",
        "kind": "flexible",
        "credits": "1000001",
        "price": "10.00",
        "expires_after_value": "2000000000",
        "expires_after_unit": "years",
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
        f"{prefix}-0-service": practice.follow_up.pk,
        f"{prefix}-0-allowance": "",
    }
    response = su.post(add, data)
    assert response.status_code == 200
    assert "1000" in beside(response, "id_credits")
    assert "1000" in beside(response, "id_expires_after_value")
    assert not Package.objects.filter(name="Forever").exists()

    service = reverse("admin:catalog_service_change", args=[practice.follow_up.pk])
    response = su.post(
        service,
        {"name": "Follow-up", "duration_minutes": "100000", "price": "10.00", "capacity": "1"},
    )
    assert response.status_code == 200
    assert "1440" in beside(response, "id_duration_minutes")
