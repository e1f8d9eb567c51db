"""Authentication hardening and security headers (issue: Trust, §4)."""

import datetime as dt
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse

from kernel.security import LOOSE_POLICY, STRICT_POLICY

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def staff(reception):
    reception.set_password("correct horse battery")
    reception.save()
    return reception


def _sign_in(client, username, password, ip="192.0.2.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_repeated_failures_lock_out_that_username_from_that_address(client, staff):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _sign_in(client, staff.username, "wrong").status_code == 200
    assert _sign_in(client, staff.username, "wrong").status_code == 429
    locked = _sign_in(client, staff.username, "correct horse battery")
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_does_not_lock_the_user_out_from_another_address(client, staff):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, staff.username, "wrong", ip="198.51.100.66")
    response = _sign_in(client, staff.username, "correct horse battery", ip="192.0.2.10")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)


def test_signing_in_rotates_the_session_key(client, staff):
    session = client.session
    session["before"] = "x"
    session.save()
    before = session.session_key
    client.cookies[settings.SESSION_COOKIE_NAME] = before
    assert _sign_in(client, staff.username, "correct horse battery").status_code == 302
    assert client.session.session_key != before
    assert not Session.objects.filter(session_key=before).exists()


def test_signing_out_ends_the_session(client, staff):
    _sign_in(client, staff.username, "correct horse battery")
    key = client.session.session_key
    client.post(reverse("logout"))
    assert not Session.objects.filter(session_key=key).exists()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    assert client.get("/clients/").status_code == 302


def test_a_deactivated_users_sessions_end_at_once(client, staff):
    client.force_login(staff)
    staff.is_active = False
    staff.save()
    response = client.get("/clients/")
    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_idle_session_times_out(client, staff):
    client.force_login(staff)
    idle = dt.timedelta(seconds=settings.SESSION_COOKIE_AGE + 60)
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + idle):
        response = client.get("/clients/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_active_session_still_ends_after_the_absolute_lifetime(client, staff):
    start = dt.datetime.now(tz=dt.UTC)
    with time_machine.travel(start, tick=False):
        client.force_login(staff)
        assert client.get(reverse("login")).status_code in (200, 302)
    step = dt.timedelta(seconds=settings.SESSION_COOKIE_AGE // 2)
    elapsed = dt.timedelta(0)
    last = None
    while elapsed <= dt.timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS + 60):
        elapsed += step
        with time_machine.travel(start + elapsed, tick=False):
            last = client.get("/clients/")
        if last.status_code == 302:
            break
    assert elapsed > dt.timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS)
    assert last.status_code == 302 and last.url.startswith("/login/")


def test_pages_carry_the_security_headers(client):
    response = client.get(reverse("login"))
    assert response["Content-Security-Policy"] == STRICT_POLICY
    assert "script-src 'self'" in STRICT_POLICY and "unsafe" not in STRICT_POLICY
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_admin_gets_the_looser_policy_it_needs(client):
    assert client.get("/admin/login/")["Content-Security-Policy"] == LOOSE_POLICY


def test_check_deploy_is_clean_with_production_settings():
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "clinic.example.org",
        "CASPEN_ALLOW_INSECURE_KEY": "",
        "CASPEN_PLAIN_STATIC": "",
        "PYTEST_VERSION": "",
        "HTTPS": "",
        # Two roles, as README: Deploy says (no connection is made).
        "DATABASE_URL": "postgres://caspen_app:a@db.example.org:5432/caspen",
        "DATABASE_OWNER_URL": "postgres://caspen_owner:b@db.example.org:5432/caspen",
        # A mail server, as README: Configuration says (without it the check warns).
        "EMAIL_URL": "smtp://caspen:c@mail.example.org:587",
    }
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
