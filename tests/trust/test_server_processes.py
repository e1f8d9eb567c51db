"""The server the trust tests race against really is several processes."""

from pathlib import Path

import pytest
import requests

from tests.trust.conftest import WORKERS, fire

pytestmark = [pytest.mark.concurrency]


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def test_gunicorn_runs_several_worker_processes(server):
    assert len(_children(server.process.pid)) == WORKERS
    responses = fire([lambda: requests.get(server.url + "/login/", timeout=30)] * 20, workers=20)
    assert {r.status_code for r in responses} == {200}
