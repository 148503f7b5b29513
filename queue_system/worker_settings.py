"""Builds the ``WorkerSettings`` class that both ``arq settings.WorkerSettings`` and ``queue-system worker`` run.

    WorkerSettings = worker_settings(jobs=[send_email, render_certificate], queues=["email-sending"])

Every argument is explicit, so a misspelled setting is a ``TypeError`` at import, not a silent no-op. The stock
arq worker serves one queue (the first of ``queues``); ``queue-system worker`` serves all of them in one process.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from .client import Client
from .config import QueueConfig
from .connection import redis_settings
from .crypto import Cipher
from .errors import ConfigError
from .internal_jobs import INTERNAL_SPECS
from .keys import DEFAULT_QUEUE, queue_key, validate_queue_name
from .limits import QueueLimits
from .logging_setup import configure_logging, get_logger
from .recovery import RecoveryHook
from .registry import JobFunction, set_current_client
from .retention import QueueRetention, RetentionPolicies, result_ttl_ms
from .runner import CTX_DEFAULT_QUEUE, CTX_RUNTIME, WorkerCodec, WorkerRuntime, arq_function
from .schedule_types import Condition, Timed, from_arq_cron
from .scheduler import WorkerScheduling
from .spec import JobSpec
from .types import JobContext, JobState

Hook = Callable[[JobContext], Awaitable[None]]
CTX_ENGINE = "qs_engine"
log = get_logger("queue_system.worker")


def worker_settings(
    *,
    jobs: Sequence[JobFunction[Any, Any]],
    queues: Sequence[str] | None = None,
    concurrency: int = 10,
    config: QueueConfig | None = None,
    on_startup: Hook | None = None,
    on_shutdown: Hook | None = None,
    poll_delay_s: float = 0.1,
    retention: Mapping[str, QueueRetention] | None = None,
    cron_jobs: Sequence[Timed | Any] = (),
    schedules: Sequence[Condition | Timed] = (),
    recovery: Sequence[RecoveryHook] = (),
    limits: Mapping[str, QueueLimits] | None = None,
    name: str = "WorkerSettings",
) -> type:
    """Validate the declaration and return a class whose attributes arq's Worker accepts (plus ``qs_*`` extras).

    ``retention`` sets queues' record retention (``{"product-items": QueueRetention.of(completed=10, failed=5)}``);
    see retention.py for how it combines with the jobs' own ``keep_completed``/``keep_failed``.

    ``cron_jobs`` (``cron(job, "0 2 * * *")``, or arq's own ``arq.cron.cron(...)`` declarations, converted) and
    ``schedules`` (conditions, alerts) fire exactly once per tick across every worker (scheduler.py; arq's own
    cron is never run); ``recovery`` hooks run at start-up in one worker of those starting together.
    ``limits`` sets queues' rate limits and concurrency caps (``{"product-items": QueueLimits(rate=RateLimit(5,
    per=10), concurrency=2)}``), enforced across all workers on top of each job's own (limits.py).
    """
    config = config or QueueConfig.from_env()
    specs = _specs(jobs)
    for queue in [*(retention or {}), *(limits or {})]:
        validate_queue_name(queue)
    for queue, queue_limits in (limits or {}).items():
        if not isinstance(queue_limits, QueueLimits):
            raise ConfigError(f"limits[{queue!r}] must be a QueueLimits, not {queue_limits!r}")
    policies = RetentionPolicies.resolve(config, specs, retention)
    served = [validate_queue_name(q) for q in (config.worker_queues or queues or _queues_of(specs))]
    if concurrency < 1:
        raise ConfigError("concurrency must be >= 1")
    cipher = Cipher(config.encryption_keys) if config.encryption_keys else None
    sensitive = {s.name for s in specs if s.sensitive}
    if sensitive and cipher is None:
        raise ConfigError(f"jobs {sorted(sensitive)} are sensitive: set QS_ENCRYPTION_KEYS")
    all_specs = [*specs, *INTERNAL_SPECS]
    crons = [c if isinstance(c, Timed) else from_arq_cron(c) for c in cron_jobs]
    scheduling = WorkerScheduling([*crons, *schedules], recovery)
    codec = WorkerCodec(
        known=[s.name for s in all_specs],
        max_payload_bytes=config.max_payload_bytes,
        cipher=cipher,
        is_sensitive=sensitive.__contains__,
    )

    async def startup(ctx: JobContext) -> None:
        configure_logging(fmt=config.effective_log_format, level=config.log_level)
        runtime = WorkerRuntime(
            ctx["redis"],
            config,
            codec,
            specs=all_specs,
            stock_worker=not ctx.get(CTX_ENGINE),
            retention=policies,
            queue_limits=limits,
        )
        await _publish(runtime, specs, served)
        await runtime.admission.publish(served)
        ctx[CTX_RUNTIME] = runtime
        ctx.setdefault(CTX_DEFAULT_QUEUE, served[0])
        client = Client(ctx["redis"], config, codec)
        for spec in specs:
            client.register(spec.name, spec.info)
        set_current_client(client)
        log.info("worker.started", queues=served, functions=len(specs), concurrency=concurrency)
        if on_startup:
            await on_startup(ctx)
        await scheduling.start(ctx, client)

    async def shutdown(ctx: JobContext) -> None:
        await scheduling.stop(ctx)
        if on_shutdown:
            await on_shutdown(ctx)
        log.info("worker.stopped")

    attrs: dict[str, Any] = {
        "functions": [
            arq_function(s, lost_attempts_budget=config.lost_attempts_budget, result_ttl_s=_result_ttl_s(policies, s))
            for s in all_specs
        ],
        "queue_name": queue_key(served[0]),
        "redis_settings": redis_settings(config),
        "job_serializer": codec.serialize,
        "job_deserializer": codec.deserialize,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "max_jobs": concurrency,
        "poll_delay": poll_delay_s,
        "queue_read_limit": concurrency,  # small reads keep priority order fresh under the stock worker
        "keep_result": config.keep_result_s,
        "expires_extra_ms": config.job_expires_s * 1000,
        "qs_config": config,
        "qs_queues": tuple(served),
        "qs_specs": tuple(specs),
        "qs_retention": policies,
        "qs_scheduling": scheduling,
        "qs_limits": dict(limits or {}),
        "__doc__": f"Worker settings for {len(specs)} jobs on queues {', '.join(served)}.",
    }
    return type(name, (), attrs)


def _specs(jobs: Sequence[JobFunction[Any, Any]]) -> list[JobSpec]:
    specs: list[JobSpec] = []
    seen: set[str] = set()
    for handle in jobs:
        if not isinstance(handle, JobFunction):
            raise ConfigError(f"{handle!r} is not a job: declare it with @job(...)")
        if handle.spec.name in seen:
            raise ConfigError(f"two jobs are named {handle.spec.name!r}")
        seen.add(handle.spec.name)
        specs.append(handle.spec)
    if not specs:
        raise ConfigError("a worker needs at least one job")
    return specs


def _queues_of(specs: Sequence[JobSpec]) -> list[str]:
    queues = sorted({s.queue for s in specs})
    return sorted(queues, key=lambda q: q != DEFAULT_QUEUE)


def _result_ttl_s(policies: RetentionPolicies, spec: JobSpec) -> float | None:
    """Under arq's own Worker: keep a result as long as the job's completed record (None = forever)."""
    ttl_ms = result_ttl_ms(policies.limits(spec.queue, JobState.COMPLETED, spec.keep_result_s))
    return None if ttl_ms < 0 else ttl_ms / 1000


async def _publish(runtime: WorkerRuntime, specs: Sequence[JobSpec], queues: Sequence[str] = ()) -> None:
    """Publish each function's routing so producers and the inbox router can find its queue and priority, and
    the served queues, so stats list them before their first job."""
    mapping: dict[str | bytes, bytes] = {s.name: s.info.to_json() for s in specs}
    async with runtime.redis.pipeline(transaction=False) as pipe:
        pipe.hset(runtime.keys.functions, mapping=mapping)
        if queues:
            pipe.sadd(runtime.keys.queues, *queues)
        await pipe.execute()


def load_settings(path: str) -> type:
    """Import ``module.Attribute`` from the current directory, as ``arq module.WorkerSettings`` does, and check
    it was built by :func:`worker_settings` (raises :class:`ConfigError` otherwise)."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module, _, attribute = path.rpartition(".")
    try:
        settings = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"cannot import worker settings {path!r}: {exc}") from exc
    if not isinstance(settings, type) or getattr(settings, "qs_config", None) is None:
        raise ConfigError(f"{path} was not built with queue_system.worker_settings(...)")
    return settings
