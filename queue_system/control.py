"""A worker's control channel: messages a worker must act on at once, even while every job slot is busy.

Each worker subscribes to ``{prefix}:control`` (Redis pub/sub) on a connection and in a task of its own, so an
abort reaches it while all its slots run long jobs (python-arq/arq#290), independently of the listener that
waits for new work. Messages are ``abort <job id>`` (published by lua/abort.lua) and ``restart <value>``
(restart.py). Pub/sub keeps no messages, so after each (re)subscription the listener reads ``{prefix}:aborting``
once: an abort sent while it was reconnecting is carried out then (lease renewal checks the same set too, see
lua/renew.lua); a missed restart is seen by the worker's next heartbeat (monitor.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .connection import REDIS_DOWN_ERRORS, raise_if_cancelled
from .keys import Keys
from .logging_setup import get_logger

log = get_logger("queue_system.control")
POLL_S = 1.0  # how long one read of the subscription waits (a read with a timeout never trips socket timeouts)


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
        self.subscribed = asyncio.Event()

    async def run(self) -> None:
        """Listen until cancelled; a lost connection is logged and the subscription made again with backoff."""
        delay = 0.1
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys.control)
                await self._catch_up()
                self.subscribed.set()
                delay = 0.1
                while True:
                    message = await pubsub.get_message(timeout=POLL_S)
                    raise_if_cancelled()  # redis-py may have retried through our cancellation
                    if message is not None:
                        self._handle(message.get("data"))
            except REDIS_DOWN_ERRORS as exc:
                raise_if_cancelled()
                self.subscribed.clear()
                log.warning("control.unavailable", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                await asyncio.shield(_close(pubsub))

    async def _catch_up(self) -> None:
        pending: set[bytes] = await self.redis.smembers(self.keys.aborting)
        for job_id in pending:
            self.on_abort(job_id.decode())

    def _handle(self, data: Any) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        command, _, argument = text.partition(" ")
        if command == "abort" and argument:
            self.on_abort(argument)
        elif command == "restart" and argument:
            if self.on_restart is not None:
                self.on_restart(argument)
        else:
            log.warning("control.unknown_message", message=text[:200])


async def _close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception as exc:  # closing a broken connection must not hide the reason it broke
        log.debug("control.close_failed", error=str(exc))
