"""What each request no longer pays for (issue 10), and that nothing kept is ever stale:
sessions are written only when they change (or once a minute, to move the idle expiry),
permissions, role names and the currency are kept per process under version counters
that PostgreSQL bumps in the same transaction as the change."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from practice import roles, versions
from practice.models import PracticeSettings
from tests.factories import PackageFactory, UserFactory

pytestmark = pytest.mark.django_db


def _get(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response, [q["sql"] for q in queries.captured_queries]


@pytest.fixture
def rita(roles_exist):
    return UserFactory(username="rita-kept", role=roles.RECEPTION)


def test_a_signed_in_get_writes_no_session_and_reads_no_permissions_twice(client, rita):
    client.force_login(rita)
    client.get("/clients/")  # the first request stamps the session once
    response, sql = _get(client, "/clients/")
    assert response.status_code == 200
    assert not [s for s in sql if "django_session" in s and not s.startswith("SELECT")]
    assert not [s for s in sql if "auth_permission" in s or "auth_group" in s]
    # The version counters come with the signed-in user's row: no query of their own.
    assert not [s for s in sql if s.startswith("SELECT auth, settings")]
    assert [s for s in sql if "caspen_config_version" in s and '"auth_user"' in s]


def test_the_idle_expiry_moves_forward_at_most_once_a_minute(client, rita):
    start = dt.datetime.now(tz=dt.UTC)
    with time_machine.travel(start, tick=False):
        client.force_login(rita)
        client.get("/clients/")
    with time_machine.travel(start + dt.timedelta(seconds=30), tick=False):
        _, sql = _get(client, "/clients/")
        assert not [s for s in sql if s.startswith("UPDATE") and "django_session" in s]
    # Active every 20 minutes: the session lives on past the idle timeout from sign-in.
    for minutes in (20, 40, 60):
        with time_machine.travel(start + dt.timedelta(minutes=minutes), tick=False):
            response, sql = _get(client, "/clients/")
            assert response.status_code == 200
            assert [s for s in sql if s.startswith("UPDATE") and "django_session" in s]
    idle = dt.timedelta(minutes=60, seconds=settings.SESSION_COOKIE_AGE + 1)
    with time_machine.travel(start + idle, tick=False):
        response = client.get("/clients/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_a_permission_change_applies_on_the_next_request(client, rita):
    client.force_login(rita)
    assert client.get("/clients/").status_code == 200
    group = Group.objects.get(name=roles.RECEPTION)
    view_client = Permission.objects.get(content_type__app_label="clients", codename="view_client")
    group.permissions.remove(view_client)
    assert client.get("/clients/").status_code == 403
    group.permissions.add(view_client)
    assert client.get("/clients/").status_code == 200
    assert client.get("/reports/").status_code == 403
    rita.groups.set([Group.objects.get(name=roles.ACCOUNTANT)])
    assert client.get("/reports/").status_code == 200


def test_the_role_name_in_the_top_bar_follows_the_users_group(client, rita):
    client.force_login(rita)
    assert "· Reception" in client.get("/clients/").content.decode()
    rita.groups.set([Group.objects.get(name=roles.PRACTITIONER)])
    page = client.get("/clients/").content.decode()
    assert "· Practitioner" in page and "· Reception" not in page


def test_permissions_read_inside_a_rolled_back_change_are_not_kept(client, rita):
    client.force_login(rita)
    assert client.get("/clients/").status_code == 200
    group = Group.objects.get(name=roles.RECEPTION)
    view_client = Permission.objects.get(content_type__app_label="clients", codename="view_client")
    with versions.versions_scope(), pytest.raises(RuntimeError), transaction.atomic():
        group.permissions.remove(view_client)
        fresh = type(rita).objects.get(pk=rita.pk)
        assert not fresh.has_perm("clients.view_client")
        raise RuntimeError("roll back")
    assert client.get("/clients/").status_code == 200


def test_a_currency_change_shows_on_the_next_page(client, admin_user):
    package = PackageFactory(price="12.50")
    PracticeSettings.load()
    PracticeSettings.objects.filter(pk=1).update(currency="AUD")
    client.force_login(admin_user)
    url = f"/catalog/packages/{package.pk}/"
    assert "$12.50" in client.get(url).content.decode()
    PracticeSettings.objects.filter(pk=1).update(currency="GBP")
    assert "£12.50" in client.get(url).content.decode()


def test_a_settings_change_that_keeps_the_currency_bumps_nothing(roles_exist):
    PracticeSettings.load()
    before = versions._read()
    PracticeSettings.objects.filter(pk=1).update(invoice_next_number=500)
    assert versions._read() == before
    PracticeSettings.objects.filter(pk=1).update(currency="NZD")
    after = versions._read()
    assert after.settings != before.settings and after.auth == before.auth


def test_the_session_and_its_user_are_read_in_one_query(client, rita):
    client.force_login(rita)  # this process notes which user the session names
    for _ in range(2):
        response, sql = _get(client, "/clients/")
        assert response.status_code == 200 and response.wsgi_request.user == rita
        reads = [
            s
            for s in sql
            if s.startswith("SELECT") and ("django_session" in s or '"auth_user"' in s)
        ]
        assert len(reads) == 1 and "django_session" in reads[0] and '"auth_user"' in reads[0]


def test_the_user_read_with_the_session_is_as_fresh_as_its_own_read(client, rita):
    client.force_login(rita)
    assert client.get("/clients/").status_code == 200
    assert client.get("/clients/").status_code == 200  # read with the session
    rita.set_password("a-new-long-password-1")  # signs out every session of hers
    rita.save(update_fields=["password"])
    response = client.get("/clients/")
    assert response.status_code == 302 and response.url.startswith("/login/")
    client.force_login(rita)
    assert client.get("/clients/").status_code == 200
    rita.is_active = False
    rita.save(update_fields=["is_active"])
    response = client.get("/clients/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_a_session_read_with_another_users_row_still_signs_in_its_own_user(client, rita):
    """The per-process hint of which user a session names only chooses which row comes
    with it: a wrong hint costs the usual second read, never another user's rights."""
    from practice import sessions

    admin = UserFactory(username="otto-kept", role=roles.ADMIN)
    client.force_login(rita)
    client.get("/clients/")
    sessions._hints[hash(client.session.session_key)] = admin.pk
    response, sql = _get(client, "/reports/")
    assert response.status_code == 403 and response.wsgi_request.user == rita
    assert [s for s in sql if s.startswith('SELECT "auth_user"')]  # her own read
    # Gone sessions (signed out elsewhere) sign in nobody, hint or not.
    sessions._hints[hash(client.session.session_key)] = rita.pk
    client.session.delete()
    response = client.get("/clients/")
    assert response.status_code == 302 and response.url.startswith("/login/")
