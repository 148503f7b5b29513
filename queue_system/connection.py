"""The one place that builds Redis connections (through arq, so producers and workers share its client).

Connection errors become :class:`RedisUnavailable` quickly instead of hanging: arq's ``create_pool`` retries
only when asked, and socket timeouts are set from the configuration.
"""

from __future__ import annotations

import asyncio

from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.exceptions import RedisError

from .config import QueueConfig
from .errors import RedisUnavailable
from .serialization import PayloadCodec


def redis_settings(config: QueueConfig) -> RedisSettings:
    settings = RedisSettings.from_dsn(config.redis_url)
    settings.conn_timeout = int(max(1, config.connect_timeout_s))
    settings.conn_retries = 0
    return settings


async def connect(config: QueueConfig, codec: PayloadCodec) -> ArqRedis:
    """Open a pool, raising :class:`RedisUnavailable` within ``connect_timeout_s`` if Redis does not answer."""
    try:
        return await asyncio.wait_for(
            create_pool(
                redis_settings(config),
                job_serializer=codec.serialize,
                job_deserializer=codec.deserialize,
            ),
            timeout=config.connect_timeout_s + 1,
        )
    except (OSError, RedisError, TimeoutError) as exc:
        raise RedisUnavailable(f"cannot reach Redis at {_safe_url(config.redis_url)}: {exc}") from exc


def _safe_url(url: str) -> str:
    """Hide a password in a Redis URL before it reaches a log or an error message."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"
