"""Issue 9, finding 5: "a practice owner cannot answer 'who canceled this package?'".
The Activity page (Admin only: filters by person, object type and dates) and the
Activity tabs of a client and of a client package read in plain language, with a number
of queries that does not grow with the events shown."""

from __future__ import annotations

import datetime as dt

import pghistory
import pytest
from django.urls import reverse
from django.utils import timezone

from calendar_app.services import appointment_cancel, appointment_link, appointment_unlink
from packages.services import client_package_cancel
from tests.factories import ClientFactory, next_local

# Each service call commits on its own, as each request does, so events get their own
# times (inside one test transaction they would all share the transaction's time).
pytestmark = pytest.mark.django_db(transaction=True)

ACTIVITY = reverse("settings:activity")


@pytest.fixture
def rosa(reception):
    reception.first_name, reception.last_name = "Rosa", "Nguyen"
    reception.save()
    return reception


@pytest.fixture
def jo(admin_user):
    admin_user.first_name, admin_user.last_name = "Jo", "Admin"
    admin_user.save()
    return admin_user


def _when(moment: dt.datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local.day} {local:%b %H:%M}"


@pytest.fixture
def story(practice, rosa, jo):
    """Rosa sells a package, books and links an appointment, books another and cancels
    it, unlinks the first; Jo cancels the package. Each step is its own request."""
    with pghistory.context(user=rosa.pk, ip="192.0.2.40"):
        sold = practice.sell(practice.flexible, by=rosa)
    with pghistory.context(user=rosa.pk):
        linked = practice.book(by=rosa, starts_at=next_local(hour=10, days=4))
    with pghistory.context(user=rosa.pk):
        appointment_link(appointment=linked, client_package=sold, by=rosa)
    with pghistory.context(user=rosa.pk):
        canceled = practice.book(by=rosa, starts_at=next_local(hour=8, days=2))
    with pghistory.context(user=rosa.pk):
        appointment_cancel(appointment=canceled, reason=practice.reason, by=rosa)
    with pghistory.context(user=rosa.pk):
        appointment_unlink(appointment=linked, by=rosa)
    with pghistory.context(user=jo.pk, ip="192.0.2.41"):
        client_package_cancel(client_package=sold, reason="Moved away", by=jo)
    return {"sold": sold, "linked": linked, "canceled": canceled}


def _rows(response) -> list[str]:
    return [row["sentence"] for row in response.context["rows"]]


def test_the_client_activity_tab_tells_who_did_what(client, practice, reception, story):
    client.force_login(reception)
    response = client.get(reverse("clients:activity", args=[practice.client.pk]))
    assert response.status_code == 200
    linked, canceled = _when(story["linked"].starts_at), _when(story["canceled"].starts_at)
    assert _rows(response)[:6] == [
        "Jo Admin canceled Flexi 5: Moved away",
        f"Rosa Nguyen unlinked the appointment of {linked} from Flexi 5",
        f"Rosa Nguyen canceled the appointment of {canceled}: Client request",
        f"Rosa Nguyen booked Jo Citizen for Physio follow-up with Sam Physio on {canceled}",
        f"Rosa Nguyen linked the appointment of {linked} to Flexi 5",
        f"Rosa Nguyen booked Jo Citizen for Physio follow-up with Sam Physio on {linked}",
    ]
    assert "Rosa Nguyen sold Flexi 5 to Jo Citizen" in _rows(response)
    html = response.content.decode()
    assert 'aria-current="page">Activity</a>' in html


def test_the_package_activity_tab_answers_who_canceled_it(client, practice, reception, story):
    client.force_login(reception)
    response = client.get(reverse("packages:activity", args=[story["sold"].pk]))
    assert response.status_code == 200
    linked = _when(story["linked"].starts_at)
    assert _rows(response) == [
        "Jo Admin canceled Flexi 5: Moved away",
        f"Rosa Nguyen gave the credit of the appointment of {linked} back to Flexi 5",
        f"Rosa Nguyen linked the appointment of {linked} to Flexi 5",
        "Rosa Nguyen sold Flexi 5 to Jo Citizen",
    ]
    # The package page links to its Activity tab.
    page = client.get(reverse("packages:detail", args=[story["sold"].pk])).content.decode()
    assert reverse("packages:activity", args=[story["sold"].pk]) in page


def test_the_activity_page_lists_everything_newest_first_with_where_from(client, jo, story):
    client.force_login(jo)
    response = client.get(ACTIVITY)
    assert response.status_code == 200
    rows = response.context["rows"]
    assert rows[0]["sentence"] == "Jo Admin canceled Flexi 5: Moved away"
    assert rows[0]["ip"] == "192.0.2.41"
    assert rows[0]["kind"] == "Packages"
    # The ledger rows of those changes are told once, by the change itself.
    assert not any("credit of" in row["sentence"] for row in rows)
    assert "192.0.2.41" in response.content.decode()


def test_the_activity_page_filters_by_person_type_and_dates(client, jo, rosa, story):
    client.force_login(jo)
    by_jo = _rows(client.get(ACTIVITY, {"person": jo.pk}))
    assert by_jo and all(s.startswith("Jo Admin ") for s in by_jo)
    by_rosa = _rows(client.get(ACTIVITY, {"person": rosa.pk}))
    assert by_rosa and all(s.startswith("Rosa Nguyen ") for s in by_rosa)

    packages = client.get(ACTIVITY, {"kind": "Packages"}).context["rows"]
    assert packages and {row["kind"] for row in packages} == {"Packages"}
    appointments = client.get(ACTIVITY, {"kind": "Appointments", "person": rosa.pk})
    assert {row["kind"] for row in appointments.context["rows"]} == {"Appointments"}

    today = timezone.localdate()
    assert _rows(client.get(ACTIVITY, {"date_from": today, "date_to": today}))
    assert _rows(client.get(ACTIVITY, {"date_to": today - dt.timedelta(days=1)})) == []
    assert _rows(client.get(ACTIVITY, {"date_from": today + dt.timedelta(days=1)})) == []


def test_bad_filters_are_shown_beside_the_field_and_ignored(client, jo, story):
    client.force_login(jo)
    today = timezone.localdate()
    response = client.get(
        ACTIVITY, {"date_from": today, "date_to": today - dt.timedelta(days=3), "kind": "Nope"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "The end date is before the start date." in html
    assert "Select a valid choice." in html
    assert _rows(response)  # the valid filter (from today) still applies
    response = client.get(ACTIVITY, {"date_from": "31/31/2026", "person": "x"})
    assert response.status_code == 200
    assert "Enter a valid date." in response.content.decode()


@pytest.mark.parametrize("persona", ["reception", "practitioner_user", "accountant"])
def test_only_an_admin_sees_the_activity_page(client, request, persona, jo):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    assert client.get(ACTIVITY).status_code == 403
    home = client.get(reverse("clients:list")).content.decode()
    assert f'href="{ACTIVITY}"' not in home

    client.force_login(jo)
    assert f'href="{ACTIVITY}"' in client.get(reverse("clients:list")).content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(ACTIVITY)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def _more_history(practice, user, n: int, *, client=None):
    """n sales, bookings, links and cancellations (each its own request)."""
    for i in range(n):
        who = client or ClientFactory()
        with pghistory.context(user=user.pk):
            sold = practice.sell(practice.flexible, by=user, client=who)
        with pghistory.context(user=user.pk):
            appointment = practice.book(
                by=user, client=who, starts_at=next_local(hour=7 + i % 10, days=10 + i)
            )
        with pghistory.context(user=user.pk):
            appointment_link(appointment=appointment, client_package=sold, by=user)
        with pghistory.context(user=user.pk):
            appointment_cancel(appointment=appointment, reason=practice.reason, by=user)


@pytest.mark.parametrize("url_name", ["settings:activity", "clients:activity"])
def test_activity_queries_do_not_grow_with_the_events(
    client, jo, practice, url_name, django_assert_max_num_queries
):
    client.force_login(jo)
    on_client = url_name == "clients:activity"
    url = reverse(url_name, args=[practice.client.pk] if on_client else [])
    _more_history(practice, jo, 1, client=practice.client)
    client.get(url)
    with django_assert_max_num_queries(100) as few:
        first = client.get(url)
    shown = first.context["page"].paginator.count
    _more_history(practice, jo, 8, client=practice.client if on_client else None)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.context["page"].paginator.count > shown
    assert len(response.context["rows"]) >= 10


def test_finalizing_tells_the_invoice_number_once(client, jo, practice):
    """Finalizing takes the next invoice number (a settings change): the Activity says
    "finalized invoice INV-0001", not also "changed the practice settings"."""
    from invoicing.services import invoice_create, invoice_finalize

    with pghistory.context(user=jo.pk):
        invoice = invoice_create(
            client=practice.client,
            practitioner=practice.practitioner,
            location=practice.location,
            lines=[{"description": "Consultation", "quantity": 1, "unit_price": "90"}],
            by=jo,
        )
    with pghistory.context(user=jo.pk):
        invoice_finalize(invoice=invoice, by=jo)
    client.force_login(jo)
    said = _rows(client.get(ACTIVITY, {"person": jo.pk}))
    invoice.refresh_from_db()
    assert said[0] == f"Jo Admin finalized invoice {invoice.number} of Jo Citizen"
    assert not any("practice settings" in s for s in said)
    assert "Jo Admin created a draft invoice for Jo Citizen" in said
    # Lines name the invoice as it is now (numbered since).
    assert f"Jo Admin added Consultation (90.00) to invoice {invoice.number}" in said


def test_the_client_tab_also_tells_the_payments_on_their_invoices(client, jo, practice):
    from decimal import Decimal

    from invoicing.models import PaymentMethod
    from invoicing.services import invoice_create, invoice_finalize, payment_record

    with pghistory.context(user=jo.pk):
        invoice = invoice_create(
            client=practice.client,
            practitioner=practice.practitioner,
            location=practice.location,
            lines=[{"description": "Consultation", "quantity": 1, "unit_price": Decimal("90")}],
            by=jo,
        )
    with pghistory.context(user=jo.pk):
        invoice_finalize(invoice=invoice, by=jo)
    cash = PaymentMethod.objects.get_or_create(name="Cash")[0]
    with pghistory.context(user=jo.pk):
        payment_record(invoice=invoice, amount="50", method=cash, by=jo)
    ClientFactory()  # another client's history stays on their own tab
    client.force_login(jo)
    said = _rows(client.get(reverse("clients:activity", args=[practice.client.pk])))
    invoice.refresh_from_db()
    assert said[:2] == [
        f"Jo Admin recorded a payment of 50.00 (Cash) on invoice {invoice.number}",
        f"Jo Admin finalized invoice {invoice.number} of Jo Citizen",
    ]
    # Created in one request (same time): the invoice and its line.
    assert set(said[2:4]) == {
        "Jo Admin created a draft invoice for Jo Citizen",
        f"Jo Admin added Consultation (90.00) to invoice {invoice.number}",
    }
    assert said.count(f"Jo Admin finalized invoice {invoice.number} of Jo Citizen") == 1


def test_package_activity_queries_do_not_grow_with_the_events(
    client, jo, practice, django_assert_max_num_queries
):
    with pghistory.context(user=jo.pk):
        sold = practice.sell(practice.flexible, by=jo)

    def use_and_give_back(n: int, start: int):
        for i in range(n):
            with pghistory.context(user=jo.pk):
                booked = practice.book(by=jo, starts_at=next_local(hour=9, days=start + i))
            with pghistory.context(user=jo.pk):
                appointment_link(appointment=booked, client_package=sold, by=jo)
            with pghistory.context(user=jo.pk):
                appointment_unlink(appointment=booked, by=jo)

    client.force_login(jo)
    url = reverse("packages:activity", args=[sold.pk])
    use_and_give_back(1, 3)
    client.get(url)
    with django_assert_max_num_queries(100) as few:
        first = client.get(url)
    use_and_give_back(10, 10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert len(response.context["rows"]) > len(first.context["rows"]) + 10


def test_working_hours_changes_are_told_in_the_activity(client, jo, practice):
    """Issue 11: working hours are settings; the Activity page says who changed them."""
    from calendar_app.services import working_hours_set

    nine, five = dt.time(9), dt.time(17)
    with pghistory.context(user=jo.pk):
        working_hours_set(
            practitioner=practice.practitioner,
            hours=[(0, practice.location, nine, five)],
            by=jo,
        )
    with pghistory.context(user=jo.pk):
        working_hours_set(
            practitioner=practice.practitioner,
            hours=[(1, practice.location, nine, dt.time(13))],
            by=jo,
        )
    client.force_login(jo)
    rows = _rows(client.get(ACTIVITY))
    assert "Jo Admin added working hours of Sam Physio: Tuesday 09:00–13:00 at Main Street" in rows
    assert "Jo Admin removed working hours of Sam Physio: Monday 09:00–17:00 at Main Street" in rows
