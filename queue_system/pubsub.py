"""Listening on a Redis pub/sub channel for as long as a task lives, across Redis outages.

Pub/sub is how a process learns at once of something another process did (an abort, a changed schedule) without
polling Redis. Its weak point is that it keeps nothing: a message published while the listener was reconnecting
is lost. So every listener gets ``on_subscribed`` after each (re)subscription, to read once what it may have
missed. Reading the subscription costs Redis nothing: waiting with a timeout is a socket read, not a command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from .connection import REDIS_DOWN_ERRORS, raise_if_cancelled
from .logging_setup import get_logger

log = get_logger("queue_system.pubsub")
READ_WAIT_S = 1.0  # how long one read of the subscription waits (a read with a timeout never trips socket timeouts)


async def listen_forever(
    redis: Any,
    channel: str,
    on_message: Callable[[str], None],
    on_subscribed: Callable[[], Awaitable[None]],
) -> None:
    """Call ``on_message`` with each message's text until cancelled; after each (re)subscription, await
    ``on_subscribed``. A lost connection is logged and the subscription made again with backoff."""
    delay = 0.1
    while True:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel)
            await on_subscribed()
            delay = 0.1
            while True:
                message = await pubsub.get_message(timeout=READ_WAIT_S)
                raise_if_cancelled()  # redis-py may have retried through our cancellation
                if message is not None:
                    on_message(_text(message.get("data")))
        except REDIS_DOWN_ERRORS as exc:
            raise_if_cancelled()
            log.warning("pubsub.unavailable", channel=channel, error=str(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        finally:
            await asyncio.shield(_close(pubsub))


def _text(data: Any) -> str:
    return data.decode() if isinstance(data, bytes) else str(data)


async def _close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception as exc:  # closing a broken connection must not hide the reason it broke
        log.debug("pubsub.close_failed", error=str(exc))
