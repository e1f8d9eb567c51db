"""Issue 13 through the API: cancel a package with a refund of its unused part; cancel
and Missed apply the cancellation and no-show rules and report what they applied."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from invoicing.models import Invoice, Refund
from packages.models import ClientPackage
from practice.models import FeeKind, LateAction, PracticeSettings
from tests.factories import CancellationReasonFactory
from tests.invoicing.helpers import sold_and_paid

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.fixture
def paid_package(practice, admin_user):
    """10 credits for 110.00 incl. 10% tax, 3 used, invoiced and paid in full."""
    return sold_and_paid(practice, by=admin_user)[0]


def cancel(client, sold, body, **headers):
    return client.post(f"{V1}/client-packages/{sold.pk}/cancel/", body, format="json", **headers)


def test_cancel_with_refund_answers_with_the_refund(as_admin, paid_package):
    response = cancel(as_admin, paid_package, {"reason": "Moving away", "refund_unused": True})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "canceled"
    refund = body["refund"]
    assert (refund["method"], refund["unused_credits"]) == ("liability", 7)
    assert (refund["unused_value"], refund["unused_net"], refund["amount"]) == (
        "77.00",
        "70.00",
        "77.00",
    )
    assert [r["amount"] for r in refund["refunds"]] == ["77.00"]
    assert Refund.objects.get().amount == Decimal("77.00")


def test_cancel_without_refund_has_refund_null(as_admin, paid_package):
    response = cancel(as_admin, paid_package, {"reason": "Moving away"})
    assert response.status_code == 200 and response.json()["refund"] is None
    assert not Refund.objects.exists()


def test_a_lower_amount_is_refunded(as_admin, paid_package):
    body = {"reason": "x", "refund_unused": True, "refund_amount": "40.00"}
    response = cancel(as_admin, paid_package, body)
    assert response.json()["refund"]["amount"] == "40.00"


@pytest.mark.parametrize(
    ("amount", "status", "key"),
    [
        ("77.01", 409, "refund_exceeds_unused"),
        ("-1", 400, "refund_amount"),
        ("abc", 400, "refund_amount"),
    ],
)
def test_bad_amounts_are_refused_and_nothing_changes(as_admin, paid_package, amount, status, key):
    body = {"reason": "x", "refund_unused": True, "refund_amount": amount}
    response = cancel(as_admin, paid_package, body)
    assert response.status_code == status
    answer = response.json()
    if status == 409:
        assert answer["code"] == key and "77.00" in answer["detail"]
    else:
        assert key in answer
    assert ClientPackage.objects.get(pk=paid_package.pk).canceled_at is None
    assert not Refund.objects.exists()


def test_an_amount_without_refund_unused_is_400(as_admin, paid_package):
    response = cancel(as_admin, paid_package, {"reason": "x", "refund_amount": "1.00"})
    assert response.status_code == 400 and "refund_amount" in response.json()


def test_reception_may_cancel_but_not_refund(as_reception, paid_package):
    response = cancel(as_reception, paid_package, {"reason": "x", "refund_unused": True})
    assert response.status_code == 403
    assert ClientPackage.objects.get(pk=paid_package.pk).canceled_at is None


def test_retry_with_the_same_key_refunds_once(as_admin, paid_package):
    body = {"reason": "x", "refund_unused": True}
    first = cancel(as_admin, paid_package, body, HTTP_IDEMPOTENCY_KEY="refund-1")
    retry = cancel(as_admin, paid_package, body, HTTP_IDEMPOTENCY_KEY="refund-1")
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    again = cancel(as_admin, paid_package, body)
    assert (again.status_code, again.json()["code"]) == (409, "package_canceled")
    assert Refund.objects.count() == 1


def test_the_schema_documents_the_refund(as_admin):
    schema = as_admin.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    cancel_in = schema["components"]["schemas"]["CancelPackageInRequest"]["properties"]
    assert {"refund_unused", "refund_amount"} <= set(cancel_in)
    assert "refund" in schema["components"]["schemas"]["CancelPackageOut"]["properties"]
    assert "applied" in schema["components"]["schemas"]["AppointmentAppliedOut"]["properties"]


# ------------------------------------------------------------ cancellation rules


def _url(appointment, action):
    return f"{V1}/appointments/{appointment.pk}/{action}"


def test_cancel_inside_the_window_reports_the_fee(as_reception, practice):
    reason = CancellationReasonFactory(
        name="No notice",
        notice_hours=24,
        late_action=LateAction.FEE,
        fee_kind=FeeKind.PERCENT,
        fee_value=Decimal("50"),
    )
    sold = practice.sell(practice.flexible)
    appointment = practice.book(by=None, days=3, client_package=sold)
    with time_machine.travel(appointment.starts_at - dt.timedelta(hours=3), tick=False):
        response = as_reception.post(_url(appointment, "cancel/"), {"reason": reason.pk})
    assert response.status_code == 200
    applied = response.json()["applied"]
    assert (applied["rule"], applied["fee"], applied["kept_credit"]) == (
        "inside_window",
        "45.00",
        False,
    )
    assert applied["invoice"] == Invoice.objects.get().pk
    assert applied["why"].startswith("Canceled 3 hours before the start: inside the 24-hour")


@pytest.mark.parametrize(
    ("before", "kept"),
    [(dt.timedelta(hours=24), False), (dt.timedelta(hours=24) - dt.timedelta(minutes=1), True)],
)
def test_cancel_keep_rule_at_the_edge(as_reception, practice, before, kept):
    reason = CancellationReasonFactory(name="Late", notice_hours=24, late_action=LateAction.KEEP)
    sold = practice.sell(practice.flexible)
    appointment = practice.book(by=None, days=3, client_package=sold)
    with time_machine.travel(appointment.starts_at - before, tick=False):
        response = as_reception.post(_url(appointment, "cancel/"), {"reason": reason.pk})
    assert response.json()["applied"]["kept_credit"] is kept
    assert response.json()["kept_credit"] is kept


def test_explicit_keep_credit_overrides_the_rule(as_reception, practice):
    sold = practice.sell(practice.flexible)
    appointment = practice.book(by=None, days=3, client_package=sold)
    response = as_reception.post(
        _url(appointment, "cancel/"), {"reason": practice.reason.pk, "keep_credit": True}
    )
    applied = response.json()["applied"]
    assert applied["kept_credit"] is True and "staff chose to keep the credit" in applied["why"]


def test_practitioner_may_not_waive_a_fee(as_practitioner, practice):
    reason = CancellationReasonFactory(
        name="No notice", notice_hours=24, late_action=LateAction.FEE, fee_value=Decimal("20")
    )
    appointment = practice.book(by=None, days=3)
    response = as_practitioner.post(
        _url(appointment, "cancel/"), {"reason": reason.pk, "charge_fee": False}, format="json"
    )
    assert response.status_code == 403


def test_missed_reports_the_fee_and_charges_once(as_reception, practice):
    settings = PracticeSettings.load()
    settings.missed_action = LateAction.FEE
    settings.missed_fee_value = Decimal("30.00")
    settings.save()
    past = practice.book(by=None, days=-1)
    response = as_reception.post(_url(past, "missed/"))
    assert response.status_code == 200
    applied = response.json()["applied"]
    assert (applied["rule"], applied["fee"]) == ("missed", "30.00")
    again = as_reception.post(_url(past, "missed/")).json()["applied"]
    assert (again["rule"], again["fee"]) == ("already_missed", None)
    assert Invoice.objects.count() == 1


def test_reasons_carry_their_rule(as_admin):
    response = as_admin.post(
        f"{V1}/cancellation-reasons/",
        {
            "name": "Short notice",
            "notice_hours": 24,
            "late_action": "fee",
            "fee_kind": "fixed",
            "fee_value": "25.00",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["notice_hours"] == 24 and response.json()["fee_value"] == "25.00"
    refused = as_admin.post(
        f"{V1}/cancellation-reasons/",
        {"name": "Bad", "notice_hours": 24, "late_action": "fee", "fee_value": "0"},
        format="json",
    )
    assert refused.status_code in (400, 409) and "fee" in str(refused.json())
