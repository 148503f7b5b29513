"""Schedules on the real Redis with an injected clock: misfire policies after an outage, exactly-once claims
between several schedulers, condition schedules and their cooldown, run-time schedule changes, cron parsing."""

from __future__ import annotations

import asyncio
import time

import pytest

from queue_system import (
    Client,
    Condition,
    ConfigError,
    QueueAPI,
    QueueConfig,
    ScheduleNotFound,
    cron,
    every,
    heartbeat,
    worker_settings,
)
from queue_system.cron import CronTrigger, IntervalTrigger
from queue_system.heartbeat import WorkerInfo
from queue_system.scheduler import Scheduler, schedule_job_id
from tests.app.jobs import ALL

T0 = 1_800_000_000.0  # a whole minute (1_800_000_000 % 60 == 0)


@pytest.fixture(autouse=True)
def _routing(client: Client) -> None:
    """The test jobs' routing, as a worker would publish it (so their payloads are not encrypted)."""
    for handle in ALL:
        client.register(handle.name, handle.spec.info)


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def scheduled_ids(api: QueueAPI, name: str, queue: str = "alpha") -> list[str]:
    page = await api.jobs(queue, "waiting", tag=("schedule", name), limit=1000)
    return sorted(job.job_id for job in page.jobs)


def ticks(ids: list[str]) -> list[int]:
    return sorted(int(i.rsplit(":", 1)[1]) for i in ids)


def test_cron_expressions_and_intervals() -> None:
    every_second = CronTrigger("* * * * * *")
    assert every_second.next_after(1500) == 2000 and every_second.prev_before(2000) == 1000
    nightly = CronTrigger("0 2 * * *", "Asia/Jakarta")  # 02:00 in UTC+7 is 19:00 UTC
    assert nightly.next_after(0) == 19 * 3600 * 1000
    assert IntervalTrigger(2.5, 1000).next_after(3500) == 6000
    for bad in ("* * *", "61 * * * *", "* * * * * * * *"):
        with pytest.raises(ConfigError):
            CronTrigger(bad)
    with pytest.raises(ConfigError):
        cron("echo", "0 2 * * *", tz="Mars/Olympus")
    with pytest.raises(ConfigError):
        cron("echo", "* * * * *", misfire="sometimes")


@pytest.mark.parametrize(
    ("policy", "expected_missed"),
    [("skip", 0), ("run_once", 1), ("catch_up", 4)],
)
async def test_misfire_policy_after_a_five_minute_outage(client: Client, policy: str, expected_missed: int) -> None:
    api = QueueAPI(client)
    clock = Clock(T0 + 0.5)
    schedule = cron(
        "echo", "*/10 * * * * *", name=f"c-{policy}", args=[policy], misfire=policy, catch_up_limit=4, queue="alpha"
    )
    first = Scheduler(client, clock=clock)
    await first.declare([schedule])
    await first.run_once()
    assert await scheduled_ids(api, schedule.name) == []  # next tick is T0 + 10

    clock.t = T0 + 10.2
    await first.run_once()
    assert ticks(await scheduled_ids(api, schedule.name)) == [int((T0 + 10) * 1000)]

    # an outage of five minutes: no worker runs; then a worker starts again and declares the same cron
    clock.t = T0 + 10 + 300 + 0.3
    back = Scheduler(client, clock=clock)
    await back.declare([schedule])
    await back.run_once()
    fired = ticks(await scheduled_ids(api, schedule.name))[1:]
    on_time = int((T0 + 310) * 1000)  # the tick of "now" (within the grace) runs whatever the policy
    assert fired[-1] == on_time
    missed = fired[:-1]
    assert len(missed) == expected_missed
    assert missed == [on_time - 10_000 * k for k in range(expected_missed, 0, -1)]  # the latest missed ones
    await back.run_once()  # nothing more: the schedule's clock moved past now
    assert len(await scheduled_ids(api, schedule.name)) == 1 + len(fired)
    state = await api.schedule(schedule.name)
    assert state.next_runs(2) == [on_time + 10_000, on_time + 20_000]


async def test_each_tick_is_claimed_once_among_racing_schedulers(client: Client) -> None:
    api = QueueAPI(client)
    clock = Clock(T0)
    schedulers = [Scheduler(client, clock=clock) for _ in range(4)]
    await schedulers[0].declare([every("echo", 1, name="racy", args=["x"], queue="alpha")])
    for step in range(1, 21):
        clock.t = T0 + step * 0.5
        for scheduler in schedulers:
            await scheduler.run_once()
    fired = ticks(await scheduled_ids(api, "racy"))
    assert fired == [int((T0 + s) * 1000) for s in range(1, 11)]
    assert (await api.schedule("racy")).fired == 10


async def test_a_claimed_tick_never_enqueued_is_recovered_under_its_id(client: Client) -> None:
    api = QueueAPI(client)
    clock = Clock(T0)
    scheduler = Scheduler(client, clock=clock)
    await scheduler.declare([every("echo", 1, name="lost", args=["x"], queue="alpha")])
    state = await api.schedule("lost")
    tick = int((T0 + 1) * 1000)
    clock.t = T0 + 1
    assert await scheduler.store.claim(state, tick + 1000, tick, [tick])  # claimed, then its worker "died"
    await scheduler.run_once()
    assert await scheduled_ids(api, "lost") == []  # too fresh: its claimer may still be enqueueing
    clock.t = T0 + 4.5
    await scheduler.run_once()
    assert schedule_job_id("lost", tick) in await scheduled_ids(api, "lost")
    assert (await api.schedule("lost")).pending == {}


async def test_condition_fires_once_per_cooldown(client: Client) -> None:
    api = QueueAPI(client)
    await api.pause("beta")
    for i in range(3):
        await client.enqueue_job("on_beta", i, _queue="beta")
    clock = Clock(T0)
    schedulers = [Scheduler(client, clock=clock) for _ in range(3)]
    backlog = Condition(
        "beta-backlog", "echo", queue="beta", target_queue="alpha", metric="waiting", threshold=2, cooldown_s=10,
        kwargs={"value": {"note": "kept"}}, reading_kwarg="value",
    )  # fmt: skip
    assert await api.put_schedule(backlog)
    for step in range(0, 25):  # 24 s at 1 s steps: fires at 0, 10 and 20
        clock.t = T0 + step
        for scheduler in schedulers:
            await scheduler.run_once()
    fired = ticks(await scheduled_ids(api, "beta-backlog"))
    assert fired == [int((T0 + s) * 1000) for s in (0, 10, 20)]
    job = await api.job(schedule_job_id("beta-backlog", fired[0]))
    reading = job.kwargs["value"]
    assert reading["note"] == "kept" and reading["value"] == 3 and reading["metric"] == "waiting"

    # below the threshold: no firing even after the cooldown
    await api.clean("beta", "waiting")
    clock.t = T0 + 40
    await schedulers[0].run_once()
    assert len(await scheduled_ids(api, "beta-backlog")) == 3


async def test_no_worker_alive_fires_from_the_heartbeats(client: Client) -> None:
    api = QueueAPI(client)
    clock = Clock(T0)
    scheduler = Scheduler(client, clock=clock)
    rule = Condition("beta-workers", "echo", queue="beta", target_queue="alpha", metric="workers", threshold=1,
                     cooldown_s=10)  # fmt: skip
    assert await api.put_schedule(rule)
    await scheduler.run_once()  # nobody serves beta
    assert len(await scheduled_ids(api, "beta-workers")) == 1

    now_ms = int(time.time() * 1000)
    worker = WorkerInfo("w1", "host", 1, ("alpha", "beta"), 4, started_at_ms=now_ms, last_beat_ms=now_ms)
    await heartbeat.beat(client.redis, client.keys, worker)
    clock.t = T0 + 20  # past the cooldown, but a worker serves beta now
    await scheduler.run_once()
    assert len(await scheduled_ids(api, "beta-workers")) == 1

    await heartbeat.forget(client.redis, client.keys, "w1")
    clock.t = T0 + 40
    await scheduler.run_once()
    assert len(await scheduled_ids(api, "beta-workers")) == 2


async def test_run_time_schedules_add_change_remove(client: Client) -> None:
    api = QueueAPI(client)
    assert await api.put_schedule(every("echo", 60, name="dyn", args=["a"]))
    assert not await api.put_schedule(every("echo", 30, name="dyn", args=["b"]), replace=False)
    assert (await api.schedule("dyn")).schedule.args == ["a"]
    assert await api.put_schedule(cron("echo", "*/5 * * * *", name="dyn", args=["b"]))
    state = await api.schedule("dyn")
    assert state.schedule.origin == "dynamic" and state.to_dict()["when"] == "cron */5 * * * *"
    runs = state.next_runs(3)
    assert runs[1] - runs[0] == 300_000 and runs[0] % 300_000 == 0
    assert await api.remove_schedule("dyn")
    with pytest.raises(ScheduleNotFound):
        await api.schedule("dyn")


def test_arq_cron_declarations_become_exactly_once_crons(config: QueueConfig) -> None:
    from arq.cron import cron as arq_cron

    from tests.app.jobs import echo

    settings = worker_settings(
        jobs=ALL, config=config, cron_jobs=[arq_cron(echo.spec.function, weekday="mon", hour={2, 14}, minute=30)]
    )
    (converted,) = settings.qs_scheduling.schedules
    assert (converted.name, converted.cron) == ("echo", "0 30 2,14 * * 1")  # arq's Monday 0 is cron's 1
    assert not hasattr(settings, "cron_jobs")  # arq's own cron (python-arq/arq#196) never runs


async def commands_run(client: Client) -> dict[str, int]:
    stats = await client.redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}


async def test_an_idle_scheduler_waits_without_polling_and_sees_a_new_schedule_at_once(client: Client) -> None:
    """Nothing due: the scheduler sleeps (no reads for seconds); a schedule added at run time wakes it anyway."""
    scheduler = Scheduler(client)  # idle_s = 10 s: only the change message can make it look again in time
    task = asyncio.create_task(scheduler.run_forever())
    try:
        await asyncio.sleep(0.5)  # started: read the (empty) schedules once, subscribed to changes
        before = await commands_run(client)
        await asyncio.sleep(3)
        after = await commands_run(client)
        ran = {name: n - before.get(name, 0) for name, n in after.items() if n != before.get(name, 0)}
        ran.pop("info", None)
        assert ran == {}, f"an idle scheduler ran {ran} in 3 s"

        await QueueAPI(client).put_schedule(every("echo", 1, name="added-later", args=["x"]))
        api = QueueAPI(client)
        deadline = time.monotonic() + 5
        while not await scheduled_ids(api, "added-later") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await scheduled_ids(api, "added-later"), "the new schedule never fired"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
