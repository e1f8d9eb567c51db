"""API keys (issue 9, finding 4): hashed at rest, shown once, named, revocable, optionally
expiring; each user creates their own, an Admin lists and revokes everyone's but never
reads or mints one; creation and revocation audited; revoked on password change and
deactivation, and deactivation ends every session for good."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pghistory.models import Events
from rest_framework.test import APIClient

from kernel.errors import NotAllowed
from practice import api_keys
from practice.models import ApiKey
from practice.services import staff_user_deactivate, staff_user_reactivate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


def _api(key: str, scheme: str = "Token") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    return client


def _new_key(user, **kwargs) -> api_keys.CreatedKey:
    return api_keys.api_key_create(user=user, name=kwargs.pop("name", "Website"), by=user, **kwargs)


def _create_on_the_page(client, name="Booking website", ip="127.0.0.1", **data):
    return client.post(reverse("api_keys:create"), {"name": name, **data}, REMOTE_ADDR=ip)


def _key_in(response) -> str:
    html = response.content.decode()
    start = html.index('value="csk_') + len('value="')
    return html[start : html.index('"', start)]


# ------------------------------------------------------------------ at rest, shown once


def test_the_database_holds_a_hash_never_the_key(reception):
    created = _new_key(reception)
    secret = created.key.rsplit("_", 1)[1]
    assert len(secret) >= 43
    row = ApiKey.objects.get(pk=created.api_key.pk)
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(k)::text FROM caspen_apikey k")
        keys = " ".join(text for (text,) in cursor.fetchall())
        cursor.execute("SELECT row_to_json(e)::text FROM caspen_apikeyevent e")
        events = " ".join(text for (text,) in cursor.fetchall())
    assert secret not in keys and created.key not in keys
    # The audit keeps neither the key nor its hash.
    assert events and secret not in events and row.secret_hash not in events


def test_the_page_shows_the_key_once(client, reception):
    client.force_login(reception)
    form = client.get(reverse("api_keys:create")).content.decode()
    form_key = (
        form.split('name="form_key" value="', 1)[1].split('"', 1)[0] if "form_key" in form else ""
    )
    response = _create_on_the_page(client, name="Booking website", form_key=form_key)
    assert response.status_code == 201
    assert "you will not see it again" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    key = _key_in(response)
    assert _api(key).get(f"{V1}/clients/").status_code == 200

    api_key = ApiKey.objects.get(user=reception)
    listing = client.get(reverse("api_keys:list")).content.decode()
    assert "Booking website" in listing and f"csk_{api_key.prefix}…" in listing
    secret = key.rsplit("_", 1)[1]
    revoke_page = client.get(reverse("api_keys:revoke", args=[api_key.pk])).content.decode()
    for html in (listing, revoke_page):
        assert secret not in html and api_key.secret_hash not in html
    # The answer carrying the key is not kept for replaying a double submit (pages keep
    # answers by form key): it would be the key, at rest.
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(i)::text FROM caspen_idempotencykey i")
        assert not [row for (row,) in cursor.fetchall() if secret in row]


def test_a_key_authenticates_as_token_or_bearer_and_a_wrong_secret_does_not(reception):
    key = _new_key(reception).key
    assert _api(key).get(f"{V1}/clients/").status_code == 200
    assert _api(key, "Bearer").get(f"{V1}/clients/").status_code == 200
    wrong = _api(key[:-4] + "AAAA").get(f"{V1}/clients/")
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Invalid API key.", "code": "authentication_failed"}


# ------------------------------------------------------------------ refused keys: 401


def test_a_revoked_key_is_401_with_a_clear_message(reception):
    created = _new_key(reception)
    api_keys.api_key_revoke(api_key=created.api_key, by=reception)
    response = _api(created.key).get(f"{V1}/clients/")
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_revoked"
    assert "revoked" in response.json()["detail"]
    assert response["WWW-Authenticate"] == "Token"


def test_an_expired_key_is_401(reception):
    created = _new_key(reception, expires_at=timezone.now() + dt.timedelta(days=1))
    assert _api(created.key).get(f"{V1}/clients/").status_code == 200
    with time_machine.travel(timezone.now() + dt.timedelta(days=1, minutes=1)):
        response = _api(created.key).get(f"{V1}/clients/")
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_expired"


def test_a_key_of_a_user_deactivated_behind_the_apps_back_is_401(reception):
    key = _new_key(reception).key
    get_user_model().objects.filter(pk=reception.pk).update(is_active=False)  # no signals
    response = _api(key).get(f"{V1}/clients/")
    assert response.status_code == 401
    assert response.json()["code"] == "user_inactive"


def test_last_used_is_written_at_most_once_a_minute(reception):
    created = _new_key(reception)
    client = _api(created.key)
    assert ApiKey.objects.get().last_used_at is None
    client.get(f"{V1}/clients/")
    first = ApiKey.objects.get().last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        client.get(f"{V1}/clients/")
    assert not [q for q in queries if q["sql"].startswith('UPDATE "caspen_apikey"')]
    assert ApiKey.objects.get().last_used_at == first
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2)):
        client.get(f"{V1}/clients/")
    assert ApiKey.objects.get().last_used_at > first
    # Using a key is not an audited change.
    assert set(Events.objects.tracks(created.api_key).values_list("pgh_label", flat=True)) == {
        "insert"
    }


# ------------------------------------------------------------------ nobody else's keys


def test_nobody_mints_a_key_for_someone_else(admin_user, reception):
    with pytest.raises(NotAllowed):
        api_keys.api_key_create(user=reception, name="Mine now", by=admin_user)
    assert not ApiKey.objects.filter(user=reception).exists()


def test_the_page_creates_keys_only_for_the_signed_in_user(client, admin_user, reception):
    client.force_login(admin_user)
    response = _create_on_the_page(client, user=reception.pk, owner=reception.pk)
    assert response.status_code == 201
    assert list(ApiKey.objects.values_list("user", flat=True)) == [admin_user.pk]


def test_an_admin_sees_and_revokes_everyones_keys_but_never_reads_them(
    client, admin_user, reception
):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "x-Strong-pw-1")
    theirs = [_new_key(reception, name="Rita's export"), _new_key(root, name="Root's script")]
    client.force_login(admin_user)
    listing = client.get(reverse("api_keys:list")).content.decode()
    for created in theirs:
        assert created.api_key.name.replace("'", "&#x27;") in listing
        assert created.key.rsplit("_", 1)[1] not in listing
        assert created.api_key.secret_hash not in listing
    response = client.post(reverse("api_keys:revoke", args=[theirs[0].api_key.pk]))
    assert response.status_code == 302
    revoked = ApiKey.objects.get(pk=theirs[0].api_key.pk)
    assert revoked.revoked_by == admin_user and revoked.revoked_reason == "Revoked by an Admin"
    assert _api(theirs[0].key).get(f"{V1}/clients/").status_code == 401


def test_others_keys_are_invisible_and_unrevocable_without_the_admin_role(
    client, reception, accountant
):
    theirs = _new_key(accountant, name="Accounting export")
    client.force_login(reception)
    assert "Accounting export" not in client.get(reverse("api_keys:list")).content.decode()
    assert client.get(reverse("api_keys:revoke", args=[theirs.api_key.pk])).status_code == 404
    assert client.post(reverse("api_keys:revoke", args=[theirs.api_key.pk])).status_code == 404
    assert ApiKey.objects.get(pk=theirs.api_key.pk).revoked_at is None
    with pytest.raises(NotAllowed):
        api_keys.api_key_revoke(api_key=theirs.api_key, by=reception)


def test_the_django_admin_lists_and_revokes_but_cannot_add_or_show_a_secret(
    client, admin_user, reception
):
    created = _new_key(reception)
    client.force_login(admin_user)
    changelist = reverse("admin:caspen_apikey_changelist")
    assert client.get(reverse("admin:caspen_apikey_add")).status_code == 403
    for url in (changelist, reverse("admin:caspen_apikey_change", args=[created.api_key.pk])):
        html = client.get(url).content.decode()
        assert created.api_key.prefix in html
        assert created.api_key.secret_hash not in html
        assert created.key.rsplit("_", 1)[1] not in html
    events = client.get("/admin/pghistory/events/").content.decode()
    assert created.api_key.secret_hash not in events
    response = client.post(
        changelist, {"action": "revoke_keys", "_selected_action": [created.api_key.pk]}
    )
    assert response.status_code == 302
    assert ApiKey.objects.get(pk=created.api_key.pk).revoked_by == admin_user


def test_the_api_has_no_way_to_read_or_mint_keys(admin_user, reception):
    _new_key(reception)
    admin = _api(_new_key(admin_user).key)
    for path in ("api-keys/", "tokens/", "users/"):
        assert admin.get(f"{V1}/{path}").status_code == 404
        assert admin.post(f"{V1}/{path}", {"user": reception.pk}).status_code == 404
    schema = APIClient().get("/api/schema/").content.decode()
    assert "api-key" not in schema and "authtoken" not in schema
    assert "rest_framework.authtoken" not in settings.INSTALLED_APPS


def test_the_plaintext_token_table_is_gone():
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('authtoken_token')")
        assert cursor.fetchone() == (None,)


# ------------------------------------------------------------------ audit


def test_creation_and_revocation_are_audited_with_who_and_where(client, admin_user, reception):
    client.force_login(reception)
    _create_on_the_page(client, name="Website", ip="192.0.2.10")
    api_key = ApiKey.objects.get(user=reception)
    client.force_login(admin_user)
    client.post(reverse("api_keys:revoke", args=[api_key.pk]), REMOTE_ADDR="192.0.2.20")
    events = list(Events.objects.tracks(api_key).order_by("pgh_id"))
    assert [e.pgh_label for e in events] == ["insert", "update"]
    created, revoked = events
    assert created.pgh_context["user"] == reception.pk
    assert created.pgh_context["ip"] == "192.0.2.10"
    assert created.pgh_data["name"] == "Website"
    assert revoked.pgh_context["user"] == admin_user.pk
    assert revoked.pgh_context["ip"] == "192.0.2.20"
    assert revoked.pgh_diff["revoked_reason"] == ["", "Revoked by an Admin"]


# ------------------------------------------------------------------ password, deactivation


def test_a_password_change_revokes_the_keys_and_ends_other_sessions(client, reception):
    key = _new_key(reception).key
    client.force_login(reception)
    reception.set_password("another Long passphrase 7")
    reception.save()
    response = _api(key).get(f"{V1}/clients/")
    assert response.status_code == 401 and response.json()["code"] == "api_key_revoked"
    assert ApiKey.objects.get().revoked_reason == "Password changed"
    # Django's session auth hash: the old session is no longer signed in.
    assert client.get("/clients/").url.startswith("/login/")


def test_a_password_change_in_the_django_admin_revokes_the_keys(client, admin_user, reception):
    key = _new_key(reception).key
    client.force_login(admin_user)
    url = reverse("admin:auth_user_password_change", args=[reception.pk])
    password = "another Long passphrase 7"
    response = client.post(
        url, {"password1": password, "password2": password, "usable_password": "true"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _api(key).get(f"{V1}/clients/").status_code == 401


def test_saving_a_user_without_a_password_change_keeps_the_keys(reception):
    key = _new_key(reception).key
    reception.first_name = "Rita"
    reception.save()
    reception.save(update_fields=["last_login"])
    assert _api(key).get(f"{V1}/clients/").status_code == 200


def test_deactivation_revokes_keys_and_ends_sessions_for_good(client, admin_user, reception):
    reception.set_password("correct horse battery")
    reception.save()
    key = _new_key(reception).key
    assert (
        client.post(
            reverse("login"), {"username": reception.username, "password": "correct horse battery"}
        ).status_code
        == 302
    )
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get("/clients/").status_code == 200
    other = UserFactory(username="someone")
    other_client = type(client)()
    other_client.force_login(other)

    staff_user_deactivate(user=reception, by=admin_user)
    staff_user_reactivate(user=reception, by=admin_user)

    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    response = client.get("/clients/")
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert _api(key).get(f"{V1}/clients/").json()["code"] == "api_key_revoked"
    assert ApiKey.objects.get(user=reception).revoked_reason == "User deactivated"
    # Someone else's session is untouched.
    assert other_client.session.get("_auth_user_id") == str(other.pk)


def test_the_service_refuses_names_postgresql_cannot_store(reception):
    with pytest.raises(api_keys.DomainError, match="Null characters"):
        api_keys.api_key_create(user=reception, name="Web\x00site", by=reception)


def test_a_deactivated_user_cannot_get_a_key(reception):
    get_user_model().objects.filter(pk=reception.pk).update(is_active=False)
    reception.refresh_from_db()
    with pytest.raises(api_keys.DomainError):
        api_keys.api_key_create(user=reception, name="Late", by=reception)


# ------------------------------------------------------------------ the form and command


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": ""}, "name", "Give the key a name."),
        ({"name": "  "}, "name", "Give the key a name."),
        ({"name": "Web\x00site"}, "name", "Null characters are not allowed."),
        ({"name": "x" * 101}, "name", "at most 100 characters"),
        ({"expires_on": "2001-01-01"}, "expires_on", "Choose today or a later date."),
        ({"expires_on": "9999-12-31"}, "expires_on", "at most five years ahead"),
        ({"expires_on": "31/31/2027"}, "expires_on", "Enter a valid date."),
    ],
)
def test_the_create_form_refuses_bad_input_beside_the_field(
    client, reception, data, field, message
):
    client.force_login(reception)
    response = client.post(reverse("api_keys:create"), {"name": "Website", **data})
    assert response.status_code == 400
    form = response.context["form"]
    assert any(message in error for error in form.errors[field])
    assert not ApiKey.objects.exists()


def test_an_expiry_date_means_the_end_of_that_day(client, reception):
    client.force_login(reception)
    day = timezone.localdate() + dt.timedelta(days=30)
    assert _create_on_the_page(client, expires_on=day.isoformat()).status_code == 201
    expires = timezone.localtime(ApiKey.objects.get().expires_at)
    assert (expires.date(), expires.time()) == (day + dt.timedelta(days=1), dt.time())


def test_the_command_refuses_unknown_users_and_bad_dates(reception):
    with pytest.raises(CommandError, match="No user"):
        call_command("create_api_key", "nobody", "--name", "X")
    with pytest.raises(CommandError, match="2027-06-30"):
        call_command("create_api_key", reception.username, "--name", "X", "--expires", "9999-12-31")
    with pytest.raises(CommandError, match="five years"):
        call_command("create_api_key", reception.username, "--name", "X", "--expires", "2099-01-01")
    assert not ApiKey.objects.exists()


def test_changes_made_with_a_key_are_audited_with_its_user_and_prefix(reception):
    created = _new_key(reception)
    response = _api(created.key).post(
        f"{V1}/clients/", {"first_name": "Ada", "last_name": "Lovelace"}, format="json"
    )
    assert response.status_code == 201
    event = Events.objects.filter(pgh_model="clients.ClientEvent", pgh_label="insert").get()
    assert event.pgh_context["user"] == reception.pk
    assert event.pgh_context["api_key"] == created.api_key.prefix


def test_the_page_costs_the_same_queries_for_3_or_20_keys(client, admin_user):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("api_keys:list")).status_code == 200
        return len(queries)

    client.force_login(admin_user)
    for i in range(3):
        _new_key(UserFactory(username=f"few{i}"))
    few = count()
    for i in range(17):  # 20 keys: one page (25 a page)
        owner = UserFactory(username=f"many{i}")
        api_keys.api_key_revoke(api_key=_new_key(owner).api_key, by=admin_user)
    assert count() == few


@pytest.mark.django_db(transaction=True)
def test_the_migration_drops_the_old_plaintext_tokens_of_an_existing_database():
    import importlib

    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType

    from kernel.database import as_owner

    migration = importlib.import_module("practice.migrations.0006_api_key")
    with as_owner(), connection.cursor() as cursor:  # what the old authtoken app left
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY)")
        cursor.execute("INSERT INTO authtoken_token VALUES ('eba3d532551ee98865f1aa892b954ab0')")
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) "
            "VALUES ('authtoken', '0001_initial', now())"
        )
        ContentType.objects.create(app_label="authtoken", model="token")
        with connection.schema_editor() as schema_editor:
            migration.forget_drf_tokens(apps, schema_editor)
        cursor.execute("SELECT to_regclass('authtoken_token')")
        assert cursor.fetchone() == (None,)
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone() == (0,)
    assert not ContentType.objects.filter(app_label="authtoken").exists()


def test_a_stronger_rehash_at_sign_in_is_not_a_password_change(settings, reception):
    reception.set_password("correct horse battery")  # an MD5 hash (the tests' hasher)
    reception.save()
    key = _new_key(reception).key
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    user = get_user_model().objects.get(pk=reception.pk)
    assert user.check_password("correct horse battery")  # re-hashed and saved
    assert get_user_model().objects.get(pk=reception.pk).password.startswith("pbkdf2_")
    assert _api(key).get(f"{V1}/clients/").status_code == 200
    user.set_password("a new Long passphrase 9")
    user.save()
    assert _api(key).get(f"{V1}/clients/").status_code == 401


def test_any_save_that_deactivates_revokes_and_ends_sessions(client, reception):
    key = _new_key(reception).key
    client.force_login(reception)
    session_key = client.session.session_key
    reception.is_active = False
    reception.save()  # e.g. the Django admin's user form
    assert not Session.objects.filter(session_key=session_key).exists()
    assert ApiKey.objects.get().revoked_reason == "User deactivated"
    reception.is_active = True
    reception.save()
    assert _api(key).get(f"{V1}/clients/").json()["code"] == "api_key_revoked"
    assert client.get("/clients/").url.startswith("/login/")
