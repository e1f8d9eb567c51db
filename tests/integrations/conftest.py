"""A real HTTP receiver for webhook tests: http.server in a thread on a free local port,
verifying each request's signature the way docs/webhooks.md tells integrators to."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """The receiver's check, as in docs/webhooks.md."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


class Receiver:
    def __init__(self):
        self.requests: list[dict] = []
        # Answers to give, in turn (status code, or ("sleep", seconds)); then 200.
        self.answers: list = []
        # Ids of objects whose next event is refused once (500), whatever arrives first.
        self.fail_once_about: set = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    about = json.loads(body or b"{}").get("data", {}).get("id")
                    if about in receiver.fail_once_about:
                        receiver.fail_once_about.discard(about)
                        answer = 500
                    else:
                        answer = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.requests.append(
                        {"headers": dict(self.headers), "body": body, "answer": answer}
                    )
                if isinstance(answer, tuple):
                    time.sleep(answer[1])
                    answer = 200
                self.send_response(answer)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"received": true}' if answer < 300 else b"oops")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def endpoint_for(admin_user):
    from integrations.models import EVENT_NAMES
    from integrations.services import webhook_endpoint_create

    def make(url, events=EVENT_NAMES):
        return webhook_endpoint_create(url=url, events=list(events), by=admin_user)

    return make
