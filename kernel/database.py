"""Two database roles: the app's, which may not rewrite history, and the owner's.

The app connects as a role that does not own the tables (`DATABASE_URL`), and migrations
run as the role that does (`DATABASE_OWNER_URL`). After every `migrate` the owner grants
the app role what it needs: read and write on every table, except that on append-only
tables (any model with a protect trigger against update or delete: the credit ledger,
expiry changes, the access log, every audit event table) it may only read and insert, and
on `django_migrations` and on tables only the database itself writes (models with
`app_read_only = True`: read models kept by triggers) only read. So neither `SET LOCAL pgtrigger.ignore`, nor
`ALTER TABLE ... DISABLE TRIGGER`, nor `TRUNCATE` lets the app (or anyone who gets hold
of its connection) change or remove a recorded row: PostgreSQL refuses them by privilege,
before any trigger runs.

Without `DATABASE_OWNER_URL` the app is its own owner, and append-only rests on the
triggers alone (a system check warns; `make run` and `make test` always use two roles).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pgtrigger
from django.apps import apps
from django.conf import settings
from django.core import checks
from django.db import connections, transaction

# Table privileges PostgreSQL knows; the app role gets a subset.
READ_WRITE = "SELECT, INSERT, UPDATE, DELETE"
APPEND_ONLY_REFUSED = "UPDATE, DELETE, TRUNCATE"


def owner_credentials() -> dict[str, str] | None:
    """USER and PASSWORD of the tables' owner (None when the app is its own owner)."""
    return getattr(settings, "DATABASE_OWNER", None)


def app_role() -> str | None:
    """The role the app runs as, when it is not the owner."""
    return getattr(settings, "DATABASE_APP_ROLE", None)


@contextlib.contextmanager
def as_owner(alias: str = "default") -> Iterator[None]:
    """Run the block on a connection of the tables' owner (same server and database).

    For migrations and other schema work (`migrate`, `flush`). Outside the block the
    connection is the app's again. Does nothing when no owner is configured or the
    connection already is the owner's.
    """
    owner = owner_credentials()
    connection = connections[alias]
    current = connection.settings_dict
    if owner is None or current.get("USER") == owner["USER"]:
        yield
        return
    saved = {key: current.get(key) for key in owner}
    connection.close()
    current.update(owner)
    try:
        yield
    finally:
        connection.close()
        current.update(saved)


def append_only_tables() -> list[str]:
    """Tables of every model protected against UPDATE or DELETE by a trigger."""
    tables = []
    for model in apps.get_models(include_auto_created=True):
        for trigger in getattr(model._meta, "triggers", []):
            if isinstance(trigger, pgtrigger.Protect) and (
                "UPDATE" in str(trigger.operation) or "DELETE" in str(trigger.operation)
            ):
                tables.append(model._meta.db_table)
                break
    return sorted(set(tables))


def read_only_tables() -> list[str]:
    """Tables of models marked `app_read_only`: read models the database keeps itself
    (its triggers call SECURITY DEFINER functions owned by the tables' owner)."""
    return sorted(
        model._meta.db_table
        for model in apps.get_models()
        if getattr(model, "app_read_only", False)
    )


def grant_app_privileges(alias: str = "default", role: str | None = None) -> str | None:
    """As the owner, give the app role its privileges (run after every migrate).

    Returns the role granted to, or None when there is no separate app role.
    """
    role = role or app_role()
    connection = connections[alias]
    if not role or role == connection.settings_dict.get("USER"):
        return None
    quote = connection.ops.quote_name
    who = quote(role)
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {who}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who}",
        f"GRANT {READ_WRITE} ON ALL TABLES IN SCHEMA public TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}",
        f"REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {who}",
    ]
    statements += [
        f"REVOKE {APPEND_ONLY_REFUSED} ON {quote(table)} FROM {who}"
        for table in append_only_tables()
    ]
    statements += [
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {quote(table)} FROM {who}"
        for table in read_only_tables()
    ]
    # One transaction: the app never sees its privileges half-granted.
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
    return role


def grant_after_migrate(sender, using: str = "default", **kwargs) -> None:
    """post_migrate receiver. Django sends the signal once per app with models; grant
    once, after the last of them (every table exists by then)."""
    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if with_models and sender is with_models[-1]:
        grant_app_privileges(using)


@checks.register(checks.Tags.security, deploy=True)
def check_separate_roles(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if owner_credentials() is None:
        return [
            checks.Warning(
                "The app connects to PostgreSQL as the owner of its tables, so append-only "
                "tables are protected by triggers only.",
                hint="Set DATABASE_OWNER_URL to the owner's connection and DATABASE_URL to a "
                "role that does not own the tables (README: Deploy).",
                id="caspen.W001",
            )
        ]
    return []
