"""A worker's control channel: messages a worker must act on at once, even while every job slot is busy.

Each worker subscribes to ``{prefix}:control`` (Redis pub/sub) on a connection and in a task of its own, so an
abort reaches it while all its slots run long jobs (python-arq/arq#290), independently of the listener that
waits for new work. Messages are ``abort <job id>`` (published by lua/abort.lua) and ``restart <value>``
(restart.py). Pub/sub keeps no messages, so after each (re)subscription the listener reads ``{prefix}:aborting``
once: an abort sent while it was reconnecting is carried out then (lease renewal checks the same set too, see
lua/renew.lua); a missed restart is seen by the worker's next heartbeat (monitor.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .keys import Keys
from .logging_setup import get_logger
from .pubsub import listen_forever

log = get_logger("queue_system.control")


class ControlListener:
    def __init__(
        self,
        redis: Any,
        keys: Keys,
        *,
        on_abort: Callable[[str], None],
        on_restart: Callable[[str], None] | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.on_abort = on_abort
        self.on_restart = on_restart

    async def run(self) -> None:
        """Listen until cancelled; a lost connection is logged and the subscription made again with backoff."""
        await listen_forever(self.redis, self.keys.control, self._handle, self._catch_up)

    async def _catch_up(self) -> None:
        pending: set[bytes] = await self.redis.smembers(self.keys.aborting)
        for job_id in pending:
            self.on_abort(job_id.decode())

    def _handle(self, text: str) -> None:
        command, _, argument = text.partition(" ")
        if command == "abort" and argument:
            self.on_abort(argument)
        elif command == "restart" and argument:
            if self.on_restart is not None:
                self.on_restart(argument)
        else:
            log.warning("control.unknown_message", message=text[:200])
