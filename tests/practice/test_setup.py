"""The pieces `make run` relies on: the sign-in page and the `ensure_admin` command."""

from __future__ import annotations

import io
import stat

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from practice import roles


def run_ensure_admin(login_file, **options) -> str:
    out = io.StringIO()
    call_command("ensure_admin", login_file=login_file, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def stored_password(login_file) -> str:
    username, password = login_file.read_text().split()
    assert username == "admin"
    return password


@pytest.mark.django_db
def test_login_page_renders(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Caspen" in content
    assert "Sign in" in content
    assert 'name="username"' in content
    assert 'name="password"' in content
    assert "css/app.css" in content


@pytest.mark.django_db
def test_login_with_wrong_password_shows_error(client, admin_user):
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


@pytest.mark.django_db
def test_login_with_blank_fields_shows_errors_beside_fields(client):
    response = client.post(reverse("login"), {"username": "", "password": ""})

    content = response.content.decode()
    assert 'id="id_username_error"' in content
    assert 'id="id_password_error"' in content


@pytest.mark.django_db
def test_login_signs_in_and_redirects(client, admin_user):
    response = client.post(reverse("login"), {"username": "alice", "password": "password"})

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_ensure_admin_creates_superuser_in_admin_group(tmp_path):
    login_file = tmp_path / "admin-login.txt"

    output = run_ensure_admin(login_file)

    user = User.objects.get(username="admin")
    assert user.is_superuser
    assert user.is_staff
    assert user.groups.filter(name=roles.ADMIN).exists()
    password = stored_password(login_file)
    assert user.check_password(password)
    assert stat.S_IMODE(login_file.stat().st_mode) == 0o600
    assert f"Admin login: admin / {password}" in output
    assert "http://127.0.0.1:8000/admin/" in output


@pytest.mark.django_db
def test_ensure_admin_is_idempotent(tmp_path):
    login_file = tmp_path / "admin-login.txt"
    first = run_ensure_admin(login_file)

    second = run_ensure_admin(login_file)

    assert second == first
    assert User.objects.filter(username="admin").count() == 1
    assert User.objects.get(username="admin").check_password(stored_password(login_file))


@pytest.mark.django_db
def test_ensure_admin_resets_password_when_login_file_is_missing(tmp_path):
    login_file = tmp_path / "admin-login.txt"
    run_ensure_admin(login_file)
    old_password = stored_password(login_file)
    login_file.unlink()

    run_ensure_admin(login_file)

    new_password = stored_password(login_file)
    assert new_password != old_password
    assert User.objects.get(username="admin").check_password(new_password)


@pytest.mark.django_db
def test_ensure_admin_repairs_an_existing_plain_user(tmp_path):
    User.objects.create_user(username="admin", password="old-password")

    run_ensure_admin(tmp_path / "login.txt", password="given-password")

    user = User.objects.get(username="admin")
    assert user.is_superuser and user.is_staff
    assert user.groups.filter(name=roles.ADMIN).exists()
    assert user.check_password("given-password")


@pytest.mark.django_db
def test_ensure_admin_accepts_username_and_password(tmp_path):
    login_file = tmp_path / "login.txt"

    output = run_ensure_admin(login_file, username="boss", password="s3cret-Pass")

    assert User.objects.get(username="boss").check_password("s3cret-Pass")
    assert login_file.read_text() == "boss s3cret-Pass\n"
    assert "Admin login: boss / s3cret-Pass" in output


@pytest.mark.django_db
def test_ensure_admin_reports_a_password_changed_since(tmp_path):
    login_file = tmp_path / "login.txt"
    run_ensure_admin(login_file)
    user = User.objects.get(username="admin")
    user.set_password("changed-in-the-admin")
    user.save()

    output = run_ensure_admin(login_file)

    assert "password was changed" in output
    assert User.objects.get(username="admin").check_password("changed-in-the-admin")


@pytest.mark.django_db
def test_ensure_admin_needs_the_role_groups(tmp_path):
    from django.contrib.auth.models import Group

    Group.objects.filter(name=roles.ADMIN).delete()

    with pytest.raises(CommandError, match="migrate"):
        run_ensure_admin(tmp_path / "login.txt")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Debian's Chromium, without a sandbox (root in a container) and without network.
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def allow_orm_beside_playwright():
    # Once Playwright's sync API has started, an asyncio loop counts as running in this
    # thread until the session ends, and Django refuses every ORM call made from it (this
    # test's, the database flush after it, and those of every later test). Those calls are
    # plain synchronous ones, so allowing them is safe. Session scope, because the loop
    # outlives this test.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.mark.browser
def test_sign_in_in_a_real_browser(
    allow_orm_beside_playwright, live_server, transactional_db, page
):
    User.objects.create_superuser(username="zoe", password="correct-horse-battery")

    page.goto(f"{live_server.url}/login/?next=/admin/")
    assert page.title() == "Sign in · Caspen"
    # The stylesheet is served and applied: the button carries the teal accent.
    button = page.get_by_role("button", name="Sign in")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(47, 125, 109)"
    page.get_by_label("Username").fill("zoe")
    page.get_by_label("Password").fill("correct-horse-battery")
    button.click()

    page.wait_for_url(f"{live_server.url}/admin/")
    assert page.get_by_role("button", name="Log out").is_visible()
