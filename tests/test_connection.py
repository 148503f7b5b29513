"""The clients' connections (queue_system/connection.py) on the real Redis: a command is written without a
wait_for task yet a large one still arrives whole, commands packed by hiredis keep redis-py's argument rules, and
a pooled connection handed out without redis-py's read check still recovers when the server closed it while it
waited in the pool (noticed or not)."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import DataError

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


async def test_packed_commands_keep_redis_pys_argument_rules(client: Client) -> None:
    redis = client.redis
    values = {"text": "Ñandú Çelik · Ахмед", "int": 7, "float": 0.1, "raw": b"\xff\x00"}
    await redis.hset("qs-test:types", mapping=values)  # type: ignore[arg-type]
    assert await redis.hgetall("qs-test:types") == {
        b"text": "Ñandú Çelik · Ахмед".encode(),
        b"int": b"7",
        b"float": b"0.1",
        b"raw": b"\xff\x00",
    }
    assert await redis.config_get("maxmemory-policy")  # a command name of two words is split
    for bad in (True, None, object()):
        with pytest.raises(DataError):
            await redis.set("qs-test:bad", bad)  # type: ignore[arg-type]
    assert await redis.ping()  # nothing half-written is left on the connection


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
