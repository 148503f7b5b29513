"""A Sentinel set on loopback for failover tests: one primary, one replica, three sentinels, one password."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.redis_server import RedisServer, free_port

MASTER = "mymaster"


class SentinelSet:
    def __init__(self, password: str) -> None:
        self.password = password
        self.primary = RedisServer(password=password)
        self.primary.start()
        self.replica = RedisServer(password=password, extra_args=["--replicaof", "127.0.0.1", str(self.primary.port)])
        self.replica.start()
        self.dir = Path(tempfile.mkdtemp(prefix="qs-sentinel-"))
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.sentinels = [self._start_sentinel(port) for port in self.sentinel_ports]
        self.wait_for_primary(self.primary.port)

    @property
    def sentinel_list(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)

    def _start_sentinel(self, port: int) -> subprocess.Popen[bytes]:
        conf = self.dir / f"sentinel-{port}.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {self.dir}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary.port} 2\n"
            f"sentinel auth-pass {MASTER} {self.password}\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 5000\n"
        )
        with (self.dir / f"sentinel-{port}.log").open("wb") as log:  # the child keeps its own descriptor
            return subprocess.Popen(
                [self.primary.binary, str(conf), "--sentinel"], stdout=log, stderr=subprocess.STDOUT
            )

    def current_primary_port(self) -> int | None:
        for port in self.sentinel_ports:
            try:
                client = redis.Redis(port=port, socket_timeout=1)
                host_port = client.execute_command("SENTINEL", "get-master-addr-by-name", MASTER)
                client.close()
                if host_port:
                    return int(host_port[1])
            except redis.RedisError:
                continue
        return None

    def wait_for_primary(self, port: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.current_primary_port() == port and self._replication_ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"sentinels never agreed on primary {port}")

    def _replication_ready(self) -> bool:
        try:
            info = redis.Redis(port=self.primary.port, password=self.password, socket_timeout=1).info("replication")
        except redis.RedisError:
            return True  # the primary is gone: only the sentinels' answer matters
        return int(info.get("connected_slaves", 0)) >= 1

    def close(self) -> None:
        for proc in self.sentinels:
            proc.kill()
            proc.wait(10)
        self.replica.close()
        self.primary.close()
