"""How a process started by a test reaches the test database.

Tests that start server processes (gunicorn) or open a second connection must reach the
same database as the test itself, whether `DATABASE_URL` names a TCP server
(`postgres://u@127.0.0.1:5432/db`, CI with a database) or the project-local cluster's
unix socket (`postgres://u@/db?host=/path/.devdb/run`, the README's `make test`).
dj-database-url puts such a `?host=` into `OPTIONS`, not `HOST`, so the connection's
settings are read through Django's backend, which merges both into what psycopg gets.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from django.db import connection


def connection_params() -> dict[str, Any]:
    """psycopg keyword arguments for the test database (host may be a socket directory)."""
    params = connection.get_connection_params()
    wanted = ("dbname", "user", "password", "host", "port")
    return {key: params[key] for key in wanted if params.get(key) not in (None, "")}


def other_connection():
    """A second connection to the test database (psycopg's, autocommit), beside the
    test's own: to watch it from outside (pg_stat_activity) or hold a lock against it."""
    import psycopg

    return psycopg.connect(**connection_params(), autocommit=True)


def database_url(host: str | None = None, port: str | None = None) -> str:
    """A DATABASE_URL for the test database that a child process can pass to settings;
    with `host` and `port`, reached there instead (PgBouncer in front of it)."""
    params = connection_params()
    if host is not None:
        params.update(host=host, port=port)
    user = urllib.parse.quote(params.get("user", ""), safe="")
    password = (
        f":{urllib.parse.quote(params['password'], safe='')}" if params.get("password") else ""
    )
    credentials = f"{user}{password}@" if user or password else ""
    name = urllib.parse.quote(params["dbname"], safe="")
    host = str(params.get("host", ""))
    if not host or host.startswith("/"):
        query = f"?host={urllib.parse.quote(host, safe='/')}" if host else ""
        return f"postgres://{credentials}/{name}{query}"
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgres://{credentials}{host}{port}/{name}"
