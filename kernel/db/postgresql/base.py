"""Django's PostgreSQL backend, plus what a lost connection needs to be told honestly.

When the connection to PostgreSQL breaks while COMMIT is on its way, nobody on this side
can know whether the server applied it: the COMMIT may have been lost before it arrived
(nothing saved) or its reply may have been lost after the server wrote it (saved). This
backend records that case on the connection (`commit_in_doubt`), and counts the COMMITs
that did succeed (`commits_done`), so that `kernel.middleware.DatabaseUnavailableMiddleware`
says "Nothing was saved" only when no COMMIT was sent during the request, and otherwise
that the outcome is unknown and how to check.

It also follows which audit context the open transaction holds (`audit_context_held`),
so that the context is set once per transaction rather than before every write
(kernel/db/audit_context.py).

And it sends a savepoint's SAVEPOINT and RELEASE with the statement that follows them
instead of on their own, saving a round trip each (issue 10: a booking took two of its
thirteen for them). A SAVEPOINT is held back until the next statement, and sent in front
of it in the same simple query ("SAVEPOINT s1; INSERT ..."): PostgreSQL runs them in
order, so the savepoint is taken before the statement, as before, and stays taken if the
statement fails (a ROLLBACK TO it then finds it). A RELEASE waits likewise. What waits is
dropped where it changes nothing: a savepoint released or rolled back to before any
statement ran inside it was never needed, and COMMIT or ROLLBACK ends every savepoint.
`CursorWrapper` puts what waits in front of the next statement; a server-side cursor's
DECLARE or an executemany gets it sent first, on its own. A transaction's BEGIN waits
the same way: psycopg's connection stays in autocommit (it would send BEGIN on its own,
a round trip, before the first statement), and the backend asks for the transaction
with that statement instead (`_set_autocommit`), with the connection's isolation level.

Last, the reads whose SQL is written once and run again and again with other values,
and whose best plan is the same whatever the values (a row by its key: `rows_by_pk`,
the `kernel.prepared` queries marked `planned()`, registered with `plan_once`), are
planned once per connection: they go with their values bound by the server (not pasted
in by psycopg) as a prepared statement, so PostgreSQL plans them on their first runs
only. Planning is most of what PostgreSQL spends on such a read: 0.26 ms of the 0.35 ms
of Create appointment's read of its choices (issue 10). Every other statement stays as
Django sends it (a search's best plan depends on its words), and none is prepared where
the connection keeps no prepared statements (`prepare_threshold` None: through
PgBouncer's transaction pooling, caspen/settings.py).

In a transaction, the audit context pghistory sets before a write goes the same way as a
waiting SAVEPOINT, as a statement of its own in front of the write
(`queue_audit_context`), where pghistory would put it in the write's own text: the write
is then sent as written, so it can go behind, or in a pipeline (kernel/db/audit_context.py).

And a write whose answer nobody needs (`execute_behind`: the ledger row a booking appends
while it holds its package's row lock, a form's stored answer) can be sent without
waiting for it: PostgreSQL runs it while Python goes on (a booking renders its panel
meanwhile), and the connection waits for it, in psycopg's pipeline mode, before anything
else it sends: the next statement, a savepoint's control or ROLLBACK (`wait_behind`).
A COMMIT goes in the same pipeline, after them, and is waited for with them: one round
trip for the writes and the COMMIT (`_commit_behind`). So the statements still run one
after another, in the order sent, in the same transaction; only the wait moves. Its
error, if any (a constraint, a lost connection), is raised there: the transaction is
then rolled back as for any failed statement (PostgreSQL skips a COMMIT that follows an
error in a pipeline). What must be answered before going on (a row's new id, a refusal
the caller turns into a message) is not sent behind.

Planned reads that follow one another can travel together the same way (`read_ahead`):
each is sent in the pipeline without waiting, and the cursor that then runs the same
statement with the same values gets its rows from the one round trip that answers them
all (a booking's package lock and, read after the lock, the package's services). They
still run in the order sent, each with its own snapshot; only statements that come next
are answered so: anything else run first drops what was read ahead, and it is read again.
A statement whose answer is needed can take reads ahead with it
(`execute_then_read_ahead`: a form's key claimed, with the view's first read).
"""

from __future__ import annotations

import functools
import select
from typing import Any

import psycopg as _psycopg
from django.db import DatabaseError, InterfaceError, OperationalError
from django.db.backends import utils
from django.db.backends.postgresql import base
from django.db.backends.postgresql.operations import DatabaseOperations as _Operations

try:  # psycopg's C implementation (psycopg[binary]), when installed
    import psycopg
    from psycopg.adapt import AdaptersMap, Loader
    from psycopg_binary._psycopg import (  # type: ignore[attr-defined] # (not in its stub)
        TimestamptzLoader as _CTimestamptzLoader,
    )
except ImportError:  # pragma: no cover - the pure-Python psycopg: Django's loader stays
    _CTimestamptzLoader = None


class DatabaseOperations(_Operations):
    def last_executed_query(self, cursor, sql, params):
        if not isinstance(cursor, _psycopg.ClientCursor):
            # A planned read, its values bound by the server: shown with them in place,
            # as Django shows a statement it binds client-side.
            try:
                return self.compose_sql(sql, params)
            except _psycopg.errors.DataError:
                return None
        text = super().last_executed_query(cursor, sql, params)
        sent = self.connection.control_sent
        if text and sent and text.startswith(sent + "; "):
            return text[len(sent) + 2 :]
        return text


_IDLE = _psycopg.pq.TransactionStatus.IDLE
# What pghistory puts in front of a write (pghistory.runtime._inject_history_context).
_AUDIT_CONTEXT_SQL = (
    "SELECT set_config('pghistory.context_id', %s, true), "
    "set_config('pghistory.context_metadata', %s, true)"
)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.commit_in_doubt = False
        self.commits_done = 0
        self._behind = None  # psycopg's pipeline, open while a write was sent behind
        # Planned reads sent ahead, in order: (sql, params, psycopg cursor with its rows).
        self._ahead: list[tuple[str, list, Any]] = []
        self._forget_audit_context()

    # ------------------------------------------------------------------ health check

    def is_usable(self) -> bool:
        """Whether the connection still works (Django asks before a request's first
        statement: `conn_health_checks`), known without a round trip when nothing has
        come from the server since its last answer. An idle connection is sent something
        only when the server ends it (its FATAL message, then the end of the stream: a
        restart, `pg_terminate_backend`, PgBouncer closing it) or, rarely, a notice or a
        notification; then Django's own check (SELECT 1) decides. It saved every request
        a round trip (issue 10)."""
        raw = self.connection
        if raw is None or raw.closed or raw.broken:
            return False
        if self._behind is None and raw.pgconn.transaction_status == _IDLE:
            try:
                readable, _, _ = select.select([raw.fileno()], [], [], 0)
            except (OSError, ValueError):
                return False
            if not readable:
                return True
        return super().is_usable()

    # ------------------------------------------------------------------ audit context
    # `_audit_key`: the audit context the open transaction holds (pghistory's
    # set_config(..., true)), set while `_audit_depth` savepoints were open;
    # `_savepoints`: the savepoints open, oldest first. A ROLLBACK TO a savepoint opened
    # before the context was set undoes it; a RELEASE keeps it, in the enclosing level.

    def _forget_audit_context(self) -> None:
        self._audit_key: tuple | None = None
        self._audit_depth = 0
        self._savepoints: list[str] = []
        # SAVEPOINT and RELEASE statements not sent yet, in order (see the module's doc);
        # those that went in front of the last statement, for the debug log.
        self.waiting_control: list[str] = []
        self.control_sent = ""

    def queue_audit_context(self, key: tuple) -> bool:
        """Have the audit context `key` (its id and metadata, as pghistory sets them) set
        by a statement of its own in front of the next one, as a waiting SAVEPOINT is
        (`waiting_control`), and count it held. In a transaction only (False outside:
        pghistory then puts it in front of the statement itself)."""
        if self.connection is None or self.get_autocommit():
            return False
        self.waiting_control.append(self.ops.compose_sql(_AUDIT_CONTEXT_SQL, list(key)))
        self.audit_context_set(key)
        return True

    def audit_context_held(self, key: tuple) -> bool:
        return self._audit_key == key

    def audit_context_set(self, key: tuple) -> None:
        self._audit_key = key
        self._audit_depth = len(self._savepoints)

    def _savepoint(self, sid):
        self.waiting_control.append(self.ops.savepoint_create_sql(sid))
        self._savepoints.append(sid)

    def _savepoint_rollback(self, sid):
        create = self.ops.savepoint_create_sql(sid)
        if create in self.waiting_control:
            # Nothing ran since it was asked for: nothing to undo. It stays asked for
            # (a savepoint rolled back to still exists), the savepoints after it go.
            del self.waiting_control[self.waiting_control.index(create) + 1 :]
        else:
            super()._savepoint_rollback(sid)  # with what waits in front (CursorWrapper)
        if sid not in self._savepoints:  # not opened through this wrapper: trust nothing
            self._audit_key = None
            return
        level = self._savepoints.index(sid)
        del self._savepoints[level + 1 :]  # the savepoint itself stays
        if self._audit_depth > level:
            self._audit_key = None

    def _savepoint_commit(self, sid):
        create = self.ops.savepoint_create_sql(sid)
        if self.waiting_control and self.waiting_control[-1] == create:
            self.waiting_control.pop()  # nothing ran inside it: never needed
        else:
            self.waiting_control.append(self.ops.savepoint_commit_sql(sid))
        if sid not in self._savepoints:
            self._audit_key = None
            return
        level = self._savepoints.index(sid)
        del self._savepoints[level:]
        self._audit_depth = min(self._audit_depth, level)

    def send_waiting_control(self) -> None:
        """Send the SAVEPOINTs and RELEASEs that wait, on their own (through a cursor of
        Django's kind: client-side, several statements in one)."""
        self.wait_behind()
        if self.waiting_control:
            statements = "; ".join(self.waiting_control)
            savepoints = [c for c in self.waiting_control if not c.startswith("BEGIN")]
            self.waiting_control.clear()
            with self.wrap_database_errors:
                self.connection.cursor().execute(statements)
            if savepoints and self.queries_logged:  # a round trip of its own: counted
                # as one (Django logged the BEGIN when the transaction was asked for)
                self.queries_log.append({"sql": "; ".join(savepoints), "time": "0.000"})

    # ------------------------------------------------------------------ sent behind

    def can_send_behind(self) -> bool:
        """Whether a write can be sent without waiting: in a transaction already begun
        (a first statement would wait for its BEGIN anyway), on psycopg's connection; or
        after another write sent behind (its pipeline open, the transaction busy)."""
        raw = self.connection
        if raw is None or self.get_autocommit():
            return False
        if self._behind is not None:
            return True
        return (
            raw._pipeline is None
            and raw.pgconn.transaction_status == _psycopg.pq.TransactionStatus.INTRANS
        )

    def send_behind(self, sql: str, params) -> None:
        """Send the write `sql` (one statement, values as %s parameters, bound by the
        server) after what waits of the savepoints, without waiting for either
        (`can_send_behind` must hold)."""
        cursor = self.send_control_behind()
        self.send_in_pipeline(cursor, sql, params, prepare=self.plans(sql))

    def sent_behind(self):
        """After a write sent behind (`execute_behind`): a function that waits for it
        unless the connection has since (raising its error); None when it was run at
        once (nothing to wait for)."""
        pipeline = self._behind
        if pipeline is None:
            return None

        def wait() -> None:
            if self._behind is pipeline:
                self.wait_behind()

        return wait

    def send_control_behind(self):
        """Open the pipeline (unless open) and send what waits of the transaction's
        control (BEGIN, savepoints) in it, each on its own; returns a cursor of it."""
        raw = self.connection
        if self._behind is None:
            pipeline = raw.pipeline()
            pipeline.__enter__()
            self._behind = pipeline
        cursor = _psycopg.Cursor(raw)
        for control in self.waiting_control:  # each on its own: no round trip in a pipeline
            self.send_in_pipeline(cursor, control)
        self.waiting_control.clear()
        return cursor

    def send_in_pipeline(self, cursor, sql: str, params=None, *, prepare: bool = False) -> None:
        """`cursor.execute`, in the pipeline if one is open. An error that comes back
        meanwhile (a write sent before it failed) ends the pipeline before it is raised,
        leaving the connection as any failed statement does (a ROLLBACK TO the savepoint
        then works)."""
        try:
            cursor.execute(sql, params, prepare=prepare)
        except BaseException:
            self.wait_behind(quiet=True)
            raise

    def wait_behind(self, *, quiet: bool = False) -> None:
        """Wait for the writes sent behind, raising the first one's error (unless `quiet`:
        a ROLLBACK follows, which undoes them whatever happened)."""
        pipeline, self._behind = self._behind, None
        if pipeline is None:
            return
        try:
            with self.wrap_database_errors:
                pipeline.__exit__(None, None, None)
        except DatabaseError:
            if not quiet:
                raise

    def read_ahead(self, sql: str, params) -> bool:
        """Send the planned read `sql` (registered with `plan_once`) with `params` now, in
        the pipeline, after what was sent or waits, without waiting for its rows: the
        cursor that runs it next, with the same values, gets them from the round trip
        that answers it (`take_ahead`). Only in a transaction, where a read sent ahead
        sees what it would have seen as the next statement. False when it cannot be
        (nothing was sent: the statement runs as usual)."""
        if sql not in _PLANNED or not self.can_read_ahead():
            return False
        raw = self.connection
        self.validate_no_broken_transaction()  # before anything is sent
        with self.wrap_database_errors:
            self.send_control_behind()
            cursor = _psycopg.Cursor(raw)
            self.send_in_pipeline(cursor, sql, params, prepare=True)
        self._ahead.append((sql, list(params), cursor))
        return True

    def plans(self, sql: str) -> bool:
        """Whether `sql` runs as a prepared statement: registered with `plan_once`, on a
        connection keeping prepared statements."""
        raw = self.connection
        return sql in _PLANNED and raw is not None and raw.prepare_threshold is not None

    def can_read_ahead(self) -> bool:
        """Whether planned reads can be sent ahead: in a transaction, on psycopg's
        connection keeping prepared statements (not through PgBouncer), in no pipeline
        but ours."""
        raw = self.connection
        return not (
            raw is None
            or self.get_autocommit()
            or raw.prepare_threshold is None
            or (raw._pipeline is not None and self._behind is None)
        )

    def take_ahead(self, sql: str, params):
        """The psycopg cursor holding the rows of `sql` with `params` when they were the
        first read sent ahead (waiting for them if they have not come yet); None
        otherwise, and then every read sent ahead is dropped: something else runs
        first."""
        ahead, self._ahead = self._ahead, []
        if not ahead:
            return None
        sent, sent_params, cursor = ahead[0]
        if sent != sql or params is None or list(params) != sent_params or self.waiting_control:
            return None  # their rows come with the next round trip, unread
        self.wait_behind()  # their error, if any, raised here (the rest dropped)
        self._ahead = ahead[1:]
        return cursor

    def make_cursor(self, cursor):
        return CursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor):
        return CursorDebugWrapper(cursor, self)

    def _rollback(self):
        self._ahead = []
        self.wait_behind(quiet=True)
        self._forget_audit_context()
        return super()._rollback()

    def _close(self):
        self._behind = None  # the connection goes, and its pipeline with it
        self._ahead = []
        self._forget_audit_context()
        return super()._close()

    def _set_autocommit(self, autocommit):
        self._ahead = []
        self.wait_behind(quiet=True)  # the transaction has already ended
        self._forget_audit_context()
        if not self.connection.autocommit:  # a connection this backend did not set up
            return super()._set_autocommit(autocommit)
        if not autocommit:
            # psycopg's connection stays in autocommit; the transaction's BEGIN waits,
            # as a savepoint's SAVEPOINT does, and goes with its first statement.
            self.waiting_control.append(self._begin_sql())

    def _begin_sql(self) -> str:
        """The BEGIN psycopg would send, with the connection's transaction options."""
        raw = self.connection
        parts = ["BEGIN"]
        if raw.isolation_level is not None:
            level = _psycopg.IsolationLevel(raw.isolation_level).name.replace("_", " ")
            parts.append(f"ISOLATION LEVEL {level}")
        if raw.read_only is not None:
            parts.append("READ ONLY" if raw.read_only else "READ WRITE")
        if raw.deferrable is not None:
            parts.append("DEFERRABLE" if raw.deferrable else "NOT DEFERRABLE")
        return " ".join(parts)

    def create_cursor(self, name=None):
        cursor = super().create_cursor(name)
        if name:
            # Django holds a named cursor past COMMIT when the connection is in
            # autocommit; psycopg's always is: hold it when Django's is.
            cursor._withhold = self.get_autocommit()
        return cursor

    def get_new_connection(self, conn_params):
        self._forget_audit_context()
        return super().get_new_connection(conn_params)

    def get_connection_params(self):
        params = super().get_connection_params()
        if _CTimestamptzLoader is not None and "context" in params:
            params["context"] = _with_fast_timestamps(params["context"], self.timezone)
        return params

    def _commit(self):
        self._forget_audit_context()
        self._ahead = []
        try:
            result = self._commit_behind() if self._behind is not None else super()._commit()
        except (OperationalError, InterfaceError):
            # A refusal at COMMIT (a deferred constraint, a serialization failure) is a
            # definite rollback and leaves the connection usable; a broken connection
            # leaves the outcome unknown.
            raw = self.connection
            if raw is None or raw.closed or raw.broken:
                self.commit_in_doubt = True
            raise
        self.commits_done += 1
        return result

    def _commit_behind(self) -> None:
        """COMMIT sent after the writes sent behind, in their pipeline, and waited for
        with them: one round trip where waiting for them, then committing, took two
        (issue 10). A write that failed is raised here, as it was before COMMIT, and
        nothing is saved: in a pipeline PostgreSQL skips what follows an error until the
        pipeline's end (and a COMMIT of a failed transaction would only roll it back).
        The caller rolls back, as after any refused COMMIT."""
        pipeline, self._behind = self._behind, None
        with self.wrap_database_errors:
            try:
                _psycopg.Cursor(self.connection).execute("COMMIT", prepare=False)
            except BaseException as exc:
                pipeline.__exit__(type(exc), exc, exc.__traceback__)
                raise
            pipeline.__exit__(None, None, None)

    def forget_commits(self) -> None:
        """Start a new request: no COMMIT seen yet."""
        self.commit_in_doubt = False
        self.commits_done = 0


# The SQL of the reads planned once per connection (`plan_once`).
_PLANNED: set[str] = set()


def plan_once(sql: str) -> str:
    """Have the read `sql` (one SELECT, values as %s parameters) planned once per
    connection: run as a prepared statement, its values bound by the server. A write
    registered too is prepared where it goes in a pipeline (sent behind, or with reads
    ahead): PostgreSQL then parses and plans a booking's INSERTs once per connection.
    Returns `sql`."""
    _PLANNED.add(sql)
    return sql


class _SendsWaitingControl:
    """Cursor wrapper part: what waits of the savepoints goes in front of the next
    statement (DatabaseWrapper.waiting_control); a read registered with `plan_once` runs
    as a prepared statement."""

    db: Any  # the DatabaseWrapper (utils.CursorWrapper's)
    cursor: Any
    _execute_with_wrappers: Any  # utils.CursorWrapper's
    execute: Any
    _client_cursor = None  # the psycopg cursor Django made, while a planned read's is used

    def _back_to_django_cursor(self) -> None:
        """After a planned read, the next statement goes through Django's cursor again."""
        if self._client_cursor is not None:
            self.cursor, self._client_cursor = self._client_cursor, None

    def execute_behind(self, sql: str, params) -> None:
        """Run the write `sql` as `execute` would, without waiting for it when the
        connection can (DatabaseWrapper.send_behind): for a write whose result is not
        needed; it has none (no rowcount, nothing to fetch). Sent as is, through the
        execute wrappers; one that changes the statement (pghistory's, putting its
        context in front) has it run and waited for as usual."""

        def executor(sent, sent_params, many, context):
            self._back_to_django_cursor()
            self.db._ahead = []  # a write first: what was read ahead is read again
            if sent is not sql or not self.db.can_send_behind():
                return self._execute(sent, sent_params)
            self.db.validate_no_broken_transaction()
            with self.db.wrap_database_errors:
                self.db.send_behind(sent, sent_params)

        self._execute_with_wrappers(sql, params, many=False, executor=executor)

    def execute_then_read_ahead(self, sql: str, params, reads) -> Any:
        """`execute(sql, params)`, the planned reads `reads` ((sql, params) each) sent
        right after it, and one round trip answering all: the statement's result is
        here, the reads' rows are kept for the statements that run them next
        (`DatabaseWrapper.read_ahead`): a form's key claimed, then what its view reads
        first. As `execute` where they cannot go (no reads, outside a transaction, a
        statement changed on its way by a wrapper)."""
        if not reads:
            return self.execute(sql, params)

        def executor(sent, sent_params, many, context):
            self._back_to_django_cursor()
            if sent is not sql or not self.db.can_read_ahead():
                return self._execute(sent, sent_params)
            self.db._ahead = []
            self.db.validate_no_broken_transaction()  # before anything is sent
            self.db.control_sent = "; ".join(self.db.waiting_control)
            with self.db.wrap_database_errors:
                cursor = self.db.send_control_behind()
                self.db.send_in_pipeline(cursor, sent, sent_params, prepare=self.db.plans(sent))
            try:
                for read_sql, read_params in reads:
                    self.db.read_ahead(read_sql, read_params)
                self.db.wait_behind()  # the statement's error, if any, raised here
            except BaseException:
                self.db._ahead = []  # skipped by PostgreSQL after the error
                raise
            self._client_cursor, self.cursor = self.cursor, cursor
            return cursor

        return self._execute_with_wrappers(sql, params, many=False, executor=executor)

    def _execute(self, sql, params, *ignored_wrapper_args):
        self._back_to_django_cursor()
        if self.db._ahead:
            self.db.validate_no_broken_transaction()  # as Django's _execute, first
            with self.db.wrap_database_errors:
                ahead = self.db.take_ahead(sql, params)
            if ahead is not None:  # its rows came with an earlier round trip
                self._client_cursor, self.cursor = self.cursor, ahead
                return ahead
        if (
            (self.db._behind is not None or self.db.waiting_control)
            and params is not None
            and sql in _PLANNED
            and self._plans_kept()
        ):
            # A planned read after writes sent behind, or with BEGIN or a savepoint
            # waiting, goes in one pipeline with them, and one round trip waits for them
            # and answers it (a booking's package lock, after its confirmation job); it
            # stays planned once. A statement that failed is raised, the read skipped.
            self.db.validate_no_broken_transaction()  # before anything is sent
            self.db.control_sent = "; ".join(self.db.waiting_control)
            self.db.send_control_behind()
            return self._execute_planned(sql, params)
        self.db.wait_behind()
        waiting = self.db.waiting_control
        if not waiting:
            if params is not None and sql in _PLANNED and self._plans_kept():
                return self._execute_planned(sql, params)
            return super()._execute(sql, params, *ignored_wrapper_args)
        self.db.validate_no_broken_transaction()  # before anything is sent, as Django
        if not isinstance(sql, str) or getattr(self.cursor, "name", None):
            # A server-side cursor's DECLARE takes one statement: send them first.
            self.db.send_waiting_control()
            return super()._execute(sql, params, *ignored_wrapper_args)
        if params is not None and hasattr(self.cursor, "mogrify"):
            # The statement with its values merged, as psycopg's client-side binding
            # sends it, and the whole sent without parameters. psycopg caches the parse of
            # a statement's text for its placeholders; the savepoint's name makes each
            # joined text new, and parsing it again cost a booking 0.2-0.3 ms (issue 10).
            with self.db.wrap_database_errors:
                sql, params = self.cursor.mogrify(sql, params), None
        self.db.control_sent = "; ".join(waiting)
        sql = self.db.control_sent + "; " + sql
        waiting.clear()
        with self.db.wrap_database_errors:
            result = (
                self.cursor.execute(sql) if params is None else self.cursor.execute(sql, params)
            )
            while self.cursor.nextset():  # to the statement's own result, the last
                pass
        return result

    def _plans_kept(self) -> bool:
        raw = self.db.connection
        return (
            raw.prepare_threshold is not None
            and isinstance(self.cursor, _psycopg.ClientCursor)
            and not getattr(self.cursor, "name", None)  # not a server-side cursor
            and (not raw._pipeline or self.db._behind is not None)  # none, or our own
        )

    def _execute_planned(self, sql, params):
        self.db.validate_no_broken_transaction()
        server = _psycopg.Cursor(self.db.connection)
        with self.db.wrap_database_errors:
            self.db.send_in_pipeline(server, sql, params, prepare=True)
        self.db.wait_behind()  # in a pipeline: its end brings the read's rows
        self._client_cursor, self.cursor = self.cursor, server
        return server

    def _executemany(self, sql, param_list, *ignored_wrapper_args):
        self._back_to_django_cursor()
        self.db._ahead = []
        self.db.wait_behind()
        self.db.validate_no_broken_transaction()
        self.db.send_waiting_control()
        return super()._executemany(sql, param_list, *ignored_wrapper_args)

    def callproc(self, procname, params=None, kparams=None):
        self._back_to_django_cursor()
        self.db._ahead = []
        self.db.wait_behind()
        self.db.validate_no_broken_transaction()
        self.db.send_waiting_control()
        return super().callproc(procname, params, kparams)


class CursorWrapper(_SendsWaitingControl, utils.CursorWrapper):
    pass


class CursorDebugWrapper(_SendsWaitingControl, utils.CursorDebugWrapper):
    """Logs each statement as its caller sent it (`connection.queries`, tests' captured
    queries), with what went in front of it under "with" (e.g. 'SAVEPOINT "s1"'): a
    statement that carried a savepoint still reads as the statement it is."""

    def execute(self, sql, params=None):
        self.db.control_sent = ""
        try:
            return super().execute(sql, params)
        finally:
            if self.db.control_sent and self.db.queries_log:
                self.db.queries_log[-1]["with"] = self.db.control_sent

    def execute_behind(self, sql, params):
        with self.debug_sql(sql, params):
            return super().execute_behind(sql, params)

    def execute_then_read_ahead(self, sql, params, reads):
        if not reads:
            return self.execute(sql, params)
        self.db.control_sent = ""
        try:
            with self.debug_sql(sql, params):
                return super().execute_then_read_ahead(sql, params, reads)
        finally:
            if self.db.control_sent and self.db.queries_log:
                self.db.queries_log[-1]["with"] = self.db.control_sent


if _CTimestamptzLoader is not None:

    class _FastTzLoader(Loader):
        """Django's timestamptz loader (`psycopg_any.BaseTzLoader`: the value on the
        connection's clock, then given Django's `timezone`), parsing with psycopg's C
        loader instead of its Python one (~3x faster: a calendar week reads hundreds).
        The same values: the C and Python loaders both read the text PostgreSQL sends in
        the connection's TimeZone, which Django sets to its own."""

        timezone = None

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self._load = _CTimestamptzLoader(oid, context).load

        def load(self, data):
            return self._load(data).replace(tzinfo=self.timezone)


@functools.lru_cache
def _with_fast_timestamps(template: AdaptersMap, timezone) -> AdaptersMap:
    """Django's adapters `template` with `_FastTzLoader` for `timezone` (Django's own
    cursor set-up keeps it: it re-registers only a loader of another `timezone`)."""
    context = AdaptersMap(template)
    loader = type("FastTzLoader", (_FastTzLoader,), {"timezone": timezone})
    context.register_loader(psycopg.adapters.types["timestamptz"].oid, loader)
    return context
