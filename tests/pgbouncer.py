"""PgBouncer in transaction-pooling mode, started by a test (issue 10: scale out).

Several app hosts share one PostgreSQL through PgBouncer, which hands each transaction
whichever server connection is free: nothing a connection keeps between transactions
(session settings, prepared statements, server-side cursors held open) may be relied
on. The race tests run through it as well as directly (tests/trust/conftest.py,
tests/packages/test_concurrency.py, tests/invoicing/test_concurrency.py).

`pgbouncer()` starts Debian's pgbouncer (installed by `make test`) on a free port in
front of the test database's server, with a pool smaller than the number of clients so
that transactions really do share server connections, and yields the Django database
settings that reach the test database through it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings

from tests.database import connection_params

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
# Fewer server connections than the clients of the race tests (up to 50 threads, or 4
# gunicorn workers and the test itself), so they queue for them and share them.
POOL_SIZE = 3


def available() -> bool:
    return os.access(PGBOUNCER, os.X_OK)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@contextlib.contextmanager
def pgbouncer() -> Iterator[dict[str, Any]]:
    """Run PgBouncer for the test database; yield the settings that go through it
    (HOST, PORT, and the OPTIONS transaction pooling needs, as
    `DATABASE_TRANSACTION_POOLING` gives the app: see caspen/settings.py)."""
    if not available():
        raise RuntimeError(f"{PGBOUNCER} is missing: `make test` installs Debian's pgbouncer")
    params = connection_params()
    host = str(params.get("host") or "127.0.0.1")
    port = _free_port()
    users = {params["user"]: params.get("password") or ""}
    owner = getattr(settings, "DATABASE_OWNER", None)
    if owner:
        users[owner["USER"]] = owner.get("PASSWORD") or ""
    folder = Path(tempfile.mkdtemp(prefix="caspen-pgbouncer-"))
    folder.chmod(0o755)
    auth = folder / "users.txt"
    auth.write_text("".join(f"{_quote(u)} {_quote(p)}\n" for u, p in users.items()))
    config = folder / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"* = host={host} port={params.get('port') or 5432}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        f"unix_socket_dir = {folder}\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {POOL_SIZE}\n"
        "max_client_conn = 500\n"
        # The clients log in without a password here; PgBouncer logs in to PostgreSQL
        # with the one in the users file when the server asks for it.
        "auth_type = trust\n"
        f"auth_file = {auth}\n"
        f"admin_users = {params['user']}\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"logfile = {folder / 'pgbouncer.log'}\n"
        f"pidfile = {folder / 'pgbouncer.pid'}\n"
    )
    for path in (auth, config):
        path.chmod(0o644)
    command = [PGBOUNCER, str(config)]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        command = ["runuser", "-u", "postgres", "--", *command]
        shutil.chown(folder, user="postgres")
    process = subprocess.Popen(  # noqa: S603
        command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                log = folder / "pgbouncer.log"
                raise RuntimeError(
                    "pgbouncer did not start: "
                    + (log.read_text()[-2000:] if log.exists() else "no log")
                )
            time.sleep(0.1)
        yield {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "OPTIONS": {"prepare_threshold": None},
            "DISABLE_SERVER_SIDE_CURSORS": True,
        }
        # The proof that the test's traffic went through it: its own count of the
        # transactions it passed on to the test database.
        if _transactions(port, params["user"], params["dbname"]) == 0:
            raise AssertionError("no transaction went through PgBouncer")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(folder, ignore_errors=True)


def _transactions(port: int, user: str, dbname: str) -> int:
    """Transactions PgBouncer passed on to `dbname` (its admin console, SHOW STATS)."""
    import psycopg

    with psycopg.connect(
        host="127.0.0.1",
        port=port,
        user=user,
        dbname="pgbouncer",
        autocommit=True,
        cursor_factory=psycopg.ClientCursor,  # the console speaks the simple protocol only
    ) as console:
        rows = console.execute("SHOW STATS").fetchall()  # database, total_xact_count, ...
    return sum(int(row[1]) for row in rows if row[0] == dbname)


@contextlib.contextmanager
def through_pgbouncer() -> Iterator[None]:
    """Within the block, this process's connections reach the test database through
    PgBouncer (each thread's connection is opened anew from these settings)."""
    from django.db import connection

    db = settings.DATABASES["default"]
    saved = {key: db.get(key) for key in ("HOST", "PORT", "OPTIONS", "DISABLE_SERVER_SIDE_CURSORS")}
    with pgbouncer() as through:
        connection.close()
        options = {k: v for k, v in (db.get("OPTIONS") or {}).items() if k != "host"}
        db.update({**through, "OPTIONS": {**options, **through["OPTIONS"]}})
        try:
            yield
        finally:
            connection.close()
            db.update(saved)
