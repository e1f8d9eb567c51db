"""Calendar and appointment pages: permissions, the package banner, booking with a
package, refusals, Edit details (unlink), the panel's actions, query counts."""

from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import Appointment, AppointmentStatus, Practitioner
from calendar_app.services import appointment_book_series
from invoicing.models import Invoice
from packages.models import ClientPackage
from tests.factories import (
    ClientFactory,
    LocationFactory,
    PractitionerFactory,
    UserFactory,
    next_local,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def staff(client, reception):
    client.force_login(reception)
    return client


def _day(days: int = 1) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


def _booking(practice, *, day=None, time="10:00", service=None, **extra) -> dict:
    data = {
        "client": practice.client.pk,
        "service": (service or practice.follow_up).pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "date": (day or _day()).isoformat(),
        "start_time": time,
        "end_time": "",
        "notes": "",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def _text_of(html: str) -> str:
    """What the user reads: the page without tags, whitespace collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _text(response) -> str:
    return _text_of(response.content.decode())


def _refresh(package: ClientPackage) -> ClientPackage:
    package.refresh_from_db()
    return package


def _matches(client, practice, **params):
    query = {"client": practice.client.pk, "date": _day().isoformat(), **params}
    return client.get(reverse("calendar_app:matches"), query, **HTMX)


# ------------------------------------------------------------------------ permissions


@pytest.mark.parametrize(
    "name,kwargs,method",
    [
        ("calendar_app:calendar", False, "get"),
        ("calendar_app:create", False, "get"),
        ("calendar_app:client_search", False, "get"),
        ("calendar_app:matches", False, "get"),
        ("calendar_app:detail", True, "get"),
        ("calendar_app:edit", True, "get"),
        ("calendar_app:link", True, "get"),
        ("calendar_app:cancel", True, "get"),
        ("calendar_app:delete", True, "get"),
        ("calendar_app:arrived", True, "post"),
        ("calendar_app:missed", True, "post"),
        ("calendar_app:invoice", True, "post"),
    ],
)
def test_anonymous_is_sent_to_sign_in(client, practice, reception, name, kwargs, method):
    appointment = practice.book(by=reception)
    url = reverse(name, args=[appointment.pk]) if kwargs else reverse(name)
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert Appointment.objects.get().status == AppointmentStatus.BOOKED


ROLE_ACCESS = {
    # view: (admin, reception, practitioner, accountant) may use it
    ("calendar_app:calendar", False, "get"): (True, True, True, True),
    ("calendar_app:detail", True, "get"): (True, True, True, True),
    ("calendar_app:create", False, "get"): (True, True, True, False),
    ("calendar_app:client_search", False, "get"): (True, True, True, False),
    ("calendar_app:matches", False, "get"): (True, True, True, False),
    ("calendar_app:edit", True, "get"): (True, True, True, False),
    ("calendar_app:link", True, "get"): (True, True, True, False),
    ("calendar_app:cancel", True, "get"): (True, True, True, False),
    ("calendar_app:delete", True, "get"): (True, True, True, False),
    ("calendar_app:arrived", True, "post"): (True, True, True, False),
    ("calendar_app:invoice", True, "post"): (True, True, False, True),
}


@pytest.mark.parametrize("view", list(ROLE_ACCESS), ids=lambda v: v[0])
def test_each_role_gets_what_its_permissions_allow(
    client, practice, admin_user, reception, practitioner_user, accountant, view
):
    name, with_pk, method = view
    users = (admin_user, reception, practitioner_user, accountant)
    for user, allowed in zip(users, ROLE_ACCESS[view], strict=True):
        appointment = practice.book(by=None, starts_at=next_local(hour=7) - dt.timedelta(days=2))
        url = reverse(name, args=[appointment.pk]) if with_pk else reverse(name)
        client.force_login(user)
        response = getattr(client, method)(url)
        if allowed:
            assert response.status_code in (200, 302), (user.username, response.status_code)
        else:
            assert response.status_code == 403, (user.username, response.status_code)
            assert b"have access" in response.content
        appointment.invoice_lines.all().delete()
        Invoice.objects.all().delete()
        Appointment.objects.all().delete()


def test_accountant_sees_the_calendar_read_only(client, practice, reception, accountant):
    appointment = practice.book(by=reception, days=0, hour=9)
    client.force_login(accountant)
    page = client.get(reverse("calendar_app:calendar")).content.decode()
    assert "Jo Citizen" in page
    assert reverse("calendar_app:create") not in page
    assert "Create appointment" not in page
    panel = client.get(reverse("calendar_app:detail", args=[appointment.pk])).content.decode()
    assert "Jo Citizen" in panel
    for action in ("Edit details", "Arrived", "Cancel appointment", "Delete"):
        assert action not in panel
    # An accountant may invoice an appointment (invoices are theirs), nothing else.
    assert "Create invoice" in panel


def test_practitioner_can_book_and_link_but_not_invoice(client, practice, practitioner_user):
    package = practice.sell()
    client.force_login(practitioner_user)
    response = client.post(
        reverse("calendar_app:create"), _booking(practice, client_package=package.pk)
    )
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.client_package == package
    panel = client.get(reverse("calendar_app:detail", args=[appointment.pk])).content.decode()
    assert "Edit details" in panel
    assert "Create invoice" not in panel


def test_unknown_appointment_is_404(staff):
    for name in ("detail", "edit", "link", "cancel", "delete"):
        assert staff.get(reverse(f"calendar_app:{name}", args=[999999])).status_code == 404
    assert staff.get("/calendar/99999999999999999999999/").status_code == 404


# -------------------------------------------------------------------------- calendar


def test_day_view_shows_practitioner_columns_and_appointments(staff, practice, reception):
    other = PractitionerFactory(name="Alex Osteo")
    practice.book(by=reception, days=0, hour=9)
    practice.book(
        by=reception,
        days=0,
        hour=11,
        practitioner=other,
        client=ClientFactory(first_name="Kim", last_name="Lee"),
    )
    page = staff.get(reverse("calendar_app:calendar")).content.decode()
    assert "Sam Physio" in page and "Alex Osteo" in page
    assert "Jo Citizen" in page and "Kim Lee" in page
    # Empty slots open Create appointment prefilled with practitioner and time.
    start = f"{timezone.localdate().isoformat()}T10:30"
    assert f"practitioner={practice.practitioner.pk}&amp;start={start}" in page
    assert 'hx-target="#modal-body"' in page


def test_week_view_shows_seven_days_of_the_first_practitioner(staff, practice, reception):
    monday = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())
    starts = timezone.make_aware(dt.datetime.combine(monday + dt.timedelta(days=2), dt.time(14)))
    practice.book(by=reception, starts_at=starts)
    page = staff.get(
        reverse("calendar_app:calendar"), {"view": "week", "date": monday.isoformat()}
    ).content.decode()
    assert page.count('class="cal__col') == 7
    assert "Jo Citizen" in page
    assert "14:00" in page


def test_week_view_opens_on_the_users_own_practitioner(client, practice, practitioner_user):
    PractitionerFactory(name="Zed Own", user=practitioner_user)
    PractitionerFactory(name="Zed Archived", archived=True)
    client.force_login(practitioner_user)
    page = client.get(reverse("calendar_app:calendar"), {"view": "week"}).content.decode()
    assert "Zed Own" in page.split('class="page-header__meta">')[1].split("</p>")[0]
    client.force_login(UserFactory(username="nobody", role="Reception"))
    other = client.get(reverse("calendar_app:calendar"), {"view": "week"}).content.decode()
    first = practice.practitioner.name  # by name, before "Zed Own"
    assert first in other.split('class="page-header__meta">')[1].split("</p>")[0]


def test_canceled_appointments_are_hidden_unless_asked_for(staff, practice, reception):
    appointment = practice.book(by=reception, days=1, hour=9)
    staff.post(
        reverse("calendar_app:cancel", args=[appointment.pk]), {"reason": practice.reason.pk}
    )
    day = _day().isoformat()
    assert (
        "Jo Citizen"
        not in staff.get(reverse("calendar_app:calendar"), {"date": day}).content.decode()
    )
    shown = staff.get(
        reverse("calendar_app:calendar"), {"date": day, "canceled": "on"}
    ).content.decode()
    assert "cal__appt--canceled" in shown


@pytest.mark.parametrize(
    "query",
    [
        {"date": "junk", "practitioner": "abc", "location": "99999999999999999999"},
        {"date": "99999-01-01", "view": "month"},
        {"date": "0001-01-01", "view": "week"},
        {"practitioner": "-1", "canceled": "maybe", "page": "x"},
    ],
)
def test_junk_calendar_parameters_are_ignored(staff, practice, query):
    assert staff.get(reverse("calendar_app:calendar"), query).status_code == 200


def test_calendar_grid_widens_for_early_appointments(staff, practice, reception):
    practice.book(by=reception, days=0, hour=5)
    page = staff.get(reverse("calendar_app:calendar")).content.decode()
    assert ">05:00<" in page


def _fill_day(practice, reception, count: int, first: int = 0) -> None:
    """`count` appointments today, spread over 5 practitioners, clients and 30-minute slots."""
    practitioners = (
        [practice.practitioner, *PractitionerFactory.create_batch(4)]
        if not first
        else list(Practitioner.objects.order_by("pk"))
    )
    day = timezone.localdate()
    for index in range(first, first + count):
        start = timezone.make_aware(
            dt.datetime.combine(day, dt.time(7)) + dt.timedelta(minutes=30 * (index // 5))
        )
        practice.book(
            by=reception,
            starts_at=start,
            practitioner=practitioners[index % 5],
            client=ClientFactory(),
        )


@pytest.mark.parametrize("view", ["day", "week"])
def test_calendar_query_count_does_not_grow_with_appointments(staff, practice, reception, view):
    url = reverse("calendar_app:calendar")
    params = {"view": view, "practitioner": practice.practitioner.pk} if view == "week" else {}
    _fill_day(practice, reception, 5)
    staff.get(url, params)  # warm up (session, content types)
    with CaptureQueriesContext(connection) as few:
        assert staff.get(url, params).status_code == 200
    _fill_day(practice, reception, 45, first=5)
    assert Appointment.objects.count() == 50
    with CaptureQueriesContext(connection) as many:
        response = staff.get(url, params)
    assert response.status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_panel_query_count_is_constant(staff, practice, reception):
    package = practice.sell()
    appointment = practice.book(by=reception, client_package=package)
    url = reverse("calendar_app:detail", args=[appointment.pk])
    staff.get(url)
    with CaptureQueriesContext(connection) as queries:
        staff.get(url, **HTMX)
    assert len(queries) <= 12


# --------------------------------------------------------------- Create appointment


def test_create_form_is_prefilled_from_the_slot(staff, practice):
    start = f"{_day().isoformat()}T10:30"
    response = staff.get(
        reverse("calendar_app:create"),
        {"practitioner": practice.practitioner.pk, "start": start, "client": practice.client.pk},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert f'value="{_day().isoformat()}"' in page
    assert 'value="10:30"' in page
    assert f'<option value="{practice.practitioner.pk}" selected>' in page
    assert f'name="client" value="{practice.client.pk}" checked' in page


@pytest.mark.parametrize(
    "query",
    [
        {"start": "not-a-date", "client": "x", "practitioner": "999999999999999999999999"},
        {"start": "99999-12-31T10:00", "service": "-3", "location": "1e9"},
        {"start": "2026-13-45T99:99"},
    ],
)
def test_create_form_ignores_junk_prefill(staff, practice, query):
    assert staff.get(reverse("calendar_app:create"), query).status_code == 200


def test_client_search_finds_by_name_and_phone_not_archived(staff, practice):
    ClientFactory(first_name="Jolene", last_name="Archived", archived=True)
    practice.client.phone = "0400 123 456"
    practice.client.save()
    url = reverse("calendar_app:client_search")
    page = staff.get(url, {"client_query": "jo"}, **HTMX).content.decode()
    assert "Jo Citizen" in page and "Jolene" not in page
    assert "Jo Citizen" in staff.get(url, {"client_query": "123 456"}, **HTMX).content.decode()
    assert "No clients match" in staff.get(url, {"client_query": "zzzz"}, **HTMX).content.decode()


def test_banner_is_absent_without_matching_packages(staff, practice):
    response = _matches(staff, practice)
    assert response.status_code == 200
    assert "package matches" not in response.content.decode()


def test_banner_counts_one_and_two_matching_packages(staff, practice):
    practice.sell()
    assert "1 package matches — View" in _text(_matches(staff, practice))
    practice.sell(practice.flexible)
    assert "2 package matches — View" in _text(_matches(staff, practice))


def test_banner_follows_the_service_and_the_date(staff, practice):
    fixed = practice.sell()
    practice.sell(practice.flexible)
    # Massage is in neither package.
    assert (
        "package matches"
        not in _matches(staff, practice, service=practice.massage.pk).content.decode()
    )
    assert (
        "2 package matches"
        in _matches(staff, practice, service=practice.follow_up.pk).content.decode()
    )
    # After the fixed package's expiry only the flexible one (no expiry) matches.
    later = fixed.expires_on + dt.timedelta(days=1)
    assert "1 package matches" in _matches(staff, practice, date=later.isoformat()).content.decode()


def test_banner_is_part_of_the_create_page_once_a_client_is_chosen(staff, practice):
    practice.sell()
    page = _text(staff.get(reverse("calendar_app:create"), {"client": practice.client.pk}))
    assert "1 package matches — View" in page


def test_view_lists_packages_with_service_allowances(staff, practice, reception):
    fixed = practice.sell()
    flexible = practice.sell(practice.flexible)
    practice.book(by=reception, service=practice.initial, client_package=fixed, hour=8)
    page = _matches(staff, practice, step="link").content.decode()
    assert "Link package" in page
    assert "Physio Starter Pack" in page and "Flexi 5" in page
    assert "0 of 3 used" in page
    assert "1 of 1 used · none left" in page
    assert f'value="{fixed.pk}:{practice.initial.pk}" disabled' in page
    assert "5 credits remaining" in page  # the flexible package, at package level
    assert f'value="{flexible.pk}:{practice.initial.pk}"' in page


def test_choosing_a_service_in_link_package_sets_package_and_service(staff, practice):
    fixed = practice.sell()
    response = _matches(
        staff, practice, step="use_package", link_choice=f"{fixed.pk}:{practice.follow_up.pk}"
    )
    page = response.content.decode()
    assert "Linked to package: Physio Starter Pack" in _text_of(page)
    assert f'name="client_package" value="{fixed.pk}"' in page
    # The Service select follows (out-of-band swap).
    assert 'id="service-field"' in page and 'hx-swap-oob="true"' in page
    assert f'<option value="{practice.follow_up.pk}" selected>' in page


def test_choosing_a_package_of_another_client_is_refused(staff, practice):
    other = practice.sell(client=ClientFactory())
    page = _matches(
        staff, practice, step="use_package", link_choice=f"{other.pk}:{practice.follow_up.pk}"
    ).content.decode()
    assert "client_package" not in page


def test_repeat_hides_the_package_link_and_says_why(staff, practice):
    practice.sell()
    page = _text(_matches(staff, practice, repeat="on"))
    assert "package matches" not in page
    assert (
        "Packages can't be applied to repeating appointments. "
        "Book each appointment separately to use package credits."
    ) in page


def test_create_with_package_consumes_a_credit(staff, practice):
    package = practice.sell()
    response = staff.post(
        reverse("calendar_app:create"), _booking(practice, client_package=package.pk)
    )
    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("calendar_app:detail", args=[appointment.pk])
    assert appointment.client_package == package
    assert _refresh(package).remaining == 3
    assert package.services.get(service=practice.follow_up).used == 1
    panel = _text(staff.get(response["Location"]))
    assert "Linked to package: Physio Starter Pack" in panel
    assert "Appointment created." in panel


def test_create_without_end_uses_the_service_duration(staff, practice):
    staff.post(reverse("calendar_app:create"), _booking(practice, service=practice.initial))
    appointment = Appointment.objects.get()
    assert appointment.ends_at - appointment.starts_at == dt.timedelta(minutes=45)
    assert timezone.localtime(appointment.starts_at).strftime("%H:%M") == "10:00"


def test_create_by_htmx_shows_the_panel_and_refreshes_the_calendar(staff, practice):
    package = practice.sell()
    response = staff.post(
        reverse("calendar_app:create"), _booking(practice, client_package=package.pk), **HTMX
    )
    assert response.status_code == 200
    assert "calendarChanged" in json.loads(response["HX-Trigger"])
    page = response.content.decode()
    assert "Linked to package: Physio Starter Pack" in _text(response)
    assert "<html" not in page
    assert "Appointment created." in page  # delivered with the HTMX response


def test_the_panel_after_booking_is_the_panel_read_afresh(staff, practice):
    """Issue 10: after a booking the panel is drawn from the rows as just saved (no second
    read); it must show exactly what reading them again shows, credits included."""
    package = practice.sell()
    response = staff.post(
        reverse("calendar_app:create"), _booking(practice, client_package=package.pk), **HTMX
    )
    appointment = Appointment.objects.get()
    again = staff.get(reverse("calendar_app:detail", args=[appointment.pk]), **HTMX)

    def panel(html: str) -> str:
        html = re.sub(r'name="(csrfmiddlewaretoken|form_key)" value="[^"]*"', "", html)
        html = re.sub(r"\s+", " ", html)
        return html.split('<div id="messages"')[0]  # the message comes with the POST only

    assert panel(response.content.decode()) == panel(again.content.decode())
    assert "Remaining 3 of 4 credits · Physio follow-up: 1 of 3 used" in _text(response)


def test_create_refusal_no_credits_left_is_409_and_nothing_saved(staff, practice, reception):
    package = practice.sell()
    practice.book(by=reception, service=practice.initial, client_package=package, hour=8)
    response = staff.post(
        reverse("calendar_app:create"),
        _booking(practice, service=practice.initial, client_package=package.pk, notes="typed"),
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "No credits left for Physio initial consultation in Physio Starter Pack." in page
    assert "typed" in page  # what was typed is kept
    assert Appointment.objects.count() == 1
    assert _refresh(package).consumed == 1


def test_overlap_is_refused_beside_the_time(staff, practice, reception):
    practice.book(by=reception, hour=10)
    package = practice.sell()
    response = staff.post(
        reverse("calendar_app:create"),
        _booking(practice, time="10:15", client_package=package.pk),
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert 'id="appt_start_time_error"' in page
    assert "Sam Physio already has an appointment at that time" in page
    assert Appointment.objects.count() == 1
    assert _refresh(package).consumed == 0


def test_invalid_input_is_400_with_errors_beside_fields(staff, practice):
    data = _booking(practice, time="25:99", end_time="09:00", notes="keep me")
    data.pop("client")
    response = staff.post(reverse("calendar_app:create"), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Choose a client" in page
    assert 'id="appt_start_time_error"' in page
    assert "keep me" in page
    assert not Appointment.objects.exists()


def test_end_before_start_is_refused(staff, practice):
    response = staff.post(reverse("calendar_app:create"), _booking(practice, end_time="09:00"))
    assert response.status_code == 400
    assert "The end must be after the start." in response.content.decode()


def test_archived_client_cannot_be_booked(staff, practice):
    practice.client.archived = True
    practice.client.save()
    response = staff.post(reverse("calendar_app:create"), _booking(practice))
    assert response.status_code == 400
    assert not Appointment.objects.exists()


def test_package_of_another_client_is_refused_at_create(staff, practice):
    other = practice.sell(client=ClientFactory())
    response = staff.post(
        reverse("calendar_app:create"), _booking(practice, client_package=other.pk)
    )
    assert response.status_code == 400
    assert "belongs to another client" in response.content.decode()
    assert not Appointment.objects.exists()


def test_repeat_books_a_series_without_the_package(staff, practice):
    package = practice.sell()
    day = _day()
    response = staff.post(
        reverse("calendar_app:create"),
        _booking(
            practice,
            day=day,
            client_package=package.pk,
            repeat="on",
            every_weeks="2",
            weekdays=[str(day.weekday())],
            count="3",
        ),
    )
    assert response.status_code == 302
    appointments = list(Appointment.objects.order_by("starts_at"))
    assert len(appointments) == 3
    assert all(a.series_id and a.client_package_id is None for a in appointments)
    assert appointments[1].starts_at - appointments[0].starts_at == dt.timedelta(weeks=2)
    assert _refresh(package).consumed == 0


def test_a_repeat_reaching_a_time_the_clocks_skip_is_refused_beside_the_time(staff, practice):
    day = dt.date(2027, 9, 26)  # a Sunday; in Sydney 02:30 on 3 Oct 2027 never happens
    response = staff.post(
        reverse("calendar_app:create"),
        _booking(
            practice, day=day, time="02:30", repeat="on", every_weeks="1", weekdays=["6"], count="3"
        ),
    )
    assert response.status_code == 409
    form = response.context["form"]
    assert form.errors["start_time"] == [
        "The repeat reaches 02:30 on Sun 3 Oct 2027, a time that does not exist: the clocks go "
        "forward that night. Choose another time or fewer occurrences."
    ]
    assert not Appointment.objects.exists()


def test_repeat_needs_weekdays_and_count(staff, practice):
    response = staff.post(
        reverse("calendar_app:create"), _booking(practice, repeat="on", count="", every_weeks="9")
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Choose at least one weekday." in page
    assert not Appointment.objects.exists()


def test_steps_without_javascript_rerender_the_form(staff, practice):
    package = practice.sell()
    url = reverse("calendar_app:create")
    base = _booking(practice, notes="typed")
    page = staff.post(
        url, {**base, "client": "", "client_query": "citizen", "step": "search"}
    ).content.decode()
    assert "Jo Citizen" in page and "typed" in page
    page = staff.post(url, {**base, "step": "link"}).content.decode()
    assert "Link package" in page and "0 of 3 used" in page
    response = staff.post(
        url, {**base, "step": "use_package", "link_choice": f"{package.pk}:{practice.initial.pk}"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Linked to package: Physio Starter Pack" in _text_of(page)
    assert f'<option value="{practice.initial.pk}" selected>' in page
    assert not Appointment.objects.exists()


# ------------------------------------------------------------------- the panel


def test_panel_shows_details_series_and_package(staff, practice, reception):
    package = practice.sell()
    linked = practice.book(by=reception, client_package=package, notes="Left knee")
    page = _text(staff.get(reverse("calendar_app:detail", args=[linked.pk])))
    for text in (
        "Jo Citizen",
        "Physio follow-up",
        "Sam Physio",
        "Main Street",
        "Left knee",
        "Booked",
    ):
        assert text in page
    assert "Linked to package: Physio Starter Pack" in page
    assert "Remaining 3 of 4 credits" in page
    assert "Physio follow-up: 1 of 3 used" in page

    series = appointment_book_series(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        service=practice.follow_up,
        starts_at=next_local(hour=15, days=2),
        every_weeks=2,
        weekdays=[0, 3],
        count=4,
        by=reception,
    )
    page = staff.get(
        reverse("calendar_app:detail", args=[series.appointments.first().pk])
    ).content.decode()
    assert "Repeats every 2 weeks on Mon, Thu" in page
    assert "package matches" not in page


def test_panel_offers_the_package_banner_when_not_linked(staff, practice, reception):
    appointment = practice.book(by=reception)
    practice.sell()
    page = staff.get(reverse("calendar_app:detail", args=[appointment.pk])).content.decode()
    assert "1 package matches" in page
    assert reverse("calendar_app:link", args=[appointment.pk]) in page


def test_link_package_from_the_panel(staff, practice, reception):
    appointment = practice.book(by=reception)
    package = practice.sell()
    url = reverse("calendar_app:link", args=[appointment.pk])
    page = staff.get(url).content.decode()
    assert "0 of 3 used" in page
    response = staff.post(url, {"link_choice": f"{package.pk}:{practice.follow_up.pk}"}, **HTMX)
    assert response.status_code == 200
    assert "Linked to package: Physio Starter Pack" in _text(response)
    appointment.refresh_from_db()
    assert appointment.client_package == package
    assert _refresh(package).consumed == 1


def test_link_package_refusal_is_409(staff, practice, reception):
    package = practice.sell()
    practice.book(by=reception, service=practice.initial, client_package=package, hour=8)
    appointment = practice.book(by=reception, service=practice.initial)
    response = staff.post(
        reverse("calendar_app:link", args=[appointment.pk]),
        {"link_choice": f"{package.pk}:{practice.initial.pk}"},
    )
    assert response.status_code == 409
    assert "No credits left" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.client_package is None


def test_link_package_junk_choice_is_400(staff, practice, reception):
    appointment = practice.book(by=reception)
    for junk in ("", "x:y", "999999:1", "1", "1:2:3"):
        response = staff.post(
            reverse("calendar_app:link", args=[appointment.pk]), {"link_choice": junk}
        )
        assert response.status_code == 400


def test_status_actions_follow_the_rules(staff, practice, reception):
    future = practice.book(by=reception, days=3)
    page = staff.get(reverse("calendar_app:detail", args=[future.pk])).content.decode()
    assert ">Arrived<" not in page and ">Missed<" not in page
    assert "Cancel appointment" in page

    started = practice.book(by=reception, starts_at=timezone.now() - dt.timedelta(hours=1))
    page = staff.get(reverse("calendar_app:detail", args=[started.pk])).content.decode()
    assert ">Arrived<" in page and ">Missed<" in page
    assert "Cancel appointment" not in page

    response = staff.post(reverse("calendar_app:arrived", args=[started.pk]))
    assert response.status_code == 302
    started.refresh_from_db()
    assert started.status == AppointmentStatus.ARRIVED

    # Refused by the service: a future appointment cannot be Missed.
    response = staff.post(reverse("calendar_app:missed", args=[future.pk]), **HTMX)
    assert response.status_code == 409
    assert "Only an appointment that has started" in response.content.decode()
    future.refresh_from_db()
    assert future.status == AppointmentStatus.BOOKED


def test_status_actions_are_post_only(staff, practice, reception):
    appointment = practice.book(by=reception)
    assert staff.get(reverse("calendar_app:arrived", args=[appointment.pk])).status_code == 405


def test_cancel_releases_the_credit_unless_kept(staff, practice, reception):
    package = practice.sell()
    first = practice.book(by=reception, client_package=package, hour=9)
    second = practice.book(by=reception, client_package=package, hour=11)
    page = staff.get(reverse("calendar_app:cancel", args=[first.pk])).content.decode()
    assert "Keep the package credit (late cancellation)" in page

    staff.post(reverse("calendar_app:cancel", args=[first.pk]), {"reason": practice.reason.pk})
    assert _refresh(package).consumed == 1
    staff.post(
        reverse("calendar_app:cancel", args=[second.pk]),
        {"reason": practice.reason.pk, "keep_credit": "on"},
    )
    second.refresh_from_db()
    assert second.status == AppointmentStatus.CANCELED and second.kept_credit
    assert _refresh(package).consumed == 1


def test_cancel_needs_a_reason(staff, practice, reception):
    appointment = practice.book(by=reception)
    response = staff.post(reverse("calendar_app:cancel", args=[appointment.pk]), {"reason": ""})
    assert response.status_code == 400
    assert "Choose a cancellation reason." in response.content.decode()


def test_cancel_this_and_following(staff, practice, reception):
    series = appointment_book_series(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        service=practice.follow_up,
        starts_at=next_local(hour=15, days=2),
        every_weeks=1,
        weekdays=[0, 2, 4],
        count=6,
        by=reception,
    )
    occurrences = list(series.appointments.order_by("starts_at"))
    page = staff.get(reverse("calendar_app:cancel", args=[occurrences[2].pk])).content.decode()
    assert "This and following" in page
    staff.post(
        reverse("calendar_app:cancel", args=[occurrences[2].pk]),
        {"reason": practice.reason.pk, "scope": "following"},
    )
    statuses = [a.status for a in series.appointments.order_by("starts_at")]
    assert statuses == ["booked", "booked", "canceled", "canceled", "canceled", "canceled"]


def test_delete_asks_first_then_releases_the_credit(staff, practice, reception):
    package = practice.sell()
    appointment = practice.book(by=reception, client_package=package)
    url = reverse("calendar_app:delete", args=[appointment.pk])
    assert "Delete appointment?" in staff.get(url).content.decode()
    assert Appointment.objects.exists()
    response = staff.post(url, **HTMX)
    assert response.status_code == 200
    assert response["HX-Reswap"] == "none"
    assert "calendarChanged" in json.loads(response["HX-Trigger"])
    assert "popup:close" in json.loads(response["HX-Trigger-After-Swap"])
    assert not Appointment.objects.exists()
    assert _refresh(package).consumed == 0


def test_create_invoice_then_link_to_it(staff, practice, reception):
    package = practice.sell()
    appointment = practice.book(by=reception, client_package=package)
    url = reverse("calendar_app:invoice", args=[appointment.pk])
    response = staff.post(url)
    assert response.status_code == 302
    invoice = Invoice.objects.get()
    line = invoice.lines.get()
    assert "Covered by package: Physio Starter Pack" in line.description
    # A second try makes no second invoice; the panel offers the first.
    staff.post(url)
    assert Invoice.objects.count() == 1
    page = staff.get(reverse("calendar_app:detail", args=[appointment.pk])).content.decode()
    assert "Create invoice" not in page
    assert "Draft invoice" in page
    assert "Delete" not in page  # invoiced appointments are canceled, not deleted


# ------------------------------------------------------------------- Edit details


def test_edit_form_shows_the_linked_package_with_an_x(staff, practice, reception):
    package = practice.sell()
    appointment = practice.book(by=reception, client_package=package)
    page = staff.get(reverse("calendar_app:edit", args=[appointment.pk])).content.decode()
    assert "Linked to package: Physio Starter Pack" in _text_of(page)
    assert 'aria-label="Remove the link to Physio Starter Pack"' in page
    assert "Update appointment" in page


def test_x_marks_the_link_for_removal_until_update(staff, practice, reception):
    package = practice.sell()
    appointment = practice.book(by=reception, client_package=package)
    url = reverse("calendar_app:edit", args=[appointment.pk])
    start = timezone.localtime(appointment.starts_at)
    data = {
        "service": practice.follow_up.pk,
        "practitioner": practice.practitioner.pk,
        "location": practice.location.pk,
        "date": start.date().isoformat(),
        "start_time": start.strftime("%H:%M"),
        "end_time": "",
        "notes": "moved",
    }
    page = staff.post(url, {**data, "step": "unlink"}).content.decode()
    assert 'name="unlink_package" value="1"' in page
    assert _refresh(package).consumed == 1  # nothing happens before Update appointment

    response = staff.post(url, {**data, "unlink_package": "1", "step": "save"}, **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Linked to package" not in page
    assert "1 package matches" in page
    appointment.refresh_from_db()
    assert appointment.client_package is None
    assert appointment.notes == "moved"
    assert _refresh(package).consumed == 0


def test_unlink_and_edit_are_all_or_nothing(staff, practice, reception):
    package = practice.sell()
    practice.book(by=reception, hour=14)
    appointment = practice.book(by=reception, client_package=package, hour=10)
    start = timezone.localtime(appointment.starts_at)
    response = staff.post(
        reverse("calendar_app:edit", args=[appointment.pk]),
        {
            "service": practice.follow_up.pk,
            "practitioner": practice.practitioner.pk,
            "location": practice.location.pk,
            "date": start.date().isoformat(),
            "start_time": "14:00",
            "unlink_package": "1",
            "step": "save",
        },
    )
    assert response.status_code == 409
    assert "already has an appointment at that time" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.client_package == package  # the unlink was rolled back
    assert _refresh(package).consumed == 1


def test_edit_to_an_uncovered_service_says_unlink_first(staff, practice, reception):
    package = practice.sell()
    appointment = practice.book(by=reception, client_package=package)
    start = timezone.localtime(appointment.starts_at)
    response = staff.post(
        reverse("calendar_app:edit", args=[appointment.pk]),
        {
            "service": practice.massage.pk,
            "practitioner": practice.practitioner.pk,
            "location": practice.location.pk,
            "date": start.date().isoformat(),
            "start_time": start.strftime("%H:%M"),
        },
    )
    assert response.status_code == 409
    assert "Unlink the package first" in response.content.decode()


def test_edit_moves_this_and_following(staff, practice, reception):
    series = appointment_book_series(
        client=practice.client,
        practitioner=practice.practitioner,
        location=practice.location,
        service=practice.follow_up,
        starts_at=next_local(hour=15, days=2),
        every_weeks=1,
        weekdays=[1],
        count=3,
        by=reception,
    )
    first, *rest = series.appointments.order_by("starts_at")
    start = timezone.localtime(first.starts_at)
    url = reverse("calendar_app:edit", args=[first.pk])
    assert "This and following" in staff.get(url).content.decode()
    staff.post(
        url,
        {
            "service": practice.follow_up.pk,
            "practitioner": practice.practitioner.pk,
            "location": practice.location.pk,
            "date": start.date().isoformat(),
            "start_time": "16:00",
            "scope": "following",
        },
    )
    hours = [
        timezone.localtime(a.starts_at).hour for a in series.appointments.order_by("starts_at")
    ]
    assert hours == [16, 16, 16]


def test_canceled_appointment_cannot_be_edited(staff, practice, reception):
    appointment = practice.book(by=reception)
    staff.post(
        reverse("calendar_app:cancel", args=[appointment.pk]), {"reason": practice.reason.pk}
    )
    response = staff.get(reverse("calendar_app:edit", args=[appointment.pk]), **HTMX)
    assert response.status_code == 409
    assert "canceled" in response.content.decode()


def test_archived_locations_are_not_offered(staff, practice):
    LocationFactory(name="Old Rooms", archived=True)
    page = staff.get(reverse("calendar_app:create")).content.decode()
    assert "Main Street" in page and "Old Rooms" not in page


def test_a_chosen_package_is_taken_off_when_the_service_no_longer_matches(staff, practice):
    fixed = practice.sell()
    page = _text(_matches(staff, practice, client_package=fixed.pk, service=practice.follow_up.pk))
    assert "Linked to package: Physio Starter Pack" in page
    page = _text(_matches(staff, practice, client_package=fixed.pk, service=practice.massage.pk))
    assert "Linked to package" not in page
    # Said plainly, naming the package and the service (issue 11).
    assert (
        "The package link was removed: Physio Starter Pack doesn't cover Remedial massage "
        "on this date." in page
    )
