"""The public credit movements of `packages.services`: consume, release, move.

They take an appointment's facts (id, client, service, date), not the appointment: the
caller (`calendar_app.services`) holds the appointment's lock and links or unlinks it.
"""

import pytest
from django.db import transaction
from django.utils import timezone

from calendar_app.models import Appointment
from kernel.errors import DomainError
from packages.models import CreditLedgerEntry, LedgerKind
from packages.selectors import ledger_discrepancies
from packages.services import consume, move, release

pytestmark = pytest.mark.django_db


def _facts(appointment):
    return {
        "appointment_id": appointment.pk,
        "client_id": appointment.client_id,
        "service": appointment.service,
        "on_date": timezone.localdate(appointment.starts_at),
    }


def test_consume_then_release_write_one_ledger_row_each(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception)
    with transaction.atomic():
        consume(client_package_id=sold.pk, **_facts(appointment), by=reception)
    with transaction.atomic():
        release(
            client_package_id=sold.pk,
            appointment_id=appointment.pk,
            service_id=appointment.service_id,
            reason="Given back",
            by=reception,
        )
    rows = CreditLedgerEntry.objects.filter(client_package=sold, appointment_id=appointment.pk)
    assert [(r.kind, r.quantity, r.service_id, r.reason) for r in rows.order_by("id")] == [
        (LedgerKind.CONSUME, -1, practice.follow_up.pk, "Appointment linked"),
        (LedgerKind.RELEASE, 1, practice.follow_up.pk, "Given back"),
    ]
    sold.refresh_from_db()
    assert sold.consumed == 0
    assert ledger_discrepancies([sold.pk]) == []


def test_consume_refuses_what_the_package_does_not_cover(practice, reception):
    sold = practice.sell()
    appointment = practice.book(by=reception, service=practice.massage)
    with pytest.raises(DomainError) as exc:
        consume(client_package_id=sold.pk, **_facts(appointment), by=reception)
    assert exc.value.code == "service_not_covered"
    assert not CreditLedgerEntry.objects.filter(kind=LedgerKind.CONSUME).exists()


def test_move_takes_the_credit_from_one_package_to_another(practice, reception):
    first, second = practice.sell(), practice.sell(practice.flexible)
    appointment = practice.book(by=reception, client_package=first)
    with transaction.atomic():
        paying = move(
            from_package_id=first.pk,
            from_service_id=appointment.service_id,
            to_package_id=second.pk,
            reason="Moved",
            **_facts(appointment),
            by=reception,
        )
        # What the caller (calendar_app) does in the same transaction.
        Appointment.objects.filter(pk=appointment.pk).update(client_package=paying)
    first.refresh_from_db()
    second.refresh_from_db()
    assert paying.pk == second.pk
    assert (first.consumed, second.consumed) == (0, 1)
    kinds = CreditLedgerEntry.objects.filter(reason="Moved").order_by("id")
    assert [(r.client_package_id, r.kind) for r in kinds] == [
        (first.pk, LedgerKind.RELEASE),
        (second.pk, LedgerKind.CONSUME),
    ]
    assert ledger_discrepancies() == []


def test_a_refused_move_is_taken_back_with_the_callers_transaction(practice, reception):
    first = practice.sell()
    canceled = practice.sell(practice.flexible)
    canceled.canceled_at = timezone.now()
    canceled.cancel_reason = "Moved away"
    canceled.save()
    appointment = practice.book(by=reception, client_package=first)
    with pytest.raises(DomainError) as exc, transaction.atomic():
        move(
            from_package_id=first.pk,
            from_service_id=appointment.service_id,
            to_package_id=canceled.pk,
            reason="Moved",
            **_facts(appointment),
            by=reception,
        )
    assert exc.value.code == "package_not_eligible"
    first.refresh_from_db()
    assert first.consumed == 1
    assert ledger_discrepancies() == []


def test_packages_services_know_nothing_of_the_calendar():
    import ast
    from pathlib import Path

    import packages.services

    tree = ast.parse(Path(packages.services.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not any(name and name.startswith("calendar_app") for name in imported)
