"""`python manage.py check_ledger` proves every package's Remaining equals its ledger."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from packages.models import ClientPackage, ClientPackageService

pytestmark = pytest.mark.django_db


def test_check_ledger_passes_when_counters_agree(practice, reception):
    sold = practice.sell()
    practice.book(by=reception, client_package=sold)
    out = io.StringIO()
    call_command("check_ledger", stdout=out)
    assert "All 1 client packages agree with the ledger." in out.getvalue()


def test_check_ledger_reports_each_difference_and_fails(practice):
    sold = practice.sell()
    ClientPackage.objects.filter(pk=sold.pk).update(credits=5)
    ClientPackageService.objects.filter(client_package=sold, service=practice.follow_up).update(
        used=1
    )
    err = io.StringIO()
    with pytest.raises(CommandError, match="2 difference"):
        call_command("check_ledger", stderr=err)
    report = err.getvalue()
    assert f"client package #{sold.pk}: Credits is 5 but the ledger says 4" in report
    assert f"use of service #{practice.follow_up.pk} is 1 but the ledger says 0" in report
