"""Issue 9, finding 7: behind a TLS proxy the lockout and the audit name the client, not
the proxy, and only a trusted proxy's X-Forwarded-For is believed (TRUSTED_PROXIES)."""

import pytest
from django.conf import settings
from django.test import RequestFactory, override_settings
from django.urls import reverse
from pghistory.models import Events

from clients.models import ClientAccess
from kernel.network import client_ip
from tests.factories import ClientFactory

PROXY = "10.0.0.5"
BEHIND_PROXY = override_settings(TRUSTED_PROXIES=["10.0.0.0/24", "2001:db8::/48"])


def _ip(remote, forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **meta))


def test_without_trusted_proxies_forwarded_for_is_ignored():
    assert settings.TRUSTED_PROXIES == []
    assert _ip("198.51.100.66", "192.0.2.1") == "198.51.100.66"
    assert _ip(PROXY, "192.0.2.1") == PROXY


@BEHIND_PROXY
def test_behind_a_trusted_proxy_the_client_is_the_right_most_untrusted_address():
    assert _ip(PROXY, "192.0.2.1") == "192.0.2.1"
    # What the client wrote itself (left) is not believed; the proxy appended the truth.
    assert _ip(PROXY, "203.0.113.9, 192.0.2.1") == "192.0.2.1"
    # Two trusted proxies in a row (CIDR): both are skipped.
    assert _ip(PROXY, "192.0.2.1, 10.0.0.7") == "192.0.2.1"
    assert _ip("2001:db8::1", "2001:db8::2, [2001:db8:ffff::1]") == "2001:db8:ffff::1"
    assert _ip(PROXY, "::ffff:192.0.2.4") == "192.0.2.4"


@BEHIND_PROXY
def test_a_trusted_proxy_without_a_usable_header_stands_for_the_client():
    assert _ip(PROXY) == PROXY
    assert _ip(PROXY, "") == PROXY
    assert _ip(PROXY, "10.0.0.9, 10.0.0.7") == "10.0.0.9"  # only proxies: the furthest
    # Garbage where the client's address should be: never the garbage, never a guess left of it.
    assert _ip(PROXY, "192.0.2.1, unknown") == PROXY
    assert _ip(PROXY, "192.0.2.1, 10.0.0.7, not-an-ip") == PROXY
    assert _ip(PROXY, "192.0.2.1, bogus, 10.0.0.7") == "10.0.0.7"


@BEHIND_PROXY
def test_an_untrusted_peer_cannot_spoof_its_address_with_forwarded_for():
    assert _ip("198.51.100.66", "10.0.0.5") == "198.51.100.66"
    assert _ip("198.51.100.66", "192.0.2.1") == "198.51.100.66"


# ---------------------------------------------------------------- the sign-in lockout


@pytest.fixture
def staff(reception):
    reception.set_password("correct horse battery")
    reception.save()
    return reception


def _sign_in(client, username, password, *, remote, forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


@pytest.mark.django_db
@BEHIND_PROXY
def test_behind_the_proxy_an_attacker_cannot_lock_out_a_user_signing_in_elsewhere(client, staff):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, staff.username, "wrong", remote=PROXY, forwarded="198.51.100.66")
    assert (
        _sign_in(
            client, staff.username, "wrong", remote=PROXY, forwarded="198.51.100.66"
        ).status_code
        == 429
    )
    response = _sign_in(
        client, staff.username, "correct horse battery", remote=PROXY, forwarded="192.0.2.10"
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)


@pytest.mark.django_db
@BEHIND_PROXY
def test_the_attacker_cannot_dodge_the_lockout_by_forging_forwarded_for(client, staff):
    # Behind the proxy: whatever it writes on the left, the proxy appends its real address.
    for n in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(
            client, staff.username, "wrong", remote=PROXY, forwarded=f"203.0.113.{n}, 198.51.100.66"
        )
    assert (
        _sign_in(
            client,
            staff.username,
            "correct horse battery",
            remote=PROXY,
            forwarded="203.0.113.99, 198.51.100.66",
        ).status_code
        == 429
    )
    # Straight to the server (not through a trusted proxy): the header is ignored.
    for n in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, staff.username, "wrong", remote="198.51.100.77", forwarded=f"192.0.2.{n}")
    assert (
        _sign_in(
            client,
            staff.username,
            "correct horse battery",
            remote="198.51.100.77",
            forwarded="192.0.2.200",
        ).status_code
        == 429
    )


@pytest.mark.django_db
def test_without_trusted_proxies_forwarded_for_cannot_dodge_the_lockout(client, staff):
    for n in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, staff.username, "wrong", remote=PROXY, forwarded=f"192.0.2.{n}")
    assert (
        _sign_in(
            client, staff.username, "correct horse battery", remote=PROXY, forwarded="192.0.2.99"
        ).status_code
        == 429
    )


# ---------------------------------------------------------------- the audit trail


@pytest.mark.django_db
@BEHIND_PROXY
def test_audit_rows_name_the_client_behind_the_proxy(client, reception):
    record = ClientFactory()
    client.force_login(reception)
    meta = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "203.0.113.9, 192.0.2.44"}
    assert client.get(reverse("clients:detail", args=[record.pk]), **meta).status_code == 200
    assert ClientAccess.objects.get(client=record).ip == "192.0.2.44"
    response = client.post(
        reverse("clients:archive", args=[record.pk]), {"action": "archive"}, **meta
    )
    assert response.status_code in (200, 302)
    record.refresh_from_db()
    assert record.archived
    event = Events.objects.tracks(record).filter(pgh_label="update").latest("pgh_created_at")
    assert event.pgh_context["ip"] == "192.0.2.44"


@pytest.mark.django_db
@BEHIND_PROXY
def test_audit_ignores_forwarded_for_from_an_untrusted_peer(client, reception):
    record = ClientFactory()
    client.force_login(reception)
    meta = {"REMOTE_ADDR": "198.51.100.66", "HTTP_X_FORWARDED_FOR": "192.0.2.44"}
    client.get(reverse("clients:detail", args=[record.pk]), **meta)
    assert ClientAccess.objects.get(client=record).ip == "198.51.100.66"
