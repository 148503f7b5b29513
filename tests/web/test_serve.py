"""``queue-system serve --with-worker`` as a user runs it: one process serving the API app (with the project's
routes from the ``queue_system.web`` entry points) and running a worker, stopped gracefully by SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from queue_system import Client
from tests.support.queue_fixtures import ROOT, subprocess_env, wait_for_runs
from tests.web.conftest import ADMIN_TOKEN, tokens_line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until_serving(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 40
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http:
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                response = await http.get(url)
            except httpx.TransportError:
                await asyncio.sleep(0.2)
                continue
            assert response.status_code == 200, response.text
            return
    raise AssertionError(f"serve did not answer within 40 s:\n{log.read_text()}")


async def test_serve_with_a_worker_runs_jobs_and_the_project_routes_and_stops_gracefully(
    redis_url: str, client: Client, tmp_path: Path
) -> None:
    port = free_port()
    env = subprocess_env(
        redis_url,
        QS_WEB_TOKENS=tokens_line(),
        QS_WEB_SECRET_KEY="test-secret-key",
        APP_DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
    )
    command = ["serve", "--port", str(port), "--with-worker", "tests.app.settings.WorkerSettings"]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "queue_system.cli", *command], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        await wait_until_serving(f"http://127.0.0.1:{port}/api/certificates/queue/status", proc, log)
        await client.enqueue_job("echo", "through the worker in the API process", _queue="alpha")
        await wait_for_runs(client, "echo", 1)

        running = await client.enqueue_job("sleeper", 1.5, "drained", _queue="alpha")
        await wait_for_runs(client, "sleeper", 1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
        assert await running.result(timeout=1) == "drained"  # the running job finished before the exit
        installed = [line for line in log.read_text().splitlines() if "web.extension_installed" in line]
        assert installed and all("queue_system.web" in line for line in installed)  # logged as configured
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
