"""Client package pages: Create package (popup), Create invoice for package, the client
package page, and Cancel package / Adjust credits / Extend expiry."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from calendar_app.services import appointment_unlink
from catalog.models import Package
from invoicing.models import Invoice
from invoicing.services import invoice_finalize, invoice_for_client_package, invoice_void
from packages.models import ClientPackage, CreditLedgerEntry, ExpiryChange, LedgerKind
from packages.services import client_package_adjust, client_package_cancel
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def as_user(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def text(response) -> str:
    return response.content.decode()


def invoice_page(invoice) -> str | None:
    try:
        return reverse("invoicing:detail", args=[invoice.pk])
    except NoReverseMatch:
        return None


def create_url(practice) -> str:
    return reverse("packages:create", args=[practice.client.pk])


# -------------------------------------------------------------------- Create package


@pytest.mark.parametrize("persona", ["admin_user", "reception"])
def test_create_package_popup_lists_the_catalog(request, as_user, practice, persona):
    response = as_user(request.getfixturevalue(persona)).get(create_url(practice), headers=HTMX)
    assert response.status_code == 200
    page = text(response)
    assert "<html" not in page
    assert "Create package" in page
    assert "Physio Starter Pack" in page and "Flexi 5" in page
    assert "1 × Physio initial consultation, 3 × Physio follow-up" in page
    assert "Expires after 3 months" in page and "Never expires" in page
    assert "$400.00" in page and "4 credits" in page
    assert ">Create</button>" in page


def test_create_package_is_also_a_full_page_without_javascript(as_user, practice, reception):
    page = text(as_user(reception).get(create_url(practice)))
    assert "<html" in page and "Physio Starter Pack" in page
    assert (
        'href="{}">Cancel</a>'.format(reverse("clients:detail", args=[practice.client.pk])) in page
    )


def test_archived_catalog_packages_are_not_offered(as_user, practice, reception):
    Package.objects.filter(pk=practice.flexible.pk).update(archived=True)
    page = text(as_user(reception).get(create_url(practice)))
    assert "Flexi 5" not in page and "Physio Starter Pack" in page


def test_empty_catalog_says_so(as_user, practice, reception, admin_user):
    Package.objects.update(archived=True)
    page = text(as_user(reception).get(create_url(practice)))
    assert "No packages in your catalog yet" in page
    assert "Ask an Admin" in page


@pytest.mark.parametrize("persona", ["practitioner_user", "accountant"])
def test_roles_without_add_clientpackage_get_403(request, as_user, practice, persona):
    browser = as_user(request.getfixturevalue(persona))
    assert browser.get(create_url(practice)).status_code == 403
    assert browser.post(create_url(practice), {"package": practice.fixed.pk}).status_code == 403
    assert not ClientPackage.objects.exists()


def test_anonymous_is_sent_to_sign_in(client, practice):
    sold = practice.sell()
    for url in (
        create_url(practice),
        reverse("packages:detail", args=[sold.pk]),
        reverse("packages:invoice", args=[sold.pk]),
        reverse("packages:cancel", args=[sold.pk]),
        reverse("packages:adjust", args=[sold.pk]),
        reverse("packages:extend", args=[sold.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_create_offers_the_invoice_choices_in_the_same_popup(as_user, practice, reception):
    page = text(as_user(reception).get(create_url(practice), headers=HTMX))
    assert "Create invoice for package" in page
    for label in ("Invoice later", "Create invoice", "Create invoice and take payment"):
        assert label in page
    assert "Full amount" in page and "Deposit" in page and "Payment method" in page
    # The only practitioner and location are preselected.
    assert f'<option value="{practice.practitioner.pk}" selected>Sam Physio</option>' in page
    assert f'<option value="{practice.location.pk}" selected>Main Street</option>' in page


def test_create_with_invoice_later_lands_on_the_package(as_user, practice, reception):
    response = as_user(reception).post(
        create_url(practice), {"package": practice.fixed.pk, "invoicing": "later"}, headers=HTMX
    )
    sold = ClientPackage.objects.get()
    assert (sold.client, sold.name, sold.credits) == (practice.client, "Physio Starter Pack", 4)
    assert response["HX-Redirect"] == reverse("packages:detail", args=[sold.pk])
    assert not Invoice.objects.exists()


def test_create_without_javascript_is_a_plain_form_post(as_user, practice, reception):
    response = as_user(reception).post(
        create_url(practice), {"package": practice.fixed.pk}, follow=True
    )
    sold = ClientPackage.objects.get()
    assert response.redirect_chain[-1][0] == reverse("packages:detail", args=[sold.pk])
    assert "Package created: Physio Starter Pack." in text(response)


def test_roles_that_cannot_invoice_get_no_invoice_choices(as_user, practice, roles_exist):
    seller = UserFactory(username="seller")
    seller.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_client", "add_clientpackage", "view_clientpackage", "view_package"]
        )
    )
    browser = as_user(seller)
    assert "Create invoice for package" not in text(browser.get(create_url(practice)))
    # Sent anyway: the form has no such field, so it is Invoice later.
    response = browser.post(
        create_url(practice), {"package": practice.fixed.pk, "invoicing": "pay"}, headers=HTMX
    )
    sold = ClientPackage.objects.get()
    assert response["HX-Redirect"] == reverse("packages:detail", args=[sold.pk])
    assert not Invoice.objects.exists()


def test_create_without_a_choice_is_400_and_creates_nothing(as_user, practice, reception):
    response = as_user(reception).post(create_url(practice), {}, headers=HTMX)
    assert response.status_code == 400
    assert "Select a package." in text(response)
    assert not ClientPackage.objects.exists()


@pytest.mark.parametrize("value", ["abc", "999999", "-1", ""])
def test_create_with_junk_package_is_400(as_user, practice, reception, value):
    response = as_user(reception).post(create_url(practice), {"package": value})
    assert response.status_code == 400
    assert not ClientPackage.objects.exists()


def test_archived_catalog_package_cannot_be_created(as_user, practice, reception):
    Package.objects.filter(pk=practice.fixed.pk).update(archived=True)
    response = as_user(reception).post(create_url(practice), {"package": practice.fixed.pk})
    assert response.status_code == 400
    assert "no longer in the catalog" in text(response)


def test_archived_client_refusal_shows_the_message_with_409(as_user, practice, reception):
    page = text(as_user(reception).get(create_url(practice)))
    assert "Physio Starter Pack" in page
    from clients.models import Client

    Client.objects.filter(pk=practice.client.pk).update(archived=True)
    browser = as_user(reception)
    assert "Restore the client to sell a package" in text(browser.get(create_url(practice)))
    response = browser.post(create_url(practice), {"package": practice.fixed.pk})
    assert response.status_code == 409
    assert "is archived. Restore the client to sell a package." in text(response)
    assert not ClientPackage.objects.exists()


def test_unknown_client_is_404(as_user, reception):
    assert as_user(reception).get(reverse("packages:create", args=[999999])).status_code == 404


# ------------------------------------------------------ Create invoice for package


def test_create_invoice_for_package_lands_on_the_invoice(as_user, practice, reception):
    sold = practice.sell(by=reception)
    response = as_user(reception).post(
        reverse("packages:invoice", args=[sold.pk]),
        {
            "practitioner": practice.practitioner.pk,
            "location": practice.location.pk,
        },
        headers=HTMX,
    )
    invoice = Invoice.objects.get()
    assert invoice.lines.get().client_package == sold
    assert (invoice.practitioner, invoice.location) == (practice.practitioner, practice.location)
    assert response["HX-Redirect"] == (
        invoice_page(invoice) or reverse("packages:detail", args=[sold.pk])
    )


def test_invoice_window_preselects_the_only_practitioner_and_location(as_user, practice, reception):
    sold = practice.sell(by=reception)
    page = text(as_user(reception).get(reverse("packages:invoice", args=[sold.pk])))
    assert f'<option value="{practice.practitioner.pk}" selected>Sam Physio</option>' in page
    assert f'<option value="{practice.location.pk}" selected>Main Street</option>' in page


def test_invoice_window_requires_practitioner_and_location(as_user, practice, reception):
    sold = practice.sell(by=reception)
    response = as_user(reception).post(
        reverse("packages:invoice", args=[sold.pk]), {"practitioner": "junk"}
    )
    assert response.status_code == 400
    page = text(response)
    assert "Select a valid choice." in page
    assert "Choose the location the invoice is from." in page
    assert not Invoice.objects.exists()


def test_an_invoiced_package_offers_its_invoice_instead_of_a_second(as_user, practice, reception):
    sold = practice.sell(by=reception)
    first = invoice_for_client_package(
        client_package=sold,
        practitioner=practice.practitioner,
        location=practice.location,
        by=reception,
    )
    invoice_finalize(invoice=first, by=reception)
    first.refresh_from_db()
    browser = as_user(reception)
    page = text(browser.get(reverse("packages:invoice", args=[sold.pk])))
    assert f"This package is already on invoice {first.number}." in page
    assert ">Create</button>" not in page
    response = browser.post(
        reverse("packages:invoice", args=[sold.pk]),
        {"practitioner": practice.practitioner.pk, "location": practice.location.pk},
    )
    assert response.status_code == 409
    assert first.number in text(response)
    assert Invoice.objects.count() == 1


def test_practitioner_may_not_create_invoices(as_user, practice, practitioner_user):
    sold = practice.sell()
    assert (
        as_user(practitioner_user).get(reverse("packages:invoice", args=[sold.pk])).status_code
        == 403
    )


# -------------------------------------------------------------- the package page


@pytest.mark.parametrize("persona", ["admin_user", "reception", "practitioner_user", "accountant"])
def test_package_page_shows_status_usage_and_allowances(request, as_user, practice, persona):
    sold = practice.sell()
    response = as_user(request.getfixturevalue(persona)).get(
        reverse("packages:detail", args=[sold.pk])
    )
    assert response.status_code == 200
    page = text(response)
    assert '<span class="badge badge--active">Active</span>' in page
    for label, value in (("Credits", 4), ("Consumed", 0), ("Remaining", 4)):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in page
    assert "<dt>Expires</dt>" in page and sold.expires_on.strftime("%-d %b %Y") in page
    assert "Physio initial consultation" in page and "0 of 1 used" in page
    assert "Physio follow-up" in page and "0 of 3 used" in page
    assert "Granted" in page and "Package sold" in page


def test_flexible_package_shows_its_shared_pool(as_user, practice, reception):
    sold = practice.sell(practice.flexible, by=reception)
    page = text(as_user(reception).get(reverse("packages:detail", args=[sold.pk])))
    assert "Shared pool: <strong>5 remaining</strong>" in page
    assert "<dt>Expires</dt><dd" in page and ">Never</dd>" in page


def test_package_page_lists_linked_appointments_and_the_credit_history(
    as_user, practice, reception
):
    sold = practice.sell(by=reception)
    appointment = practice.book(by=reception, client_package=sold)
    appointment_unlink(appointment=appointment, by=reception)
    again = practice.book(by=reception, days=2, client_package=sold)
    page = text(as_user(reception).get(reverse("packages:detail", args=[sold.pk])))
    assert "1 of 3 used" in page
    assert "<dt>Consumed</dt><dd>1</dd>" in page
    for word in ("Granted", "Consumed", "Released"):
        assert f'<td data-label="What">{word}</td>' in page
    assert ">-1</td>" in page and ">+1</td>" in page and ">+3</td>" in page
    assert "Appointment unlinked" in page
    assert "rita" in page  # by whom
    assert again.starts_at.astimezone().strftime("%-d %b %Y") in page


@pytest.mark.parametrize(
    ("persona", "actions"),
    [
        ("admin_user", {"Create invoice", "Cancel package", "Adjust credits", "Extend expiry"}),
        ("reception", {"Create invoice", "Cancel package"}),
        ("practitioner_user", set()),
        ("accountant", {"Create invoice"}),
    ],
)
def test_package_actions_follow_the_role(request, as_user, practice, persona, actions):
    sold = practice.sell()
    page = text(
        as_user(request.getfixturevalue(persona)).get(reverse("packages:detail", args=[sold.pk]))
    )
    for action in ("Create invoice", "Cancel package", "Adjust credits", "Extend expiry"):
        assert (f">{action}</a>" in page) is (action in actions), action


def test_invoiced_package_links_its_invoice_instead_of_create_invoice(as_user, practice, reception):
    sold = practice.sell(by=reception)
    invoice = invoice_for_client_package(
        client_package=sold,
        practitioner=practice.practitioner,
        location=practice.location,
        by=reception,
    )
    invoice_finalize(invoice=invoice, by=reception)
    invoice.refresh_from_db()
    page = text(as_user(reception).get(reverse("packages:detail", args=[sold.pk])))
    assert f"Invoice {invoice.number}" in page
    assert ">Create invoice</a>" not in page
    assert '<span class="badge badge--open">Open</span>' in page
    invoice_void(invoice=invoice, by=UserFactory(username="boss", role="Admin"))
    page = text(as_user(reception).get(reverse("packages:detail", args=[sold.pk])))
    assert ">Create invoice</a>" in page and '<span class="badge badge--void">Void</span>' in page


def test_canceled_package_shows_why_and_offers_no_changes(as_user, practice, admin_user):
    sold = practice.sell()
    client_package_cancel(client_package=sold, reason="Moved interstate", by=admin_user)
    page = text(as_user(admin_user).get(reverse("packages:detail", args=[sold.pk])))
    assert '<span class="badge badge--canceled">Canceled</span>' in page
    assert "Moved interstate" in page
    for action in ("Cancel package", "Adjust credits", "Extend expiry"):
        assert f">{action}</a>" not in page


def test_package_page_query_count_does_not_grow_with_the_ledger(as_user, practice, admin_user):
    sold = practice.sell(practice.flexible, by=admin_user)
    browser = as_user(admin_user)
    url = reverse("packages:detail", args=[sold.pk])
    practice.book(by=admin_user, client_package=sold)
    browser.get(url)  # the process's kept permissions and currency, read once (issue 10)
    with CaptureQueriesContext(connection) as few:
        assert browser.get(url).status_code == 200
    for day in range(2, 6):
        practice.book(by=admin_user, days=day, client_package=sold)
    for _ in range(14):
        client_package_adjust(client_package=sold, quantity=1, reason="Goodwill", by=admin_user)
    assert CreditLedgerEntry.objects.filter(client_package=sold).count() >= 20
    with CaptureQueriesContext(connection) as many:
        assert browser.get(url).status_code == 200
    assert len(many) == len(few)


def test_credit_history_paginates(as_user, practice, admin_user):
    sold = practice.sell(practice.flexible, by=admin_user)
    for _ in range(29):
        client_package_adjust(client_package=sold, quantity=1, reason="Goodwill", by=admin_user)
    browser = as_user(admin_user)
    url = reverse("packages:detail", args=[sold.pk])
    assert "1–25 of 30" in text(browser.get(url))
    assert "26–30 of 30" in text(browser.get(url, {"page": "2"}))
    assert browser.get(url, {"page": "junk", "appointments_page": "-3"}).status_code == 200


def test_unknown_package_is_404(as_user, admin_user):
    for name in (
        "packages:detail",
        "packages:invoice",
        "packages:cancel",
        "packages:adjust",
        "packages:extend",
    ):
        assert as_user(admin_user).get(reverse(name, args=[999999])).status_code == 404


# ----------------------------------------------------------------- Cancel package


def test_reception_cancels_a_package_with_a_reason(as_user, practice, reception):
    sold = practice.sell()
    browser = as_user(reception)
    url = reverse("packages:cancel", args=[sold.pk])
    confirm = text(browser.get(url, headers=HTMX))
    assert "Cancel package" in confirm and "4 remaining credits" in confirm
    response = browser.post(url, {"reason": "Client moved away"}, headers=HTMX)
    assert response["HX-Redirect"] == reverse("packages:detail", args=[sold.pk])
    sold.refresh_from_db()
    assert sold.canceled_at is not None and sold.cancel_reason == "Client moved away"
    assert "Package canceled." in text(browser.get(response["HX-Redirect"]))


def test_cancel_without_reason_is_400(as_user, practice, reception):
    sold = practice.sell()
    response = as_user(reception).post(reverse("packages:cancel", args=[sold.pk]), {"reason": "  "})
    assert response.status_code == 400
    assert "Give a reason for canceling the package." in text(response)
    sold.refresh_from_db()
    assert sold.canceled_at is None


def test_canceling_twice_is_refused_with_409(as_user, practice, reception):
    sold = practice.sell()
    client_package_cancel(client_package=sold, reason="First", by=reception)
    response = as_user(reception).post(
        reverse("packages:cancel", args=[sold.pk]), {"reason": "Again"}
    )
    assert response.status_code == 409
    assert "already canceled" in text(response)
    sold.refresh_from_db()
    assert sold.cancel_reason == "First"


@pytest.mark.parametrize("persona", ["practitioner_user", "accountant"])
def test_roles_that_may_not_cancel_get_403(request, as_user, practice, persona):
    sold = practice.sell()
    response = as_user(request.getfixturevalue(persona)).post(
        reverse("packages:cancel", args=[sold.pk]), {"reason": "x"}
    )
    assert response.status_code == 403
    sold.refresh_from_db()
    assert sold.canceled_at is None


# ------------------------------------------------------------------ Adjust credits


def test_admin_adjusts_a_fixed_package_service(as_user, practice, admin_user):
    sold = practice.sell()
    row = sold.services.get(service=practice.follow_up)
    browser = as_user(admin_user)
    url = reverse("packages:adjust", args=[sold.pk])
    form = text(browser.get(url))
    assert "Physio follow-up (0 of 3 used)" in form
    response = browser.post(url, {"quantity": "2", "service": row.pk, "reason": "Goodwill"})
    assert response.status_code == 302
    sold.refresh_from_db()
    row.refresh_from_db()
    assert (sold.credits, row.allowance) == (6, 5)
    entry = CreditLedgerEntry.objects.get(client_package=sold, kind=LedgerKind.ADJUST)
    assert (entry.quantity, entry.reason, entry.created_by) == (2, "Goodwill", admin_user)


def test_adjust_a_flexible_package_needs_no_service(as_user, practice, admin_user):
    sold = practice.sell(practice.flexible)
    browser = as_user(admin_user)
    url = reverse("packages:adjust", args=[sold.pk])
    assert 'name="service"' not in text(browser.get(url))
    assert browser.post(url, {"quantity": "-2", "reason": "Sold too many"}).status_code == 302
    sold.refresh_from_db()
    assert sold.credits == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"quantity": "0", "reason": "x"}, "Enter a number other than 0."),
        ({"quantity": "1.5", "reason": "x"}, "Enter a whole number."),
        ({"quantity": "99999", "reason": "x"}, "less than or equal to 1000"),
        ({"quantity": "1", "reason": ""}, "Give a reason for the adjustment."),
        ({"quantity": "1", "reason": "x"}, "Choose which service"),
    ],
)
def test_invalid_adjustments_are_400(as_user, practice, admin_user, data, message):
    sold = practice.sell()
    response = as_user(admin_user).post(reverse("packages:adjust", args=[sold.pk]), data)
    assert response.status_code == 400
    assert message in text(response).replace("&#x27;", "'")
    sold.refresh_from_db()
    assert sold.credits == 4


def test_removing_more_than_remains_is_refused_with_409(as_user, practice, admin_user):
    sold = practice.sell()
    row = sold.services.get(service=practice.initial)
    practice.book(by=admin_user, service=practice.initial, client_package=sold)
    response = as_user(admin_user).post(
        reverse("packages:adjust", args=[sold.pk]),
        {"quantity": "-1", "service": row.pk, "reason": "Oops"},
    )
    assert response.status_code == 409
    assert "only 0 remain" in text(response)
    sold.refresh_from_db()
    assert sold.credits == 4


def test_service_of_another_package_is_400(as_user, practice, admin_user):
    sold = practice.sell()
    other = practice.sell().services.first()
    response = as_user(admin_user).post(
        reverse("packages:adjust", args=[sold.pk]),
        {"quantity": "1", "service": other.pk, "reason": "x"},
    )
    assert response.status_code == 400


def test_reception_may_not_adjust_credits(as_user, practice, reception):
    sold = practice.sell()
    assert as_user(reception).get(reverse("packages:adjust", args=[sold.pk])).status_code == 403


# ------------------------------------------------------------------- Extend expiry


def test_admin_extends_the_expiry_and_it_is_recorded(as_user, practice, admin_user):
    sold = practice.sell()
    new_date = sold.expires_on + dt.timedelta(days=30)
    browser = as_user(admin_user)
    url = reverse("packages:extend", args=[sold.pk])
    assert f'value="{sold.expires_on.isoformat()}"' in text(browser.get(url))
    response = browser.post(url, {"expires_on": new_date.isoformat(), "reason": "Client was ill"})
    assert response.status_code == 302
    sold.refresh_from_db()
    assert sold.expires_on == new_date
    change = ExpiryChange.objects.get(client_package=sold)
    assert (change.new_expires_on, change.reason, change.created_by) == (
        new_date,
        "Client was ill",
        admin_user,
    )
    page = text(browser.get(reverse("packages:detail", args=[sold.pk])))
    assert "Expiry changes" in page and "Client was ill" in page


def test_expiry_before_the_start_is_refused_with_409(as_user, practice, admin_user):
    sold = practice.sell()
    before = sold.start_date - dt.timedelta(days=1)
    response = as_user(admin_user).post(
        reverse("packages:extend", args=[sold.pk]),
        {"expires_on": before.isoformat(), "reason": "x"},
    )
    assert response.status_code == 409
    assert "can&#x27;t be before the start date" in text(response)
    assert not ExpiryChange.objects.exists()


@pytest.mark.parametrize("value", ["", "not-a-date", "2026-02-30", "9999-01-01"])
def test_junk_expiry_dates_are_400(as_user, practice, admin_user, value):
    sold = practice.sell()
    response = as_user(admin_user).post(
        reverse("packages:extend", args=[sold.pk]), {"expires_on": value, "reason": "x"}
    )
    assert response.status_code == 400
    assert not ExpiryChange.objects.exists()


@pytest.mark.parametrize("persona", ["reception", "practitioner_user", "accountant"])
def test_only_admin_may_extend_expiry(request, as_user, practice, persona):
    sold = practice.sell()
    assert (
        as_user(request.getfixturevalue(persona))
        .get(reverse("packages:extend", args=[sold.pk]))
        .status_code
        == 403
    )
