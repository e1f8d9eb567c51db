"""Issue 10: the reports' Location and Practitioner lists are kept per process under the
settings version, which triggers bump with any change of either table: once kept, a
report reads neither, and a change shows on the next request."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calendar_app.models import Location, Practitioner
from tests.factories import LocationFactory

pytestmark = pytest.mark.django_db

NAMES = ("FROM calendar_app_location", "FROM calendar_app_practitioner")


def _expiring(client) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/reports/expiring/")
    assert response.status_code == 200
    reads = [q["sql"] for q in queries.captured_queries if any(n in q["sql"] for n in NAMES)]
    return response.content.decode(), reads


def test_filter_lists_are_kept_and_follow_every_change(client, accountant, practice):
    client.force_login(accountant)
    _expiring(client)
    html, reads = _expiring(client)
    assert reads == []  # kept
    assert "Harbour Room" not in html
    LocationFactory(name="Harbour Room")
    html, reads = _expiring(client)
    assert '">Harbour Room</option>' in html and len(reads) == 1
    Practitioner.objects.filter(pk=practice.practitioner.pk).update(name="Dr Renamed")
    html, _ = _expiring(client)
    assert '">Dr Renamed</option>' in html
    Location.objects.filter(name="Harbour Room").delete()
    html, _ = _expiring(client)
    assert "Harbour Room" not in html
