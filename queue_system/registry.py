"""Declaring jobs: ``@job(...)`` turns an async function into a typed handle that carries its policy.

    @job(queue="email-sending", max_tries=5, backoff=Exponential(3))
    async def send_email(ctx, to: str, subject: str) -> str: ...

    await send_email.enqueue("a@example.org", "Hi")                 # typed by the function's signature
    await send_email.options(defer_by=60, priority="high").enqueue("a@example.org", "Hi")

The handle is also a plain async function (``await send_email(ctx, ...)`` runs it directly, e.g. in tests).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from .backoff import Backoff, as_backoff
from .client import Client, Job, JobRequest
from .config import QueueConfig
from .keys import DEFAULT_QUEUE
from .limits import RateLimit, Unique
from .spec import DEFAULT_BACKOFF, JobSpec
from .types import JobContext, Priority, Retention

P = ParamSpec("P")
R = TypeVar("R")

_current_client: ContextVar[Client | None] = ContextVar("queue_system_client", default=None)
_default_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Client] = weakref.WeakKeyDictionary()
_OPTION_NAMES = {"_queue", "_priority", "_defer_by", "_defer_until", "_job_id", "_tags"}


@contextmanager
def use_client(client: Client) -> Any:
    """Make ``client`` the one typed handles enqueue through in this context (the worker does this for jobs)."""
    token = _current_client.set(client)
    try:
        yield client
    finally:
        _current_client.reset(token)


def set_current_client(client: Client | None) -> None:
    _current_client.set(client)


async def current_client() -> Client:
    """The client in context, else one per event loop built from the environment (``REDIS_URL``, ``QS_*``)."""
    client = _current_client.get()
    if client is not None:
        return client
    loop = asyncio.get_running_loop()
    if loop not in _default_clients:
        _default_clients[loop] = await Client.connect(QueueConfig.from_env())
    return _default_clients[loop]


@dataclass(frozen=True)
class EnqueueOptions(Generic[P]):
    """Per-enqueue options, bound to a handle; ``enqueue`` keeps the function's typed signature."""

    handle: JobFunction[P, Any]
    queue: str | None = None
    priority: Priority | str | int | None = None
    defer_by: int | float | timedelta | None = None
    defer_until: datetime | None = None
    job_id: str | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)
    client: Client | None = None

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        (job,) = await self.handle._enqueue_requests([self.request(args, kwargs)], self.client)
        return job

    def call(self, *args: P.args, **kwargs: P.kwargs) -> JobCall:
        """This call with these options, not enqueued yet (a batch's job or callback)."""
        return JobCall(self.handle.spec, self.request(args, kwargs))

    def request(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> JobRequest:
        spec = self.handle.spec
        return JobRequest(
            function=self.handle.spec.name,
            args=tuple(args),
            kwargs=dict(kwargs),
            queue=self.queue,
            priority=self.priority,
            defer_by=self.defer_by,
            defer_until=self.defer_until,
            job_id=self.job_id,
            tags=dict(self.tags),
            unique=spec.unique,
            limit_key=spec.rate_limit.key_for(args, kwargs) if spec.rate_limit and spec.rate_limit.key else None,
        )


@dataclass(frozen=True)
class JobCall:
    """One call of a declared job, not enqueued yet: ``send_email.call("a@example.org", "Hi")``.

    Batches take these instead of names and argument tuples, so a type checker checks each job's arguments
    against its function's signature, and the batch knows each function's routing without asking Redis.
    """

    spec: JobSpec
    request: JobRequest


class JobFunction(Generic[P, R]):
    """A declared job: its :class:`JobSpec` plus typed ways to enqueue it."""

    def __init__(self, spec: JobSpec) -> None:
        self.spec = spec
        self.__name__ = spec.name
        self.__doc__ = spec.function.__doc__

    @property
    def name(self) -> str:
        return self.spec.name

    async def __call__(self, ctx: JobContext, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = await self.spec.function(ctx, *args, **kwargs)
        return result

    def options(
        self,
        *,
        queue: str | None = None,
        priority: Priority | str | int | None = None,
        defer_by: int | float | timedelta | None = None,
        defer_until: datetime | None = None,
        job_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        client: Client | None = None,
    ) -> EnqueueOptions[P]:
        return EnqueueOptions(self, queue, priority, defer_by, defer_until, job_id, dict(tags or {}), client)

    def call(self, *args: P.args, **kwargs: P.kwargs) -> JobCall:
        """This call with the declared policy, not enqueued yet (a batch's job or callback)."""
        return JobCall(self.spec, JobRequest(self.spec.name, args, kwargs))

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        """Enqueue with the declared policy. ``_queue``, ``_priority``, ``_defer_by``, ``_defer_until``,
        ``_job_id`` and ``_tags`` keyword options are accepted too (untyped; prefer :meth:`options`)."""
        opts: dict[str, Any] = {k[1:]: kwargs.pop(k) for k in list(kwargs) if k in _OPTION_NAMES}
        return await self.options(**opts).enqueue(*args, **kwargs)

    async def enqueue_many(
        self, calls: Iterable[tuple[Sequence[Any], Mapping[str, Any]]], *, options: EnqueueOptions[P] | None = None
    ) -> list[Job]:
        """Bulk enqueue ``(args, kwargs)`` pairs in one pipelined round trip (``options`` apply to every job)."""
        opts = options or self.options()
        requests = [opts.request(args, kwargs) for args, kwargs in calls]
        return await self._enqueue_requests(requests, opts.client)

    async def _enqueue_requests(self, requests: list[JobRequest], client: Client | None) -> list[Job]:
        client = client or await current_client()
        client.register(self.spec.name, self.spec.info)
        return await client.enqueue_many(requests)

    def __repr__(self) -> str:
        return f"<job {self.spec.name} queue={self.spec.queue} priority={self.spec.priority.label}>"


JobCallable = Callable[Concatenate[JobContext, P], Awaitable[R]]


@overload
def job(function: JobCallable[P, R], /) -> JobFunction[P, R]: ...


@overload
def job(
    *,
    name: str | None = None,
    queue: str = DEFAULT_QUEUE,
    priority: Priority | str | int = Priority.NORMAL,
    max_tries: int = 3,
    timeout: float = 300.0,
    backoff: Backoff | float | Callable[[int], float] | None = None,
    retry_on: Sequence[type[BaseException]] = (Exception,),
    fail_on: Sequence[type[BaseException]] = (),
    keep_result: float | None = None,
    sensitive: bool = False,
    keep_completed: Retention | int | None = None,
    keep_failed: Retention | int | None = None,
    rate_limit: RateLimit | None = None,
    concurrency: int | None = None,
    unique: Unique | None = None,
) -> Callable[[JobCallable[P, R]], JobFunction[P, R]]: ...


def job(function: Any = None, /, **policy: Any) -> Any:
    """Declare a job function with its policy (see the module docstring)."""
    if function is not None:
        return JobFunction(_spec(function, **policy))
    return lambda fn: JobFunction(_spec(fn, **policy))


def _spec(
    function: Callable[..., Awaitable[Any]],
    *,
    name: str | None = None,
    queue: str = DEFAULT_QUEUE,
    priority: Priority | str | int = Priority.NORMAL,
    max_tries: int = 3,
    timeout: float = 300.0,
    backoff: Backoff | float | Callable[[int], float] | None = None,
    retry_on: Sequence[type[BaseException]] = (Exception,),
    fail_on: Sequence[type[BaseException]] = (),
    keep_result: float | None = None,
    sensitive: bool = False,
    keep_completed: Retention | int | None = None,
    keep_failed: Retention | int | None = None,
    rate_limit: RateLimit | None = None,
    concurrency: int | None = None,
    unique: Unique | None = None,
) -> JobSpec:
    return JobSpec(
        name=name or function.__name__,
        function=function,
        queue=queue,
        priority=Priority.parse(priority),
        max_tries=max_tries,
        timeout_s=float(timeout),
        backoff=as_backoff(backoff) if backoff is not None else DEFAULT_BACKOFF,
        retry_on=tuple(retry_on),
        fail_on=tuple(fail_on),
        keep_result_s=keep_result,
        sensitive=sensitive,
        keep_completed=Retention.parse(keep_completed),
        keep_failed=Retention.parse(keep_failed),
        rate_limit=rate_limit,
        concurrency=concurrency,
        unique=unique,
    )
