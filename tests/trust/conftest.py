"""Real server processes for the trust tests: gunicorn with several sync workers (separate
processes, separate database connections) serving the test database.

Tests commit their data (`transaction=True`) so the workers see it, then fire concurrent
HTTP requests at the server from threads, as several receptionists and integrators would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection

from tests.database import database_url
from tests.defaults import ensure_default_data
from tests.pgbouncer import pgbouncer

ROOT = Path(__file__).resolve().parents[2]
WORKERS = int(os.environ.get("TRUST_WORKERS", "4"))
CSRF_SECRET = "a" * 32  # Django accepts the unmasked cookie secret as the header token


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, url: str, process: subprocess.Popen, log: Path):
        self.url = url
        self.process = process
        self.log = log

    def session_for(self, user) -> requests.Session:
        """An HTTP session signed in as `user` (a real session row, as after sign-in)."""
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "practice.auth_backend.CachedModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        http = requests.Session()
        http.cookies.set(settings.SESSION_COOKIE_NAME, store.session_key, domain="127.0.0.1")
        http.cookies.set(settings.CSRF_COOKIE_NAME, CSRF_SECRET, domain="127.0.0.1")
        http.headers.update({"X-CSRFToken": CSRF_SECRET, "Referer": self.url + "/"})
        return http

    def api_for(self, user) -> requests.Session:
        """An HTTP session authenticating with an API key of `user`."""
        from tests.api.conftest import api_key_for

        http = requests.Session()
        http.headers.update({"Authorization": f"Token {api_key_for(user)}"})
        return http


PATHS = ["direct", "pgbouncer"]


@pytest.fixture
def database_path(request) -> Iterator[str | None]:
    """How the server's workers reach PostgreSQL: directly (the default), or through
    PgBouncer in transaction-pooling mode (tests/pgbouncer.py), as several app hosts
    would: a module opts in with
    `pytest.mark.parametrize("database_path", PATHS, indirect=True)`."""
    if getattr(request, "param", "direct") == "direct":
        yield None
        return
    with pgbouncer() as through:
        yield database_url(host=through["HOST"], port=through["PORT"])


@pytest.fixture
def server(transactional_db, database_path):
    """gunicorn (WORKERS sync worker processes) on a free port, serving the test database
    directly or through PgBouncer (`database_path`)."""
    ensure_default_data()
    port = _free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"caspen-gunicorn-{port}.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_path or database_url(),
        "DATABASE_TRANSACTION_POOLING": "true" if database_path else "false",
        "DEBUG": "false",
        # The same key as this process: the sessions it creates must be valid there.
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "HTTPS": "false",
        "CASPEN_PLAIN_STATIC": "1",
        "CONN_MAX_AGE": "60",
        "API_THROTTLE_USER": "100000/min",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PYTEST_VERSION", None)
    env.pop("DATABASE_OWNER_URL", None)  # the server runs as the app role only
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "gunicorn",
                "caspen.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(WORKERS),
                "--worker-class",
                "sync",
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(url + "/login/", timeout=30).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    yield Server(url, process, log)
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    # The workers' persistent connections must be gone before the test database is flushed.
    # They are client connections of the app role, as this test's own connection. Others
    # are left alone: the app role may not end them, and an autovacuum worker (the local
    # cluster of a fresh clone runs autovacuum) may be busy in this database right now.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' AND usename = current_user"
        )


def fire(requests_to_send, workers: int = 50):
    """Send the (callable) requests at once from `workers` threads; return the responses."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda send: send(), requests_to_send))
