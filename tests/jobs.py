"""Run the job queue's real worker in tests (kernel/jobs.py).

`run_jobs()` runs procrastinate's worker in this process, against the test database,
until no job is due, then returns: the jobs' effects are then visible. Tests that defer
jobs need committed rows, so they use `transactional_db` (the worker has its own
connection). `make_due()` brings the jobs waiting for a retry forward to now, so a test
sees the next attempt without waiting minutes.
"""

from __future__ import annotations

import logging

from django.db import connection, connections
from procrastinate.contrib.django.db_cleanup import close_db_connections_async

from kernel.jobs import app

TABLES = ("procrastinate_events", "procrastinate_periodic_defers", "procrastinate_jobs")


def clear_jobs() -> None:
    """Empty the queue (pytest-django's flush does not: the tables are not Django's)."""
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"DELETE FROM {table}")


def _close_connections(call_next, context, worker):
    """Close the task thread's Django connections after each job (the worker's threads
    end with the run; connections left open would keep the test database busy)."""
    try:
        return call_next()
    finally:
        connections.close_all()


def run_jobs(*, concurrency: int = 1) -> None:
    """Run the worker until no job is due (jobs scheduled later are left waiting).

    A worker started with `wait=False` stops as soon as it finds nothing to fetch, which
    may be while a job holds back the later ones sharing its lock: run it again while
    due jobs remain."""
    worker_app = app.with_connector(app.connector.get_worker_connector())
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    for _ in range(50):
        worker_app.run_worker(
            wait=False,
            listen_notify=False,
            install_signal_handlers=False,
            concurrency=concurrency,
            fetch_job_polling_interval=0.1,
            delete_jobs="never",
            task_middleware=[_close_connections, close_db_connections_async],
        )
        if not due_jobs():
            return
    raise AssertionError("jobs still due after 50 runs of the worker")


def due_jobs() -> int:
    with connection.cursor() as cursor:
        # Due, and not held back by an earlier job of its lock (waiting for a retry).
        cursor.execute(
            "SELECT count(*) FROM procrastinate_jobs AS job WHERE job.status = 'todo' "
            "AND (job.scheduled_at IS NULL OR job.scheduled_at <= now()) "
            "AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs AS earlier "
            "WHERE job.lock IS NOT NULL AND earlier.lock = job.lock "
            "AND earlier.status IN ('todo', 'doing') AND earlier.id < job.id)"
        )
        return cursor.fetchone()[0]


def make_due() -> int:
    """Make every waiting job due now; returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = now() "
            "WHERE status = 'todo' AND scheduled_at > now()"
        )
        return cursor.rowcount


def job_rows(task_name: str | None = None) -> list[dict]:
    """The queue's rows (id, task_name, status, lock, args, attempts, queue_name,
    priority, queueing_lock), oldest first."""
    sql = (
        "SELECT id, task_name, status, lock, args, attempts, queue_name, priority, "
        "queueing_lock FROM procrastinate_jobs"
    )
    params: list[str] = []
    if task_name:
        sql += " WHERE task_name = %s"
        params.append(task_name)
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY id", params)
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
