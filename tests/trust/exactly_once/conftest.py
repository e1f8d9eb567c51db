"""A real network fault between the server and PostgreSQL, at a chosen moment.

`FaultyProxy` is a TCP proxy the gunicorn server (tests/trust/conftest.py) reaches
PostgreSQL through. Armed with a marker (a piece of SQL, such as the payment's INSERT),
it lets the server's connection that sends that marker lose its connection:

- `AT_MARKER`: the statement never reaches PostgreSQL (a failure before COMMIT);
- `BEFORE_COMMIT`: the statements run, the COMMIT is lost on its way (not saved);
- `AFTER_COMMIT`: PostgreSQL receives and applies the COMMIT, and its answer is lost on
  the way back, as when a connection dies between COMMIT and answer (saved).

Nothing is mocked: the server's driver really sees its socket closed, PostgreSQL really
rolls back or commits. The proxy only reads the bytes to know when to cut (so it asks
for an unencrypted connection, `sslmode=disable`).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import urllib.parse

import pytest

from tests.database import connection_params
from tests.trust import conftest as trust

AT_MARKER = "at_marker"
BEFORE_COMMIT = "before_commit"
AFTER_COMMIT = "after_commit"
COMMIT = b"COMMIT"


class _Link:
    def __init__(self, proxy: FaultyProxy, client: socket.socket, upstream: socket.socket):
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.when: str | None = None  # this connection took the armed fault
        self.cut = False  # COMMIT forwarded: drop the answer

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def to_server(self) -> None:
        try:
            while data := self.client.recv(65536):
                if self.when is None:
                    self.when = self.proxy._take(data)
                    if self.when == AT_MARKER:
                        return self._fire()
                if self.when in (BEFORE_COMMIT, AFTER_COMMIT) and COMMIT in data:
                    if self.when == BEFORE_COMMIT:
                        return self._fire()
                    self.cut = True
                self.upstream.sendall(data)
        except OSError:
            pass
        self.close()

    def to_client(self) -> None:
        try:
            while data := self.upstream.recv(65536):
                if self.cut:
                    # PostgreSQL answered the COMMIT: it is applied. The answer is lost.
                    return self._fire()
                self.client.sendall(data)
        except OSError:
            pass
        self.close()

    def _fire(self) -> None:
        self.close()
        self.proxy.fired.set()


class FaultyProxy:
    def __init__(self, target: tuple[str, int] | str):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.fired = threading.Event()
        self._lock = threading.Lock()
        self._armed: tuple[bytes, str] | None = None
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, marker: bytes, when: str) -> None:
        """Cut the next server connection that sends `marker`, `when` (see the module)."""
        with self._lock:
            self._armed = (marker, when)
            self.fired.clear()

    def _take(self, data: bytes) -> str | None:
        with self._lock:
            if self._armed is not None and self._armed[0] in data:
                when = self._armed[1]
                self._armed = None
                return when
        return None

    def _connect(self) -> socket.socket:
        if isinstance(self.target, str):
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            return upstream
        return socket.create_connection(self.target)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            link = _Link(self, client, self._connect())
            threading.Thread(target=link.to_server, daemon=True).start()
            threading.Thread(target=link.to_client, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self.listener.close()


@pytest.fixture
def db_proxy(transactional_db, monkeypatch):
    """The proxy; the `server` of these tests reaches the test database through it."""
    params = connection_params()
    host, port = params.get("host") or "/var/run/postgresql", int(params.get("port") or 5432)
    target = f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
    proxy = FaultyProxy(target)
    user = urllib.parse.quote(params.get("user", ""), safe="")
    password = (
        f":{urllib.parse.quote(params['password'], safe='')}" if params.get("password") else ""
    )
    url = (
        f"postgres://{user}{password}@127.0.0.1:{proxy.port}/"
        f"{urllib.parse.quote(params['dbname'], safe='')}?sslmode=disable&gssencmode=disable"
    )
    monkeypatch.setattr(trust, "database_url", lambda: url)
    yield proxy
    proxy.close()


@pytest.fixture
def server(db_proxy, server):
    """tests/trust's gunicorn server, connected to PostgreSQL through `db_proxy`."""
    return server
