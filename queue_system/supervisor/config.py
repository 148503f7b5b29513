"""The supervisor's configuration: groups of queues, each with its own process range and scaling thresholds.

Names and defaults follow the scraper seed's ``autoScaling`` block (minWorkers 2, maxWorkers 20,
scaleUpThreshold 10, scaleDownThreshold 2, cooldownPeriod 5 min, concurrency 10). It comes from a TOML or JSON
file, or from a ``SupervisorConfig`` (or a plain dict) in the application's settings module; unknown keys are
errors, like everywhere else in the framework.
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

from arq.utils import import_string
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError
from ..keys import validate_queue_name


class GroupConfig(BaseModel):
    """Worker processes serving ``queues`` (in this order), scaled between ``min_workers`` and ``max_workers``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    queues: tuple[str, ...] = Field(min_length=1)
    min_workers: int = Field(default=2, ge=0)
    max_workers: int = Field(default=20, ge=1)
    concurrency: int = Field(default=10, ge=1)  # jobs per process
    # Scale up while more than this many jobs wait per running process; down once fewer than
    # scale_down_threshold wait in all and the remaining processes could hold the running jobs.
    scale_up_threshold: int = Field(default=10, ge=1)
    scale_down_threshold: int = Field(default=2, ge=0)
    # Also scale up while the oldest waiting job has waited longer than this (None: count only).
    scale_up_wait_s: float | None = Field(default=None, gt=0)
    cooldown_s: float = Field(default=300.0, ge=0)  # between two scaling actions of this group
    max_jobs: int | None = Field(default=None, ge=1)  # each process exits (and is replaced) after this many
    memory_mb: float | None = Field(default=None, gt=0)  # ... or once its memory passes this

    @field_validator("queues")
    @classmethod
    def _valid_queues(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(validate_queue_name(q) for q in value)

    @model_validator(mode="after")
    def _range(self) -> GroupConfig:
        if self.min_workers > self.max_workers:
            raise ValueError(f"group {self.name}: min_workers > max_workers")
        return self


class SupervisorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    worker_settings: str  # the import path each worker process runs, e.g. "settings.WorkerSettings"
    groups: tuple[GroupConfig, ...] = Field(min_length=1)
    check_interval_s: float = Field(default=1.0, gt=0)
    # A crashed process is replaced after restart_backoff_s, doubling per crash in a row up to the maximum.
    restart_backoff_s: float = Field(default=1.0, ge=0)
    restart_backoff_max_s: float = Field(default=60.0, ge=0)
    # A process that ran this long before crashing resets its group's crash count.
    stable_after_s: float = Field(default=60.0, ge=0)

    @model_validator(mode="after")
    def _unique_names(self) -> SupervisorConfig:
        names = [g.name for g in self.groups]
        if len(names) != len(set(names)):
            raise ValueError("group names must be unique")
        return self


def load_supervisor_config(source: str) -> SupervisorConfig:
    """From a ``.toml``/``.json`` file, or ``module.attribute`` holding a SupervisorConfig or a dict."""
    try:
        if source.endswith((".toml", ".json")):
            return SupervisorConfig(**_read_file(Path(source)))
        value = _import(source)
        if isinstance(value, SupervisorConfig):
            return value
        if isinstance(value, dict):
            return SupervisorConfig(**value)
    except ValidationError as exc:
        raise ConfigError(f"invalid supervisor settings in {source}: {exc}") from exc
    raise ConfigError(f"{source} is neither a SupervisorConfig nor a dict")


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read supervisor settings {path}: {exc}") from exc
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ConfigError(f"cannot parse supervisor settings {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of settings")
    return data


def _import(path: str) -> Any:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return import_string(path)
    except ImportError as exc:
        raise ConfigError(f"cannot import supervisor settings {path!r}: {exc}") from exc
