"""The audit context, set once per transaction instead of before every write.

django-pghistory attaches a request's context (user, URL, address, method) to the
events its triggers record by putting two `set_config(..., true)` calls in front of every
statement that may write (`pghistory.runtime._inject_history_context`): ~45 µs a
statement. Those settings last until the transaction ends, so once a transaction holds
them, setting them again before each of its later writes only costs time: a booking sent
them six times, twice while holding its package's row lock (issue 10). `inject_once`
wraps pghistory's injector and skips it when the transaction already holds the same
context.

When the settings are still held is the backend's to know (kernel/db/postgresql/base.py,
`audit_context_held`): they are gone after COMMIT or ROLLBACK, and after a ROLLBACK TO a
savepoint taken before they were set; outside a transaction (autocommit) every statement
is its own transaction, so each is tagged. A change of the context's metadata (DRF
signing in the API's user mid-request) or a new context tags the next write again.

In a transaction the context is not put in the write's own text, as pghistory does, but
set by a statement of its own sent just before it (the backend's `queue_audit_context`,
as a waiting SAVEPOINT): the write then stays one statement, which can be sent behind or
in a pipeline with other statements (issue 10: a booking's key, claimed in the round trip
that reads its choices). Outside a transaction pghistory's way stays.
"""

from __future__ import annotations

import json
from typing import Any

from pghistory import config
from pghistory import runtime as pghistory_runtime

_inject = pghistory_runtime._inject_history_context
# Transaction control writes no row: never tagged (pghistory tags it; the context's
# settings would be set outside the savepoint a write then rolls back to).
TRANSACTION_CONTROL = ("savepoint", "release", "rollback")


def _current_key() -> tuple[str, str] | None:
    tracker = getattr(pghistory_runtime._tracker, "value", None)
    if tracker is None:
        return None
    return str(tracker.id), json.dumps(tracker.metadata, cls=config.json_encoder())


def inject_once(execute, sql, params, many, context: dict[str, Any]):
    """pghistory's execute wrapper, skipping statements whose transaction already holds
    the current context."""
    connection = context["connection"]
    held = getattr(connection, "audit_context_held", None)
    if held is None or connection.get_autocommit() or not isinstance(sql, str):
        return _inject(execute, sql, params, many, context)
    if sql[:12].lower().startswith(
        TRANSACTION_CONTROL
    ) or not pghistory_runtime._can_inject_variable(context["cursor"], sql):
        return execute(sql, params, many, context)  # no row written: nothing to tag
    key = _current_key()
    if key is not None and held(key):
        return execute(sql, params, many, context)
    queue = getattr(connection, "queue_audit_context", None)
    if key is not None and queue is not None and queue(key):
        # Set in front of the statement, as its own statement (the backend's waiting
        # control, where BEGIN waits): the statement goes as written, so it can travel
        # in a pipeline (a form's key claimed with the view's first read, issue 10).
        return execute(sql, params, many, context)
    result = _inject(execute, sql, params, many, context)
    if key is not None:
        connection.audit_context_set(key)
    return result


def install() -> None:
    """Make every pghistory context (its middleware's, kernel.middleware's, any
    `pghistory.context`) install `inject_once` as its execute wrapper: pghistory looks
    the wrapper up in its module when a context is entered."""
    pghistory_runtime._inject_history_context = inject_once
