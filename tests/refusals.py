"""One way for tests to expect a refusal from a service.

    with refused("invoice_not_open", field="amount", unchanged=db_state) as refusal:
        payment_record(...)
    assert refusal.value.context["balance"] == ...

A refusal is a `DomainError` (or `NotAllowed`, code "permission_denied") with the code the
test names; optionally its exact `message`, a `match` (regular expression searched in the
message, as in `pytest.raises`), the `field` it is about, and proof that nothing changed:
`unchanged` is a callable whose result (e.g. a snapshot of the rows the action could
touch) must be equal before and after.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from kernel.errors import DomainError


@contextmanager
def refused(
    code: str,
    *,
    message: str | None = None,
    match: str | None = None,
    field: str | None = None,
    unchanged: Callable[[], Any] | None = None,
) -> Iterator[pytest.ExceptionInfo[DomainError]]:
    """Expect the block to raise a DomainError with `code` (see the module docstring)."""
    before = unchanged() if unchanged is not None else None
    with pytest.raises(DomainError) as excinfo:
        yield excinfo
    error = excinfo.value
    assert error.code == code, f"refused with {error.code!r}: {error.message}"
    if message is not None:
        assert error.message == message
    if match is not None:
        assert re.search(match, error.message), f"{match!r} not in {error.message!r}"
    if field is not None:
        assert error.field == field, f"about {error.field!r}, not {field!r}: {error.message}"
    if unchanged is not None:
        assert unchanged() == before, "the refused action changed something"


def refusal(call: Callable[[], Any], code: str, **expected: Any) -> DomainError:
    """`refused` for a callable: call it, expect the refusal, return the error."""
    with refused(code, **expected) as excinfo:
        call()
    return excinfo.value
