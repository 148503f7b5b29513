"""structlog configuration: one JSON object per line in production, readable console lines in development.

The job middleware binds ``job_id``, ``function``, ``queue`` and ``try`` into structlog's context variables, so
every line a job writes (through structlog or the standard ``logging`` module) carries them. arq's own logger is
routed through the same formatter; its per-job chatter is dropped because the middleware logs those events.

structlog's own events are rendered by structlog and written straight to stderr, not handed to ``logging``: a
worker logs every job, and the detour through a ``LogRecord``, a handler and ``ProcessorFormatter`` cost several
times the rendering (measured: 40-75 us a line before, 9-25 us after, bench/RESULTS.md), a good part of a no-op
job's whole cost. Lines of other libraries still go through ``logging`` and get the same rendering.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import orjson
import structlog

_ARQ_DUPLICATES = ("%6.2fs → ", "%6.2fs ← ", "%6.2fs ↻ ", "%6.2fs ! %s failed")


class _DropArqJobLines(logging.Filter):
    """arq logs each job start/end/retry (with its arguments, which may be sensitive); we log those ourselves."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(_ARQ_DUPLICATES))


def configure_logging(*, fmt: str = "console", level: str = "INFO") -> None:
    """Idempotent; ``fmt`` is ``json`` (one object per line) or ``console`` (readable lines)."""
    if fmt not in ("json", "console"):
        raise ValueError(f"log format must be 'json' or 'console', not {fmt!r}")
    use_json = fmt == "json"
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json_text)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False, sort_keys=False)
    )
    exceptions: Any = structlog.processors.format_exc_info if use_json else _identity  # the console renders them
    structlog.configure(
        processors=[*shared, exceptions, renderer],
        logger_factory=_StderrLogger,
        # Level filtering happens before any processor runs: a debug line costs nothing in production.
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=False,  # re-configuration (tests, CLI then worker) must take effect
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, exceptions, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_DropArqJobLines())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)


class _StderrLogger(structlog.WriteLogger):
    """structlog's plain writer to the current stderr, with the name it was asked for (for ``add_logger_name``)."""

    def __init__(self, name: str = "", *_args: Any) -> None:
        super().__init__(sys.stderr)
        self.name = name


def _json_text(obj: Any, **kwargs: Any) -> str:
    try:
        return orjson.dumps(obj, **kwargs).decode()
    except TypeError:  # what orjson refuses (an int past 64 bits, a non-str key) must still make a line
        return json.dumps(obj, default=repr)


def _identity(_logger: Any, _name: str, event: Any) -> Any:
    return event


def get_logger(name: str = "queue_system") -> Any:
    return structlog.stdlib.get_logger(name)
