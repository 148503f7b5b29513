"""The concrete jobs of the five seed systems, built on queue_system's public API.

``ALL_JOBS`` is what ``settings.py`` wires into the worker; each module adds its jobs as it lands.
"""

from __future__ import annotations

from typing import Any

from queue_system import JobFunction

from .maintenance import prune_failed_jobs
from .queues import QUEUES

ALL_JOBS: list[JobFunction[Any, Any]] = [prune_failed_jobs]

__all__ = ["ALL_JOBS", "QUEUES"]
