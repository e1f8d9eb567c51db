"""Re-create what the data migrations put in the database.

Tests that commit (live server, races) run with `transaction=True`, and pytest-django
empties every table after each of them, including the roles, payment methods, tax
rates, cancellation reasons and practice settings that migrations created.
"""

from __future__ import annotations

import importlib

from django.apps import apps

from practice import roles

_DATA_MIGRATIONS = [
    "invoicing.migrations.0002_default_payment_methods",
    "catalog.migrations.0002_default_tax_rates",
    "calendar_app.migrations.0003_default_cancellation_reasons",
    "practice.migrations.0003_practice_settings_row",
]


def ensure_default_data() -> None:
    from django.contrib.auth.models import Group

    if Group.objects.count() < len(roles.ROLES):
        roles.sync_roles(apps)
    for path in _DATA_MIGRATIONS:
        importlib.import_module(path).create(apps, None)
