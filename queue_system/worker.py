"""``queue-system worker``: our engine on arq's Worker — several queues per process, no polling delay, leases.

Correctness that must hold under the stock ``arq`` worker lives in the runner and middleware; this subclass
changes how jobs are found and finished:

* one script call (lua/claim.lua) promotes due jobs and leases ready ones from every served queue, in order;
* an idle worker blocks on its queues' wake lists (BLPOP, in a listener task) with its claim queued behind the
  wait on the same connection (wakeup.py), so a new job is leased in the round trip that wakes the worker; the
  next deferred job's due time is kept by a local timer, because Redis rounds blocking timeouts up to its
  100 ms cron tick (an idle worker: about 14 Redis commands a second, bench/RESULTS.md);
* leases are renewed while jobs run (leases.py) and outcomes are fenced (lua/finish.lua): a crashed worker's job
  runs again after one lease, a healthy long job never runs twice, a stale worker cannot overwrite a newer try;
* SIGTERM stops claiming, lets running jobs finish within the grace period, gives the rest back untried, exits;
* Redis outages are survived: the loop logs, backs off and resumes; a start while Redis is down waits;
* a control channel (control.py) of its own delivers aborts at once, even with every slot busy, and a periodic
  sweep applies each served queue's retention to records past their age (lua/sweep.lua).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from arq.worker import Worker, get_kwargs

from .config import QueueConfig
from .connection import REDIS_DOWN_ERRORS, close_redis, connect, create_redis, raise_if_cancelled, safe_url
from .control import ControlListener
from .errors import RedisUnavailable
from .execution import Claim, Executor, Outcome, parse_claims
from .keys import DEFAULT_QUEUE, Keys, queue_key
from .leases import LeaseKeeper
from .logging_setup import get_logger
from .monitor import WorkerMonitor, WorkerOps
from .reindex import check_schema
from .runner import CTX_DEFAULT_QUEUE, CTX_RUNTIME, WorkerRuntime
from .scripts import ScriptArgs
from .serialization import PayloadCodec
from .wakeup import WakeAndClaim, sent_at
from .worker_settings import CTX_ENGINE

log = get_logger("queue_system.worker")
HEARTBEAT_EVERY_S = 1.0
RETENTION_SWEEP_S = 5.0
GIVE_BACK_WAIT_S = 4.0  # on shutdown, for cancelled jobs' outcomes to be written
SWEEP_BUDGET = 1000  # records per queue and state per sweep
LOOK_AT_LEAST_EVERY_S = 5.0  # an idle loop claims on its own this often even while the listener claims for it


class QueueWorker(Worker):
    """A Worker that serves ``queues`` (highest precedence first)."""

    def __init__(
        self, *, queues: Sequence[str], qs_config: QueueConfig, ops: WorkerOps | None = None, **kwargs: Any
    ) -> None:
        kwargs.pop("queue_name", None)
        super().__init__(queue_name=queue_key(queues[0]), **kwargs)
        self.queues = list(queues)
        self.config = qs_config
        self.keys = Keys(qs_config.prefix)
        self.token_prefix = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.ops = ops or WorkerOps()
        self.running: dict[str, asyncio.Task[None]] = {}
        self._slot_freed = asyncio.Event()
        self._woken = asyncio.Event()  # look again: the listener may have left work or learned of an earlier due time
        self._idle = asyncio.Event()  # the loop is waiting for work: the listener may block on the wake lists
        self._listening = asyncio.Event()  # no wait-and-claim is in flight (see _listen_for_wakeups)
        self._listening.set()
        self._listener_healthy = False  # its last wait-and-claim worked: the loop need not poll on its own
        self._wake_at: float | None = None  # when the idle loop will look again by itself (epoch s)
        self._stopping = False
        self._exit_watchdog: threading.Timer | None = None
        if self._handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.loop.remove_signal_handler(sig)  # arq's loop-level handler cannot run while a job blocks
                signal.signal(sig, self._on_signal)
        self._stop_deadline = 0.0
        self._last_heartbeat = 0.0
        self.ctx[CTX_ENGINE] = True
        self.ctx[CTX_DEFAULT_QUEUE] = queues[0]

    # ---- start-up -------------------------------------------------------------------------------------------

    async def main(self) -> None:
        codec: PayloadCodec = self.job_deserializer.__self__  # type: ignore[union-attr]
        self._pool = await self._connect_waiting(codec)
        self.ctx["redis"] = self.pool
        await check_schema(self.pool, self.keys)  # warns when the indexes need `queue-system reindex`
        if self.on_startup:
            await self.on_startup(self.ctx)
        runtime: WorkerRuntime = self.ctx[CTX_RUNTIME]
        self.leases = LeaseKeeper(
            self.pool,
            runtime.scripts,
            lease_s=self.config.lease_s,
            prefix=self.config.prefix,
            on_lost=self._lease_lost,
            on_abort=self._abort,
        )
        self.executor = Executor(runtime, self.ctx, lease_s=self.config.lease_s, leases=self.leases)
        blocking = create_redis(self.config, codec, socket_timeout_s=self.config.idle_poll_s + 5)
        control = create_redis(self.config, codec, socket_timeout_s=self.config.socket_timeout_s + 5)
        self.monitor = WorkerMonitor(self, self.pool, self.keys, self.ops)  # heartbeats, stats, restart/limits
        self.control = ControlListener(control, self.keys, on_abort=self._abort, on_restart=self.monitor.on_restart)
        wake_and_claim = WakeAndClaim(blocking, runtime.scripts.claim)
        helpers = [
            asyncio.create_task(self.monitor.run()),
            asyncio.create_task(self.leases.run()),
            asyncio.create_task(self._listen_for_wakeups(wake_and_claim)),
            asyncio.create_task(self.control.run()),
            asyncio.create_task(self._sweep_forever(runtime)),
        ]
        try:
            await self._serve(runtime)
        finally:
            await self._settle_last_claim()
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await wake_and_claim.close()
            await close_redis(blocking)
            await close_redis(control)
        log.info(
            "worker.drained",
            completed=self.executor.completed,
            failed=self.executor.failed,
            retried=self.executor.retried,
            requeued=self.executor.requeued,
            aborted=self.executor.aborted,
        )

    async def _settle_last_claim(self) -> None:
        """A claim still queued behind the listener's wait is answered within that wait: give back what it took
        (the worker is stopping), so those jobs wait for no lease to expire and lose no try."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), self.config.idle_poll_s + 1)
        await self.executor.finisher.wait_written(timeout=2)  # those give-backs, and a burst's last outcomes

    async def _connect_waiting(self, codec: PayloadCodec) -> Any:
        """Wait for Redis with backoff; give up after ``redis_wait_s`` (0 = never) with a clear error."""
        started, delay = time.monotonic(), 0.2
        while True:
            try:
                return await connect(self.config, codec)
            except RedisUnavailable as exc:
                raise_if_cancelled()  # a stop signal while waiting for Redis
                waited = time.monotonic() - started
                if self.config.redis_wait_s and waited >= self.config.redis_wait_s:
                    raise RedisUnavailable(
                        f"gave up after waiting {waited:.0f}s for Redis at {safe_url(self.config.redis_url)}"
                    ) from exc
                log.warning("redis.waiting", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    # ---- the loop ---------------------------------------------------------------------------------------------

    async def _serve(self, runtime: WorkerRuntime) -> None:
        delay = 0.1
        while not self._stopping:
            try:
                await self._step(runtime)
                delay = 0.1
            except REDIS_DOWN_ERRORS as exc:
                raise_if_cancelled()
                log.warning("redis.unavailable", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            if self.burst and not self.running and await self._drained():
                return
        await self._drain_for_shutdown()

    async def _step(self, runtime: WorkerRuntime) -> None:
        free = self.max_jobs - len(self.running)
        if free <= 0:
            self._slot_freed.clear()
            await self._slot_freed.wait()
            return
        self._woken.clear()  # a token arriving from now on means: look again
        next_due, claims = await self._claim(runtime, free)
        self._take(claims)  # the listener may have started jobs while this claim was in flight
        await self._heartbeat()
        if not claims:
            await self._wait_for_work(next_due)

    def _claim_call(self, free: int, now: int | str) -> tuple[list[str], list[Any]]:
        """claim.lua's keys and arguments for ``free`` slots."""
        keys = [queue_key(q) for q in self.queues]
        names = list(self.queues)
        if DEFAULT_QUEUE not in self.queues:  # keep routing plain-arq jobs out of the inbox
            keys.append(queue_key(DEFAULT_QUEUE))
            names.append(DEFAULT_QUEUE)
        lease_ms = int(self.config.lease_s * 1000)
        args = [now, free, lease_ms, self.token_prefix, self.config.prefix, len(self.queues), *names]
        return keys, args

    async def _claim(self, runtime: WorkerRuntime, free: int) -> tuple[int | None, list[Claim]]:
        keys, args = self._claim_call(free, int(time.time() * 1000))
        answer = await runtime.scripts.claim(keys=keys, args=args, client=self.pool)
        return parse_claims(answer, self.queues)

    async def _wait_for_work(self, next_due_ms: int | None) -> None:
        """Wait until the listener says there may be more work or an earlier due time, the next deferred job is due,
        a stop, or (while the listener cannot claim for the loop) ``idle_poll_s`` passes."""
        timeout = LOOK_AT_LEAST_EVERY_S if self._listener_healthy else self.config.idle_poll_s
        if next_due_ms is not None:
            timeout = min(timeout, max(0.0, next_due_ms / 1000 - time.time()))
        if self.burst:
            timeout = min(timeout, 0.05)
        self._wake_at = time.time() + timeout
        self._idle.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), timeout)
        finally:
            self._idle.clear()

    async def _listen_for_wakeups(self, wait_and_claim: WakeAndClaim) -> None:
        """While the loop is idle, wait on the wake lists with a claim queued behind the wait (wakeup.py), and
        start what it claims. This is also the idle look every ``idle_poll_s`` for jobs written without a token.

        Only an idle worker listens, so a busy one never takes the token an idle peer is waiting for.
        """
        wake_keys = [self.keys.wake(q) for q in self.queues]
        while True:
            await self._idle.wait()
            free = self.max_jobs - len(self.running)
            if self._stopping or free <= 0:
                await asyncio.sleep(0)  # the loop is about to leave its wait
                continue
            self._listening.clear()
            try:
                keys, args = self._claim_call(free, sent_at(int(time.time() * 1000)))
                answer = await wait_and_claim(wake_keys, self.config.idle_poll_s, keys, args)
            except REDIS_DOWN_ERRORS:
                raise_if_cancelled()
                self._listener_healthy = False
                self._woken.set()  # the loop takes over looking, with its own backoff
                await asyncio.sleep(0.2)
                continue
            finally:
                self._listening.set()
            raise_if_cancelled()  # redis-py may have retried through our cancellation
            self._listener_healthy = True
            next_due, claims = parse_claims(answer, self.queues)
            self._take(claims)
            # the loop claims again only when there may be more than this claim could take, or its timer is late
            timer_late = next_due is not None and (self._wake_at is None or next_due / 1000 < self._wake_at)
            if len(claims) >= free or timer_late:
                self._woken.set()
            if claims:
                await asyncio.sleep(0)  # let the jobs start before the next wait is sent

    def _take(self, claims: list[Claim]) -> None:
        """Start claimed jobs; give back, untried, those there is no room for any more (the loop and the listener
        can both have a claim in flight)."""
        room = 0 if self._stopping else self.max_jobs - len(self.running)
        for claim in claims[:room]:
            self._start(claim)
        for claim in claims[room:]:
            log.debug("job.given_back", job_id=claim.job_id, reason="no free slot when the claim came back")
            self.executor.finish(claim, Outcome("requeue"))  # (a stopping worker waits for the Finisher)

    def _start(self, claim: Claim) -> None:
        self.leases.hold(claim.job_id, claim.token)
        task = asyncio.create_task(self.executor.execute(claim))
        self.running[claim.job_id] = task
        self.tasks[claim.job_id] = task  # arq's bookkeeping (close() awaits these)
        task.add_done_callback(lambda _t: self._job_done(claim.job_id))

    def _job_done(self, job_id: str) -> None:
        self.running.pop(job_id, None)
        self.tasks.pop(job_id, None)
        self.leases.release(job_id)
        self.monitor.after_job()
        self._slot_freed.set()  # (a retry it scheduled wakes an idle worker through its queue's wake list)

    def _lease_lost(self, job_id: str) -> None:
        task = self.running.get(job_id)
        if task is not None:
            task.cancel()

    def _abort(self, job_id: str) -> None:
        """An abort was requested for ``job_id``: cancel it if it runs here (the executor records it as aborted)."""
        task = self.running.get(job_id)
        if task is None:
            return
        if job_id not in self.executor.aborting:
            self.executor.aborting.add(job_id)
            log.info("job.abort_requested", job_id=job_id)
        task.cancel()  # again on a later renewal, should the job have swallowed the first cancellation

    async def _sweep_forever(self, runtime: WorkerRuntime) -> None:
        """Apply each served queue's retention every few seconds, so records past their age go even when no job
        of that queue finishes (finish.lua trims as jobs finish)."""
        while True:
            try:
                await sweep_retention(runtime, self.queues)
            except REDIS_DOWN_ERRORS as exc:
                raise_if_cancelled()
                log.warning("retention.sweep_failed", error=str(exc))
            raise_if_cancelled()
            await asyncio.sleep(RETENTION_SWEEP_S)

    async def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat >= HEARTBEAT_EVERY_S:
            self._last_heartbeat = now
            await self.heart_beat()

    async def _drained(self) -> bool:
        """Burst mode's end: nothing left in the served queues that are not paused."""
        async with self.pool.pipeline(transaction=False) as pipe:
            pipe.smembers(self.keys.paused)
            for queue in self.queues:
                pipe.zcard(queue_key(queue))
            paused, *sizes = await pipe.execute()
        paused_names = {p.decode() for p in paused}
        return all(size == 0 or q in paused_names for q, size in zip(self.queues, sizes, strict=True))

    # ---- shutdown -------------------------------------------------------------------------------------------

    def handle_sig(self, signum: signal.Signals) -> None:
        """First signal: stop claiming and let running jobs finish within the grace period. Second: stop now."""
        if not self._stopping:
            self._stopping = True
            self.allow_pick_jobs = False
            self._stop_deadline = time.monotonic() + self.config.shutdown_grace_s
            log.info(
                "worker.stopping",
                signal=signal.Signals(signum).name,
                running=len(self.running),
                grace_s=self.config.shutdown_grace_s,
            )
        else:
            self._stop_deadline = time.monotonic()
            log.info("worker.stopping_now", signal=signal.Signals(signum).name, running=len(self.running))
        self._slot_freed.set()
        self._woken.set()  # an idle loop sees the stop now, not after its poll wait
        if self._pool is None and self.main_task is not None:  # still waiting for Redis: nothing to drain
            self.main_task.cancel()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def request_stop(self, reason: str) -> None:
        """Stop as on SIGTERM and exit 0 (a restart request, ``--max-jobs``, ``--memory``: see monitor.py)."""
        if self._handle_signals and self._exit_watchdog is None:
            self._arm_exit_watchdog()
        self.handle_sig(signal.SIGTERM)

    def _on_signal(self, signum: int, _frame: object) -> None:
        """Runs between bytecodes even while a job blocks the loop: arm the watchdog, then hand over to the loop."""
        if self._exit_watchdog is None:
            self._arm_exit_watchdog()
        self.loop.call_soon_threadsafe(self.handle_sig, signal.Signals(signum))

    def _arm_exit_watchdog(self) -> None:
        """Guarantee the process ends within grace + 5 s even if a job blocks the event loop or a library hangs:
        a thread, not a task, so a stuck loop cannot stop it. Jobs it cuts off run again after their lease."""
        limit = self.config.shutdown_grace_s + 4.5

        def force_exit() -> None:
            log.error("worker.forced_exit", after_s=limit, running=len(self.running), waiting_on=_pending(self.loop))
            os._exit(1)

        self._exit_watchdog = threading.Timer(limit, force_exit)
        self._exit_watchdog.daemon = True
        self._exit_watchdog.start()

    async def _drain_for_shutdown(self) -> None:
        while self.running and time.monotonic() < self._stop_deadline:
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), max(0.01, self._stop_deadline - time.monotonic()))
        unfinished = list(self.running.values())
        for task in unfinished:
            task.cancel()  # the executor gives each job back untried
        # one budget for both waits, inside the exit watchdog's margin (grace + 4.5 s)
        give_up_at = time.monotonic() + GIVE_BACK_WAIT_S
        if unfinished:
            log.info("worker.requeued_unfinished", jobs=len(unfinished))
            await asyncio.wait(unfinished, timeout=GIVE_BACK_WAIT_S)
        # the outcomes handed over (the cancelled jobs' give-backs among them) are the Finisher's to write
        await self.executor.finisher.wait_written(timeout=max(0.0, give_up_at - time.monotonic()))

    async def close(self) -> None:
        if not self._handle_signals and not self._stopping:
            self._stopping = True
        if self._pool is None:
            return
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await close_redis(self.pool)
        self._pool = None


def _pending(loop: asyncio.AbstractEventLoop) -> list[str]:
    """Where each unfinished task waits (for the forced-exit log: what kept the worker from stopping)."""
    try:
        tasks = asyncio.all_tasks(loop)  # from the watchdog's thread: best effort, for the log only
    except RuntimeError:
        return []
    found = []
    for task in tasks:
        frames = task.get_stack(limit=1)
        where = f"{frames[0].f_code.co_filename}:{frames[0].f_lineno}" if frames else "?"
        found.append(f"{task.get_name()} {getattr(task.get_coro(), '__qualname__', '?')} at {where}")
    return found


async def sweep_retention(runtime: WorkerRuntime, queues: Sequence[str]) -> int:
    """Apply each queue's retention policy once (lua/sweep.lua); returns how many records were removed."""
    removed = 0
    for queue in queues:
        args: ScriptArgs = [runtime.config.prefix, int(time.time() * 1000), queue, SWEEP_BUDGET]
        args += runtime.retention.sweep_args(queue)
        removed += int(await runtime.scripts.sweep(keys=[], args=args, client=runtime.redis))
    return removed


def create_worker(
    settings: Any,
    *,
    queues: Sequence[str] | None = None,
    concurrency: int | None = None,
    burst: bool = False,
    **overrides: Any,
) -> QueueWorker:
    """A QueueWorker from a ``worker_settings(...)`` class, optionally narrowed to some of its queues."""
    kwargs: dict[str, Any] = dict(get_kwargs(settings))
    if concurrency is not None:
        kwargs["max_jobs"] = concurrency
    kwargs.update(overrides)
    declared: Sequence[str] = getattr(settings, "qs_queues", (DEFAULT_QUEUE,))
    served = list(queues) if queues else list(declared)
    config: QueueConfig = settings.qs_config
    return QueueWorker(queues=served, qs_config=config, burst=burst, **kwargs)
