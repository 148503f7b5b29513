"""The one place that builds Redis connections, for producers and workers alike.

arq's ``create_pool`` uses a pool that raises when its connections run out, drops retry and timeout settings
for Sentinel, and hangs on a dead server without socket timeouts. Here every client gets: a *blocking* pool (a
burst beyond ``max_connections`` waits for a free connection), retries with backoff on connection errors,
connect and socket timeouts, and, with Sentinel, the same settings (password, TLS, retries, timeouts) on every
connection to whichever server is primary now.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar
from urllib.parse import urlparse

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import BlockingConnectionPool, ConnectionPool
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialBackoff
from redis.connection import HiredisRespSerializer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.utils import HIREDIS_AVAILABLE

from .config import QueueConfig
from .errors import RedisUnavailable
from .serialization import PayloadCodec

# What a lost or restarting server looks like to a client.
REDIS_DOWN_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)


CONNECT_ERRORS: tuple[type[BaseException], ...] = (*REDIS_DOWN_ERRORS, RedisError)


def raise_if_cancelled() -> None:
    """Call after each Redis call (and in each ``except REDIS_DOWN_ERRORS``) of a loop that must stop when its
    task is cancelled.

    A cancellation that arrives while redis-py waits on a socket with a timeout can surface as a
    ``TimeoutError`` (its timeout helper turns the one into the other), which redis-py's own retry, or such a
    loop, takes for an outage and retries: the cancellation is used up, the task never ends and whoever awaits
    it hangs (a worker that did not exit on SIGTERM after a busy run).
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class _QuickCheckout:
    """A pool mixin: a connection that waited in the pool and received nothing is handed out as it is.

    redis-py checks every connection it hands out by reading from it with a zero timeout, which costs a turn of
    the event loop, a timer and a cancellation per command (~15-20 us before an enqueue leaves, measured on a
    producer idle between enqueues). What a server sends to an idle connection (an error, or EOF when it closed
    it) is already in the connection's stream buffer once the loop has run, so an empty buffer not at EOF leaves
    the check nothing to find; otherwise redis-py's check runs and reconnects. A connection that dies unnoticed
    fails its command, which the clients' retry policy sends again on a new one, as after any drop.
    """

    async def ensure_connection(self, connection: Any) -> None:
        stream = getattr(connection, "_reader", None)
        if (
            connection.is_connected
            and stream is not None
            and not stream.at_eof()
            and not getattr(stream, "_buffer", b"?")  # (asyncio.StreamReader's buffer; if it moves, check as usual)
        ):
            return
        parent: Any = super()
        await parent.ensure_connection(connection)


class _QuickBlockingConnectionPool(_QuickCheckout, BlockingConnectionPool):
    """A blocking pool (a burst beyond ``max_connections`` waits) with quick checkout."""


class BlockingSentinelConnectionPool(_QuickCheckout, SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool, waiting for a free connection like BlockingConnectionPool instead of raising."""


class _DirectWrite:
    """A connection mixin: a command the socket takes whole is written without a task.

    With a socket timeout set, redis-py sends every command through ``asyncio.wait_for``, which on Python 3.11 wraps
    the send in a new task: one more turn of the event loop before the bytes leave, on every command (about 12 us of
    CPU each here, and a job's pickup waits on one). A write that the kernel took whole cannot hang, so it needs no
    timeout; a write that leaves data in the transport's buffer (a large command, a server that stopped reading)
    waits for it under the timeout, with redis-py's own error handling, as before.
    """

    _writer: asyncio.StreamWriter | None

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        parent: Any = super()
        if check_health and self._writer is not None:  # (a new connection is not checked: it connects first)
            await parent.check_health()
        writer = self._writer
        if writer is None or writer.transport.is_closing() or writer.transport.get_write_buffer_size():
            await parent.send_packed_command(command, check_health=False)
            return
        if isinstance(command, str):
            command = command.encode()
        writer.writelines([command] if isinstance(command, bytes) else command)
        if writer.transport.get_write_buffer_size():  # the rest waits for the socket, under the timeout
            await parent.send_packed_command([], check_health=False)


class _CPacking:
    """A connection mixin: commands are packed by hiredis (C), as redis-py's synchronous client already does.

    redis-py's asyncio connection packs each argument in Python (encode, then join onto a growing buffer): 0.65 ms
    for a bulk enqueue's 1000 payloads against 0.14 ms in hiredis, and a few microseconds on every small command.
    The same type rules hold: str, bytes, int and float are accepted; anything else raises redis-py's DataError.
    """

    _packer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        packed: list[bytes] = self._packer.pack(*args)
        return packed


_FAST_CLASSES: dict[type, type] = {}


P = TypeVar("P", bound=ConnectionPool)


def _with_fast_io(pool: P) -> P:
    """Give ``pool``'s connections :class:`_DirectWrite` and, with hiredis, :class:`_CPacking` (on whichever
    class the URL chose: TCP, TLS, unix)."""
    base = pool.connection_class
    if not issubclass(base, _DirectWrite):
        if base not in _FAST_CLASSES:
            mixins = (_CPacking, _DirectWrite) if HIREDIS_AVAILABLE else (_DirectWrite,)
            _FAST_CLASSES[base] = type(f"Fast{base.__name__}", (*mixins, base), {})
        pool.connection_class = _FAST_CLASSES[base]
    return pool


def redis_settings(config: QueueConfig) -> RedisSettings:
    """arq's settings, for the stock ``arq`` worker (which builds its own pool from them)."""
    settings = RedisSettings.from_dsn(config.redis_url)
    settings.conn_timeout = int(max(1, config.connect_timeout_s))
    settings.conn_retries = 0
    if config.redis_sentinels:
        settings.host = [_host_port(s) for s in config.redis_sentinels]
        settings.sentinel = True
        settings.sentinel_master = config.redis_sentinel_master
    return settings


def connection_kwargs(config: QueueConfig, *, socket_timeout_s: float | None = None) -> dict[str, Any]:
    return {
        "socket_connect_timeout": config.connect_timeout_s,
        "socket_timeout": socket_timeout_s or config.socket_timeout_s,
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "health_check_interval": 15,
    }


def create_redis(config: QueueConfig, codec: PayloadCodec, *, socket_timeout_s: float | None = None) -> ArqRedis:
    """A client (no I/O yet). ``socket_timeout_s`` is raised for connections that block (BLPOP)."""
    kwargs = connection_kwargs(config, socket_timeout_s=socket_timeout_s)
    pool: Any
    if config.redis_sentinels:
        pool = _sentinel_pool(config, kwargs)
    else:
        pool = _QuickBlockingConnectionPool.from_url(
            config.redis_url, max_connections=config.max_connections, timeout=config.pool_timeout_s, **kwargs
        )
    return ArqRedis(_with_fast_io(pool), job_serializer=codec.serialize, job_deserializer=codec.deserialize)


def _sentinel_pool(config: QueueConfig, kwargs: dict[str, Any]) -> SentinelConnectionPool:
    url = urlparse(config.redis_url)
    auth = {"username": url.username, "password": url.password}
    db = int(url.path.lstrip("/") or 0)
    ssl = url.scheme == "rediss"
    sentinel_class: Any = Sentinel  # redis-py's asyncio Sentinel is untyped
    pool_class: Any = BlockingSentinelConnectionPool
    sentinel = sentinel_class(
        [_host_port(s) for s in config.redis_sentinels],
        sentinel_kwargs={
            "socket_connect_timeout": config.connect_timeout_s,
            "socket_timeout": config.connect_timeout_s,
        },
        **kwargs,
    )
    pool: SentinelConnectionPool = pool_class(
        config.redis_sentinel_master,
        sentinel,
        db=db,
        ssl=ssl,
        max_connections=config.max_connections,
        timeout=config.pool_timeout_s,
        **auth,
        **kwargs,
    )
    return _with_fast_io(pool)


async def close_redis(redis: ArqRedis) -> None:
    """Close a client, its pool and, with Sentinel, the manager's own connections to the sentinels."""
    manager = getattr(redis.connection_pool, "sentinel_manager", None)
    await redis.aclose(close_connection_pool=True)
    for sentinel in getattr(manager, "sentinels", ()):
        await sentinel.aclose()


async def connect(config: QueueConfig, codec: PayloadCodec) -> ArqRedis:
    """Open a client and check it answers, raising :class:`RedisUnavailable` within about ``connect_timeout_s``."""
    redis = create_redis(config, codec)
    try:
        await asyncio.wait_for(redis.ping(), timeout=config.connect_timeout_s + 1)
    except CONNECT_ERRORS as exc:
        await close_redis(redis)
        raise RedisUnavailable(
            f"cannot reach Redis at {safe_url(config.redis_url)}: {type(exc).__name__}: {exc}".rstrip(": ")
        ) from exc
    return redis


def safe_url(url: str) -> str:
    """Hide a password in a Redis URL before it reaches a log or an error message."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.strip().rpartition(":")
    return host or "127.0.0.1", int(port or 26379)
