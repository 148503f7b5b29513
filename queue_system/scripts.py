"""Loads the Lua scripts in ``lua/`` (one atomic operation each, documented at the top of its file).

redis-py's ``Script`` runs them with EVALSHA and reloads them after a ``SCRIPT FLUSH`` or a Redis restart,
also inside pipelines.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript


@cache
def script_source(name: str) -> str:
    return resources.files(__package__).joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


class Scripts:
    """The registered scripts for one Redis client."""

    def __init__(self, redis: Redis) -> None:
        self.enqueue: AsyncScript = redis.register_script(script_source("enqueue"))
        self.promote: AsyncScript = redis.register_script(script_source("promote"))
        self.claim: AsyncScript = redis.register_script(script_source("claim"))
