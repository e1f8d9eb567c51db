"""Permissions are kept per server process (practice.auth_backend), yet a change made
elsewhere (here: this test process, as another app host or the admin would) takes effect
on the very next request in every worker process."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from practice import roles
from tests.factories import UserFactory
from tests.trust.conftest import WORKERS

pytestmark = pytest.mark.django_db(transaction=True)

# Enough requests that every worker serves some (the sync workers share the socket).
ROUNDS = WORKERS * 6


def _statuses(http, url: str) -> set[int]:
    return {http.get(url, timeout=30, allow_redirects=False).status_code for _ in range(ROUNDS)}


def test_a_permission_removed_in_another_process_applies_on_the_next_request(server):
    user = UserFactory(username="rita-kept", role=roles.RECEPTION)
    http = server.session_for(user)
    url = server.url + "/clients/"
    assert _statuses(http, url) == {200}  # every worker now keeps rita's permissions

    group = Group.objects.get(name=roles.RECEPTION)
    view_client = Permission.objects.get(content_type__app_label="clients", codename="view_client")
    group.permissions.remove(view_client)
    assert _statuses(http, url) == {403}

    group.permissions.add(view_client)
    assert _statuses(http, url) == {200}

    # Moving the user to another role (their groups) counts too.
    reports = server.url + "/reports/"
    assert _statuses(http, reports) == {403}
    user.groups.set([Group.objects.get(name=roles.ACCOUNTANT)])
    assert _statuses(http, reports) == {200}
    user.groups.set([Group.objects.get(name=roles.RECEPTION)])
    assert _statuses(http, reports) == {403}


def test_a_currency_change_in_another_process_shows_on_the_next_page(server, admin_user):
    from practice.models import PracticeSettings
    from tests.factories import PackageFactory

    package = PackageFactory(price="12.50")
    settings_row = PracticeSettings.load()
    settings_row.currency = "AUD"
    settings_row.save()
    http = server.session_for(admin_user)
    url = server.url + f"/catalog/packages/{package.pk}/"
    assert all("$12.50" in http.get(url, timeout=30).text for _ in range(ROUNDS))
    PracticeSettings.objects.filter(pk=1).update(currency="GBP")
    pages = [http.get(url, timeout=30).text for _ in range(ROUNDS)]
    assert all("£12.50" in page for page in pages)
