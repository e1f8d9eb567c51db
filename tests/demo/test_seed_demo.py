"""`seed_demo`: a demo practice in every status, consistent with the ledger, run once."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from calendar_app.models import Appointment, AppointmentStatus
from catalog.models import PackageKind, PeriodUnit
from clients.models import Client
from demo import data
from invoicing.models import Invoice, Payment, PaymentStatus, Refund
from invoicing.selectors import invoice_display_status, invoices_with_totals
from invoicing.services import payment_record
from packages.models import (
    ClientPackage,
    ClientPackageStatus,
    CreditLedgerEntry,
    ExpiryChange,
    LedgerKind,
)
from packages.selectors import client_packages_with_status, ledger_discrepancies
from packages.services import client_package_assign, client_package_snapshot
from practice.models import PracticeSettings
from reports.selectors.liability import package_liability
from tests.factories import ClientFactory, PackageFactory, ServiceFactory
from tests.invoicing.helpers import cash
from tests.invoicing.test_day_totals import assert_day_totals_rebuild
from tests.reports.test_money_summaries import assert_tables_rebuild

pytestmark = pytest.mark.django_db


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def assert_ledger_agrees() -> None:
    out = StringIO()
    call_command("check_ledger", stdout=out)  # raises when a package disagrees
    assert "agree with the ledger" in out.getvalue()


def sale(client_package: ClientPackage) -> dict:
    """What a sale wrote, without its ids, client and timestamps."""
    return {
        "package": client_package.package_id,
        **{
            name: getattr(client_package, name)
            for name in (
                "name",
                "kind",
                "price",
                "tax_rate_id",
                "credits",
                "consumed",
                "start_date",
                "expires_on",
                "canceled_at",
                "cancel_reason",
                "created_by_id",
            )
        },
        "services": list(
            client_package.services.order_by("id").values_list(
                "service_id", "name", "allowance", "used"
            )
        ),
        "ledger": list(
            client_package.ledger.order_by("id").values_list(
                "kind", "quantity", "service_id", "appointment_id", "reason", "created_by_id"
            )
        ),
    }


def test_seed_demo_creates_a_practice_in_every_status():
    output = seed(clients=40)

    assert PracticeSettings.load().name == "Harbour Physio & Allied Health"
    assert Client.objects.count() == 40
    statuses = set(client_packages_with_status().values_list("status_value", flat=True))
    assert statuses == set(ClientPackageStatus.values)
    shown = {invoice_display_status(invoice) for invoice in invoices_with_totals()}
    assert shown == {"Draft", "Open", "Part paid", "Overdue", "Paid", "Void"}
    # Refunds, a voided payment and a void invoice among them: the summaries kept exact.
    assert_tables_rebuild()
    assert_day_totals_rebuild()
    assert set(Appointment.objects.values_list("status", flat=True)) == set(
        AppointmentStatus.values
    )
    assert Appointment.objects.filter(client_package__isnull=False).exists()
    assert Appointment.objects.filter(series__isnull=False).exists()
    assert ExpiryChange.objects.exists()
    assert Refund.objects.exists()
    assert Payment.objects.filter(status=PaymentStatus.VOID).exists()
    # Numbers follow the issue dates.
    finalized = Invoice.objects.exclude(number=None).order_by("number")
    dates = list(finalized.values_list("issue_date", flat=True))
    assert dates == sorted(dates)
    # Staff without --demo-passwords cannot sign in.
    staff = get_user_model().objects.filter(username="rosa.nguyen").get()
    assert staff.groups.filter(name="Reception").exists()
    assert not staff.has_usable_password()
    assert "Demo practice ready" in output

    assert_ledger_agrees()


def test_if_empty_does_nothing_the_second_time():
    seed(clients=40)
    counts = [m.objects.count() for m in (Client, ClientPackage, Appointment, Invoice, Payment)]

    output = seed(clients=40, if_empty=True)

    assert "did nothing" in output
    assert [m.objects.count() for m in (Client, ClientPackage, Appointment, Invoice, Payment)] == (
        counts
    )
    with pytest.raises(CommandError, match="already has clients"):
        seed(clients=40)


def test_bulk_clients_get_packages_consistent_with_the_ledger(monkeypatch, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed
    monkeypatch.setattr(data, "RICH_CLIENTS", 20)
    monkeypatch.setattr(data, "BATCH", 25)  # several batches

    seed(clients=120, demo_passwords=True)

    assert Client.objects.count() == 120
    bulk = ClientPackage.objects.exclude(client__in=Client.objects.order_by("pk")[:20])
    assert bulk.exists()
    assert_ledger_agrees()
    staff = get_user_model().objects.get(username="sam.okafor")
    assert staff.check_password(data.DEMO_PASSWORD)


def test_bulk_sales_are_what_a_sale_through_the_service_writes(monkeypatch):
    """The bulk path saves `client_package_snapshot`, the builder `client_package_assign`
    saves: for the same catalog package and start date, the same rows."""
    monkeypatch.setattr(data, "RICH_CLIENTS", 20)
    seed(clients=80)
    bulk = list(
        ClientPackage.objects.exclude(client__in=Client.objects.order_by("pk")[:20]).order_by("pk")
    )
    one_per_package = {cp.package_id: cp for cp in bulk}.values()
    assert {cp.kind for cp in one_per_package} == set(PackageKind.values)

    buyer = ClientFactory()
    for bulk_sale in one_per_package:
        sold = client_package_assign(
            client=buyer, package=bulk_sale.package, start_date=bulk_sale.start_date, by=None
        )
        assert sale(sold) == sale(bulk_sale)
    assert_ledger_agrees()


def test_the_snapshot_is_pure_and_the_service_saves_it(django_assert_num_queries):
    first, second = ServiceFactory(), ServiceFactory()
    fixed = PackageFactory(
        kind=PackageKind.FIXED,
        allowances={first: 1, second: 2},
        expires_after_value=3,
        expires_after_unit=PeriodUnit.MONTHS,
    )
    included = list(fixed.package_services.select_related("service").order_by("id"))
    client = ClientFactory()
    start = dt.date(2026, 1, 15)

    with django_assert_num_queries(0):
        client_package, services, grants = client_package_snapshot(
            client=client, package=fixed, included=included, start_date=start
        )

    assert client_package.pk is None
    assert [(s.service, s.allowance) for s in services] == [(first, 1), (second, 2)]
    assert [(g.kind, g.service, g.quantity) for g in grants] == [
        (LedgerKind.GRANT, first, 1),
        (LedgerKind.GRANT, second, 2),
    ]
    sold = client_package_assign(client=client, package=fixed, start_date=start, by=None)
    assert sold.expires_on == client_package.expires_on == dt.date(2026, 4, 15)
    assert [(s.service_id, s.allowance) for s in sold.services.order_by("id")] == [
        (first.pk, 1),
        (second.pk, 2),
    ]


LINES = ("opening", "sold", "redeemed", "expired", "canceled", "adjusted", "closing")


def held_by_packages(day: dt.date) -> tuple[int, Decimal]:
    """What the client packages hold at the end of `day` (today), package by package:
    P - round_half_up(P × consumed ÷ credits) for each live package, P net of tax."""
    include_tax = PracticeSettings.load().prices_include_tax
    credits, value = 0, Decimal("0.00")
    for sold in ClientPackage.objects.select_related("tax_rate"):
        if sold.canceled_at is not None or sold.credits == 0:
            continue
        if sold.expires_on is not None and day > sold.expires_on:
            continue
        price = sold.price
        if include_tax and sold.tax_rate is not None:
            rate = sold.tax_rate.rate
            price -= (price * rate / (100 + rate)).quantize(Decimal("0.01"), ROUND_HALF_UP)
        used = (price * sold.consumed / sold.credits).quantize(Decimal("0.01"), ROUND_HALF_UP)
        credits += sold.credits - sold.consumed
        value += price - used
    return credits, value


def test_large_size_builds_a_year_of_history_the_ledger_and_the_report_agree_with(
    monkeypatch, settings
):
    """`--size large` on a small scale (few clients, the same code path): every stage
    reports its count and time; the ledger agrees with the packages and their
    appointments and follows its hash chain; every line of the liability report has
    data, its identity holds and its closing balance is what the packages hold."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed
    monkeypatch.setattr(data, "RICH_CLIENTS", 20)

    output = seed(size="large", clients=400)
    # Inside the test's transaction the seed stays the app's: the triggers kept the
    # summaries row by row (the owner's path: the next test).
    assert re.search(
        r"^Year: invoices and payments: .*, summaries kept row by row \(", output, re.M
    )
    assert_tables_rebuild()
    assert_day_totals_rebuild()

    for stage in (
        "Year: practitioners and locations",
        "Year: plan",
        "Year: client packages",
        "Year: appointments",
        "Year: credit ledger",
        "Year: invoices and payments",
        "Planner statistics",
    ):
        assert re.search(rf"^{stage}: \d+ .*\(\d+\.\ds\)$", output, re.MULTILINE), stage
    assert re.search(r"^Rows: 400 clients, [\d,]+ appointments, .* ledger rows", output, re.M)
    assert Client.objects.count() == 400
    assert ledger_discrepancies() == []
    assert_ledger_agrees()
    assert set(CreditLedgerEntry.objects.values_list("kind", flat=True)) == set(LedgerKind.values)
    assert set(Appointment.objects.values_list("status", flat=True)) == set(
        AppointmentStatus.values
    )
    assert ExpiryChange.objects.count() > 1
    assert ClientPackage.objects.filter(canceled_at__isnull=False).count() > 1
    # Invoices numbered without gaps or duplicates, some still owed.
    numbers = Invoice.objects.exclude(number=None).count()
    assert PracticeSettings.load().invoice_next_number == numbers + 1
    assert invoices_with_totals(Invoice.objects.filter(status="open")).filter(balance__gt=0)

    today = timezone.localdate()
    year = package_liability(today - dt.timedelta(days=364), today)
    for line in LINES:
        assert getattr(year, line).credits != 0, line
        assert getattr(year, line).value != 0, line
    for figure in ("credits", "value"):
        o, s_, r, e, x, a, c = (getattr(getattr(year, line), figure) for line in LINES)
        assert o + s_ - r - e - x + a == c
    assert (year.closing.credits, year.closing.value) == held_by_packages(today)
    month_end = today.replace(day=1) - dt.timedelta(days=1)
    last_month = package_liability(month_end.replace(day=1), month_end)
    this_month = package_liability(month_end + dt.timedelta(days=1), today)
    assert last_month.closing == this_month.opening
    assert this_month.closing == year.closing


SUMMARY_ROW_TRIGGERS = {
    (table, trigger)
    for table in ("invoicing_invoice", "invoicing_invoiceline", "invoicing_payment")
    for trigger in ("reports_money", "invoicing_day_total")
}


def summary_triggers() -> dict[tuple[str, str], str]:
    """`pg_trigger.tgenabled` of each summary row trigger on the year's invoice tables
    ('O': fires; 'D': disabled)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgname, tgenabled FROM pg_trigger "
            "WHERE tgname IN ('reports_money', 'invoicing_day_total')"
        )
        found = {(table, name): enabled for table, name, enabled in cursor.fetchall()}
    return {key: enabled for key, enabled in found.items() if key in SUMMARY_ROW_TRIGGERS}


@pytest.mark.django_db(transaction=True)
def test_a_year_of_history_leaves_every_summary_as_a_rebuild_and_the_triggers_on(
    monkeypatch, settings
):
    """Seeded in its own transaction, the year is written as the tables' owner, its
    invoices, lines and payments copied with the summaries' row triggers off and the
    summaries refilled after (demo.copy.summaries_rebuilt): every money summary and the
    billing day totals then equal a rebuild from scratch, and once committed the
    triggers fire again for the app's next payment."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed
    monkeypatch.setattr(data, "RICH_CLIENTS", 20)
    assert set(summary_triggers().values()) == {"O"}

    output = seed(size="large", clients=400)

    assert re.search(r"^Year: invoices and payments: .*, summaries rebuilt \(", output, re.M)
    assert summary_triggers() == dict.fromkeys(SUMMARY_ROW_TRIGGERS, "O")
    assert_tables_rebuild()
    assert_day_totals_rebuild()
    # The refilled day summaries are in slot 0, as the migration fills them.
    with connection.cursor() as cursor:
        for table in ("reports_receivableday", "reports_revenueday"):
            cursor.execute(f"SELECT DISTINCT slot FROM {table}")  # noqa: S608
            assert cursor.fetchall() == [(0,)], table
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user = %s", [settings.DATABASE_APP_ROLE])
        assert cursor.fetchone()[0]  # the app's connection again

    # A payment now: were the triggers still off, the summaries would miss it.
    owing = invoices_with_totals(Invoice.objects.filter(status="open")).filter(balance__gt=0)
    payment_record(invoice=owing.first(), amount=Decimal("1.00"), method=cash(), by=None)
    assert_tables_rebuild()
    assert_day_totals_rebuild()


def test_the_demo_pilates_class_shows_6_of_8_with_four_on_their_passes():
    """Issue 12, done when: the clinical pilates class of the next working day."""
    from calendar_app.models import ClassSession
    from catalog.models import Service

    seed(clients=40)
    pilates = Service.objects.get(name="Clinical pilates class")
    assert pilates.capacity == 8
    full = [
        session
        for session in ClassSession.objects.filter(service=pilates, starts_at__gt=timezone.now())
        if session.attendees.exclude(status=AppointmentStatus.CANCELED).count() == 6
    ]
    assert len(full) == 1
    attendees = full[0].attendees.select_related("client_package")
    on_pass = [a for a in attendees if a.client_package is not None]
    assert len(on_pass) == 4
    assert {a.client_package.name for a in on_pass} == {"Pilates 10-class pass"}
    assert all(a.client_package.client_id == a.client_id for a in on_pass)
    assert_ledger_agrees()
