"""`seed_demo`: a demo practice in every status, consistent with the ledger, run once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from calendar_app.models import Appointment, AppointmentStatus
from clients.models import Client
from demo.management.commands import seed_demo
from invoicing.models import Invoice, Payment, PaymentStatus, Refund
from invoicing.selectors import invoice_display_status, invoices_with_totals
from packages.models import ClientPackage, ClientPackageStatus, ExpiryChange
from packages.selectors import client_packages_with_status
from practice.models import PracticeSettings

pytestmark = pytest.mark.django_db


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def test_seed_demo_creates_a_practice_in_every_status():
    output = seed(clients=40)

    assert PracticeSettings.load().name == "Harbour Physio & Allied Health"
    assert Client.objects.count() == 40
    statuses = set(client_packages_with_status().values_list("status_value", flat=True))
    assert statuses == set(ClientPackageStatus.values)
    shown = {invoice_display_status(invoice) for invoice in invoices_with_totals()}
    assert shown == {"Draft", "Open", "Part paid", "Overdue", "Paid", "Void"}
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

    call_command("check_ledger", stdout=StringIO())


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
    monkeypatch.setattr(seed_demo, "RICH_CLIENTS", 20)
    monkeypatch.setattr(seed_demo, "BATCH", 25)  # several batches

    seed(clients=120, demo_passwords=True)

    assert Client.objects.count() == 120
    bulk = ClientPackage.objects.exclude(client__in=Client.objects.order_by("pk")[:20])
    assert bulk.exists()
    call_command("check_ledger", stdout=StringIO())
    staff = get_user_model().objects.get(username="sam.okafor")
    assert staff.check_password(seed_demo.DEMO_PASSWORD)
