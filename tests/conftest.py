"""Shared fixtures. Personas follow the roles of DOMAIN.md: admin, reception, practitioner,
accountant."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from pathlib import Path

import pytest

# Browser tests run Playwright's sync API, which leaves an event loop in the main thread;
# Django would then refuse every later ORM call in the same process. Our tests are
# synchronous code, so allow it for the whole run.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from practice import roles
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test`), the tests that race real processes or threads
    (marked `concurrency`: gunicorn with several workers, barriers between connections)
    all run in one worker, one after another, while the other workers run the rest; so
    two such servers never compete for the machine's cores (`--dist loadgroup`)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if item.get_closest_marker("concurrency"):
            item.add_marker(pytest.mark.xdist_group("concurrency"))


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """Every persona gets a password; Django's default hasher is slow on purpose (about
    0.3 s of CPU each), so tests hash with MD5. Server processes started by tests keep
    the real hashers: they only read sessions made here, never check a password."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


# ------------------------------------------------------------ reusing the test database
# `make test` passes --reuse-db locally: the test databases (test_<name>, and
# test_<name>_gw0, _gw1... under pytest-xdist) are kept between runs. Each one records
# the fingerprint of what built it (every migration file, and the installed packages,
# whose migrations and triggers are part of the schema); a database built from anything
# else is dropped and built again, so a changed, added or removed migration is never
# tested against a stale schema. A kept database is emptied before the run (a run
# stopped midway may have left committed rows) and the default data put back.


def _schema_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    for dist in sorted(
        f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()
    ):
        digest.update(dist.encode() + b"\0")
    return "caspen-schema:" + digest.hexdigest()


def _test_database_comment() -> str | None:
    """The comment on the test database (None when it does not exist)."""
    from django.db import connection

    with connection._nodb_cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database"
            " WHERE datname = %s",
            [connection.creation._get_test_db_name()],
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


# The tests run as the app's role, not the tables' owner, exactly as `make run` and
# production do (kernel/database.py): the test databases are built (and emptied, and
# dropped) by the owner, and everything else runs as the app role, so a missing grant or a
# write the app may not make fails here. With DATABASE_OWNER_URL, DATABASE_URL's role is
# the app's; with DATABASE_URL alone (an owner, e.g. a superuser), the tests make an app
# role of their own, TEST_APP_ROLE.
TEST_APP_ROLE = "caspen_test_app"
_app_credentials: dict[str, str] = {}


def _ensure_test_app_role(owner_password: str) -> dict[str, str]:
    from django.db import connection

    password = hashlib.sha256(f"caspen-test-app:{owner_password}".encode()).hexdigest()
    with connection._nodb_cursor() as cursor:
        cursor.execute(
            "DO $$ BEGIN "
            f"CREATE ROLE {TEST_APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
            f"PASSWORD '{password}'; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
    return {"USER": TEST_APP_ROLE, "PASSWORD": password}


def _use_credentials(credentials: dict[str, str]) -> None:
    from django.conf import settings
    from django.db import connection

    connection.close()
    settings.DATABASES["default"].update(credentials)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings, django_db_blocker):
    """Build the test databases as the tables' owner (see TEST_APP_ROLE)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if settings.DATABASE_OWNER is None:
        settings.DATABASE_OWNER = {"USER": db["USER"], "PASSWORD": db["PASSWORD"]}
        with django_db_blocker.unblock():
            try:
                _app_credentials.update(_ensure_test_app_role(db["PASSWORD"]))
            except Exception as exc:  # noqa: BLE001 - any failure means the same advice
                pytest.exit(
                    f"The tests run as a role that does not own the tables, and {db['USER']!r} "
                    f"could not create one ({exc}). Set DATABASE_OWNER_URL to the owner and "
                    "DATABASE_URL to a role that does not own the tables, or use a "
                    "DATABASE_URL whose role may create roles.",
                    returncode=2,
                )
        settings.DATABASE_APP_ROLE = TEST_APP_ROLE
    else:
        _app_credentials.update({"USER": db["USER"], "PASSWORD": db["PASSWORD"]})
    _use_credentials(settings.DATABASE_OWNER)


@pytest.fixture(scope="session")
def _kept_database(request, django_db_modify_db_settings, django_db_blocker) -> str | None:
    """With --reuse-db: the fingerprint recorded on the test database (None: no such
    database yet, or not reusing)."""
    if not request.config.getvalue("reuse_db") or request.config.getvalue("create_db"):
        return None
    with django_db_blocker.unblock():
        return _test_database_comment()


@pytest.fixture(scope="session")
def django_db_createdb(request, _kept_database) -> bool:
    """--create-db, or --reuse-db finding a test database built from something else."""
    if request.config.getvalue("create_db"):
        return True
    return _kept_database is not None and _kept_database != _schema_fingerprint()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, django_db_keepdb, _kept_database):
    """pytest-django's set-up; then, when the database is kept, record what built it,
    and empty a database kept from an earlier run; then switch to the app's role."""
    if django_db_keepdb:
        from django.core.management import call_command
        from django.db import connection

        from tests.defaults import ensure_default_data

        fingerprint = _schema_fingerprint()
        with django_db_blocker.unblock():
            if _kept_database == fingerprint:
                call_command("flush", interactive=False, verbosity=0)
                ensure_default_data()
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_database()")
                name = cursor.fetchone()[0]
                cursor.execute(
                    f"COMMENT ON DATABASE {connection.ops.quote_name(name)} IS '{fingerprint}'"
                )
    from django.conf import settings

    _use_credentials(_app_credentials)
    yield
    _use_credentials(settings.DATABASE_OWNER)  # pytest-django drops the database as owner


@pytest.fixture(autouse=True)
def _default_data_survives_flushes(request, django_db_blocker):
    """Tests that commit (live server, races) end with pytest-django emptying every table,
    which also removes what the data migrations created: roles, payment methods, tax
    rates, cancellation reasons, the practice settings row. Before each database test,
    put them back if they are gone, so no test depends on the order the suite runs in.

    (At setup, not teardown: pytest-django's own autouse fixture flushes after ours.)
    """
    uses_db = request.node.get_closest_marker("django_db") is not None or any(
        name in request.fixturenames for name in ("db", "transactional_db", "live_server")
    )
    if uses_db:
        from django.contrib.auth.models import Group

        from invoicing.models import PaymentMethod
        from practice.models import PracticeSettings
        from tests.defaults import ensure_default_data

        with django_db_blocker.unblock():
            if not (
                Group.objects.exists()
                and PaymentMethod.objects.exists()
                and PracticeSettings.objects.exists()
            ):
                ensure_default_data()
    yield


@pytest.fixture(params=["direct", "pgbouncer"])
def each_database_path(request, transactional_db):
    """Run the test twice: connected to PostgreSQL directly, then through PgBouncer in
    transaction-pooling mode (tests/pgbouncer.py), as app hosts sharing one database
    would be. For the race tests: `pytest.mark.usefixtures("each_database_path")`."""
    if request.param == "direct":
        yield
        return
    from tests.pgbouncer import through_pgbouncer

    with through_pgbouncer():
        yield


@pytest.fixture
def roles_exist(db):
    """Transactional tests flush the tables the data migrations filled; put roles back."""
    from tests.defaults import ensure_default_data

    ensure_default_data()


@pytest.fixture
def admin_user(roles_exist):
    return UserFactory(username="alice", role=roles.ADMIN, is_staff=True)


@pytest.fixture
def reception(roles_exist):
    return UserFactory(username="rita", role=roles.RECEPTION)


@pytest.fixture
def practitioner_user(roles_exist):
    return UserFactory(username="pete", role=roles.PRACTITIONER)


@pytest.fixture
def accountant(roles_exist):
    return UserFactory(username="ann", role=roles.ACCOUNTANT)


class Practice:
    """A small practice: one practitioner, one location, two physio services, a fixed
    "Physio Starter Pack" (1 initial + 3 follow-ups, 3 months) and a flexible
    "Flexi 5" (5 credits for either service, no expiry), and a client."""

    def __init__(self):
        from catalog.models import PackageKind, PeriodUnit
        from tests.factories import (
            CancellationReasonFactory,
            ClientFactory,
            LocationFactory,
            PackageFactory,
            PractitionerFactory,
            ServiceFactory,
        )

        self.practitioner = PractitionerFactory(name="Sam Physio")
        self.location = LocationFactory(name="Main Street")
        self.initial = ServiceFactory(name="Physio initial consultation", duration_minutes=45)
        self.follow_up = ServiceFactory(name="Physio follow-up", duration_minutes=30)
        self.massage = ServiceFactory(name="Remedial massage", duration_minutes=60)
        self.fixed = PackageFactory(
            name="Physio Starter Pack",
            kind=PackageKind.FIXED,
            credits=4,
            expires_after_value=3,
            expires_after_unit=PeriodUnit.MONTHS,
            allowances={self.initial: 1, self.follow_up: 3},
        )
        self.flexible = PackageFactory(
            name="Flexi 5", credits=5, services=[self.initial, self.follow_up]
        )
        self.client = ClientFactory(first_name="Jo", last_name="Citizen")
        self.reason = CancellationReasonFactory(name="Client request")

    def booking_form(self, package, *, form_key: str) -> dict:
        """Create appointment's fields for a booking of the follow-up at 16:00, five days
        on (a day the practice works: a booking is made there first), with `package`."""
        return {
            "client": self.client.pk,
            "service": self.follow_up.pk,
            "practitioner": self.practitioner.pk,
            "location": self.location.pk,
            "date": self.book(by=None, days=5).starts_at.date().isoformat(),
            "start_time": "16:00",
            "client_package": package.pk,
            "form_key": form_key,
        }

    def book(self, *, by, days=1, hour=10, service=None, client=None, **kwargs):
        from calendar_app.services import appointment_book
        from tests.factories import next_local

        return appointment_book(
            client=client or self.client,
            practitioner=kwargs.pop("practitioner", self.practitioner),
            location=self.location,
            service=service or self.follow_up,
            starts_at=kwargs.pop("starts_at", None) or next_local(hour=hour, days=days),
            by=by,
            **kwargs,
        )

    def sell(self, package=None, *, by=None, client=None, **kwargs):
        from packages.services import client_package_assign

        return client_package_assign(
            client=client or self.client, package=package or self.fixed, by=by, **kwargs
        )


@pytest.fixture
def practice(db):
    return Practice()


@pytest.fixture
def jobs(transactional_db):
    """The job queue with a real worker (tests/jobs.py): `jobs.run_jobs()` runs every due
    job and returns; `jobs.make_due()` brings retries forward; `jobs.job_rows()`."""
    from tests import jobs as queue

    queue.clear_jobs()
    yield queue
    queue.clear_jobs()
