"""Runs one job attempt through the middleware chain; shared by the stock ``arq`` worker and ours.

Everything that must hold under ``arq settings.WorkerSettings`` (retries by policy, the failed store, priorities,
broken payloads) lives here and in the middleware, not in a Worker subclass.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any

from arq.connections import ArqRedis
from arq.worker import Function
from arq.worker import Retry as ArqRetry
from arq.worker import func as arq_func

from .admission import Admission
from .config import QueueConfig
from .errors import JobAborted
from .failed import FailedStore
from .internal_jobs import rerouted_job, undecodable_job
from .keys import Keys, queue_key
from .limits import QueueLimits
from .middleware import JobCall, LimitsMiddleware, Postponed, build_chain, default_middleware
from .progress import CTX_REPORTER, JobReporter
from .retention import RetentionPolicies
from .scripts import ScriptArgs, Scripts
from .serialization import PayloadCodec, loads
from .spec import UNDECODABLE_FUNCTION, UNENCRYPTED_FUNCTION, UNKNOWN_FUNCTION, JobSpec
from .types import JobContext, JobState, Priority

# arq's own timeout is only a safety net around ours (see middleware.timeout).
ARQ_TIMEOUT_MARGIN_S = 5.0
CTX_RUNTIME = "qs"
CTX_DEFAULT_QUEUE = "qs_default_queue"
PROMOTE_BATCH = 100
# Under arq's own Worker a job picked from a paused queue is put back this long (its try given back).
PAUSED_RECHECK_S = 1.0
ERROR_SUMMARY_CHARS = 500


class WorkerCodec(PayloadCodec):
    """The worker's decoder: never raises, so arq never drops a job silently.

    Undecodable payloads and unknown function names become internal jobs that fail into the failed store.
    """

    def __init__(self, *, known: Iterable[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.known = frozenset(known)

    def deserialize(self, raw: bytes) -> dict[str, Any]:
        try:
            envelope = self.parse(raw)
            data = self.open(envelope)
            _check_job_shape(data)
        except Exception as exc:
            return undecodable_job(raw, f"{type(exc).__name__}: {exc}"[:300])
        if "s" in data:
            return data
        if data["f"] not in self.known:
            return rerouted_job(UNKNOWN_FUNCTION, data)
        if self.is_sensitive(data["f"]) and "enc" not in envelope:
            return rerouted_job(UNENCRYPTED_FUNCTION, data)
        return data


def _check_job_shape(data: dict[str, Any]) -> None:
    if "s" in data:  # a result, not a job
        return
    if not isinstance(data.get("a", []), list) or not isinstance(data.get("k", {}), dict):
        raise ValueError("args must be a list and kwargs an object")
    if not isinstance(data.get("et", 0), int):
        raise ValueError("enqueue time must be an integer (ms)")


class WorkerRuntime:
    """Per-worker services the runner and middleware use; lives in ``ctx["qs"]``."""

    def __init__(
        self,
        redis: ArqRedis,
        config: QueueConfig,
        codec: PayloadCodec,
        *,
        specs: Iterable[JobSpec] = (),
        stock_worker: bool,
        retention: RetentionPolicies | None = None,
        queue_limits: Mapping[str, QueueLimits] | None = None,
    ) -> None:
        self.redis = redis
        self.config = config
        self.codec = codec
        self.keys = Keys(config.prefix)
        self.scripts = Scripts(redis)
        self.failed = FailedStore(
            redis, self.keys, max_entries=config.failed_max_entries, max_age_s=config.failed_max_age_s
        )
        self.specs = {spec.name: spec for spec in specs}
        self.retention = retention or RetentionPolicies(config, {})
        # Under arq's own Worker, due jobs are promoted on each job start and state moves recorded here
        # (lua/transition.lua); our engine does both in its claim and finish scripts.
        self.stock_worker = stock_worker
        self.admission = Admission(redis, self.scripts, self.keys, self.specs.values(), queue_limits)
        middleware = default_middleware(self)
        if self.admission.any:  # nothing limited: the unlimited path does not even pass through it
            middleware.append(LimitsMiddleware(self.admission, stock_worker=stock_worker, slot_s=config.lease_s))
        self.chain = build_chain(middleware, _call_function)

    async def run(self, ctx: JobContext, spec: JobSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """arq's entry point (under arq's own Worker): the attempt's facts come from ``ctx`` and the job's record."""
        return await self.run_call(await self._begin(ctx, spec, args, kwargs))

    async def run_call(self, call: JobCall) -> Any:
        """Run one attempt through the middleware chain (our engine builds ``call`` from its claim: execution.py)."""
        if self.stock_worker:
            await self._stock_start(call)
        try:
            result = await self.chain(call)
        except Postponed:
            if self.stock_worker:  # arq re-scores it; the try is given back and the job recorded as delayed
                await self.admission.postpone(call.job_id, call.queue, call.function_name or call.spec.name)
            raise
        except ArqRetry as exc:
            if self.stock_worker:
                await self._transition(call, "retry", error_summary(exc.__cause__ or exc))
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self.stock_worker:
                await self._transition(call, JobState.FAILED, error_summary(exc))
            raise
        if self.stock_worker:
            await self._transition(call, JobState.COMPLETED)
        return result

    async def promote(self, queue: str, now_ms: int, pipe: Any = None) -> Any:
        """Re-score due deferred/retried jobs of ``queue`` into their priority band (see lua/promote.lua)."""
        return await self.scripts.promote(
            keys=[queue_key(queue)], args=[now_ms, PROMOTE_BATCH, self.config.prefix, queue], client=pipe or self.redis
        )

    def attempt(
        self,
        ctx: JobContext,
        spec: JobSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        job_id: str,
        job_try: int,
        queue: str,
        priority: Priority,
        tags: dict[str, str],
        enqueued_at_ms: int,
        lost_attempts: int,
        token: str,
    ) -> JobCall:
        """The attempt's ``JobCall``, with its progress and log reporter in ``ctx`` (``token`` fences them)."""
        call = JobCall(
            ctx=ctx,
            spec=spec,
            args=args,
            kwargs=kwargs,
            job_id=job_id,
            job_try=job_try,
            queue=queue,
            priority=priority,
            tags=tags,
            enqueued_at_ms=enqueued_at_ms,
            started_at_ms=int(time.time() * 1000),
            function_name=spec.name,
            lost_attempts=lost_attempts,
        )
        _apply_internal_route(call)
        job_reporter = JobReporter(self.redis, self.scripts, self.config, job_id, token)
        ctx[CTX_REPORTER] = job_reporter
        ctx["progress"] = job_reporter.progress
        ctx["log"] = job_reporter.log
        return call

    async def _begin(self, ctx: JobContext, spec: JobSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> JobCall:
        """Under arq's own Worker: the attempt from arq's ``ctx`` and the job's record (read here)."""
        job_id = str(ctx["job_id"])
        fallback_queue = ctx.get(CTX_DEFAULT_QUEUE) or spec.queue
        meta = await self._load_meta(job_id, fallback_queue)
        job_try = int(ctx.get("job_try", 1))
        return self.attempt(
            ctx,
            spec,
            tuple(args),
            dict(kwargs),
            job_id=job_id,
            job_try=job_try,
            queue=meta.get("q") or fallback_queue,
            priority=attempt_priority(meta, ctx.get("score"), spec),
            tags=record_tags(meta),
            enqueued_at_ms=int(meta.get("et") or _ms(ctx.get("enqueue_time"))),
            lost_attempts=lost_attempts(job_try, meta),
            token="",
        )

    async def _load_meta(self, job_id: str, queue: str) -> dict[str, str]:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.meta(job_id))
            if self.stock_worker:
                await self.promote(queue, int(time.time() * 1000), pipe)
            raw, *_ = await pipe.execute()
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def _stock_start(self, call: JobCall) -> None:
        """Under arq's own Worker: record the start; a paused queue's job goes back, an aborted one never runs."""
        verdict = await self._transition(call, "start")
        if verdict == b"paused":
            raise ArqRetry(defer=PAUSED_RECHECK_S)
        if verdict == b"abort":
            await self._transition(call, JobState.ABORTED, "JobAborted: aborted before it ran")
            raise JobAborted("aborted before it ran")

    async def _transition(self, call: JobCall, step: str, error: str = "") -> Any:
        count, age_ms = (-1, -1)
        if step in (JobState.COMPLETED, JobState.FAILED, JobState.ABORTED):
            count, age_ms = self.retention.limits(call.queue, JobState(step), call.spec.keep_result_s)
        args: ScriptArgs = [
            self.config.prefix,
            int(time.time() * 1000),
            self.config.events_maxlen,
            call.job_id,
            call.queue,
            str(step),
            call.function_name or call.spec.name,
            error,
            count,
            age_ms,
        ]
        return await self.scripts.transition(keys=[], args=args, client=self.redis)


def error_summary(exc: BaseException) -> str:
    """``Type: message``, short: what a job record, a listing and an event show of a failure."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:ERROR_SUMMARY_CHARS]


_PRIORITY_OF_TEXT = {str(int(p)): p for p in Priority}  # the record's "p"; Priority(int(..)) is the enum's slow call


def attempt_priority(meta: dict[str, str], score: Any, spec: JobSpec) -> Priority:
    """The job's priority: its record's, else its queue score's band, else the function's default."""
    if meta.get("p"):
        return _PRIORITY_OF_TEXT.get(meta["p"]) or Priority(int(meta["p"]))
    from_score = Priority.from_score(float(score)) if isinstance(score, int | float) else None
    return from_score if from_score is not None else spec.priority


def record_tags(meta: dict[str, str]) -> dict[str, str]:
    """The job's tags from its record (enqueue.lua writes the field only when there are any)."""
    tags = meta.get("tg")
    return loads(tags) if tags else {}


def lost_attempts(job_try: int, meta: dict[str, str]) -> int:
    """Earlier tries that never ended (their worker died): the record counts the attempts that did ("ended")."""
    return max(0, job_try - 1 - int(meta.get("ended") or 0))


def _apply_internal_route(call: JobCall) -> None:
    """For the internal routes, record the producer's function and arguments rather than the route's own."""
    if call.spec.name in (UNKNOWN_FUNCTION, UNENCRYPTED_FUNCTION):
        call.function_name = str(call.kwargs.get("function", call.spec.name))
        call.recorded_args = tuple(call.kwargs.get("args") or ())
        call.recorded_kwargs = dict(call.kwargs.get("kwargs") or {})
        call.sensitive = call.spec.name == UNENCRYPTED_FUNCTION
    elif call.spec.name == UNDECODABLE_FUNCTION:
        call.undecodable = True


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000) if hasattr(value, "timestamp") else 0


async def _call_function(call: JobCall) -> Any:
    return await call.spec.function(call.ctx, *call.args, **call.kwargs)


def arq_function(spec: JobSpec, *, lost_attempts_budget: int, result_ttl_s: float | None) -> Function:
    """Wrap a spec for arq. arq may count up to ``lost_attempts_budget`` extra tries (attempts whose worker died);
    the retries middleware turns those into a "worker lost" failure instead of arq's silent give-up.

    ``result_ttl_s`` is how long arq's own Worker keeps the result: as long as the job's completed record
    (retention.py); None keeps it forever."""

    async def run(ctx: JobContext, *args: Any, **kwargs: Any) -> Any:
        runtime: WorkerRuntime = ctx[CTX_RUNTIME]
        return await runtime.run(ctx, spec, args, kwargs)

    run.__qualname__ = run.__name__ = spec.name
    return arq_func(
        run,
        name=spec.name,
        max_tries=spec.max_tries + lost_attempts_budget,
        timeout=spec.timeout_s + ARQ_TIMEOUT_MARGIN_S,
        keep_result=result_ttl_s if result_ttl_s is not None else 0,
        keep_result_forever=result_ttl_s is None,
    )
