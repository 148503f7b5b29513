"""The framework's nightly clean-up as this project declares it: ``settings.WorkerSettings`` carries the 02:00 cron
in ``APP_TIME_ZONE``, and the job that cron enqueues prunes old failed-store entries and long-finished batches
(keeping recent ones), on the real Redis with a real worker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from jobs.maintenance import prune_failed_jobs
from jobs.queues import CLEANUP
from jobs.schedules import cron_jobs
from queue_system import Batch, BatchNotFound, Client, QueueAPI, QueueConfig, worker_settings
from queue_system.scheduler import Scheduler
from tests.app.jobs import ALL, echo
from tests.support.queue_fixtures import ROOT, failed_entry, run_burst, subprocess_env

DAY_MS = 24 * 3600 * 1000

_DECLARED = """
import json, settings
print(json.dumps([
    [t.function, t.describe(), t.misfire.value, t.queue]
    for t in settings.WorkerSettings.qs_scheduling.schedules if getattr(t, "function", "") == "prune_failed_jobs"
]))
"""


def test_worker_settings_declare_the_cleanup_at_two_in_the_app_time_zone(redis_url: str) -> None:
    env = subprocess_env(redis_url, APP_TIME_ZONE="Asia/Jakarta")  # settings.py reads it at import: a fresh process
    done = subprocess.run([sys.executable, "-c", _DECLARED], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [["prune_failed_jobs", "cron 0 2 * * * (Asia/Jakarta)", "run_once", None]]


async def test_the_job_the_cron_enqueues_prunes_old_failed_entries_and_finished_batches(
    client: Client, config: QueueConfig
) -> None:
    echoes = worker_settings(jobs=ALL, queues=["alpha", "beta"], poll_delay_s=0.01, config=config)
    now_ms = int(time.time() * 1000)
    await client.failed.record(failed_entry("old-failure", failed_at_ms=now_ms - 31 * DAY_MS))
    await client.failed.record(failed_entry("new-failure", failed_at_ms=now_ms - DAY_MS))
    old_batch = await Batch.create("old", [echo.call(1)], client=client)
    new_batch = await Batch.create("new", [echo.call(2)], client=client)
    await run_burst(echoes)
    await run_burst(echoes)
    await client.redis.zadd(client.keys.batches_finished, {old_batch.batch_id: now_ms - 8 * DAY_MS})  # long ago

    (nightly,) = cron_jobs({"APP_TIME_ZONE": "UTC"})  # no queue of its own: the function's routing decides
    client.register(prune_failed_jobs.name, prune_failed_jobs.spec.info)  # as the cleanup workers publish it
    # The last 02:00 that has passed: its next tick is still ahead, so the clean-up worker's own scheduler (real
    # clock) finds nothing due. (A day earlier made it due again after 02:00 UTC: two runs, a test red all day.)
    now = datetime.now(UTC)
    two_am = now.replace(hour=2, minute=0, second=0, microsecond=0)
    if two_am > now:
        two_am -= timedelta(days=1)
    clock = [two_am.timestamp() - 5]
    scheduler = Scheduler(client, clock=lambda: clock[0])
    await scheduler.declare([nightly])
    await scheduler.run_once()
    clock[0] = two_am.timestamp() + 0.2
    await scheduler.run_once()  # 02:00: the cron enqueues the clean-up
    await run_burst(worker_settings(jobs=[prune_failed_jobs], queues=[CLEANUP], config=config, poll_delay_s=0.01))

    api = QueueAPI(client)
    (run,) = (await api.jobs(CLEANUP, "completed")).jobs
    assert run.function == prune_failed_jobs.name
    assert await client.job(run.job_id, CLEANUP).result(timeout=1) == {"failed": 1, "batches": 1}
    assert [e.job_id for e in (await client.failed.list()).entries] == ["new-failure"]
    assert (await api.batch(new_batch.batch_id)).finished
    try:
        await api.batch(old_batch.batch_id)
    except BatchNotFound:
        pass
    else:
        raise AssertionError("the batch finished 8 days ago was not pruned")
