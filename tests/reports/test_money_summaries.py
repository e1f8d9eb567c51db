"""The money reports' summaries (reports.models: InvoiceBalance, ReceivableDay, RevenueDay,
PackageSale, SaleDay) are kept exact by the database's triggers, whatever writes the rows:
after every kind of change they equal a rebuild from scratch (`reports.summaries.REBUILD`),
and the reports read from them (aged receivables, revenue, the dashboard's revenue,
package sales) equal the reports computed from the rows themselves (`exact=True`), to the
cent, for every grouping, filter, period and day."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from catalog.services import tax_rate_update
from invoicing.models import Invoice, InvoiceLine, Payment
from invoicing.services import (
    credit_note_issue,
    invoice_delete,
    invoice_finalize,
    invoice_for_client_package,
    invoice_line_add,
    invoice_line_remove,
    invoice_line_update,
    invoice_void,
    payment_record,
    payment_refund,
    payment_void,
)
from packages.models import ClientPackage
from packages.services import client_package_adjust, client_package_cancel
from practice.models import PracticeSettings
from reports.selectors.receivables import aged_receivables
from reports.selectors.revenue import revenue, revenue_by_month
from reports.selectors.sales import package_sales
from reports.summaries import REBUILD, kept_sql, sales_zone_is_current
from tests.factories import (
    ClientFactory,
    LocationFactory,
    PackageFactory,
    PractitionerFactory,
    TaxRateFactory,
)
from tests.invoicing.helpers import cash, draft, line

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = dt.date(2026, 6, 15)
# Columns of each table that say nothing (a group whose figures all went back to 0).
_FIGURES = {
    "reports_invoicebalance": "balance <> 0",
    "reports_receivableday": "n <> 0 OR balance <> 0",
    "reports_revenueday": "n <> 0 OR net <> 0 OR tax <> 0 OR paid <> 0 OR refunded <> 0",
    "reports_packagesale": "TRUE",
    "reports_saleday": "n <> 0 OR credits <> 0 OR rev_ex <> 0 OR rev_in <> 0",
}


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return sorted(cursor.fetchall(), key=repr)


def assert_tables_rebuild() -> None:
    """Every kept row equals the table rebuilt from scratch (rows of zeros aside)."""
    for table, columns, select in REBUILD:
        where = _FIGURES[table]
        summed = kept_sql(table, columns)
        kept = _rows(f"SELECT * FROM ({summed}) AS t({columns}) WHERE {where}")  # noqa: S608
        fresh = _rows(f"SELECT * FROM ({select}) AS t({columns}) WHERE {where}")  # noqa: S608
        assert kept == fresh, table


def _filters(places) -> list[dict]:
    location, practitioner, other = places
    return [
        {},
        {"location": location},
        {"practitioner": practitioner},
        {"location": location, "practitioner": practitioner},
        {"location": other},
        {"practitioner": PractitionerFactory()},  # nothing at all
    ]


PERIODS = [
    (dt.date(2026, 1, 1), dt.date(2026, 12, 31)),  # whole months
    (dt.date(2026, 5, 1), dt.date(2026, 6, 30)),
    (dt.date(2026, 5, 20), dt.date(2026, 6, 14)),  # part months
    (dt.date(2026, 6, 1), dt.date(2026, 6, 1)),  # one day
    (dt.date(2026, 6, 10), dt.date(2026, 7, 31)),  # a part month then a whole one
    (dt.date(2026, 4, 1), dt.date(2026, 6, 12)),  # whole months then part of one
    (dt.date(2026, 6, 2), dt.date(2026, 6, 30)),
]


def assert_reports_agree(places) -> None:
    assert_tables_rebuild()
    for filters in _filters(places):
        for on in (TODAY - dt.timedelta(days=70), TODAY, TODAY + dt.timedelta(days=40)):
            fast = aged_receivables(on, **filters)
            exact = aged_receivables(on, exact=True, **filters)
            assert fast.buckets == exact.buckets, (on, filters)
            assert fast.total == exact.total
            listed = [
                (r.pk, r.number, r.due_date, r.client_name, r.days_overdue, r.bucket, r.balance)
                for r in fast.listed[0 : fast.total.count + 1]
            ]
            assert listed == [
                (r.pk, r.number, r.due_date, r.client_name, r.days_overdue, r.bucket, r.balance)
                for r in exact.rows
            ], (on, filters)
            assert listed[1:3] == [
                (r.pk, r.number, r.due_date, r.client_name, r.days_overdue, r.bucket, r.balance)
                for r in fast.listed[1:3]
            ]
        for start, end in PERIODS:
            for group_by in ("month", "location", "practitioner"):
                fast_revenue = revenue(start, end, group_by=group_by, **filters)
                exact_revenue = revenue(start, end, group_by=group_by, exact=True, **filters)
                assert fast_revenue == exact_revenue, (start, end, group_by, filters)
    for on in (TODAY, dt.date(2026, 7, 3)):
        for months in (1, 12):
            assert revenue_by_month(months, on) == revenue_by_month(months, on, exact=True)


@pytest.fixture
def places():
    return LocationFactory(name="Main"), PractitionerFactory(name="Sam"), LocationFactory()


def _open(places, *prices, issue, due=None, tax_rate=None, practitioner=None, location=None):
    invoice = draft(
        *prices,
        tax_rate=tax_rate,
        location=location or places[0],
        practitioner=practitioner or places[1],
        issue_date=issue,
    )
    invoice = invoice_finalize(invoice=invoice, by=None)
    if due is not None:
        Invoice.objects.filter(pk=invoice.pk).update(due_date=due)
        invoice.refresh_from_db()
    return invoice


@time_machine.travel(dt.datetime(2026, 6, 15, 2, 0, tzinfo=dt.UTC), tick=False)
def test_every_kind_of_invoicing_change_keeps_the_summaries_exact(places, admin_user):
    gst = TaxRateFactory(rate=D("10.00"))
    other_practitioner = PractitionerFactory(name="Kim")
    assert_reports_agree(places)

    a = _open(places, "100.00", "50.00", issue=dt.date(2026, 3, 3), due=dt.date(2026, 4, 2))
    b = _open(places, "80.00", issue=dt.date(2026, 5, 31), due=dt.date(2026, 6, 14), tax_rate=gst)
    c = _open(
        places,
        "40.00",
        issue=dt.date(2026, 6, 1),
        practitioner=other_practitioner,
        location=places[2],
    )
    free = _open(places, "0.00", issue=dt.date(2026, 6, 2))  # a line of 0: a row of 0
    d = draft("500.00", location=places[0], practitioner=places[1], issue_date=dt.date(2026, 6, 10))
    assert free.lines.get().total_amount == 0
    assert_reports_agree(places)

    # Drafts: lines added, changed and removed count nowhere until finalized.
    added = invoice_line_add(invoice=d, **line("20.00"), by=None)
    invoice_line_update(line=added, unit_price=D("25.00"), by=None)
    assert_reports_agree(places)
    invoice_line_remove(line=d.lines.order_by("pk").first(), by=None)
    invoice_delete(invoice=draft("9.00", location=places[0], practitioner=places[1]), by=None)
    assert_reports_agree(places)
    invoice_finalize(invoice=d, by=None)
    assert_reports_agree(places)

    # Payments in part and in full (Paid), one voided, refunds, a credit note.
    part = payment_record(invoice=a, amount=D("60.00"), method=cash(), by=None)
    assert_reports_agree(places)
    payment_refund(payment=part, amount=D("15.50"), reason="Overcharged", by=None)
    assert_reports_agree(places)
    full = payment_record(invoice=b, amount=D("80.00"), method=cash(), by=None)
    assert Invoice.objects.get(pk=b.pk).status == "paid"
    assert_reports_agree(places)
    payment_refund(payment=full, amount=D("8.00"), reason="Discount", by=None)
    mistake = payment_record(invoice=c, amount=D("10.00"), method=cash(), by=None)
    assert_reports_agree(places)
    payment_void(payment=mistake, by=None)
    assert_reports_agree(places)
    credit_note_issue(
        invoice=a, amount=D("20.00"), reason="Goodwill", date=dt.date(2026, 6, 3), by=admin_user
    )
    assert_reports_agree(places)
    credit_note_issue(invoice=c, amount=D("40.00"), reason="Waived", by=admin_user)  # Paid
    assert_reports_agree(places)

    # Void: its lines and credit notes leave revenue; its payments never counted for
    # it (an invoice with payments is not voided), its balance leaves receivables.
    e = _open(places, "70.00", issue=dt.date(2026, 6, 12), due=dt.date(2026, 6, 12))
    assert_reports_agree(places)
    invoice_void(invoice=e, reason="Wrong client", by=None)
    assert_reports_agree(places)

    # Writes that bypass the services (a bulk load, the admin) are followed too.
    InvoiceLine.objects.filter(invoice=a).update(
        total_amount=D("1.00"), net_amount=D("0.91"), tax_amount=D("0.09")
    )
    assert_reports_agree(places)
    Invoice.objects.filter(pk=a.pk).update(
        location=places[2], practitioner=other_practitioner, due_date=dt.date(2026, 7, 1)
    )
    assert_reports_agree(places)
    Invoice.objects.filter(pk=b.pk).update(issue_date=dt.date(2026, 6, 1))
    Payment.objects.filter(pk=part.pk).update(date=dt.date(2026, 5, 31))
    assert_reports_agree(places)
    Invoice.objects.filter(pk=b.pk).update(status="open")
    assert_reports_agree(places)
    Invoice.objects.filter(pk=e.pk).update(status="open", voided_at=None)
    assert_reports_agree(places)
    InvoiceLine.objects.filter(invoice=e).delete()
    assert_reports_agree(places)


def test_the_app_role_may_only_read_the_summaries(places):
    _open(places, "10.00", issue=dt.date(2026, 6, 1))
    for table, columns, _select in REBUILD:
        first = columns.split(",")[0]
        for sql in (
            f"DELETE FROM {table}",
            f"TRUNCATE {table}",
            f"UPDATE {table} SET {first} = {first}",
            f"INSERT INTO {table} SELECT * FROM {table} LIMIT 1",
        ):
            with (
                pytest.raises(DatabaseError, match="permission denied"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(sql)


def at(moment: str):
    """A local time in Sydney (UTC+11 until 5 April 2026, then UTC+10)."""
    local = dt.datetime.fromisoformat(moment)
    offset = 11 if local < dt.datetime(2026, 4, 5, 3) else 10
    return time_machine.travel(
        local.replace(tzinfo=dt.UTC) - dt.timedelta(hours=offset), tick=False
    )


SALES_PERIODS = [
    (dt.date(2026, 3, 1), dt.date(2026, 3, 31)),
    (dt.date(2026, 2, 28), dt.date(2026, 3, 1)),
    (dt.date(2026, 3, 31), dt.date(2026, 4, 1)),
    (dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
    (dt.date(2026, 4, 1), dt.date(2026, 4, 1)),
]


def assert_sales_agree() -> None:
    assert_tables_rebuild()
    assert sales_zone_is_current()
    for include_tax in (False, True):
        PracticeSettings.objects.filter(pk=1).update(prices_include_tax=include_tax)
        for start, end in SALES_PERIODS:
            for group_by in ("package", "month", "seller"):
                fast = package_sales(start, end, group_by=group_by)
                exact = package_sales(start, end, group_by=group_by, exact=True)
                assert fast == exact, (start, end, group_by, include_tax)


def test_package_sales_follow_sales_cancellations_and_price_changes(
    practice, admin_user, reception
):
    gst = TaxRateFactory(rate=D("10.00"))
    three = PackageFactory(
        name="Three", credits=3, price=D("100.00"), services=[practice.follow_up]
    )
    ten = PackageFactory(
        name="Ten", credits=10, price=D("220.00"), tax_rate=gst, services=[practice.follow_up]
    )
    sold = {}
    with at("2026-02-28 23:30"):  # February in Sydney
        sold["feb"] = practice.sell(three, by=admin_user, client=ClientFactory())
    with at("2026-03-01 00:30"):  # March in Sydney, still February in UTC
        sold["mar"] = practice.sell(ten, by=reception, client=ClientFactory())
    assert_sales_agree()
    with at("2026-03-09 11:00"):
        sold["fixed"] = practice.sell(practice.fixed, by=None, client=ClientFactory())
    with at("2026-03-10 11:00"):
        client_package_adjust(
            client_package=sold["fixed"],
            quantity=2,
            reason="Goodwill",
            service=practice.follow_up,
            by=admin_user,
        )
        client_package_cancel(client_package=sold["mar"], reason="Moved away", by=admin_user)
    assert_sales_agree()
    with at("2026-03-31 23:30"):
        sold["late"] = practice.sell(ten, by=reception, client=ClientFactory())
    with at("2026-04-01 00:30"):
        sold["april"] = practice.sell(three, by=admin_user, client=ClientFactory())
        invoice = invoice_for_client_package(
            client_package=sold["april"],
            practitioner=practice.practitioner,
            location=practice.location,
            by=admin_user,
        )
    assert_sales_agree()
    # Changes written directly, and a tax rate's new rate, are followed.
    ClientPackage.objects.filter(pk=sold["late"].pk).update(price=D("199.99"))
    ClientPackage.objects.filter(pk=sold["feb"].pk).update(created_by=None, tax_rate=gst)
    assert_sales_agree()
    tax_rate_update(tax_rate=gst, name=gst.name, rate=D("15.00"), by=admin_user)
    assert_sales_agree()
    # Filtered by the package's invoice: the exact path, as before.
    filtered = package_sales(
        dt.date(2026, 4, 1), dt.date(2026, 4, 30), group_by="package", location=practice.location
    )
    assert filtered.total.count == 1
    invoice_void(invoice=invoice_finalize(invoice=invoice, by=admin_user), by=admin_user)
    assert_sales_agree()


def test_sales_judged_in_another_zone_are_computed_from_the_ledger(practice, admin_user):
    with at("2026-03-31 23:30"):  # 31 March in Sydney, 31 March 12:30 in UTC
        practice.sell(practice.fixed, by=admin_user, client=ClientFactory())
    with at("2026-04-01 09:30"):  # 1 April in Sydney, still 31 March 22:30 in UTC
        practice.sell(practice.fixed, by=admin_user, client=ClientFactory())
    with override_settings(TIME_ZONE="UTC"):
        assert not sales_zone_is_current()
        report = package_sales(dt.date(2026, 3, 1), dt.date(2026, 3, 31), group_by="month")
        assert report.total.count == 2  # both in March, in UTC
        assert report == package_sales(
            dt.date(2026, 3, 1), dt.date(2026, 3, 31), group_by="month", exact=True
        )
    march = package_sales(dt.date(2026, 3, 1), dt.date(2026, 3, 31), group_by="month")
    assert march.total.count == 1


@pytest.mark.parametrize("size", [1, 6])
def test_the_reports_read_a_few_summary_rows_whatever_the_data(places, size):
    for n in range(size):
        _open(places, "10.00", issue=dt.date(2026, 5, 1 + n), due=dt.date(2026, 5, 20))
    with CaptureQueriesContext(connection) as queries:
        report = aged_receivables(TODAY)
        revenue(dt.date(2025, 7, 1), dt.date(2026, 6, 30))
        revenue_by_month(12, TODAY)
        package_sales(dt.date(2026, 5, 1), dt.date(2026, 5, 31), group_by="package")
    assert report.total == type(report.total)(size, D("10.00") * size)
    # settings, totals; settings, revenue; revenue; settings, sales
    assert len(queries) == 7
    for query in queries:
        assert "invoicing_invoiceline" not in query["sql"]
        assert "packages_creditledgerentry" not in query["sql"]


OLD_INVOICE_ROWS = """{% for row in invoices %}
        <tr data-invoice="{{ row.pk }}">
          <td><a href="{{ row.client_url }}">{{ row.client }}</a></td>
          <td class="nowrap" data-label="Invoice"><a href="{{ row.invoice_url }}">{{ row.number }}</a></td>
          <td class="nowrap report-table__wide" data-label="Due">{{ row.due_date|date:"j M Y"|default:"—" }}</td>
          <td class="num" data-label="Days overdue">{{ row.days_overdue }}</td>
          <td class="nowrap report-table__wide" data-label="Age">{{ row.bucket_label }}</td>
          <td class="num" data-label="Balance">{{ row.money }}</td>
        </tr>
        {% endfor %}"""  # noqa: E501


def test_the_receivables_rows_are_the_html_of_the_template_loop():
    from django.template import engines

    from reports.views.receivables import invoice_rows_html

    invoices = [
        {
            "pk": 7,
            "client": "Ann & <Bo>",
            "client_url": "/clients/3/",
            "number": "INV-0007",
            "invoice_url": "/billing/7/",
            "due_date": dt.date(2026, 3, 9),
            "days_overdue": 98,
            "bucket": "d90_plus",
            "bucket_label": "Over 90 days",
            "money": "$1,250.50",
        },
        {
            "pk": 8,
            "client": "Cy",
            "client_url": "/clients/4/",
            "number": "INV-0008",
            "invoice_url": "/billing/8/",
            "due_date": None,
            "days_overdue": 0,
            "bucket": "current",
            "bucket_label": "Current",
            "money": "$0.01",
        },
    ]
    old = engines["django"].from_string(OLD_INVOICE_ROWS).render({"invoices": invoices})
    assert invoice_rows_html(invoices) == old
    assert "Ann &amp; &lt;Bo&gt;" in old


def _use_sales_zone(name: str) -> None:
    """As the tables' owner (committed at once: undo it with another call)."""
    import psycopg
    from django.conf import settings as django_settings

    from reports.summaries import SALES_ZONE_FUNCTION
    from tests.database import connection_params

    owner_role = django_settings.DATABASE_OWNER
    params = {**connection_params(), "user": owner_role["USER"]}
    params["password"] = owner_role["PASSWORD"] or None
    owner = psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=True)
    with owner:
        owner.execute(SALES_ZONE_FUNCTION.format(zone="'" + name.replace("'", "''") + "'"))
        owner.execute("SELECT reports_refresh_sale(id) FROM packages_clientpackage ORDER BY id")


@pytest.mark.django_db(transaction=True)
def test_migrate_rebuilds_the_sales_when_the_zone_changed(practice, admin_user):
    from django.conf import settings as django_settings

    from kernel.database import as_owner
    from reports.models import PackageSale
    from reports.summaries import sync_sales_zone

    with at("2026-04-01 09:30"):  # 1 April in Sydney, 31 March in UTC
        sold = practice.sell(practice.fixed, by=admin_user, client=ClientFactory())
    april = (dt.date(2026, 4, 1), dt.date(2026, 4, 30))
    expected = package_sales(*april, group_by="month", exact=True)
    assert expected.total.count == 1
    _use_sales_zone("UTC")
    try:
        assert PackageSale.objects.get(client_package_id=sold.pk).day == dt.date(2026, 3, 31)
        assert package_sales(*april, group_by="month") == expected  # from the ledger
        with as_owner():
            assert sync_sales_zone() is True  # what `migrate` runs after its migrations
            assert sync_sales_zone() is False  # nothing to do the second time
    finally:
        _use_sales_zone(django_settings.TIME_ZONE)
    assert PackageSale.objects.get(client_package_id=sold.pk).day == dt.date(2026, 4, 1)
    assert package_sales(*april, group_by="month") == expected
    assert_tables_rebuild()


@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_of_a_day_never_wait_on_each_other(places):
    """Two payments of the same day, location and practitioner touch the same revenue
    (day, month) and receivable (due date) groups: each transaction adds into a slot of its own, so the second one
    commits while the first is still open (no wait, no deadlock), and the sums over the
    slots are exact once both have."""
    import threading

    # Issued on other days: invoicing's own day totals (invoicing_invoicedaytotal, by
    # issue date) are one row per day, not slotted. Paid the same day, due the same day.
    due = TODAY + dt.timedelta(days=30)
    first = _open(places, "100.00", issue=TODAY - dt.timedelta(days=3), due=due)
    second = _open(places, "60.00", issue=TODAY - dt.timedelta(days=2), due=due)
    method = cash()
    paid, release, errors = threading.Event(), threading.Event(), []

    def pay_and_stay_open() -> None:
        try:
            with transaction.atomic():
                payment_record(invoice=first, amount=D("30.00"), method=method, date=TODAY, by=None)
                paid.set()
                assert release.wait(20)
        except BaseException as error:  # noqa: BLE001 (reported by the test)
            errors.append(error)
            paid.set()
        finally:
            connection.close()

    thread = threading.Thread(target=pay_and_stay_open)
    thread.start()
    try:
        assert paid.wait(20)
        assert not errors
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            payment_record(invoice=second, amount=D("60.00"), method=method, date=TODAY, by=None)
            assert Invoice.objects.get(pk=second.pk).status == "paid"
    finally:
        release.set()
        thread.join(20)
    assert not errors
    assert Payment.objects.filter(date=TODAY).count() == 2
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(DISTINCT slot) FROM reports_revenueday WHERE day = %s", [TODAY]
        )
        assert cursor.fetchone()[0] == 2  # each transaction's own slot
    assert_tables_rebuild()
