"""The middleware contract: each middleware wraps the next one around a single job attempt.

A middleware is an object with ``async __call__(call, call_next)``; it may act before and after, translate
exceptions, or stop the call. The chain is built once per worker; ``JobCall`` carries one attempt's facts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..types import JobContext, Priority

if TYPE_CHECKING:
    from ..config import QueueConfig
    from ..failed import FailedStore
    from ..serialization import PayloadCodec
    from ..spec import JobSpec


@dataclass(slots=True)
class JobCall:
    """One attempt of one job, as the middleware sees it."""

    ctx: JobContext
    spec: JobSpec
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    job_id: str
    job_try: int
    queue: str
    priority: Priority
    tags: dict[str, str] = field(default_factory=dict)
    enqueued_at_ms: int = 0
    started_at_ms: int = 0
    # Earlier attempts whose worker died before they ended (they count as tries too).
    lost_attempts: int = 0
    # The name the producer used; differs from spec.name only for the internal "function not found" route.
    function_name: str = ""
    # What the failed store records as the job's arguments, when they differ from what the function receives
    # (the internal routes for undecodable payloads and unknown functions).
    recorded_args: tuple[Any, ...] | None = None
    recorded_kwargs: dict[str, Any] | None = None
    undecodable: bool = False
    # Arguments and result are secret (the function is declared sensitive): recorded redacted and encrypted.
    sensitive: bool = False


class Services(Protocol):
    """What middleware may use from the worker: settings, the failed store and the payload codec."""

    config: QueueConfig
    failed: FailedStore
    codec: PayloadCodec


CallNext = Callable[[JobCall], Awaitable[Any]]


class Middleware(Protocol):
    async def __call__(self, call: JobCall, call_next: CallNext) -> Any: ...


def build_chain(middlewares: Sequence[Middleware], terminal: CallNext) -> CallNext:
    """Compose so that ``middlewares[0]`` is outermost."""
    handler = terminal
    for middleware in reversed(middlewares):
        handler = _Link(middleware, handler)
    return handler


class _Link:
    """``middleware`` with the rest of the chain: calling it returns the middleware's coroutine itself, so a job
    passes one frame per middleware (an ``async def`` wrapper here was a second one each)."""

    __slots__ = ("call_next", "middleware")

    def __init__(self, middleware: Middleware, call_next: CallNext) -> None:
        self.middleware = middleware
        self.call_next = call_next

    def __call__(self, call: JobCall) -> Awaitable[Any]:
        return self.middleware(call, self.call_next)
