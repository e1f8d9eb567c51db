"""The seed's core flow, walked through the API only (seed/assign-a-package-to-a-client.md):
create a client, assign a fixed package, find it in `matches`, book with it, see
Remaining drop and the service's "used" rise, unlink and see the credit return, invoice
the package, pay a deposit, see the balance."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

V1 = "/api/v1"


def service_row(body: dict, service_id: int) -> dict:
    return next(row for row in body["services"] if row["service"] == service_id)


def test_assign_book_unlink_invoice_and_pay_a_deposit(practice, as_reception, reception):
    api = as_reception
    tomorrow = timezone.localdate() + dt.timedelta(days=1)

    # A new client.
    response = api.post(
        f"{V1}/clients/",
        {"first_name": "Mia", "last_name": "Nguyen", "email": "mia@example.com"},
    )
    assert response.status_code == 201, response.json()
    client_id = response.json()["id"]

    # Assign the fixed "Physio Starter Pack" (1 initial + 3 follow-ups, 3 months).
    response = api.post(
        f"{V1}/client-packages/", {"client": client_id, "package": practice.fixed.pk}
    )
    assert response.status_code == 201, response.json()
    package = response.json()
    assert package["status"] == "active"
    assert (package["credits"], package["consumed"], package["remaining"]) == (4, 0, 4)
    follow_up = service_row(package, practice.follow_up.pk)
    assert (follow_up["allowance"], follow_up["used"], follow_up["remaining"]) == (3, 0, 3)

    # It matches a follow-up tomorrow.
    response = api.get(
        f"{V1}/client-packages/matches/",
        {"client": client_id, "date": tomorrow.isoformat(), "service": practice.follow_up.pk},
    )
    assert response.status_code == 200, response.json()
    assert [row["id"] for row in response.json()["results"]] == [package["id"]]

    # Book with it.
    starts_at = timezone.make_aware(dt.datetime.combine(tomorrow, dt.time(10)))
    response = api.post(
        f"{V1}/appointments/",
        {
            "client": client_id,
            "practitioner": practice.practitioner.pk,
            "location": practice.location.pk,
            "service": practice.follow_up.pk,
            "starts_at": starts_at.isoformat(),
            "client_package": package["id"],
        },
    )
    assert response.status_code == 201, response.json()
    appointment = response.json()
    assert appointment["client_package"] == package["id"]
    assert (
        appointment["ends_at"]
        == timezone.localtime(starts_at + dt.timedelta(minutes=30)).isoformat()
    )

    response = api.get(f"{V1}/client-packages/{package['id']}/")
    after_booking = response.json()
    assert after_booking["remaining"] == 3
    assert after_booking["consumed"] == 1
    assert service_row(after_booking, practice.follow_up.pk)["used"] == 1
    assert service_row(after_booking, practice.follow_up.pk)["remaining"] == 2
    assert after_booking["appointments"] == [appointment["id"]]

    # Unlink: the credit comes back.
    response = api.post(f"{V1}/appointments/{appointment['id']}/unlink/")
    assert response.status_code == 200, response.json()
    assert response.json()["client_package"] is None
    after_unlink = api.get(f"{V1}/client-packages/{package['id']}/").json()
    assert after_unlink["remaining"] == 4
    assert service_row(after_unlink, practice.follow_up.pk)["used"] == 0
    assert after_unlink["appointments"] == []

    # The ledger shows the grant rows, the consume and the release.
    ledger = api.get(f"{V1}/client-packages/{package['id']}/ledger/").json()["results"]
    assert [row["kind"] for row in ledger] == ["grant", "grant", "consume", "release"]
    assert ledger[-1]["created_by"] == reception.username

    # Invoice the package, finalize, pay a deposit: the balance stays open.
    response = api.post(
        f"{V1}/client-packages/{package['id']}/invoice/",
        {"practitioner": practice.practitioner.pk, "location": practice.location.pk},
    )
    assert response.status_code == 201, response.json()
    invoice = response.json()
    assert invoice["status"] == "draft"
    assert invoice["total"] == "400.00"
    assert invoice["lines"][0]["client_package"] == package["id"]
    assert api.get(f"{V1}/client-packages/{package['id']}/").json()["invoices"] == [invoice["id"]]

    response = api.post(f"{V1}/invoices/{invoice['id']}/finalize/")
    assert response.status_code == 200, response.json()
    assert response.json()["number"] == "INV-0001"

    cash = api.get(f"{V1}/payment-methods/", {"search": "cash"}).json()["results"][0]
    response = api.post(
        f"{V1}/invoices/{invoice['id']}/payments/",
        {"amount": "100.00", "method": cash["id"], "reference": "Deposit"},
    )
    assert response.status_code == 201, response.json()
    assert response.json()["amount"] == "100.00"

    paid = api.get(f"{V1}/invoices/{invoice['id']}/").json()
    assert (paid["status"], paid["display_status"]) == ("open", "Part paid")
    assert (paid["total"], paid["amount_paid"], paid["balance"]) == ("400.00", "100.00", "300.00")
    assert [p["amount"] for p in paid["payments"]] == ["100.00"]
