"""Run the job queue's real worker in tests (kernel/jobs.py).

`run_jobs()` runs procrastinate's worker in this process, against the test database,
until no job is due, then returns: the jobs' effects are then visible. Tests that defer
jobs need committed rows, so they use `transactional_db` (the worker has its own
connection). `make_due()` brings the jobs waiting for a retry forward to now, so a test
sees the next attempt without waiting minutes.
"""

from __future__ import annotations

import logging

from django.db import connection

from kernel.jobs import app

TABLES = ("procrastinate_events", "procrastinate_periodic_defers", "procrastinate_jobs")


def clear_jobs() -> None:
    """Empty the queue (pytest-django's flush does not: the tables are not Django's)."""
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"DELETE FROM {table}")


def run_jobs(*, concurrency: int = 1) -> None:
    """Run the worker until no job is due (jobs scheduled later are left waiting)."""
    worker_app = app.with_connector(app.connector.get_worker_connector())
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    worker_app.run_worker(
        wait=False,
        listen_notify=False,
        install_signal_handlers=False,
        concurrency=concurrency,
        fetch_job_polling_interval=0.1,
        delete_jobs="never",
    )


def make_due() -> int:
    """Make every waiting job due now; returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = now() "
            "WHERE status = 'todo' AND scheduled_at > now()"
        )
        return cursor.rowcount


def job_rows(task_name: str | None = None) -> list[dict]:
    """The queue's rows (id, task_name, status, lock, args, attempts), oldest first."""
    sql = "SELECT id, task_name, status, lock, args, attempts FROM procrastinate_jobs"
    params: list[str] = []
    if task_name:
        sql += " WHERE task_name = %s"
        params.append(task_name)
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY id", params)
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
