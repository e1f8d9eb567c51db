"""Issue 13 in the pages: Cancel package with a refund of the unused part (Admin); the
Cancel and Missed popups show the rule that applies before staff confirm; the settings."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from calendar_app.models import Appointment, AppointmentStatus, CancellationReason
from invoicing.models import Invoice, Refund
from packages.models import ClientPackage
from practice.models import LateAction, PracticeSettings
from tests.factories import CancellationReasonFactory
from tests.invoicing.helpers import sold_and_paid

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def paid_package(practice, admin_user):
    """10 credits for 110.00 incl. 10% tax, 3 used, invoiced and paid in full."""
    return sold_and_paid(practice, by=admin_user)[0]


def as_user(client, user):
    client.force_login(user)
    return client


class at:
    """Travel to `moment` and sign `user` in there (a session from today would have
    expired by then)."""

    def __init__(self, moment, client, user):
        self.travel = time_machine.travel(moment, tick=False)
        self.client, self.user = client, user

    def __enter__(self):
        self.travel.__enter__()
        self.client.force_login(self.user)
        return self.client

    def __exit__(self, *exc):
        return self.travel.__exit__(*exc)


# ------------------------------------------------------------------ Cancel package


def test_admin_sees_the_unused_value_and_refunds_it(client, admin_user, paid_package):
    url = reverse("packages:cancel", args=[paid_package.pk])
    page = as_user(client, admin_user).get(url).content.decode()
    assert "7 of 10 credits" in page and "$77.00" in page and "$70.00 plus its tax" in page
    assert "Refund the unused part" in page and 'value="77.00"' in page
    response = client.post(
        url, {"reason": "Moving away", "refund_unused": "on", "refund_amount": "77.00"}
    )
    assert response.status_code == 302
    assert Refund.objects.get().amount == Decimal("77.00")
    assert ClientPackage.objects.get(pk=paid_package.pk).canceled_at is not None
    page = client.get(response["Location"]).content.decode()
    assert "Package canceled. Credit note CN-0001 of $77.00 issued on invoice" in page
    assert "$77.00 refunded." in page


def test_too_much_is_refused_beside_the_amount(client, admin_user, paid_package):
    url = reverse("packages:cancel", args=[paid_package.pk])
    response = as_user(client, admin_user).post(
        url, {"reason": "x", "refund_unused": "on", "refund_amount": "80.00"}, **HTMX
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "can&#x27;t be more than the unused value, $77.00" in page
    assert ClientPackage.objects.get(pk=paid_package.pk).canceled_at is None


def test_cancel_without_ticking_refund_refunds_nothing(client, admin_user, paid_package):
    url = reverse("packages:cancel", args=[paid_package.pk])
    response = as_user(client, admin_user).post(url, {"reason": "x", "refund_amount": "77.00"})
    assert response.status_code == 302 and not Refund.objects.exists()


def test_double_submit_refunds_once(client, admin_user, paid_package):
    url = reverse("packages:cancel", args=[paid_package.pk])
    body = {"reason": "x", "refund_unused": "on", "refund_amount": "77.00"}
    as_user(client, admin_user).post(url, body)
    second = client.post(url, body, **HTMX)
    assert second.status_code == 409 and "already canceled" in second.content.decode()
    assert Refund.objects.count() == 1


def test_reception_cancels_without_the_refund_option(client, reception, paid_package):
    url = reverse("packages:cancel", args=[paid_package.pk])
    page = as_user(client, reception).get(url).content.decode()
    assert "Refund the unused part" not in page
    client.post(url, {"reason": "x", "refund_unused": "on", "refund_amount": "77.00"})
    assert not Refund.objects.exists()
    assert ClientPackage.objects.get(pk=paid_package.pk).canceled_at is not None


# ------------------------------------------------------------------ Cancel appointment


@pytest.fixture
def late(db):
    return CancellationReasonFactory(
        name="Late notice", notice_hours=24, late_action=LateAction.KEEP
    )


def linked(practice, by):
    sold = practice.sell(practice.flexible, by=by)
    return practice.book(by=by, days=3, client_package=sold), sold


def test_choosing_a_reason_shows_its_rule_and_ticks_keep(client, reception, practice, late):
    appointment, _ = linked(practice, reception)
    url = reverse("calendar_app:cancel", args=[appointment.pk])
    as_user(client, reception)
    assert "Choose a reason to see which rule applies." in client.get(url).content.decode()
    with at(appointment.starts_at - dt.timedelta(hours=3), client, reception):
        page = client.get(url, {"reason": late.pk}, **HTMX).content.decode()
    assert (
        "Canceled 3 hours before the start: inside the 24-hour window, so the credit of "
        "Flexi 5 is kept." in page
    )
    assert 'name="keep_credit" id="appt_keep_credit" checked' in page.replace("\n", " ") or (
        'id="appt_keep_credit" checked' in page
    )
    with at(appointment.starts_at - dt.timedelta(hours=25), client, reception):
        page = client.get(url, {"reason": late.pk}, **HTMX).content.decode()
    assert "outside the 24-hour window, so the credit goes back to Flexi 5" in page
    assert 'id="appt_keep_credit" checked' not in page


def test_confirming_an_unseen_rule_shows_it_first(client, reception, practice, late):
    appointment, sold = linked(practice, reception)
    url = reverse("calendar_app:cancel", args=[appointment.pk])
    as_user(client, reception)
    with at(appointment.starts_at - dt.timedelta(hours=3), client, reception):
        response = client.post(url, {"reason": late.pk})
        assert response.status_code == 200
        assert "Check what this reason does, then confirm" in response.content.decode()
        assert Appointment.objects.get(pk=appointment.pk).status == AppointmentStatus.BOOKED
        response = client.post(url, {"reason": late.pk, "rule_seen": late.pk, "keep_credit": "on"})
        assert response.status_code == 302
        page = client.get(response["Location"]).content.decode()
    sold.refresh_from_db()
    assert sold.consumed == 1
    assert "Appointment canceled. Canceled 3 hours before the start" in page


def test_fee_rule_adds_a_draft_line_and_can_be_waived(client, reception, practice):
    reason = CancellationReasonFactory(
        name="No notice", notice_hours=24, late_action=LateAction.FEE, fee_value=Decimal("25")
    )
    first, _ = linked(practice, reception)
    second = practice.book(by=reception, days=4)
    as_user(client, reception)
    for appointment, fee in ((first, "on"), (second, "")):
        url = reverse("calendar_app:cancel", args=[appointment.pk])
        with at(appointment.starts_at - dt.timedelta(hours=1), client, reception):
            page = client.get(url, {"reason": reason.pk}).content.decode()
            assert "Charge the fee of $25.00" in page
            body = {"reason": reason.pk, "rule_seen": reason.pk, "charge_fee": fee}
            assert client.post(url, body).status_code == 302
    (invoice,) = Invoice.objects.all()
    assert invoice.lines.get().unit_price == Decimal("25.00")


# ------------------------------------------------------------------ Missed


def test_missed_popup_shows_the_rule_then_charges(client, reception, practice):
    settings = PracticeSettings.load()
    settings.missed_action = LateAction.FEE
    settings.missed_fee_value = Decimal("30.00")
    settings.save()
    appointment, sold = linked(practice, reception)
    url = reverse("calendar_app:missed", args=[appointment.pk])
    as_user(client, reception)
    with at(appointment.starts_at + dt.timedelta(minutes=5), client, reception):
        page = client.get(url, **HTMX).content.decode()
        assert "a fee of $30.00 is charged (a draft invoice line) and the credit goes back" in page
        assert "Charge the no-show fee of $30.00" in page
        response = client.post(url, {"charge_fee": "on"}, **HTMX)
    assert response.status_code == 200
    assert Invoice.objects.get().lines.get().unit_price == Decimal("30.00")
    sold.refresh_from_db()
    assert sold.consumed == 0


def test_practitioner_sees_no_waive_box(client, practitioner_user, practice):
    settings = PracticeSettings.load()
    settings.missed_action = LateAction.FEE
    settings.missed_fee_value = Decimal("30.00")
    settings.save()
    appointment = practice.book(by=None, days=1)
    page = as_user(client, practitioner_user).get(
        reverse("calendar_app:missed", args=[appointment.pk])
    )
    assert "a fee of $30.00 is charged" in page.content.decode()
    assert "Charge the no-show fee" not in page.content.decode()


# ------------------------------------------------------------------ Settings


def test_reason_rule_saved_and_listed(admin_client):
    response = admin_client.post(
        reverse("settings:cancellation_reasons_add"),
        {
            "name": "Short notice",
            "notice_hours": "24",
            "late_action": "fee",
            "fee_kind": "percent",
            "fee_value": "50",
        },
    )
    assert response.status_code == 302
    reason = CancellationReason.objects.get(name="Short notice")
    assert (reason.notice_hours, reason.fee_value) == (24, Decimal("50.00"))
    page = admin_client.get(reverse("settings:cancellation_reasons")).content.decode()
    assert "Less than 24 h before: Charge a fee (50%)" in page


def test_reason_fee_without_amount_is_refused_beside_it(admin_client):
    response = admin_client.post(
        reverse("settings:cancellation_reasons_add"),
        {"name": "Short notice", "notice_hours": "24", "late_action": "fee", "fee_kind": "fixed"},
    )
    assert response.status_code == 409
    assert "Enter the fee to charge inside the window." in response.content.decode()


def test_missed_and_refund_settings(admin_client):
    url = reverse("settings:cancellations")
    body = {
        "cancellations-missed_action": "fee",
        "cancellations-missed_fee_kind": "percent",
        "cancellations-missed_fee_value": "150",
        "cancellations-refund_method": "price_less_services",
    }
    response = admin_client.post(url, body, **HTMX)
    assert response.status_code == 409 and "percentage from 0 to 100" in response.content.decode()
    body["cancellations-missed_fee_value"] = "50"
    assert admin_client.post(url, body).status_code == 302
    settings = PracticeSettings.load()
    assert (settings.missed_action, settings.missed_fee_value, settings.refund_method) == (
        "fee",
        Decimal("50.00"),
        "price_less_services",
    )
