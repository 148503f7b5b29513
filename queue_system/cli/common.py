"""Shared CLI plumbing: exit codes, output as text or JSON, and running async commands with a client."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from functools import wraps
from typing import Any, TypeVar

import click

from ..api import QueueAPI
from ..client import Client
from ..config import QueueConfig
from ..errors import ConfigError, JobNotFound, QueueSystemError, RedisUnavailable, ScheduleNotFound

T = TypeVar("T")

# Exit codes: documented in the README; scripts and health checks rely on them.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2  # click's own
EXIT_NOT_FOUND = 3
EXIT_REDIS_UNAVAILABLE = 4
EXIT_CONFIG = 5

_EXIT_FOR: list[tuple[type[Exception], int]] = [
    (JobNotFound, EXIT_NOT_FOUND),
    (ScheduleNotFound, EXIT_NOT_FOUND),
    (RedisUnavailable, EXIT_REDIS_UNAVAILABLE),
    (ConfigError, EXIT_CONFIG),
    (QueueSystemError, EXIT_ERROR),
]


class CommandError(click.ClickException):
    """A user-facing failure with a chosen exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class; per error here


def fail_from(exc: QueueSystemError) -> CommandError:
    code = next(code for exc_type, code in _EXIT_FOR if isinstance(exc, exc_type))
    return CommandError(str(exc), code)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except QueueSystemError as exc:
        raise fail_from(exc) from exc


async def with_client(action: Callable[[Client], Awaitable[T]]) -> T:
    client = await Client.connect(QueueConfig.from_env())
    try:
        return await action(client)
    finally:
        await client.close()


async def with_api(action: Callable[[QueueAPI], Awaitable[T]]) -> T:
    """Run ``action`` with the public read API (the only way the inspection commands reach Redis)."""
    async with await QueueAPI.connect(QueueConfig.from_env()) as api:
        return await action(api)


def json_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(function)


def emit(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))
    else:
        click.echo(text(data))


def parse_tags(values: tuple[str, ...]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not key=value", param_hint="--tag")
        tags[key] = value
    return tags


def parse_tag(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    return next(iter(parse_tags((value,)).items()))


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(raw: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h`` or ``7d`` as seconds."""
    text = raw.strip().lower()
    unit = _UNITS.get(text[-1:]) if text else None
    number = text[:-1] if unit else text
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise click.BadParameter(f"{raw!r} is not a duration like 90, 90s, 15m, 2h or 7d") from None
    if seconds < 0:
        raise click.BadParameter("a duration must not be negative")
    return seconds


def parse_json_value(raw: str) -> Any:
    """An argument given on the command line: JSON if it parses, else the plain string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def guarded(function: Callable[..., T]) -> Callable[..., T]:
    """Turn framework errors raised outside ``run_async`` into clean CLI errors too."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return function(*args, **kwargs)
        except QueueSystemError as exc:
            raise fail_from(exc) from exc

    return wrapper


def stderr(message: str) -> None:
    click.echo(message, err=True, file=sys.stderr)
