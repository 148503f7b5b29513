"""Tests of the test/run infrastructure: tests/support/redis_server.py, the conftest fixtures and scripts/_lib.sh."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[1]


def _ping(url: str) -> bool:
    with redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2) as client:
        return bool(client.ping())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# --- RedisServer ---------------------------------------------------------------------------------------------------


def test_starts_and_answers_ping() -> None:
    with RedisServer() as server:
        assert server.is_running
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert _ping(server.url)
        data_dir = server.data_dir
    assert not server.is_running
    assert not data_dir.exists()


def test_port_is_unknown_before_start() -> None:
    server = RedisServer()
    try:
        with pytest.raises(RuntimeError):
            _ = server.port
    finally:
        server.close()


def test_restart_keeps_the_port() -> None:
    with RedisServer() as server:
        port, pid = server.port, server.pid
        server.restart()
        assert server.port == port
        assert server.pid != pid
        assert _ping(server.url)


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_appendonly_data_survives_a_restart(how: str) -> None:
    with RedisServer(appendonly=True) as server:
        with server.client() as client:
            client.set("survivor", b"still here")
        if how == "stop":
            server.stop()
        else:
            server.kill()
        assert not server.is_running
        server.start()
        with server.client() as client:
            assert client.get("survivor") == b"still here"
        server.restart()
        with server.client() as client:
            assert client.get("survivor") == b"still here"


def test_without_appendonly_a_restart_starts_empty() -> None:
    with RedisServer() as server:
        with server.client() as client:
            client.set("ephemeral", b"1")
        server.restart()
        with server.client() as client:
            assert client.get("ephemeral") is None


def test_kill_then_start() -> None:
    with RedisServer() as server:
        pid = server.pid
        assert pid is not None
        server.kill()
        assert not server.is_running
        assert server.pid is None
        assert not _pid_alive(pid)
        with pytest.raises(redis.ConnectionError), server.client() as client:
            client.ping()
        server.start()
        assert _ping(server.url)


def test_extra_args_reach_the_server() -> None:
    with (
        RedisServer(extra_args=["--maxmemory-policy", "noeviction", "--databases", "4"]) as server,
        server.client() as client,
    ):
        assert client.config_get("databases") == {"databases": "4"}


# --- conftest fixtures ---------------------------------------------------------------------------------------------


def test_redis_url_env_points_at_the_private_server(redis_server: RedisServer) -> None:
    assert os.environ["REDIS_URL"] == redis_server.url


@pytest.mark.parametrize("run", [1, 2])
def test_redis_url_fixture_gives_an_empty_database(run: int, redis_url: str, redis_server: RedisServer) -> None:
    assert redis_url == redis_server.url
    with redis.Redis.from_url(redis_url) as client:
        assert client.dbsize() == 0
        client.set(f"leftover-{run}", b"1")  # must be gone in the next test that uses the fixture


# --- scripts/_lib.sh -----------------------------------------------------------------------------------------------

_LIB_SCRIPT = r"""
set -euo pipefail
source scripts/_lib.sh
trap qs_cleanup EXIT
qs_ensure_redis
echo "URL=$REDIS_URL"
echo "PID=${QSRUN_PRIVATE_REDIS_PID:-}"
"$QSRUN_PYTHON" -c 'import sys, redis; print("PING=" + str(redis.Redis.from_url(sys.argv[1]).ping()))' "$REDIS_URL"
"""


def _run_lib(redis_url_env: str) -> dict[str, str]:
    env = dict(os.environ, REDIS_URL=redis_url_env, QSRUN_PYTHON=sys.executable)
    env.pop("QSRUN_PRIVATE_REDIS_PID", None)
    proc = subprocess.run(
        ["bash", "-c", _LIB_SCRIPT],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    values["stderr"] = proc.stderr
    return values


def test_lib_starts_a_private_redis_when_redis_url_is_closed() -> None:
    out = _run_lib("redis://127.0.0.1:1/0")
    assert out["URL"].startswith("redis://127.0.0.1:")
    assert out["URL"] != "redis://127.0.0.1:1/0"
    assert out["PING"] == "True"
    assert out["PID"]
    assert "private redis-server" in out["stderr"]
    # qs_cleanup (EXIT trap) stopped it.
    pid = int(out["PID"])
    deadline = time.monotonic() + 5
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pid_alive(pid)


def test_lib_reuses_a_reachable_redis_url(redis_server: RedisServer) -> None:
    out = _run_lib(redis_server.url)
    assert out["URL"] == redis_server.url
    assert out["PID"] == ""
    assert out["PING"] == "True"
    assert redis_server.is_running
