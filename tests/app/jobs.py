from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from queue_system import Exponential, Fixed, JobContext, PermanentFailure, Retry, job, reporter

RUNS_KEY = "test:runs"


async def record(ctx: JobContext, name: str, *args: Any) -> None:
    entry = {"name": name, "args": list(args), "try": ctx["job_try"], "job_id": ctx["job_id"], "t": time.time()}
    await ctx["redis"].rpush(RUNS_KEY, json.dumps(entry))


@job(queue="alpha")
async def echo(ctx: JobContext, value: Any) -> Any:
    await record(ctx, "echo", value)
    return value


@job(queue="alpha", max_tries=3, backoff=Exponential(0.3))
async def flaky(ctx: JobContext, succeed_on_try: int) -> str:
    await record(ctx, "flaky", succeed_on_try)
    if ctx["job_try"] < succeed_on_try:
        raise ConnectionError(f"transient failure on try {ctx['job_try']}")
    return f"ok on try {ctx['job_try']}"


@job(queue="alpha", max_tries=2, backoff=Fixed(0.05))
async def always_fails(ctx: JobContext, note: str = "") -> None:
    await record(ctx, "always_fails", note)
    raise ValueError(f"always fails {note}".strip())


@job(queue="alpha", max_tries=5, fail_on=(KeyError,))
async def fails_permanently(ctx: JobContext, kind: str) -> None:
    await record(ctx, "fails_permanently", kind)
    if kind == "key":
        raise KeyError("missing")
    raise PermanentFailure("bad input")


@job(queue="alpha", max_tries=2, timeout=0.2, backoff=Fixed(0.05))
async def too_slow(ctx: JobContext) -> None:
    await record(ctx, "too_slow")
    await asyncio.sleep(5)


@job(queue="alpha", max_tries=3)
async def asks_retry(ctx: JobContext) -> int:
    await record(ctx, "asks_retry")
    if ctx["job_try"] < 2:
        raise Retry(defer=0.05)
    return int(ctx["job_try"])


@job(queue="alpha", priority="low")
async def ordered(ctx: JobContext, label: str, sleep: float = 0) -> str:
    await record(ctx, "ordered", label)
    await asyncio.sleep(sleep)
    return label


@job(queue="beta")
async def on_beta(ctx: JobContext, value: int) -> int:
    await record(ctx, "on_beta", value)
    return value + 1


@job(queue="alpha", sensitive=True, max_tries=1)
async def secret_job(ctx: JobContext, card_number: str, fail: bool = False) -> str:
    await record(ctx, "secret_job", "<redacted>")
    if fail:
        raise RuntimeError("declined")
    return card_number[-4:]


ALL = [echo, flaky, always_fails, fails_permanently, too_slow, asks_retry, ordered, on_beta, secret_job]


@job(queue="alpha", max_tries=3)
async def sleeper(ctx: JobContext, seconds: float, label: str = "") -> str:
    await record(ctx, "sleeper", seconds, label)
    await asyncio.sleep(seconds)
    await record(ctx, "sleeper-done", seconds, label)
    return label


@job(queue="alpha", max_tries=10)
async def crasher(ctx: JobContext) -> None:
    """Kills its own worker process, every time (the crash budget must stop it)."""
    await record(ctx, "crasher")
    import os

    os._exit(1)


@job(queue="alpha", timeout=3600)
async def hour_long(ctx: JobContext) -> None:
    """Declared with a 1-hour timeout: arq would make every crashed job of this worker wait that long."""
    await asyncio.sleep(3600)


@job(queue="alpha", max_tries=1)
async def reports(ctx: JobContext, lines: int, gate: str = "") -> str:
    """Logs ``lines`` lines and reports progress after each; then, with a ``gate`` key name, waits until the test
    creates that key (so the test can read progress and logs while the job runs)."""
    report = reporter(ctx)
    for i in range(lines):
        await report.log(f"line {i + 1}")
    await report.progress(50, "half way")
    while gate and not await ctx["redis"].exists(gate):
        await asyncio.sleep(0.01)
    await ctx["progress"](100, "done")
    await ctx["log"]("finished")
    return "reported"


@job(queue="alpha", max_tries=1)
async def blocks_the_loop(ctx: JobContext, seconds: float) -> None:
    """Blocks the event loop (a sync call): no cooperative shutdown can stop it, only the exit watchdog."""
    await record(ctx, "blocks_the_loop", seconds)
    time.sleep(seconds)


ALL += [sleeper, crasher, hour_long, reports, blocks_the_loop]


@job(queue="beta")
async def batch_callback(ctx: JobContext, kind: str, batch_id: str) -> str:
    """A batch's then / catch / finally callback: records which one ran, for which batch."""
    await record(ctx, "batch_callback", kind, batch_id)
    return kind


@job(queue="alpha")
async def grows_batch(ctx: JobContext, more: int) -> int:
    """Adds ``more`` echo jobs to its own batch (Laravel's ``$this->batch()->add(...)``)."""
    from queue_system import Batch

    batch = await Batch.of(ctx)
    assert batch is not None, "grows_batch runs only in a batch"
    await batch.add([echo.call(f"added {i}") for i in range(more)])
    return more


ALL += [batch_callback, grows_batch]


@job(queue="alpha", max_tries=1)
async def needs_fix(ctx: JobContext, key: str, note: str = "") -> str:
    """Fails until the test creates ``key``: a failed job that succeeds when retried after the fix."""
    await record(ctx, "needs_fix", key, note)
    if not await ctx["redis"].exists(key):
        raise ValueError(f"{key} is not fixed yet")
    return "fixed"


ALL += [needs_fix]
