"""Jobs of the queue itself (kernel/jobs.py)."""

from __future__ import annotations

import logging

from procrastinate.job_context import JobContext

from kernel import jobs

logger = logging.getLogger(__name__)

# A worker writes a heartbeat every 10 s; one silent for this long died (killed, host
# lost) and its running jobs would otherwise stay "doing" for ever.
STALLED_AFTER_SECONDS = 300


@jobs.periodic(cron="*/5 * * * *")
@jobs.task(queueing_lock="kernel.retry_stalled_jobs", pass_context=True)
async def retry_stalled_jobs(context: JobContext, timestamp: int) -> None:
    """Put the jobs of dead workers back in the queue (at least once, never lost)."""
    manager = context.app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS):
        logger.warning("Retrying stalled job %s (%s)", job.id, job.task_name)
        await manager.retry_job(job)
