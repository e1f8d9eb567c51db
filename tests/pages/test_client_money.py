"""The client's money at a glance (issue 13, part 2): balance owing and Overdue in the
header, next and last appointment, per package a payment chip and its remaining value,
expired packages with credits left and Extend expiry for Admin."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from invoicing.models import PaymentMethod, SaleInvoicing
from invoicing.services import client_package_sell, invoice_finalize
from packages.models import ClientPackage
from tests.factories import next_local

pytestmark = pytest.mark.django_db


def overview(client, practice, user) -> str:
    client.force_login(user)
    response = client.get(reverse("clients:detail", args=[practice.client.pk]))
    assert response.status_code == 200
    return response.content.decode()


def sell(practice, by, invoicing, package=None, **kwargs):
    return client_package_sell(
        client=practice.client,
        package=package or practice.fixed,
        invoicing=invoicing,
        practitioner=practice.practitioner,
        location=practice.location,
        by=by,
        **kwargs,
    )


def chips(page: str) -> list[str]:
    import re

    return re.findall(r'data-testid="payment-status"><span class="badge [^"]+">([^<]+)<', page)


def test_each_package_shows_its_payment_chip_and_value_left(client, practice, reception):
    cash = PaymentMethod.objects.get(name="Cash")
    sell(practice, reception, SaleInvoicing.LATER)
    sell(practice, reception, SaleInvoicing.INVOICE)
    sell(practice, reception, SaleInvoicing.PAY, method=cash, amount="100")
    paid = sell(practice, reception, SaleInvoicing.PAY, method=cash)
    # 1 of 4 credits used: 400.00 − 100.00 = 300.00 left.
    practice.book(by=reception, client_package=paid.client_package)
    page = overview(client, practice, reception)
    assert chips(page) == ["Paid", "Part paid", "Unpaid", "Not invoiced"]  # newest first
    assert page.count('data-testid="remaining-value">$400.00<') == 3
    assert 'data-testid="remaining-value">$300.00<' in page


def test_header_shows_balance_owing_and_overdue(client, practice, reception):
    cash = PaymentMethod.objects.get(name="Cash")
    sell(practice, reception, SaleInvoicing.PAY, method=cash, amount="30")
    draft = sell(practice, reception, SaleInvoicing.INVOICE).invoice  # drafts owe nothing yet
    page = overview(client, practice, reception)
    assert "Balance owing" in page and "<strong>$370.00</strong>" in page
    assert "badge--overdue" not in page
    assert draft.status == "draft"
    # After the due date (issue date + 14 days' terms) it is overdue.
    later = timezone.now() + dt.timedelta(days=40)
    with time_machine.travel(later, tick=False):
        page = overview(client, practice, reception)
    assert '<span class="badge badge--overdue">Overdue</span>' in page


def test_header_shows_next_and_last_appointment(client, practice, reception, roles_exist):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    practice.book(by=reception, days=2)
    practice.book(by=reception, days=-5, hour=9)
    page = overview(client, practice, reception)
    assert next_local(hour=10, days=2).strftime("%a %-d %b, %-I:%M %p") in page
    assert next_local(hour=9, days=-5).strftime("%a %-d %b %Y") in page
    # Someone who sees clients only sees neither money nor visits.
    viewer = UserFactory(username="val")
    viewer.user_permissions.add(Permission.objects.get(codename="view_client"))
    page = overview(client, practice, viewer)
    assert "Balance owing" not in page and 'data-testid="next-appointment"' not in page


def test_expired_package_with_credits_left_offers_extend_expiry_to_admin(
    client, practice, reception, admin_user
):
    sold = practice.sell(by=reception, start_date=timezone.localdate() - dt.timedelta(days=200))
    assert ClientPackage.objects.get().status == "expired"
    page = overview(client, practice, admin_user)
    assert "1 expired package (4 credits)" in page
    extend = reverse("packages:extend", args=[sold.pk])
    assert f'href="{extend}?next=' in page and "Extend expiry" in page
    page = overview(client, practice, reception)
    assert "1 expired package (4 credits)" in page
    assert extend not in page and "An Admin can extend the expiry." in page


def test_extend_expiry_from_the_overview_comes_back_to_it(client, practice, reception, admin_user):
    sold = practice.sell(by=reception, start_date=timezone.localdate() - dt.timedelta(days=200))
    client.force_login(admin_user)
    back = reverse("clients:detail", args=[practice.client.pk])
    response = client.post(
        reverse("packages:extend", args=[sold.pk]),
        {
            "expires_on": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
            "reason": "Illness",
            "next": back,
        },
    )
    assert response.status_code == 302 and response["Location"] == back
    assert "expired package" not in overview(client, practice, admin_user)


def test_overview_query_count_does_not_grow(client, practice, reception, admin_user):
    cash = PaymentMethod.objects.get(name="Cash")

    def fill(n, first_day):
        for i in range(n):
            sale = sell(practice, reception, SaleInvoicing.PAY, method=cash, amount="10")
            practice.book(by=reception, days=first_day + i, client_package=sale.client_package)
            practice.sell(by=reception, start_date=timezone.localdate() - dt.timedelta(days=300))
        invoice_finalize(
            invoice=sell(practice, reception, SaleInvoicing.INVOICE).invoice, by=reception
        )

    url = reverse("clients:detail", args=[practice.client.pk])
    client.force_login(admin_user)
    fill(2, 1)
    # Warm before each count: a process keeps some lists between requests.
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    fill(12, 10)
    client.get(url)
    with CaptureQueriesContext(connection) as many:
        page = client.get(url).content.decode()
    assert len(many) == len(few)
    assert "14 expired packages (56 credits)" in page
    for tab in ("clients:invoices", "clients:appointments", "clients:activity"):
        assert client.get(reverse(tab, args=[practice.client.pk])).status_code == 200


def test_value_left_uses_the_liability_rule(client, practice, reception):
    # 3 credits for 100.00: one used redeems 33.33, leaving 66.67.
    from tests.factories import PackageFactory

    three = PackageFactory(
        name="Three", credits=3, price=Decimal("100.00"), services=[practice.follow_up]
    )
    sold = practice.sell(three, by=reception)
    practice.book(by=reception, client_package=sold)
    page = overview(client, practice, reception)
    assert 'data-testid="remaining-value">$66.67<' in page


def test_package_matches_banner_warns_when_a_match_is_not_paid(client, practice, reception):
    cash = PaymentMethod.objects.get(name="Cash")
    sell(practice, reception, SaleInvoicing.PAY, method=cash)  # paid: no warning
    client.force_login(reception)
    url = reverse("calendar_app:matches")
    query = {"client": practice.client.pk, "date": timezone.localdate().isoformat()}
    page = client.get(url, query, headers={"HX-Request": "true"}).content.decode()
    assert "1 package matches" in page and "Not paid in full" not in page
    sell(
        practice, reception, SaleInvoicing.PAY, method=cash, amount="50", package=practice.flexible
    )
    page = client.get(url, query, headers={"HX-Request": "true"}).content.decode()
    assert "2 package matches" in page
    assert "Not paid in full: Flexi 5 (Part paid)." in page
