from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Make `tests.support` importable however pytest was started (with or without tests/__init__.py).
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.redis_server import RedisServer  # noqa: E402

# --- private redis-server (infrastructure) ---
# The suite owns its Redis: one private redis-server per session (fault tests may kill/restart it; restart keeps
# the port, so the URL stays valid). A REDIS_URL from the user's environment never reaches the tests: for the
# whole session it points at the private server, and is restored afterwards.


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """The session's private, started redis-server (stopped and removed at the end)."""
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session", autouse=True)
def _private_redis_url_env(redis_server: RedisServer) -> Iterator[None]:
    saved = os.environ.get("REDIS_URL")
    os.environ["REDIS_URL"] = redis_server.url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("REDIS_URL", None)
        else:
            os.environ["REDIS_URL"] = saved


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's private redis-server, FLUSHALLed (and restarted if a test left it down)."""
    redis_server.start()
    with redis_server.client() as client:
        client.flushall()
    return redis_server.url


# --- end of private redis-server (infrastructure) ---


# --- queue fixtures (config, client, test app settings): tests/support/queue_fixtures.py ---
pytest_plugins = ["tests.support.queue_fixtures", "tests.support.processes"]
