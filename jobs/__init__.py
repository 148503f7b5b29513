"""The concrete jobs of the five seed systems, built on queue_system's public API.

``ALL_JOBS`` (defined in ``jobs/all_jobs.py``; each module adds its jobs there as it lands) is what
``settings.py`` wires into the worker. It is loaded on first access, so that commands importing only a light
part of this package (``queue-system db …`` imports ``jobs.cli``) do not pay for every job's libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .queues import QUEUES

if TYPE_CHECKING:
    from queue_system import JobFunction

    ALL_JOBS: list[JobFunction[Any, Any]]


def __getattr__(name: str) -> Any:
    if name == "ALL_JOBS":
        from .all_jobs import ALL_JOBS

        return ALL_JOBS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ALL_JOBS", "QUEUES"]
