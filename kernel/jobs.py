"""The job queue: work done outside the request, on PostgreSQL (procrastinate).

Why procrastinate: it needs no server beside PostgreSQL, a job is a row, so it can be
inserted **in the same transaction** as the change that causes it (a rolled-back change
leaves no job; a committed one is never forgotten); it retries with backoff, runs the jobs
sharing a `lock` one after another in the order they were deferred, runs periodic tasks,
and survives restarts (the jobs are rows; a worker that died is found by its heartbeat).

Declare a task in an app's `tasks.py` (found by procrastinate's Django app at start-up):

    from kernel import jobs

    @jobs.task(retry=jobs.retry_schedule([60, 300]))
    def send_thing(thing_id: int) -> None: ...

Defer it from a service, inside its `transaction.atomic()` block:

    jobs.defer(send_thing, lock=f"thing:{thing.pk}", thing_id=thing.pk)

Periodic: stack `@jobs.periodic(cron="*/5 * * * *")` above `@jobs.task(...)`; the task
then takes a `timestamp` keyword argument. A worker runs the jobs:
`python manage.py procrastinate worker` (`make run` starts one; README: Deploy).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.contrib.django import app
from procrastinate.jobs import Job
from procrastinate.tasks import Task
from procrastinate.types import TimeDeltaParams
from psycopg.types.json import Jsonb

from kernel.db.postgresql.base import plan_once

__all__ = ["RetryLater", "app", "defer", "defer_behind", "periodic", "retry_schedule", "task"]


def task(**options: Any) -> Callable[[Callable[..., Any]], Task[..., Any, Any]]:
    """Declare a task (procrastinate's `app.task`: `retry=`, `lock=`, `pass_context=`…)."""
    return app.task(**options)


def periodic(*, cron: str, **options: Any) -> Callable[[Task[..., Any, Any]], Any]:
    """Run a task on a cron schedule (the worker defers it; see procrastinate's docs)."""
    return app.periodic(cron=cron, **options)


# One job into procrastinate's queue through its own SQL function (its schema names it
# by version), as its procrastinate_defer_periodic_job_v2 calls it: a ROW of the job's
# fields, each a parameter of its own type.
_DEFER_ONE = plan_once(  # prepared where it is sent behind
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(%s, %s, %s, %s, %s, %s, NULL::timestamptz)]"
    "::procrastinate_job_to_defer_v1[])"
)


def defer(
    job_task: Task[..., Any, Any],
    *,
    lock: str | None = None,
    schedule_in: TimeDeltaParams | None = None,
    **task_kwargs: Any,
) -> int:
    """Enqueue `job_task(**task_kwargs)` on the caller's transaction; returns the job id.

    The job row is written through Django's connection, so it commits or rolls back with
    the change. Jobs with the same `lock` run one at a time, in the order deferred (an
    earlier one waiting to be retried holds the later ones back).
    """
    deferrer = job_task.configure(lock=lock, schedule_in=schedule_in)
    return deferrer.defer(**task_kwargs)


def defer_behind(
    job_task: Task[..., Any, Any], *, lock: str | None = None, **task_kwargs: Any
) -> None:
    """`defer`, for a caller that does not need the job's id: in a transaction the job's
    INSERT is sent without waiting for it (kernel/db/postgresql/base.py, `execute_behind`),
    so PostgreSQL writes it while the request goes on. Its error, if any, is raised by the
    connection's next statement or COMMIT, and the change rolls back with it, as with
    `defer`. A booking queues its confirmation so (issue 10)."""
    with connection.cursor() as cursor:
        if hasattr(cursor, "execute_behind"):
            cursor.execute_behind(_DEFER_ONE, _job_fields(job_task, lock, task_kwargs))
            return
    defer(job_task, lock=lock, **task_kwargs)


def _job_fields(job_task: Task[..., Any, Any], lock: str | None, task_kwargs: dict) -> list:
    """The job's fields as `Task.configure` sets them (the task's lock, queueing lock,
    queue and priority unless given), in procrastinate_job_to_defer_v1's order."""
    return [
        job_task.queue,
        job_task.name,
        job_task.priority,
        lock if lock is not None else job_task.lock,
        job_task.queueing_lock,
        Jsonb(task_kwargs),
    ]


class RetryLater(Exception):  # noqa: N818 (not an error: a request)
    """Raised by a task that decided itself to be run again in `seconds`."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"retry in {seconds} s")
        self.seconds = seconds


class ScheduleRetry(BaseRetryStrategy):
    """Retry after each of `delays` seconds in turn, then give up. A task raising
    `RetryLater` is retried after the delay it names, however many attempts it made."""

    def __init__(self, delays: Sequence[int]) -> None:
        self.delays = list(delays)

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, RetryLater):
            return RetryDecision(retry_in={"seconds": exception.seconds})
        # job.attempts counts the attempts before the one that just failed.
        if job.attempts >= len(self.delays):
            return None
        return RetryDecision(retry_in={"seconds": self.delays[job.attempts]})


def retry_schedule(delays: Sequence[int]) -> ScheduleRetry:
    return ScheduleRetry(delays)


def total_delay(delays: Sequence[int]) -> datetime.timedelta:
    return datetime.timedelta(seconds=sum(delays))
