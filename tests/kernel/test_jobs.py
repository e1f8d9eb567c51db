"""The job queue (kernel/jobs.py): a job is enqueued in the transaction of the change that
causes it, and a real worker runs it, with retries and one-at-a-time locks."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.db import transaction

from kernel import jobs as kernel_jobs

RUNS: list[str] = []


@kernel_jobs.task(name="tests.make_group")
def make_group(name: str) -> None:
    Group.objects.create(name=name)


@kernel_jobs.task(name="tests.flaky", retry=kernel_jobs.retry_schedule([60, 60]))
def flaky(name: str) -> None:
    RUNS.append(name)
    if RUNS.count(name) < 3:
        raise RuntimeError("not yet")
    Group.objects.create(name=name)


@kernel_jobs.task(name="tests.record")
def record(name: str) -> None:
    RUNS.append(name)


class Refused(Exception):
    pass


def test_a_rolled_back_change_leaves_no_job(jobs):
    with pytest.raises(Refused), transaction.atomic():
        Group.objects.create(name="change")
        kernel_jobs.defer(make_group, name="from-rolled-back")
        assert len(jobs.job_rows()) == 1  # written on the same connection...
        raise Refused
    assert jobs.job_rows() == []  # ...and gone with the change
    jobs.run_jobs()
    assert not Group.objects.filter(name__in=["change", "from-rolled-back"]).exists()


def test_a_committed_change_runs_its_job(jobs):
    with transaction.atomic():
        Group.objects.create(name="change")
        kernel_jobs.defer(make_group, name="from-committed")
    jobs.run_jobs()
    assert Group.objects.filter(name="from-committed").exists()
    assert [row["status"] for row in jobs.job_rows("tests.make_group")] == ["succeeded"]


def test_a_failing_job_is_retried_on_the_schedule_then_succeeds(jobs):
    RUNS.clear()
    kernel_jobs.defer(flaky, name="flaky")
    jobs.run_jobs()
    (row,) = jobs.job_rows("tests.flaky")
    assert row["status"] == "todo" and row["attempts"] == 1  # waits a minute
    jobs.run_jobs()
    assert RUNS == ["flaky"]  # not due yet
    assert jobs.make_due() == 1
    jobs.run_jobs()
    jobs.make_due()
    jobs.run_jobs()
    assert RUNS == ["flaky"] * 3
    assert Group.objects.filter(name="flaky").exists()
    assert jobs.job_rows("tests.flaky")[0]["status"] == "succeeded"


def test_jobs_sharing_a_lock_run_in_the_order_deferred(jobs):
    RUNS.clear()
    with transaction.atomic():
        for n in range(6):
            kernel_jobs.defer(record, lock="thing:1", name=f"a{n}")
            kernel_jobs.defer(record, lock="thing:2", name=f"b{n}")
    jobs.run_jobs(concurrency=4)
    assert [r for r in RUNS if r.startswith("a")] == [f"a{n}" for n in range(6)]
    assert [r for r in RUNS if r.startswith("b")] == [f"b{n}" for n in range(6)]


def test_the_jobs_of_a_dead_worker_are_run_again(jobs):
    """A worker killed mid-job leaves it "doing"; the periodic recovery job puts it back in
    the queue once the worker's heartbeat is 5 minutes old (kernel/tasks.py), and it runs."""
    from django.db import connection

    job_id = kernel_jobs.defer(make_group, name="after-a-crash")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) "
            "VALUES (now() - interval '10 minutes') RETURNING id"
        )
        (worker_id,) = cursor.fetchone()
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s WHERE id = %s",
            [worker_id, job_id],
        )
    # The worker defers the periodic recovery job as it starts (the last 5-minute slot);
    # deferred here too, so the test does not depend on that timing.
    from kernel.tasks import retry_stalled_jobs

    kernel_jobs.defer(retry_stalled_jobs, timestamp=0)
    jobs.run_jobs()
    assert Group.objects.filter(name="after-a-crash").exists()
    statuses = {row["status"] for row in jobs.job_rows("kernel.tasks.retry_stalled_jobs")}
    assert statuses == {"succeeded"}


# ------------------------------------------------------------------ deferred behind


def _queued(jobs, task_name):
    return [
        {
            **{k: row[k] for k in ("queue_name", "priority", "lock", "queueing_lock")},
            "args": json.loads(row["args"]),
        }
        for row in jobs.job_rows(task_name)
    ]


@kernel_jobs.task(name="tests.locked_record", lock="default-lock", priority=3, queue="slow")
def locked_record(name: str) -> None:
    RUNS.append(name)


# A queue name longer than procrastinate_jobs.queue_name's 128 characters: its INSERT fails.
@kernel_jobs.task(name="tests.misqueued", queue="q" * 200)
def misqueued(name: str) -> None:
    RUNS.append(name)


def test_a_job_deferred_behind_is_the_row_defer_writes_and_runs(jobs):
    """`defer_behind` writes the job `defer` would (the task's queue, priority and lock
    unless given), without waiting for it, and a worker runs it after COMMIT."""
    from django.db import connection

    RUNS.clear()
    with transaction.atomic():
        Group.objects.create(name="change")
        kernel_jobs.defer(locked_record, name="one")
        kernel_jobs.defer(locked_record, lock="mine", name="two")
        kernel_jobs.defer_behind(locked_record, name="one")
        assert connection._behind is not None  # sent, not waited for
        kernel_jobs.defer_behind(locked_record, lock="mine", name="two")
    rows = _queued(jobs, "tests.locked_record")
    assert rows[:2] == rows[2:]  # the same two rows, either way
    assert rows[0] == {
        "queue_name": "slow",
        "priority": 3,
        "lock": "default-lock",
        "queueing_lock": None,
        "args": {"name": "one"},
    }
    jobs.run_jobs()
    assert sorted(RUNS) == ["one", "one", "two", "two"]


def test_a_job_deferred_behind_rolls_back_with_its_change(jobs):
    with pytest.raises(Refused), transaction.atomic():
        Group.objects.create(name="change")
        kernel_jobs.defer_behind(make_group, name="from-rolled-back")
        raise Refused
    assert jobs.job_rows() == []
    assert not Group.objects.filter(name="change").exists()


def test_a_job_deferred_behind_that_fails_fails_the_change(jobs):
    """An error writing the job is raised by the next statement (here COMMIT's wait), and
    nothing of the change is kept."""
    from django.db import DatabaseError

    with pytest.raises(DatabaseError, match="too long"), transaction.atomic():
        Group.objects.create(name="change")
        kernel_jobs.defer_behind(misqueued, name="refused")  # sent: no error yet
    assert jobs.job_rows() == []
    assert not Group.objects.filter(name="change").exists()


def test_outside_a_transaction_a_job_deferred_behind_is_written_at_once(jobs):
    kernel_jobs.defer_behind(make_group, name="autocommit")
    assert [json.loads(row["args"]) for row in jobs.job_rows("tests.make_group")] == [
        {"name": "autocommit"}
    ]
