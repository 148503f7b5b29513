"""Jobs' timeouts on one shared timer (queue_system/deadlines.py and the timeout middleware): the same outcomes as
``asyncio.timeout`` gave each job — an overdue job is cancelled and ends as a timeout, a job that ends in time is
never touched, a cancellation from elsewhere stays a cancellation — and nothing is kept for jobs that ended."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from queue_system.deadlines import Deadlines
from queue_system.errors import JobTimeout
from queue_system.middleware import JobCall, TimeoutMiddleware
from queue_system.spec import JobSpec
from queue_system.types import Priority


async def _noop(ctx: Any) -> None:
    return None


def _call(timeout_s: float) -> JobCall:
    spec = JobSpec(function=_noop, name="noop", timeout_s=timeout_s)
    return JobCall(ctx={}, spec=spec, args=(), kwargs={}, job_id="j", job_try=1, queue="q", priority=Priority.NORMAL)


def _sleeping(seconds: float, result: str = "done") -> Any:
    async def call_next(_call: JobCall) -> str:
        await asyncio.sleep(seconds)
        return result

    return call_next


async def test_overdue_jobs_time_out_each_at_its_own_deadline_and_others_finish() -> None:
    middleware = TimeoutMiddleware()
    started = time.monotonic()
    ended: dict[str, float] = {}

    async def run(name: str, timeout_s: float, runs_s: float) -> str:
        try:
            return str(await middleware(_call(timeout_s), _sleeping(runs_s, name)))
        except JobTimeout as exc:
            return f"timeout: {exc}"
        finally:
            ended[name] = time.monotonic() - started

    results = await asyncio.gather(
        run("long-timeout", 5.0, 0.1),  # armed first, with the latest deadline
        run("short", 0.2, 3.0),  # an earlier deadline started later must re-arm the timer
        run("shorter", 0.1, 3.0),
        run("in-time", 0.5, 0.05),
        run("same-lane-late", 0.2, 3.0),
    )
    assert results == [
        "long-timeout",
        "timeout: job exceeded its timeout of 0.2s",
        "timeout: job exceeded its timeout of 0.1s",
        "in-time",
        "timeout: job exceeded its timeout of 0.2s",
    ]
    assert 0.09 <= ended["shorter"] < 1.0 and 0.19 <= ended["short"] < 1.0
    assert not middleware.deadlines._lanes or all(not lane for lane in middleware.deadlines._lanes.values())


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    middleware = TimeoutMiddleware()
    task = asyncio.create_task(middleware(_call(5.0), _sleeping(3.0)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancellation_at_the_same_time_as_the_deadline_is_not_a_timeout() -> None:
    """As with asyncio.timeout: another cancel request besides the deadline's means the task is being cancelled."""
    deadlines = Deadlines()
    outcome: list[str] = []

    async def job() -> None:
        deadline = deadlines.start(0.05)
        try:
            await asyncio.sleep(0.2)  # the deadline cancels it first ...
        except asyncio.CancelledError:
            asyncio.current_task().cancel()  # type: ignore[union-attr]  # ... and a shutdown asks too
            outcome.append("timeout" if deadlines.end(deadline, cancelled=True) else "cancelled")
            raise

    task = asyncio.create_task(job())
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcome == ["cancelled"]


async def test_a_job_that_swallows_the_timeouts_cancellation_finishes_and_its_task_is_not_left_cancelling() -> None:
    middleware = TimeoutMiddleware()

    async def stubborn(_call: JobCall) -> str:
        try:
            await asyncio.sleep(3.0)
        except asyncio.CancelledError:
            return "swallowed"
        return "slept"

    async def run() -> tuple[str, int]:
        result = await middleware(_call(0.05), stubborn)
        return str(result), asyncio.current_task().cancelling()  # type: ignore[union-attr]

    assert await asyncio.create_task(run()) == ("swallowed", 0)


async def test_thousands_of_quick_jobs_leave_nothing_behind_and_arm_one_timer() -> None:
    middleware = TimeoutMiddleware()
    loop = asyncio.get_running_loop()
    scheduled_before = len(loop._scheduled)  # type: ignore[attr-defined]
    results = await asyncio.gather(*(middleware(_call(300.0), _sleeping(0)) for _ in range(2000)))
    assert results == ["done"] * 2000
    assert middleware.deadlines._lanes == {300.0: {}}
    assert len(loop._scheduled) - scheduled_before <= 1  # type: ignore[attr-defined]  # one timer, not 2000


async def test_a_job_raising_timeout_error_itself_is_not_reported_as_its_own_timeout() -> None:
    middleware = TimeoutMiddleware()

    async def raises(_call: JobCall) -> None:
        raise TimeoutError("the remote API timed out")

    with pytest.raises(TimeoutError) as raised:
        await middleware(_call(5.0), raises)
    assert not isinstance(raised.value, JobTimeout) and str(raised.value) == "the remote API timed out"


def test_deadlines_follow_a_new_event_loop() -> None:
    """A runtime reused on a second loop (tests, a restarted worker) arms its timer on that loop."""
    middleware = TimeoutMiddleware()

    async def overdue() -> str:
        try:
            await middleware(_call(0.05), _sleeping(2.0))
        except JobTimeout:
            return "timeout"
        return "no timeout"

    assert asyncio.run(overdue()) == "timeout"
    assert asyncio.run(overdue()) == "timeout"
