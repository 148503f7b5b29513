"""structlog configuration: one JSON object per line in production, readable console lines in development.

The job middleware sets ``job_id``, ``function``, ``queue`` and ``job_try`` for the attempt (``JOB_LOG_FIELDS``, one
context variable holding them together: structlog's ``bound_contextvars`` copies the whole context and sets one
variable per key, a tenth of a no-op job's Python before it starts), so every line a job writes (through structlog or
the standard ``logging`` module) carries them. Fields bound with ``structlog.contextvars`` and a line's own
keywords take precedence. arq's own logger is
routed through the same formatter; its per-job chatter is dropped because the middleware logs those events.

structlog's own events are rendered by structlog and written straight to stderr, not handed to ``logging``: a
worker logs every job, and the detour through a ``LogRecord``, a handler and ``ProcessorFormatter`` cost several
times the rendering (measured: 40-75 us a line before, 9-25 us after, bench/RESULTS.md), a good part of a no-op
job's whole cost. Lines of other libraries still go through ``logging`` and get the same rendering.

A worker writes a line per job, so the line's own cost shows in its throughput (a no-op job's Python measured
488,000 instructions with the line and 386,000 without it: callgrind, bench/RESULTS.md). Two things keep it small:

- structlog's own lines get their standard fields (context variables, the attempt's fields, level, logger name,
  time stamp) from one processor (``add_standard_fields``) instead of five, with the time stamp's date and time of
  day formatted once per second (``utc_timestamp``).
- Console lines are structlog's ``ConsoleRenderer`` layout (timestamp, padded level and event, logger, then
  key=value pairs). ``ConsoleLines`` writes a line without an exception or stack directly with f-strings, and
  hands the rest to ``ConsoleRenderer`` with its columns given as plain formatters (``CONSOLE_COLUMNS``). A test
  compares both with structlog's default layout.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import MutableMapping
from contextvars import ContextVar
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
    shared: list[Any] = [  # for lines of the standard logging module (add_standard_fields does this for ours)
        structlog.contextvars.merge_contextvars,
        add_job_fields,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        add_timestamp,
    ]
    renderer: Any = structlog.processors.JSONRenderer(serializer=_json_text) if use_json else ConsoleLines()
    exceptions: Any = structlog.processors.format_exc_info if use_json else _identity  # the console renders them
    structlog.configure(
        processors=[add_standard_fields, exceptions, renderer],
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


_NEEDS_QUOTES = re.compile(r"[ \t=\r\n\"']")  # a string value with one of these is shown as its repr
_LEVEL_WIDTH = len("exception")  # the longest level name: levels line up
_EVENT_WIDTH = 30  # ConsoleRenderer's default padding of the event


def _key_value(key: str, value: object) -> str:
    if isinstance(value, str):  # a str subclass (a str enum) is written as its text, as ConsoleRenderer does
        return f"{key}={value!r}" if _NEEDS_QUOTES.search(value) else f"{key}={str.__str__(value)}"
    return f"{key}={value!r}"


def _bracketed(key: str, value: object) -> str:
    return f"[{value}]"


#: ConsoleRenderer's default layout without colours, as plain formatters (see the module's docstring)
CONSOLE_COLUMNS = [
    structlog.dev.Column("", _key_value),
    structlog.dev.Column("timestamp", lambda _key, value: str(value)),
    structlog.dev.Column("level", lambda _key, value: f"[{value!s:<{_LEVEL_WIDTH}}]"),
    structlog.dev.Column("event", lambda _key, value: f"{value!s:<{_EVENT_WIDTH}}"),
    structlog.dev.Column("logger", _bracketed),
    structlog.dev.Column("logger_name", _bracketed),
]


class ConsoleLines:
    """ConsoleRenderer's default layout without colours; a line with an exception or a stack goes to
    ConsoleRenderer itself (see the module's docstring)."""

    def __init__(self) -> None:
        self.full = structlog.dev.ConsoleRenderer(
            sort_keys=False,
            columns=CONSOLE_COLUMNS,
            exception_formatter=structlog.dev.default_monochrome_exception_formatter,
        )

    def __call__(self, logger: Any, name: str, event: dict[str, Any]) -> str:
        if "exc_info" in event or "exception" in event or "stack" in event:
            return self.full(logger, name, event)
        parts = []
        for column in _NAMED_COLUMNS:
            if (value := event.pop(column.key, _ABSENT)) is not _ABSENT:
                parts.append(column.formatter(column.key, value))
        parts += [  # a plain alphanumeric string inline (a call per pair was a tenth of the line)
            f"{key}={value}" if type(value) is str and value.isalnum() else _key_value(key, value)
            for key, value in event.items()
        ]
        return " ".join(filter(None, parts)).rstrip(" ")


_ABSENT = object()
_NAMED_COLUMNS = CONSOLE_COLUMNS[1:]  # the first is the default, for the key=value pairs after them


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


JOB_LOG_FIELDS: ContextVar[dict[str, Any] | None] = ContextVar("queue_system_job_log_fields", default=None)


def add_standard_fields(logger: Any, method_name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """What ``merge_contextvars``, ``add_job_fields``, ``add_log_level``, ``add_logger_name`` and
    ``add_timestamp`` add, in that order of precedence, in one processor (structlog's own lines only)."""
    event = add_job_fields(logger, method_name, structlog.contextvars.merge_contextvars(logger, method_name, event))
    event["level"] = _LEVEL_NAMES.get(method_name, method_name)
    event["logger"] = getattr(logger, "name", None)
    event["timestamp"] = utc_timestamp()
    return event


_LEVEL_NAMES = {"warn": "warning", "exception": "error"}  # as structlog's add_log_level maps them
_second_text: tuple[int, str] = (0, "")


def add_timestamp(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """``timestamp``: now, as :func:`utc_timestamp` writes it (for lines of the standard logging module)."""
    event["timestamp"] = utc_timestamp()
    return event


def utc_timestamp() -> str:
    """Now as ISO 8601 in UTC with microseconds and a "Z" (``TimeStamper(fmt="iso", utc=True)``'s text, but always
    with six digits: lines line up), the date and time of day formatted once per second."""
    global _second_text
    now = time.time()
    second = int(now)
    cached = _second_text  # read once: another thread may replace it meanwhile
    if cached[0] != second:
        cached = _second_text = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{int((now - second) * 1_000_000):06d}Z"


def add_job_fields(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The running attempt's fields (``JOB_LOG_FIELDS``), where the line does not set them itself."""
    fields = JOB_LOG_FIELDS.get()
    if fields:
        for key, value in fields.items():
            event.setdefault(key, value)
    return event


def get_logger(name: str = "queue_system") -> Any:
    """A logger named ``name`` that is bound once per structlog configuration (see :class:`_BoundOnce`)."""
    return _BoundOnce(name)


class _BoundOnce:
    """Binds its structlog logger again only when structlog's configuration changed.

    structlog's lazy proxy builds a new bound logger and writer for every line unless loggers are cached on first
    use, and a cached logger ignores a later ``configure`` (tests, the CLI before the worker, an application that
    configures structlog itself). The bind was a visible part of a no-op job; this keeps the bound logger and
    looks at the configuration (a small dict) instead.
    """

    __slots__ = ("_bound", "_factory", "_name", "_processors", "_stream", "_wrapper")

    def __init__(self, name: str) -> None:
        self._name = name
        self._bound: Any = None
        self._processors: Any = None
        self._factory: Any = None
        self._wrapper: Any = None
        self._stream: Any = None

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._current(), attribute)

    def _current(self) -> Any:
        config = structlog.get_config()
        if (
            config["processors"] is not self._processors
            or config["logger_factory"] is not self._factory
            or config["wrapper_class"] is not self._wrapper
            or sys.stderr is not self._stream  # _StderrLogger writes to the stderr of the moment it was bound
        ):
            self._bound = structlog.stdlib.get_logger(self._name).bind()
            self._processors = config["processors"]
            self._factory = config["logger_factory"]
            self._wrapper = config["wrapper_class"]
            self._stream = sys.stderr
        return self._bound

    # The level methods are found on the class: through ``__getattr__`` each line first failed the normal lookup,
    # an AttributeError formatted and thrown away (~2% of a no-op job in the worker).
    debug = property(lambda self: self._current().debug)
    info = property(lambda self: self._current().info)
    warning = property(lambda self: self._current().warning)
    error = property(lambda self: self._current().error)
    exception = property(lambda self: self._current().exception)
