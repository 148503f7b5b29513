"""Loads the Lua scripts in ``lua/`` (one atomic operation each, documented at the top of its file).

A line ``--!include name`` is replaced by ``lua/include/name.lua``, so scripts share one copy of a step (BullMQ's
includes). redis-py's ``Script`` runs them with EVALSHA and reloads them after a ``SCRIPT FLUSH`` or a Redis
restart, also inside pipelines.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript


INCLUDE = "--!include "
# What a script call takes as ARGV.
ScriptArgs = list[str | int | float | bytes]


@cache
def script_source(name: str, folder: str = "lua") -> str:
    text = resources.files(__package__).joinpath(folder, f"{name}.lua").read_text(encoding="utf-8")
    lines = [
        script_source(line[len(INCLUDE) :].strip(), "lua/include") if line.startswith(INCLUDE) else line
        for line in text.splitlines()
    ]
    return "\n".join(lines) + "\n"


class Scripts:
    """The registered scripts for one Redis client."""

    def __init__(self, redis: Redis) -> None:
        self.enqueue: AsyncScript = redis.register_script(script_source("enqueue"))
        self.promote: AsyncScript = redis.register_script(script_source("promote"))
        self.claim: AsyncScript = redis.register_script(script_source("claim"))
        self.finish: AsyncScript = redis.register_script(script_source("finish"))
        self.renew: AsyncScript = redis.register_script(script_source("renew"))
        self.transition: AsyncScript = redis.register_script(script_source("transition"))
        self.report: AsyncScript = redis.register_script(script_source("report"))
        self.abort: AsyncScript = redis.register_script(script_source("abort"))
        self.pause: AsyncScript = redis.register_script(script_source("pause"))
        self.clean: AsyncScript = redis.register_script(script_source("clean"))
        self.sweep: AsyncScript = redis.register_script(script_source("sweep"))
        self.list: AsyncScript = redis.register_script(script_source("list"))
        self.remove: AsyncScript = redis.register_script(script_source("remove"))
        self.run_now: AsyncScript = redis.register_script(script_source("run_now"))
        self.scan: AsyncScript = redis.register_script(script_source("scan"))
        self.admit: AsyncScript = redis.register_script(script_source("admit"))
        self.release: AsyncScript = redis.register_script(script_source("release"))
        self.postpone: AsyncScript = redis.register_script(script_source("postpone"))
        self.throttle: AsyncScript = redis.register_script(script_source("throttle"))
        self.throttle_pause: AsyncScript = redis.register_script(script_source("throttle_pause"))
