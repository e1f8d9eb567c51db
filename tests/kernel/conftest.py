"""Fixtures of the kernel's tests."""

from __future__ import annotations

import pytest

from kernel.db.postgresql.base import DatabaseWrapper


@pytest.fixture
def round_trips(monkeypatch):
    """The pipelines ended during the test, each as the number of results it was still
    waiting for when it ended (one round trip answering what was sent in it)."""
    ended: list[int] = []
    wait = DatabaseWrapper.wait_behind

    def counting(self, **kwargs):
        if self._behind is not None:
            ended.append(len(self.connection._pipeline.result_queue))
        return wait(self, **kwargs)

    monkeypatch.setattr(DatabaseWrapper, "wait_behind", counting)
    return ended
