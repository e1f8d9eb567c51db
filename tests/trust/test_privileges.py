"""Append-only by privilege, and history sealed by a hash chain (issue: Trust, finding 3).

The tests run as the app's role, exactly as the app does (tests/conftest.py): every
attack below is made on the test's own connection, as the app would make it. The tables'
owner is reached through a second connection, to show what the triggers and the chain
add for the one role privileges cannot stop.
"""

from __future__ import annotations

import io

import pgtrigger
import psycopg
import pytest
from django.conf import settings
from django.core import checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from calendar_app.models import Appointment
from calendar_app.services import appointment_unlink
from kernel.database import append_only_tables, check_separate_roles
from packages.models import CreditLedgerEntry
from packages.selectors import ChainBreak, LinkDiscrepancy, ledger_discrepancies
from packages.services import client_package_adjust
from tests.database import connection_params

LEDGER = CreditLedgerEntry._meta.db_table


def _refused(*statements: str) -> str:
    """Run the statements as the app, in a transaction; return PostgreSQL's refusal."""
    with (
        pytest.raises(DatabaseError) as refusal,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        for sql in statements:
            cursor.execute(sql)
    return str(refusal.value)


def _owner() -> psycopg.Connection:
    """A connection of the tables' owner to the test database."""
    params = {**connection_params(), "user": settings.DATABASE_OWNER["USER"]}
    params["password"] = settings.DATABASE_OWNER["PASSWORD"] or None
    return psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=True)


def _ledger_pgid() -> str:
    trigger = next(t for t in CreditLedgerEntry._meta.triggers if t.name == "ledger_append_only")
    return trigger.get_pgid(CreditLedgerEntry)


def test_the_app_does_not_own_its_tables(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == settings.DATABASE_APP_ROLE


def test_the_append_only_tables_are_the_protected_ones():
    tables = append_only_tables()
    assert {LEDGER, "packages_expirychange", "clients_clientaccess"} <= set(tables)
    # Every audit event table too (pghistory's append_only).
    assert "packages_creditledgerentryevent" in tables
    assert "clients_clientevent" in tables


@pytest.mark.django_db
def test_the_app_may_only_read_and_insert_append_only_tables():
    with connection.cursor() as cursor:
        for table in append_only_tables():
            cursor.execute(
                "SELECT has_table_privilege(current_user, %s, 'SELECT'),"
                " has_table_privilege(current_user, %s, 'INSERT'),"
                " has_table_privilege(current_user, %s, 'UPDATE'),"
                " has_table_privilege(current_user, %s, 'DELETE'),"
                " has_table_privilege(current_user, %s, 'TRUNCATE')",
                [table] * 5,
            )
            assert cursor.fetchone() == (True, True, False, False, False), table


def test_ignoring_the_trigger_does_not_let_the_app_delete_a_ledger_row(practice):
    sold = practice.sell()
    row = CreditLedgerEntry.objects.filter(client_package=sold).first()
    # pgtrigger's own bypass, and the raw SET LOCAL the review used.
    with (
        pgtrigger.ignore("packages.CreditLedgerEntry:ledger_append_only"),
        pytest.raises(DatabaseError, match="permission denied"),
        transaction.atomic(),
    ):
        CreditLedgerEntry.objects.filter(pk=row.pk).delete()
    refusal = _refused(
        f"SET LOCAL pgtrigger.ignore = '{{{_ledger_pgid()}}}'",
        f"DELETE FROM {LEDGER} WHERE id = {row.pk}",  # noqa: S608
    )
    assert "permission denied" in refusal
    assert CreditLedgerEntry.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize(
    "statement",
    [
        f"ALTER TABLE {LEDGER} DISABLE TRIGGER ALL",
        f"ALTER TABLE {LEDGER} DISABLE TRIGGER USER",
        f"TRUNCATE {LEDGER} CASCADE",
        f"DROP TABLE {LEDGER} CASCADE",
        f"ALTER TABLE {LEDGER} OWNER TO CURRENT_USER",
        f"UPDATE {LEDGER} SET reason = 'changed'",
    ],
)
def test_the_app_cannot_disable_truncate_drop_or_rewrite_the_ledger(practice, statement):
    practice.sell()
    before = list(CreditLedgerEntry.objects.values_list("id", "reason", "chain_hash"))
    refusal = _refused(statement)
    assert "permission denied" in refusal or "must be owner" in refusal
    assert list(CreditLedgerEntry.objects.values_list("id", "reason", "chain_hash")) == before


@pytest.mark.django_db
def test_the_app_cannot_change_the_migration_history():
    assert "permission denied" in _refused("DELETE FROM django_migrations")


def test_the_owner_is_still_refused_by_the_trigger(transactional_db, practice):
    sold = practice.sell()
    with _owner() as owner, pytest.raises(psycopg.errors.RaiseException, match="Cannot"):
        owner.execute(f"DELETE FROM {LEDGER} WHERE client_package_id = %s", [sold.pk])  # noqa: S608


def test_the_owner_bypassing_the_trigger_is_caught_by_the_hash_chain(
    transactional_db, practice, reception
):
    sold = practice.sell()
    practice.book(by=reception, client_package=sold)
    practice.book(by=reception, client_package=sold, days=2)
    assert ledger_discrepancies() == []
    rows = list(CreditLedgerEntry.objects.filter(client_package=sold).order_by("id"))
    with _owner() as owner:
        owner.execute(f"ALTER TABLE {LEDGER} DISABLE TRIGGER USER")
        owner.execute(
            f"UPDATE {LEDGER} SET reason = 'nothing to see' WHERE id = %s",  # noqa: S608
            [rows[1].pk],
        )
        owner.execute(f"ALTER TABLE {LEDGER} ENABLE TRIGGER USER")
    assert ChainBreak(sold.pk, rows[1].pk) in ledger_discrepancies()
    err = io.StringIO()
    with pytest.raises(CommandError, match="difference"):
        call_command("check_ledger", stderr=err)
    assert f"ledger row #{rows[1].pk} does not follow its hash chain" in err.getvalue()


def test_a_ledger_row_removed_from_the_middle_breaks_the_chain(
    transactional_db, practice, reception
):
    sold = practice.sell()
    first = practice.book(by=reception, client_package=sold)
    practice.book(by=reception, client_package=sold, days=2)
    consume = CreditLedgerEntry.objects.get(appointment=first, kind="consume")
    after = CreditLedgerEntry.objects.filter(client_package=sold, id__gt=consume.pk).first()
    with _owner() as owner:
        owner.execute(f"ALTER TABLE {LEDGER} DISABLE TRIGGER USER")
        owner.execute(f"DELETE FROM {LEDGER} WHERE id = %s", [consume.pk])  # noqa: S608
        owner.execute(f"ALTER TABLE {LEDGER} ENABLE TRIGGER USER")
    found = ledger_discrepancies([sold.pk])
    assert ChainBreak(sold.pk, after.pk) in found
    # The counters and the link now disagree with the ledger as well.
    assert LinkDiscrepancy(sold.pk, first.pk, True, 0) in found


def test_every_row_the_app_writes_is_sealed(practice, reception, admin_user):
    sold = practice.sell(practice.flexible)
    appointment = practice.book(by=reception, client_package=sold)
    appointment_unlink(appointment=appointment, by=reception)
    client_package_adjust(client_package=sold, quantity=2, reason="Goodwill", by=admin_user)
    rows = CreditLedgerEntry.objects.filter(client_package=sold)
    assert rows.count() == 4  # grant, consume, release, adjust
    assert all(len(row.chain_hash) == 64 for row in rows)
    assert ledger_discrepancies([sold.pk]) == []


def test_a_link_without_its_consume_is_reported(practice, reception):
    sold = practice.sell()
    linked = practice.book(by=reception, client_package=sold)
    unlinked = practice.book(by=reception, days=3)
    # The app may update appointments; pretend a bug linked one without consuming, and
    # cleared another's link without releasing.
    Appointment.objects.filter(pk=unlinked.pk).update(client_package=sold)
    Appointment.objects.filter(pk=linked.pk).update(client_package=None)
    found = ledger_discrepancies([sold.pk])
    assert LinkDiscrepancy(sold.pk, unlinked.pk, True, 0) in found
    assert LinkDiscrepancy(sold.pk, linked.pk, False, 1) in found
    assert "is linked to it but the ledger holds 0 net consume(s)" in str(
        LinkDiscrepancy(sold.pk, unlinked.pk, True, 0)
    )


def test_a_single_role_setup_is_warned_about(settings):
    settings.DATABASE_OWNER = None
    warnings = check_separate_roles()
    assert [w.id for w in warnings] == ["caspen.W001"]
    assert isinstance(warnings[0], checks.Warning)
