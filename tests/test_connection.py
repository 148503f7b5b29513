"""The clients' connections (queue_system/connection.py) on the real Redis: a command is written without a
wait_for task yet a large one still arrives whole, and a pooled connection handed out without redis-py's read
check still recovers when the server closed it while it waited in the pool (noticed or not)."""

from __future__ import annotations

import asyncio

from queue_system import Client, QueueConfig
from queue_system.connection import close_redis, create_redis


async def _client_ids(client: Client) -> set[int]:
    listing = await client.redis.client_list()
    return {int(entry["id"]) for entry in listing}


async def test_a_large_command_arrives_whole(client: Client, config: QueueConfig) -> None:
    redis = create_redis(config, client.codec)
    try:
        value = b"x" * (8 * 1024 * 1024)  # far beyond the socket's buffer: written partly, the rest drained
        await redis.set("qs-test:large", value)
        assert await redis.strlen("qs-test:large") == len(value)
        assert await redis.ping()
    finally:
        await close_redis(redis)


async def test_a_connection_the_server_closed_while_pooled_is_replaced(client: Client, config: QueueConfig) -> None:
    redis = create_redis(config, client.codec)
    try:
        before = await _client_ids(client)
        await redis.ping()
        (pooled,) = (await _client_ids(client)) - before
        for noticed in (True, False):
            await client.redis.client_kill_filter(_id=pooled)
            if noticed:
                await asyncio.sleep(0.1)  # the loop reads the EOF into the idle connection's buffer
            assert await redis.incr("qs-test:counter") == (1 if noticed else 2)  # once each, on a new connection
            (pooled,) = (await _client_ids(client)) - before
    finally:
        await close_redis(redis)
