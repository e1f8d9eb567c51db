"""Issue 15, report 1 per client: "Liability remaining" on a client's Overview equals
what the Package liability report's closing balance holds for that client's packages."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import PeriodUnit
from packages.services import client_package_cancel
from practice.models import PracticeSettings
from reports.selectors import package_liability
from reports.selectors.liability import Amount, client_liability_remaining
from tests.factories import ClientFactory, PackageFactory, TaxRateFactory

pytestmark = pytest.mark.django_db


def on(day: int, month: int = 3):
    return time_machine.travel(dt.datetime(2026, month, day, 1, 0, tzinfo=dt.UTC), tick=False)


def test_remaining_value_of_one_client(practice, reception, admin_user):
    three = PackageFactory(credits=3, price=Decimal("100.00"), services=[practice.follow_up])
    short = PackageFactory(
        credits=2,
        price=Decimal("50.00"),
        expires_after_value=5,
        expires_after_unit=PeriodUnit.DAYS,
        services=[practice.follow_up],
    )
    other = ClientFactory()
    with on(2):
        used = practice.sell(three)
        practice.sell(short)
        canceled = practice.sell(three)
        client_package_cancel(client_package=canceled, reason="test", by=admin_user)
        practice.sell(three, client=other)
    with on(3):
        practice.book(by=reception, client_package=used)
        assert client_liability_remaining(practice.client) == Amount(
            2 + 2, Decimal("66.67") + Decimal("50.00")
        )
    with on(10):  # `short` expired on 7 March
        mine = client_liability_remaining(practice.client)
        theirs = client_liability_remaining(other)
        assert mine == Amount(2, Decimal("66.67"))
        assert theirs == Amount(3, Decimal("100.00"))
        closing = package_liability(dt.date(2026, 3, 10), dt.date(2026, 3, 10)).closing
        assert closing == Amount(mine.credits + theirs.credits, mine.value + theirs.value)


def test_net_of_tax_when_prices_include_tax(practice):
    settings = PracticeSettings.load()
    settings.prices_include_tax = True
    settings.save()
    taxed = PackageFactory(
        credits=2,
        price=Decimal("110.00"),
        tax_rate=TaxRateFactory(rate=Decimal("10.00")),
        services=[practice.follow_up],
    )
    practice.sell(taxed)
    assert client_liability_remaining(practice.client) == Amount(2, Decimal("100.00"))


def test_overview_shows_the_line(client, admin_user, accountant, reception, practice):
    three = PackageFactory(credits=3, price=Decimal("100.00"), services=[practice.follow_up])
    sold = practice.sell(three)
    practice.book(by=reception, client_package=sold)
    url = f"/clients/{practice.client.pk}/"
    client.force_login(reception)
    html = client.get(url).content.decode()
    assert "Liability remaining: <strong>$66.67</strong> for 2 usable credits, net of tax" in html
    assert "/reports/package-liability/" not in html  # Reception has no Reports
    client.force_login(accountant)
    html = client.get(url).content.decode()
    assert 'href="/reports/package-liability/"' in html

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        return len(ctx)

    before = count()
    for hour in (11, 12, 13):
        practice.book(by=reception, client_package=practice.sell(three), hour=hour)
    assert count() == before


@pytest.mark.parametrize("prices_include_tax", [False, True])
def test_value_left_of_a_page_of_rows_agrees_with_the_sql(practice, prices_include_tax):
    """The Overview's rows get their value left in Python
    (`client_packages_add_remaining_value`), to the cent what the SQL annotation
    (`client_packages_with_remaining_value`, the liability report's rule) gives: prices
    with and without tax, thirds and sevenths (rounding half up), used up, canceled."""
    from django.utils import timezone

    from packages.models import ClientPackage
    from reports.selectors.liability import (
        client_packages_add_remaining_value,
        client_packages_with_remaining_value,
    )
    from tests.factories import ClientPackageFactory

    gst = TaxRateFactory(rate=Decimal("10.00"))
    odd = TaxRateFactory(rate=Decimal("7.50"))
    for price, credits, consumed, rate in [
        ("100.00", 3, 1, None),
        ("100.00", 3, 2, gst),
        ("99.99", 7, 3, odd),
        ("0.05", 2, 1, gst),
        ("110.00", 6, 5, gst),
        ("1234.56", 9, 4, odd),
        ("50.00", 2, 2, None),  # used up
        ("80.00", 4, 0, gst),
    ]:
        ClientPackageFactory(
            client=practice.client,
            price=Decimal(price),
            credits=credits,
            consumed=consumed,
            tax_rate=rate,
        )
    ClientPackage.objects.filter(pk=ClientPackage.objects.order_by("pk").first().pk).update(
        canceled_at=timezone.now(), cancel_reason="test"
    )
    in_sql = {
        p.pk: p.remaining_value
        for p in client_packages_with_remaining_value(
            ClientPackage.objects.all(), prices_include_tax=prices_include_tax
        )
    }
    rows = client_packages_add_remaining_value(
        list(ClientPackage.objects.select_related("tax_rate")),
        prices_include_tax=prices_include_tax,
    )
    assert {p.pk: p.remaining_value for p in rows} == in_sql
    assert {str(p.remaining_value) for p in rows if not p.remaining_value} == {"0.00"}
