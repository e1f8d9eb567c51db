"""Issue 11, the front desk, on the pages (no browser): Link package offers the booking's
own service, the package part keeps or removes a package out loud when the Service
changes, an unlink says which service stays, Edit details reloads its Service list."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from calendar_app.services import appointment_link, practitioner_services_set
from tests.factories import next_local

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def staff(client, reception):
    client.force_login(reception)
    return client


def _text(response) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _area(practice, **extra) -> dict:
    return {
        "client": practice.client.pk,
        "date": next_local(hour=10, days=1).date().isoformat(),
        **extra,
    }


def test_link_package_offers_only_the_appointments_own_service(staff, practice, reception):
    sold = practice.sell(by=reception)
    booked = practice.book(by=reception)  # a follow-up
    response = staff.get(reverse("calendar_app:link", args=[booked.pk]), **HTMX)
    html = response.content.decode()
    assert f'value="{sold.pk}:{practice.follow_up.pk}"' in html
    assert f'value="{sold.pk}:{practice.initial.pk}"' not in html


def test_the_create_form_link_panel_offers_only_the_chosen_service(staff, practice, reception):
    sold = practice.sell(by=reception)
    url = reverse("calendar_app:matches")
    chosen = staff.get(url, _area(practice, service=practice.follow_up.pk, step="link"), **HTMX)
    assert f'value="{sold.pk}:{practice.initial.pk}"' not in chosen.content.decode()
    anything = staff.get(url, _area(practice, step="link"), **HTMX)
    assert f'value="{sold.pk}:{practice.initial.pk}"' in anything.content.decode()


def test_a_package_chosen_with_another_service_says_the_service_changed(staff, practice, reception):
    sold = practice.sell(by=reception)
    response = staff.get(
        reverse("calendar_app:matches"),
        _area(practice, step="use_package", link_choice=f"{sold.pk}:{practice.initial.pk}"),
        **HTMX,
    )
    text = _text(response)
    assert "Linked to package: Physio Starter Pack" in text
    assert "The service is now Physio initial consultation (45 min)." in text
    # The Service field follows, out of band.
    assert 'id="service-field" class="service-field" hx-swap-oob="true"' in (
        response.content.decode()
    )


def test_changing_the_service_keeps_a_covering_package(staff, practice, reception):
    sold = practice.sell(by=reception)
    response = staff.get(
        reverse("calendar_app:matches"),
        _area(practice, service=practice.initial.pk, client_package=sold.pk),
        **HTMX,
    )
    text = _text(response)
    assert "Linked to package: Physio Starter Pack · Physio initial consultation" in text
    assert "removed" not in text


def test_changing_the_service_to_one_not_covered_says_the_link_was_removed(
    staff, practice, reception
):
    sold = practice.sell(by=reception)
    response = staff.get(
        reverse("calendar_app:matches"),
        _area(practice, service=practice.massage.pk, client_package=sold.pk),
        **HTMX,
    )
    text = _text(response)
    assert (
        "The package link was removed: Physio Starter Pack doesn't cover Remedial massage "
        "on this date." in text
    )
    assert "Linked to package" not in text


def test_an_unlink_says_which_service_stays(staff, practice, reception):
    sold = practice.sell(by=reception)
    booked = practice.book(by=reception)
    appointment_link(
        appointment=booked, client_package=sold, service=practice.initial, by=reception
    )
    url = reverse("calendar_app:edit", args=[booked.pk])
    start = next_local(hour=10, days=1)
    response = staff.post(
        url,
        {
            "service": practice.initial.pk,
            "practitioner": practice.practitioner.pk,
            "location": practice.location.pk,
            "date": start.date().isoformat(),
            "start_time": "10:00",
            "end_time": "10:45",
            "notes": "",
            "unlink_package": "1",
        },
        **HTMX,
    )
    assert response.status_code == 200
    assert (
        "Appointment updated. The package link was removed and its credit given back; "
        "the service stays Physio initial consultation (45 min)." in _text(response)
    )


def test_edit_details_reloads_its_services_for_another_practitioner(staff, practice, reception):
    from tests.factories import PractitionerFactory

    other = PractitionerFactory(name="Ria Massage")
    practitioner_services_set(
        practitioner=other, location=practice.location, services=[practice.massage], by=None
    )
    booked = practice.book(by=reception)
    edit = staff.get(reverse("calendar_app:edit", args=[booked.pk]), **HTMX).content.decode()
    assert f'hx-get="{reverse("calendar_app:service_options")}?appointment={booked.pk}"' in edit
    response = staff.get(
        reverse("calendar_app:service_options"),
        {
            "appointment": booked.pk,
            "practitioner": other.pk,
            "location": practice.location.pk,
            "service": practice.follow_up.pk,
        },
        **HTMX,
    )
    text = _text(response)
    assert "Remedial massage (60 min)" in text
    assert "Physio follow-up (30 min)" not in text.replace(
        "Ria Massage doesn't provide Physio follow-up (30 min)", ""
    )
    assert "Ria Massage doesn't provide Physio follow-up (30 min) at Main Street" in text


def test_a_typed_end_moves_with_the_service_a_package_sets(staff, practice, reception):
    sold = practice.sell(by=reception)
    response = staff.get(
        reverse("calendar_app:matches"),
        _area(
            practice,
            service=practice.follow_up.pk,
            start_time="10:00",
            end_time="10:30",
            step="use_package",
            link_choice=f"{sold.pk}:{practice.initial.pk}",
        ),
        **HTMX,
    )
    html = response.content.decode()
    assert (
        "The service is now Physio initial consultation (45 min) (was Physio follow-up "
        "(30 min)). It now ends at 10:45." in _text(response)
    )
    end = re.search(r'<input[^>]*id="appt_end_time"[^>]*>', html).group(0)
    assert 'hx-swap-oob="true"' in end
    assert 'value="10:45"' in end


def test_the_banner_reads_only_a_current_client(staff, practice, reception):
    """The package part's client (read through SQL built once) is the client sent, and
    only while current: archived, unknown or malformed, no banner."""
    practice.sell(by=reception)
    url = reverse("calendar_app:matches")
    assert "1 package matches" in _text(staff.get(url, _area(practice), **HTMX))
    padded = _area(practice, client=f" {practice.client.pk} ")
    assert "1 package matches" in _text(staff.get(url, padded, **HTMX))
    for client in ("0", "999999999", "abc", "1.5", "99999999999999999999"):
        response = staff.get(url, _area(practice, client=client), **HTMX)
        assert response.status_code == 200 and "package matches" not in _text(response)
    practice.client.archived = True
    practice.client.save(update_fields=["archived"])
    assert "package matches" not in _text(staff.get(url, _area(practice), **HTMX))
