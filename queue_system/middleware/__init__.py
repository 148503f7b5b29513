"""Cross-cutting behaviour around each job attempt, one small middleware per concern (dramatiq-style)."""

from __future__ import annotations

from .base import CallNext, JobCall, Middleware, Services, build_chain
from .failed_store import FailedStoreMiddleware
from .limits import CTX_ADMITTED, LimitsMiddleware, Postponed
from .log_context import LogContextMiddleware
from .metrics import MetricsMiddleware
from .retries import RetriesMiddleware
from .timeout import TimeoutMiddleware


def default_middleware(services: Services) -> list[Middleware]:
    """Outermost first: log context, metrics (see each attempt's outcome), then the failed store sees only final
    failures, then retries, then timeout."""
    return [
        LogContextMiddleware(),
        MetricsMiddleware(),
        FailedStoreMiddleware(services),
        RetriesMiddleware(lost_attempts_budget=services.config.lost_attempts_budget),
        TimeoutMiddleware(),
    ]


__all__ = [
    "CTX_ADMITTED",
    "CallNext",
    "FailedStoreMiddleware",
    "JobCall",
    "LimitsMiddleware",
    "LogContextMiddleware",
    "MetricsMiddleware",
    "Middleware",
    "Postponed",
    "RetriesMiddleware",
    "Services",
    "TimeoutMiddleware",
    "build_chain",
    "default_middleware",
]
