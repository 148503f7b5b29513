"""A private, throw-away ``redis-server`` process for the test suite.

Why the tests own their Redis instead of using the machine's (or ``$REDIS_URL``): the fault-tolerance tests must be
able to kill, stop and restart the server underneath a worker (and check what survives with AOF on), which is
impossible - and dangerous - against a shared server. A private server on a free loopback port also keeps the suite
independent of whatever else runs on the machine and lets tests FLUSHALL freely.

Only the standard library and the ``redis`` package (sync client, for PING/SHUTDOWN) are used.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import redis

__all__ = ["RedisServer", "RedisServerError"]

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0

# Processes still running at interpreter exit are killed, so a test that forgets stop() leaves no orphan behind.
_LIVE: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_LIVE):
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    _LIVE.clear()


class RedisServerError(RuntimeError):
    """The private redis-server could not be started."""


def free_port() -> int:
    """A loopback port nobody listens on now (for the private servers the tests and benchmarks start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A ``redis-server`` subprocess on ``127.0.0.1:<free port>`` with its own temporary directory.

    The port is chosen on the first :meth:`start` and kept by :meth:`restart`, as is the directory, so with
    ``appendonly=True`` the data written before a :meth:`stop` or :meth:`kill` is there again after the restart
    (``appendfsync always``: every acknowledged write is on disk). ``extra_args`` are appended to the command line
    and so override the defaults (e.g. ``["--appendfsync", "everysec"]``).

    Use it as a context manager, or call :meth:`start` and :meth:`close` (stop + remove the directory).
    """

    def __init__(
        self,
        appendonly: bool = False,
        extra_args: Sequence[str] = (),
        port: int | None = None,
        password: str | None = None,
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisServerError(
                "redis-server is not on PATH; install it (Debian: apt-get install redis-server) or run scripts/test"
            )
        self.binary: str = binary
        self.appendonly = appendonly
        self.extra_args: list[str] = list(extra_args)
        self.data_dir = Path(tempfile.mkdtemp(prefix="qs-redis-"))
        self.log_path = self.data_dir / "redis.log"
        self._port: int | None = port  # None: a free port is chosen at the first start
        self.password = password
        self._proc: subprocess.Popen[bytes] | None = None

    # -- properties -------------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("RedisServer has no port until start() is called")
        return self._port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.is_running and self._proc is not None else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle --------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the server (no-op if running) and wait until it answers PING (up to 10 s)."""
        if self.is_running:
            return
        if self._port is not None:
            self._start_on(self._port, truncate_log=False)
            return
        # First start: the free port may be taken between choosing and binding it; try another one then.
        for attempt in range(3):
            port = free_port()
            try:
                self._start_on(port, truncate_log=True)
            except RedisServerError:
                if attempt < 2 and "address already in use" in self.log_tail().lower():
                    continue
                raise
            self._port = port
            return

    def stop(self) -> None:
        """Shut the server down (SHUTDOWN NOSAVE; AOF is still flushed), killing it if it does not exit in time."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                with self._client(timeout=2.0) as client:
                    client.shutdown(nosave=True)
            except redis.RedisError:
                with contextlib.suppress(OSError):
                    proc.terminate()
            try:
                proc.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=_STOP_TIMEOUT)
        self._forget(proc)

    def kill(self) -> None:
        """SIGKILL the server, like a crash: no shutdown work at all."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=_STOP_TIMEOUT)
        self._forget(proc)

    def restart(self) -> None:
        """Stop (if running) and start again on the same port with the same directory."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and remove its directory. The object cannot be restarted afterwards."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- helpers ----------------------------------------------------------------------------------------------------

    def client(self) -> redis.Redis:
        """A new sync client for this server (the caller closes it)."""
        return self._client(timeout=5.0)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def command_line(self, port: int) -> list[str]:
        return [
            self.binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--logfile",
            str(self.log_path),
            "--daemonize",
            "no",
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "always",
            *(["--requirepass", self.password, "--masterauth", self.password] if self.password else []),
            *self.extra_args,
        ]

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<RedisServer port={self._port} appendonly={self.appendonly} {state}>"

    def _client(self, timeout: float) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            password=self.password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )

    def _start_on(self, port: int, *, truncate_log: bool) -> None:
        with self.log_path.open("wb" if truncate_log else "ab") as log:
            proc = subprocess.Popen(
                self.command_line(port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
            )
        _LIVE.add(proc)
        self._proc = proc
        deadline = time.monotonic() + _START_TIMEOUT
        client = redis.Redis(
            host="127.0.0.1", port=port, password=self.password, socket_timeout=1.0, socket_connect_timeout=1.0
        )
        try:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    self._forget(proc)
                    raise RedisServerError(
                        f"redis-server exited with status {proc.returncode} during startup on port {port}; "
                        f"log tail:\n{self.log_tail()}"
                    )
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                time.sleep(0.05)
        finally:
            client.close()
        self.kill()
        raise RedisServerError(
            f"redis-server did not answer PING on port {port} within {_START_TIMEOUT:.0f} s; "
            f"log tail:\n{self.log_tail()}"
        )

    def _forget(self, proc: subprocess.Popen[bytes]) -> None:
        _LIVE.discard(proc)
        if self._proc is proc:
            self._proc = None
