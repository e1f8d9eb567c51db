"""Client pages: the list with search as you type, add/edit, archive/restore, and the
client page's Overview, Appointments and Invoices tabs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, ClientAccess
from clients.services import client_archive
from invoicing.services import invoice_finalize, invoice_for_client_package
from kernel.errors import DomainError
from tests.factories import ClientFactory, next_local

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def as_user(client):
    """`as_user(user)`: the test client signed in as `user`."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def text(response) -> str:
    return response.content.decode()


def count_queries(browser, url, **kwargs) -> int:
    # Once before counting: a process's first request fills what it keeps (permissions,
    # settings), which a later request reads from memory whatever the rows.
    assert browser.get(url, **kwargs).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = browser.get(url, **kwargs)
    assert response.status_code == 200
    return len(queries)


# --------------------------------------------------------------------------- the list


@pytest.mark.parametrize("persona", ["admin_user", "reception", "practitioner_user", "accountant"])
def test_client_list_renders_for_every_role(request, as_user, practice, persona):
    response = as_user(request.getfixturevalue(persona)).get(reverse("clients:list"))
    assert response.status_code == 200
    assert "Jo Citizen" in text(response)
    assert 'href="{}"'.format(reverse("clients:detail", args=[practice.client.pk])) in text(
        response
    )


def test_anonymous_visitors_are_sent_to_sign_in(client, practice):
    for url in (
        reverse("clients:list"),
        reverse("clients:add"),
        reverse("clients:detail", args=[practice.client.pk]),
        reverse("clients:appointments", args=[practice.client.pk]),
        reverse("clients:invoices", args=[practice.client.pk]),
        reverse("clients:edit", args=[practice.client.pk]),
        reverse("clients:archive", args=[practice.client.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_add_client_button_only_for_roles_that_may_add(as_user, practice, reception, accountant):
    assert "Add client" in text(as_user(reception).get(reverse("clients:list")))
    page = text(as_user(accountant).get(reverse("clients:list")))
    assert "Add client" not in page
    assert ">Edit</a>" not in page and "Archive</a>" not in page
    assert ">View</a>" in page


def test_accountant_may_view_clients_but_not_add_edit_or_archive(as_user, practice, accountant):
    browser = as_user(accountant)
    assert browser.get(reverse("clients:detail", args=[practice.client.pk])).status_code == 200
    for url in (
        reverse("clients:add"),
        reverse("clients:edit", args=[practice.client.pk]),
        reverse("clients:archive", args=[practice.client.pk]),
    ):
        assert browser.get(url).status_code == 403
    response = browser.post(
        reverse("clients:archive", args=[practice.client.pk]), {"action": "archive"}
    )
    assert response.status_code == 403
    assert not Client.objects.get(pk=practice.client.pk).archived


def test_each_row_has_actions_view_edit_archive(as_user, practice, reception):
    page = text(as_user(reception).get(reverse("clients:list")))
    pk = practice.client.pk
    assert "Actions" in page
    assert f'href="{reverse("clients:detail", args=[pk])}">View</a>' in page
    assert f'href="{reverse("clients:edit", args=[pk])}">Edit</a>' in page
    assert reverse("clients:archive", args=[pk]) in page
    # Archive comes back to the list as it was searched (the row links are built in the
    # view, once for the page).
    searched = text(
        as_user(reception).get(reverse("clients:list"), {"q": practice.client.last_name})
    )
    archive = reverse("clients:archive", args=[pk])
    assert f'href="{archive}?next=/clients/%3Fq%3D{practice.client.last_name}"' in searched


def test_rows_offer_no_edit_or_archive_without_the_permission(as_user, practice, accountant):
    page = text(as_user(accountant).get(reverse("clients:list")))
    pk = practice.client.pk
    assert f'href="{reverse("clients:detail", args=[pk])}">View</a>' in page
    assert reverse("clients:edit", args=[pk]) not in page
    assert reverse("clients:archive", args=[pk]) not in page


@pytest.mark.parametrize("query", ["jo cit", "CITIZEN", "cit jo", "jo@example", "0499 123"])
def test_search_matches_every_word_in_name_email_or_phone(as_user, reception, query):
    ClientFactory(
        first_name="Jo", last_name="Citizen", email="jo@example.com", phone="0499 123 456"
    )
    ClientFactory(
        first_name="Joanna", last_name="Smith", email="js@example.net", phone="0411 000 000"
    )
    ClientFactory(first_name="Cit", last_name="Adel", email="ca@example.org", phone="0422 000 000")
    page = text(as_user(reception).get(reverse("clients:list"), {"q": query}))
    assert "Jo Citizen" in page
    assert "Joanna Smith" not in page
    assert "Cit Adel" not in page


def test_search_as_you_type_returns_only_the_rows(as_user, practice, reception):
    response = as_user(reception).get(reverse("clients:list"), {"q": "citizen"}, headers=HTMX)
    assert response.status_code == 200
    page = text(response)
    assert page.lstrip().startswith('<div id="client-rows"')
    assert "<html" not in page and "Jo Citizen" in page
    assert "HX-Request" in response["Vary"]


def test_back_to_a_searched_list_gets_the_whole_page(as_user, practice, reception):
    headers = {**HTMX, "HX-History-Restore-Request": "true"}
    response = as_user(reception).get(reverse("clients:list"), {"q": "citizen"}, headers=headers)
    assert "<html" in text(response)


def test_search_without_match_says_what_to_do(as_user, practice, reception):
    page = text(as_user(reception).get(reverse("clients:list"), {"q": "zzzz"}))
    assert "No clients match “zzzz”" in page
    assert "clear the search" in page


def test_search_uses_the_trigram_indexes(reception):
    """Each word is UPPER(field) LIKE '%WORD%', the expression the GIN indexes cover."""
    from clients.selectors import client_search

    with connection.cursor() as cursor:
        # An empty table would be scanned; make the planner show it *can* use the indexes.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = client_search(["cit"]).explain()
    for index in ("first_name", "last_name", "email", "phone"):
        assert f"client_{index}_trgm" in plan


def test_archived_clients_are_listed_only_with_show_archived(as_user, practice, reception):
    gone = ClientFactory(first_name="Old", last_name="Timer")
    client_archive(client=gone, by=reception)
    browser = as_user(reception)
    assert "Old Timer" not in text(browser.get(reverse("clients:list")))
    page = text(browser.get(reverse("clients:list"), {"archived": "1"}))
    assert "Old Timer" in page and "Jo Citizen" not in page
    assert "Restore</a>" in page


def test_list_paginates_25_per_page_and_keeps_the_search(as_user, reception):
    for n in range(30):
        ClientFactory(first_name=f"Pat{n:02d}", last_name="Lee")
    browser = as_user(reception)
    first = text(browser.get(reverse("clients:list"), {"q": "lee"}))
    assert first.count('class="client-rows__name"') == 25
    assert "1–25 of 30" in first
    assert "?q=lee&amp;page=2" in first
    second = text(browser.get(reverse("clients:list"), {"q": "lee", "page": "2"}))
    assert second.count('class="client-rows__name"') == 5


@pytest.mark.parametrize(
    "params", [{"page": "abc"}, {"page": "999"}, {"archived": "maybe"}, {"q": "\x00"}]
)
def test_junk_query_parameters_never_crash_the_list(as_user, practice, reception, params):
    response = as_user(reception).get(reverse("clients:list"), params)
    assert response.status_code in (200, 400)


def test_overlong_search_is_refused_with_400(as_user, reception):
    response = as_user(reception).get(reverse("clients:list"), {"q": "x" * 101})
    assert response.status_code == 400
    assert "at most 100 characters" in text(response)


def test_client_list_query_count_does_not_grow_with_clients(as_user, reception):
    browser = as_user(reception)
    ClientFactory.create_batch(3)
    few = count_queries(browser, reverse("clients:list"))
    ClientFactory.create_batch(27)
    assert count_queries(browser, reverse("clients:list")) == few
    assert count_queries(browser, reverse("clients:list"), data={"q": "a"}, headers=HTMX) <= few


# ------------------------------------------------------------------------ add / edit


def test_add_client_creates_them_and_opens_their_page(as_user, reception):
    response = as_user(reception).post(
        reverse("clients:add"),
        {
            "first_name": "Jo",
            "last_name": "Citizen",
            "email": "jo@example.com",
            "phone": "0400 111 222",
        },
        follow=True,
    )
    client = Client.objects.get()
    assert response.redirect_chain[-1][0] == reverse("clients:detail", args=[client.pk])
    assert "Client added: Jo Citizen." in text(response)


def test_add_client_by_htmx_redirects_the_browser(as_user, reception):
    response = as_user(reception).post(
        reverse("clients:add"), {"first_name": "Jo", "last_name": "Citizen"}, headers=HTMX
    )
    assert response["HX-Redirect"] == reverse("clients:detail", args=[Client.objects.get().pk])


def test_invalid_client_is_shown_again_with_400_and_what_was_typed(as_user, reception):
    response = as_user(reception).post(
        reverse("clients:add"),
        {
            "first_name": "",
            "last_name": "Citizen",
            "email": "nope",
            "phone": "call me",
            "date_of_birth": "31/31/2000",
        },
    )
    assert response.status_code == 400
    page = text(response)
    assert "This field is required." in page
    assert "Enter a valid email address." in page
    assert "Use digits, spaces, +, - or brackets." in page
    assert "Enter a valid date." in page
    assert 'value="Citizen"' in page and 'value="nope"' in page
    assert not Client.objects.exists()


def test_date_of_birth_in_the_future_is_refused(as_user, reception):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = as_user(reception).post(
        reverse("clients:add"),
        {"first_name": "Jo", "last_name": "C", "date_of_birth": tomorrow.isoformat()},
    )
    assert response.status_code == 400
    assert "can&#x27;t be in the future" in text(response)


def test_edit_client_shows_their_details_and_saves_changes(as_user, practice, reception):
    browser = as_user(reception)
    url = reverse("clients:edit", args=[practice.client.pk])
    assert 'value="Citizen"' in text(browser.get(url))
    response = browser.post(
        url, {"first_name": "Joanna", "last_name": "Citizen", "phone": "0400 000 001"}
    )
    assert response.status_code == 302
    practice.client.refresh_from_db()
    assert (practice.client.first_name, practice.client.phone) == ("Joanna", "0400 000 001")


def test_edit_refused_by_a_rule_shows_the_message_with_409_and_changes_nothing(
    as_user, practice, reception, monkeypatch
):
    def refuse(**kwargs):
        raise DomainError("value_too_long", "The notes are too long.")

    monkeypatch.setattr("clients.views.services.client_update", refuse)
    response = as_user(reception).post(
        reverse("clients:edit", args=[practice.client.pk]),
        {"first_name": "Joanna", "last_name": "Citizen"},
    )
    assert response.status_code == 409
    assert "The notes are too long." in text(response)
    assert 'value="Joanna"' in text(response)
    assert Client.objects.get(pk=practice.client.pk).first_name == "Jo"


def test_unknown_client_is_404(as_user, reception):
    for name in (
        "clients:detail",
        "clients:edit",
        "clients:archive",
        "clients:appointments",
        "clients:invoices",
    ):
        assert as_user(reception).get(reverse(name, args=[999999])).status_code == 404


# ------------------------------------------------------------------ archive / restore


def test_archive_asks_first_then_archives(as_user, practice, reception):
    browser = as_user(reception)
    url = reverse("clients:archive", args=[practice.client.pk])
    confirm = browser.get(url, headers=HTMX)
    assert "Archive client" in text(confirm) and "<html" not in text(confirm)
    assert not Client.objects.get(pk=practice.client.pk).archived
    response = browser.post(url, {"action": "archive", "next": reverse("clients:list")})
    assert response.status_code == 302 and response["Location"] == reverse("clients:list")
    assert Client.objects.get(pk=practice.client.pk).archived


def test_archive_by_htmx_redirects_and_says_so(as_user, practice, reception):
    browser = as_user(reception)
    response = browser.post(
        reverse("clients:archive", args=[practice.client.pk]), {"action": "archive"}, headers=HTMX
    )
    assert response["HX-Redirect"] == reverse("clients:detail", args=[practice.client.pk])
    assert "Jo Citizen archived." in text(browser.get(response["HX-Redirect"]))


def test_archive_ignores_an_outside_next(as_user, practice, reception):
    response = as_user(reception).post(
        reverse("clients:archive", args=[practice.client.pk]),
        {"action": "archive", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("clients:detail", args=[practice.client.pk])


def test_archiving_an_archived_client_is_refused_with_409(as_user, practice, reception):
    client_archive(client=practice.client, by=reception)
    response = as_user(reception).post(
        reverse("clients:archive", args=[practice.client.pk]), {"action": "archive"}
    )
    assert response.status_code == 409
    assert "already archived" in text(response)


def test_junk_archive_action_is_400(as_user, practice, reception):
    response = as_user(reception).post(
        reverse("clients:archive", args=[practice.client.pk]), {"action": "delete"}
    )
    assert response.status_code == 400
    assert not Client.objects.get(pk=practice.client.pk).archived


def test_archived_client_shows_a_banner_with_restore_and_no_create_package(
    as_user, practice, reception
):
    client_archive(client=practice.client, by=reception)
    browser = as_user(reception)
    for url in (
        reverse("clients:detail", args=[practice.client.pk]),
        reverse("clients:edit", args=[practice.client.pk]),
    ):
        page = text(browser.get(url))
        assert "This client is archived." in page
        assert ">Restore</button>" in page
    assert ">Create package</a>" not in text(
        browser.get(reverse("clients:detail", args=[practice.client.pk]))
    )
    response = browser.post(
        reverse("clients:archive", args=[practice.client.pk]), {"action": "restore"}
    )
    assert response.status_code == 302
    assert not Client.objects.get(pk=practice.client.pk).archived


# ------------------------------------------------------------------- the client page


@pytest.mark.parametrize("persona", ["admin_user", "reception", "practitioner_user", "accountant"])
def test_client_page_renders_for_every_role_and_records_the_access(
    request, as_user, practice, persona
):
    user = request.getfixturevalue(persona)
    response = as_user(user).get(reverse("clients:detail", args=[practice.client.pk]))
    assert response.status_code == 200
    page = text(response)
    assert "Overview" in page and "Packages" in page and "Details" in page
    assert ClientAccess.objects.filter(client=practice.client, user=user).exists()


def test_packages_section_shows_usage_and_a_view_link(as_user, practice, reception):
    sold = practice.sell(by=reception)
    practice.book(by=reception, client_package=sold, service=practice.initial)
    page = text(as_user(reception).get(reverse("clients:detail", args=[practice.client.pk])))
    for header in ("Credits", "Consumed", "Remaining", "Expires"):
        assert f">{header}</th>" in page
    assert "Physio Starter Pack" in page
    assert '<span class="badge badge--active">Active</span>' in page
    assert f'href="{reverse("packages:detail", args=[sold.pk])}"' in page
    assert ">View</a>" in page
    assert sold.expires_on.strftime("%-d %b %Y") in page


@pytest.mark.parametrize(
    ("persona", "shown"),
    [
        ("admin_user", True),
        ("reception", True),
        ("practitioner_user", False),
        ("accountant", False),
    ],
)
def test_create_package_button_only_for_roles_that_may_sell(
    request, as_user, practice, persona, shown
):
    page = text(
        as_user(request.getfixturevalue(persona)).get(
            reverse("clients:detail", args=[practice.client.pk])
        )
    )
    assert (">Create package</a>" in page) is shown
    assert (reverse("packages:create", args=[practice.client.pk]) in page) is shown


def test_no_packages_yet_says_create_package(as_user, practice, reception):
    page = text(as_user(reception).get(reverse("clients:detail", args=[practice.client.pk])))
    assert "No packages yet — " in page and "Create package</a>" in page


def test_packages_section_refreshes_alone_for_htmx(as_user, practice, reception):
    practice.sell(by=reception)
    response = as_user(reception).get(
        reverse("clients:detail", args=[practice.client.pk]),
        headers={**HTMX, "HX-Target": "client-packages"},
    )
    page = text(response)
    assert page.lstrip().startswith('<section id="client-packages"')
    assert "Physio Starter Pack" in page and "<html" not in page


def _fill(practice, by, n, first_day=1):
    for i in range(n):
        sold = practice.sell(practice.flexible, by=by)
        practice.book(by=by, days=first_day + i, client_package=sold)


def test_client_page_query_count_does_not_grow_with_packages(as_user, practice, reception):
    browser = as_user(reception)
    url = reverse("clients:detail", args=[practice.client.pk])
    _fill(practice, reception, 2)
    few = count_queries(browser, url)
    _fill(practice, reception, 18, first_day=10)
    assert count_queries(browser, url) == few


# ----------------------------------------------------------------- appointments tab


def test_appointments_tab_lists_upcoming_with_status_and_linked_package(
    as_user, practice, reception
):
    sold = practice.sell(by=reception)
    practice.book(by=reception, days=2, client_package=sold)
    practice.book(by=reception, days=3, service=practice.massage)
    page = text(as_user(reception).get(reverse("clients:appointments", args=[practice.client.pk])))
    assert "Linked to package: " in page and "Physio Starter Pack</a>" in page
    assert "Remedial massage" in page
    assert '<span class="badge badge--booked">Booked</span>' in page
    assert next_local(hour=10, days=2).strftime("%-d %b %Y") in page
    assert "10:00" in page


def test_appointments_tab_past_list_and_junk_show(as_user, practice, reception):
    past = practice.book(by=reception, days=-3)
    browser = as_user(reception)
    url = reverse("clients:appointments", args=[practice.client.pk])
    upcoming = text(browser.get(url, {"show": "nonsense"}))
    assert "No upcoming appointments" in upcoming
    page = text(browser.get(url, {"show": "past"}))
    assert past.starts_at.astimezone(timezone.get_current_timezone()).strftime("%-d %b %Y") in page


def test_appointments_tab_paginates(as_user, practice, reception):
    for day in range(1, 28):
        practice.book(by=reception, days=day)
    page = text(as_user(reception).get(reverse("clients:appointments", args=[practice.client.pk])))
    assert "1–25 of 27" in page


def test_appointments_tab_query_count_does_not_grow(as_user, practice, reception):
    browser = as_user(reception)
    url = reverse("clients:appointments", args=[practice.client.pk])
    _fill(practice, reception, 2)
    few = count_queries(browser, url)
    _fill(practice, reception, 18, first_day=10)
    assert count_queries(browser, url) == few


# --------------------------------------------------------------------- invoices tab


def test_invoices_tab_lists_number_status_total_balance(as_user, practice, reception):
    sold = practice.sell(by=reception)
    invoice = invoice_for_client_package(
        client_package=sold,
        practitioner=practice.practitioner,
        location=practice.location,
        by=reception,
    )
    invoice_finalize(invoice=invoice, by=reception)
    invoice.refresh_from_db()
    page = text(as_user(reception).get(reverse("clients:invoices", args=[practice.client.pk])))
    assert invoice.number in page
    assert '<span class="badge badge--open">Open</span>' in page
    assert page.count("$400.00") >= 2
    assert "Balance owing" in page


def test_invoices_tab_query_count_does_not_grow(as_user, practice, reception):
    browser = as_user(reception)
    url = reverse("clients:invoices", args=[practice.client.pk])

    def invoices(n):
        for _ in range(n):
            sold = practice.sell(practice.flexible, by=reception)
            invoice_for_client_package(
                client_package=sold,
                practitioner=practice.practitioner,
                location=practice.location,
                by=reception,
            )

    invoices(2)
    few = count_queries(browser, url)
    invoices(18)
    assert count_queries(browser, url) == few


def test_money_is_formatted(as_user, practice, reception):
    practice.flexible.price = Decimal("1234.5")
    practice.flexible.save()
    sold = practice.sell(practice.flexible, by=reception)
    invoice_for_client_package(
        client_package=sold,
        practitioner=practice.practitioner,
        location=practice.location,
        by=reception,
    )
    assert "$1,234.50" in text(
        as_user(reception).get(reverse("clients:invoices", args=[practice.client.pk]))
    )


def test_empty_submission_shows_the_required_fields(as_user, reception):
    response = as_user(reception).post(reverse("clients:add"), {})
    assert response.status_code == 400
    assert text(response).count("This field is required.") == 2


def test_switching_to_past_by_htmx_swaps_the_switch_and_the_list(as_user, practice, reception):
    practice.book(by=reception, days=-2)
    response = as_user(reception).get(
        reverse("clients:appointments", args=[practice.client.pk]), {"show": "past"}, headers=HTMX
    )
    page = text(response)
    assert page.lstrip().startswith('<div id="client-appointments">')
    assert "<html" not in page
    assert '?show=past" hx-target="#client-appointments"' in page
    assert 'aria-current="page">Past' in page
