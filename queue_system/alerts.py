"""Ready-made alert rules: condition schedules that enqueue a notification job when a queue looks unhealthy.

    from queue_system import alerts
    email = alerts.Delivery("send-email", {"to": ["ops@example.com"], "template": "queue-alert-rule"}, "data")
    hook = alerts.Delivery("send-webhook", {"url": "https://hooks.example.com/q", "event": "queue.alert"}, "data")
    schedules = [
        *alerts.depth_above("scraping", 50, [email, hook]),             # more than 50 waiting
        *alerts.oldest_waiting_above("emails", 300, [email]),           # Horizon's "long wait"
        *alerts.failures_above("scraping", 20, window_s=600, deliver=[hook]),
        *alerts.no_worker_alive("notifications", [email]),
    ]
    worker_settings(..., schedules=schedules)        # or api.put_schedule(rule) at run time

Each rule is one :class:`Condition` per delivery, named ``alert.<rule>.<queue>.<function>``, firing at most once
per ``cooldown_s`` across all workers. The job receives the reading (rule, queue, metric, value, threshold,
window, time and a one-line summary) merged into its ``reading_kwarg`` argument, so an email template or webhook
receiver can say what happened. The framework does not know the application's notification jobs; a
:class:`Delivery` names one (jobs/alerting.py builds them for this project's email and webhook jobs).

``no_worker_alive`` reads the heartbeats of ``queue-system worker`` processes (conditions.HeartbeatPresence);
workers started with arq's own command write none, so do not use it for queues only those serve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .schedule_types import Condition, Metric

DEFAULT_COOLDOWN_S = 600.0


@dataclass(frozen=True)
class Delivery:
    """A notification job to enqueue: its name, its fixed arguments, and the argument that gets the reading."""

    function: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    reading_kwarg: str | None = "data"
    queue: str | None = None


def _rules(
    rule: str, queue: str, metric: Metric, threshold: float, deliver: Sequence[Delivery], **options: Any
) -> list[Condition]:
    return [
        Condition(
            f"alert.{rule}.{queue}.{d.function}",
            d.function,
            queue=queue,
            metric=metric,
            threshold=threshold,
            kwargs=d.kwargs,
            reading_kwarg=d.reading_kwarg,
            target_queue=d.queue,
            **options,
        )
        for d in deliver
    ]


def depth_above(
    queue: str, n: int, deliver: Sequence[Delivery], *, cooldown_s: float = DEFAULT_COOLDOWN_S
) -> list[Condition]:
    """More than ``n`` jobs waiting in ``queue``."""
    return _rules("depth", queue, Metric.WAITING, n, deliver, cooldown_s=cooldown_s)


def oldest_waiting_above(
    queue: str, seconds: float, deliver: Sequence[Delivery], *, cooldown_s: float = DEFAULT_COOLDOWN_S
) -> list[Condition]:
    """The oldest waiting job of ``queue`` has waited more than ``seconds`` (Horizon's "long wait")."""
    return _rules("long-wait", queue, Metric.OLDEST_WAITING_S, seconds, deliver, cooldown_s=cooldown_s)


def failures_above(
    queue: str, n: int, deliver: Sequence[Delivery], *, window_s: float = 300.0, cooldown_s: float = DEFAULT_COOLDOWN_S
) -> list[Condition]:
    """More than ``n`` jobs of ``queue`` failed within the last ``window_s`` seconds."""
    return _rules("failures", queue, Metric.FAILED, n, deliver, window_s=window_s, cooldown_s=cooldown_s)


def no_worker_alive(
    queue: str, deliver: Sequence[Delivery], *, cooldown_s: float = DEFAULT_COOLDOWN_S
) -> list[Condition]:
    """No live worker serves ``queue`` (from the workers' heartbeats: see conditions.HeartbeatPresence)."""
    return _rules("no-worker", queue, Metric.WORKERS, 1, deliver, cooldown_s=cooldown_s)
