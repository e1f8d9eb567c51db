"""Issue 9, finding 7 (DOMAIN.md, Cancellation and no-show rules): an Arrived or Missed
appointment used its credit. Unlinking it is refused, except by an Admin giving a reason,
recorded in the ledger row that gives the credit back; deleting or canceling it cannot
give the credit back either. Services, pages and API."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from calendar_app.models import Appointment, AppointmentStatus
from calendar_app.services import (
    appointment_cancel,
    appointment_delete,
    appointment_unlink,
    appointment_unlink_and_edit,
)
from kernel.errors import DomainError
from packages.models import ClientPackage, CreditLedgerEntry, LedgerKind

pytestmark = pytest.mark.django_db

ARRIVED, MISSED = AppointmentStatus.ARRIVED, AppointmentStatus.MISSED
REASON = "Booked under the wrong client"


def _used(practice, by, status=ARRIVED):
    """A linked appointment (tomorrow) marked `status`: its credit was used."""
    sold = practice.sell(practice.flexible, by=by)
    appointment = practice.book(by=by, client_package=sold)
    Appointment.objects.filter(pk=appointment.pk).update(status=status)
    appointment.refresh_from_db()
    return appointment


def _consumed(appointment) -> int:
    return ClientPackage.objects.get(pk=appointment.client_package_id).consumed


def _unchanged(appointment, consumed: int) -> None:
    fresh = Appointment.objects.get(pk=appointment.pk)
    assert fresh.client_package_id == appointment.client_package_id
    assert _consumed(fresh) == consumed
    assert not CreditLedgerEntry.objects.filter(
        appointment_id=appointment.pk, kind=LedgerKind.RELEASE
    ).exists()


def _refused(action, code: str) -> DomainError:
    with pytest.raises(DomainError) as caught:
        action()
    assert caught.value.code == code, caught.value.message
    return caught.value


# ------------------------------------------------------------------ services


@pytest.mark.parametrize("status", [ARRIVED, MISSED])
@pytest.mark.parametrize("who", ["reception", "practitioner_user"])
def test_staff_cannot_unlink_an_arrived_or_missed_appointment(request, practice, status, who):
    user = request.getfixturevalue(who)
    appointment = _used(practice, request.getfixturevalue("reception"), status)
    error = _refused(lambda: appointment_unlink(appointment=appointment, by=user), "credit_used")
    assert f"marked {status.label}" in error.message and "Only an Admin" in error.message
    _refused(
        lambda: appointment_unlink(appointment=appointment, reason=REASON, by=user), "credit_used"
    )
    _unchanged(appointment, 1)


@pytest.mark.parametrize("status", [ARRIVED, MISSED])
def test_an_admin_unlinks_it_only_with_a_reason_kept_in_the_ledger(practice, admin_user, status):
    appointment = _used(practice, admin_user, status)
    package_id = appointment.client_package_id
    error = _refused(
        lambda: appointment_unlink(appointment=appointment, reason="  ", by=admin_user),
        "reason_required",
    )
    assert error.field == "reason"
    _unchanged(appointment, 1)
    appointment_unlink(appointment=appointment, reason=REASON, by=admin_user)
    assert Appointment.objects.get(pk=appointment.pk).client_package_id is None
    assert ClientPackage.objects.get(pk=package_id).consumed == 0
    release = CreditLedgerEntry.objects.get(appointment_id=appointment.pk, kind=LedgerKind.RELEASE)
    assert release.reason == f"Unlinked after it was marked {status.label}: {REASON}"
    assert release.created_by == admin_user


def test_a_booked_appointment_still_unlinks_without_a_reason(practice, reception):
    sold = practice.sell(practice.flexible, by=reception)
    appointment = practice.book(by=reception, client_package=sold)
    appointment_unlink(appointment=appointment, by=reception)
    assert Appointment.objects.get(pk=appointment.pk).client_package_id is None


def test_unlink_and_edit_follows_the_same_rule(practice, reception, admin_user):
    appointment = _used(practice, reception)
    _refused(
        lambda: appointment_unlink_and_edit(appointment=appointment, notes="x", by=reception),
        "credit_used",
    )
    _refused(
        lambda: appointment_unlink_and_edit(appointment=appointment, notes="x", by=admin_user),
        "reason_required",
    )
    _unchanged(appointment, 1)
    appointment_unlink_and_edit(
        appointment=appointment, notes="Moved", reason=REASON, by=admin_user
    )
    fresh = Appointment.objects.get(pk=appointment.pk)
    assert (fresh.client_package_id, fresh.notes) == (None, "Moved")


@pytest.mark.parametrize("status", [ARRIVED, MISSED])
def test_deleting_it_cannot_give_the_credit_back_even_for_an_admin(practice, admin_user, status):
    appointment = _used(practice, admin_user, status)
    error = _refused(
        lambda: appointment_delete(appointment=appointment, by=admin_user), "credit_used"
    )
    assert "unlink it first" in error.message
    _unchanged(appointment, 1)
    # Unlinked first, with the reason on record, it may go.
    appointment_unlink(appointment=appointment, reason=REASON, by=admin_user)
    appointment_delete(appointment=Appointment.objects.get(pk=appointment.pk), by=admin_user)
    assert not Appointment.objects.filter(pk=appointment.pk).exists()


def test_canceling_an_arrived_appointment_keeps_its_credit(practice, admin_user):
    appointment = _used(practice, admin_user)
    error = _refused(
        lambda: appointment_cancel(appointment=appointment, reason=practice.reason, by=admin_user),
        "credit_used",
    )
    assert error.field == "keep_credit"
    _unchanged(appointment, 1)
    appointment_cancel(
        appointment=appointment, reason=practice.reason, keep_credit=True, by=admin_user
    )
    fresh = Appointment.objects.get(pk=appointment.pk)
    assert (fresh.status, fresh.kept_credit, _consumed(fresh)) == ("canceled", True, 1)


# ------------------------------------------------------------------ pages


def _edit_data(practice, appointment, **extra):
    from django.utils import timezone

    start = timezone.localtime(appointment.starts_at)
    end = timezone.localtime(appointment.ends_at)
    return {
        "service": appointment.service_id,
        "practitioner": appointment.practitioner_id,
        "location": appointment.location_id,
        "date": start.date().isoformat(),
        "start_time": f"{start:%H:%M}",
        "end_time": f"{end:%H:%M}",
        "notes": "",
        **extra,
    }


def test_edit_details_x_is_refused_for_reception_with_the_reason(client, practice, reception):
    appointment = _used(practice, reception)
    client.force_login(reception)
    url = reverse("calendar_app:edit", args=[appointment.pk])
    clicked = client.post(url, _edit_data(practice, appointment, step="unlink"))
    assert clicked.status_code == 409
    html = clicked.content.decode()
    assert "marked Arrived: its package credit was used and stays used" in html
    assert 'name="unlink_package"' not in html
    # A forged Update appointment with the link removed is refused too.
    forged = client.post(url, _edit_data(practice, appointment, step="save", unlink_package="1"))
    assert forged.status_code == 409
    _unchanged(appointment, 1)


def test_edit_details_asks_an_admin_for_the_reason(client, practice, admin_user):
    appointment = _used(practice, admin_user, MISSED)
    client.force_login(admin_user)
    url = reverse("calendar_app:edit", args=[appointment.pk])
    clicked = client.post(url, _edit_data(practice, appointment, step="unlink"))
    assert clicked.status_code == 200
    html = clicked.content.decode()
    assert 'name="unlink_package"' in html and 'name="unlink_reason"' in html
    assert "Reason for giving the credit back" in html
    assert "This appointment is marked Missed: its credit was used." in html
    data = _edit_data(practice, appointment, step="save", unlink_package="1")
    missing = client.post(url, data)
    assert missing.status_code in (400, 409)
    assert "Give a reason: this appointment is marked Missed" in missing.content.decode()
    _unchanged(appointment, 1)
    done = client.post(url, {**data, "unlink_reason": REASON})
    assert done.status_code == 302
    release = CreditLedgerEntry.objects.get(appointment_id=appointment.pk, kind=LedgerKind.RELEASE)
    assert release.reason == f"Unlinked after it was marked Missed: {REASON}"


def test_delete_and_cancel_pages_refuse_to_give_the_credit_back(client, practice, admin_user):
    appointment = _used(practice, admin_user)
    client.force_login(admin_user)
    deleted = client.post(reverse("calendar_app:delete", args=[appointment.pk]))
    assert deleted.status_code == 409
    assert "deleting it would give the credit back" in deleted.content.decode()
    canceled = client.post(
        reverse("calendar_app:cancel", args=[appointment.pk]), {"reason": practice.reason.pk}
    )
    assert canceled.status_code == 409
    assert "its package credit stays used" in canceled.content.decode()
    _unchanged(appointment, 1)


# ------------------------------------------------------------------ API


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_api_unlink_is_409_for_staff_and_takes_an_admins_reason(practice, reception, admin_user):
    appointment = _used(practice, reception)
    url = f"/api/v1/appointments/{appointment.pk}/unlink/"
    refused = _api(reception).post(url, {"reason": REASON}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "credit_used"
    missing = _api(admin_user).post(url, {}, format="json")
    assert missing.status_code in (400, 409)
    assert "Give a reason" in str(missing.json())
    _unchanged(appointment, 1)
    done = _api(admin_user).post(url, {"reason": REASON}, format="json")
    assert done.status_code == 200, done.json()
    assert done.json()["client_package"] is None
    release = CreditLedgerEntry.objects.get(appointment_id=appointment.pk, kind=LedgerKind.RELEASE)
    assert release.reason == f"Unlinked after it was marked Arrived: {REASON}"


def test_api_unlink_and_edit_delete_and_cancel_keep_the_used_credit(
    practice, reception, admin_user
):
    appointment = _used(practice, reception)
    base = f"/api/v1/appointments/{appointment.pk}"
    staff, admin = _api(reception), _api(admin_user)
    edited = staff.post(f"{base}/unlink-and-edit/", {"notes": "x"}, format="json")
    assert (edited.status_code, edited.json()["code"]) == (409, "credit_used")
    deleted = admin.delete(f"{base}/")
    assert (deleted.status_code, deleted.json()["code"]) == (409, "credit_used")
    canceled = admin.post(f"{base}/cancel/", {"reason": practice.reason.pk}, format="json")
    assert canceled.status_code in (400, 409)
    _unchanged(appointment, 1)
    done = admin.post(
        f"{base}/unlink-and-edit/", {"notes": "Moved", "reason": REASON}, format="json"
    )
    assert done.status_code == 200, done.json()
    assert (done.json()["client_package"], done.json()["notes"]) == (None, "Moved")
