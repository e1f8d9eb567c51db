"""A GET's queries skip pghistory's per-query wrapper (issue 10), yet a change made while
serving a GET is still recorded with who, where from and how."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from pghistory import runtime as pghistory_runtime

from clients.models import Client
from kernel.middleware import AuditContextMiddleware
from tests.audit.helpers import events_of

pytestmark = pytest.mark.django_db


def _serve(method: str, user, view):
    request = getattr(RequestFactory(), method.lower())("/somewhere/", REMOTE_ADDR="198.51.100.7")
    request.user = user
    return AuditContextMiddleware(view)(request)


def test_a_get_that_writes_records_who_and_where(admin_user):
    def view(request):
        Client.objects.filter(pk=0).exists()  # reads first: no context yet
        return Client.objects.create(first_name="Gia", last_name="Get")

    client = _serve("GET", admin_user, view)
    event = events_of("clients.ClientEvent").get(pgh_obj_id=client.pk, pgh_label="insert")
    assert event.pgh_context["user"] == admin_user.pk
    assert event.pgh_context["method"] == "GET"
    assert event.pgh_context["url"] == "/somewhere/"
    assert event.pgh_context["ip"] == "198.51.100.7"


def test_a_get_that_only_reads_opens_no_audit_context(admin_user):
    def view(request):
        list(Client.objects.all()[:5])
        return hasattr(pghistory_runtime._tracker, "value")

    assert _serve("GET", admin_user, view) is False
    assert _serve("POST", admin_user, lambda request: hasattr(pghistory_runtime._tracker, "value"))


def test_a_post_still_records_its_context(admin_user):
    def view(request):
        return Client.objects.create(first_name="Pia", last_name="Post")

    client = _serve("POST", admin_user, view)
    event = events_of("clients.ClientEvent").get(pgh_obj_id=client.pk, pgh_label="insert")
    assert event.pgh_context["user"] == admin_user.pk and event.pgh_context["method"] == "POST"
