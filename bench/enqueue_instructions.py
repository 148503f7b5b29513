#!/usr/bin/env python
"""Instructions redis-server spends per bulk-enqueued job: the Redis half of a bulk enqueue, measured so that this
machine's speed swings do not move it.

A bulk enqueue is the producer's Python and then Redis running ``lua/enqueue.lua``, one after the other; Redis is
the larger half (bench/RESULTS.md). ``valgrind --tool=callgrind`` runs redis-server and counts its instructions
while the same 1,000-job ``enqueue_many`` calls as the benchmark's (no-op jobs, plain: new ids, ready now) are sent
to it: ``--small`` calls and, on a fresh server, ``--large`` calls; the difference divided by the difference in jobs
is the cost of one job with start-up taken out. The calls are prepared by the checkout's own client beforehand and
sent with plain redis-py, so the producer's speed does not matter.

    .venv/bin/python bench/enqueue_instructions.py                    # this checkout
    .venv/bin/python bench/enqueue_instructions.py --source /tmp/old  # another checkout (a git worktree)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from job_instructions import callgrind_total  # (bench/ is this script's first import path; it adds the root)

from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
JOBS_PER_CALL = 1000


def _prepare(source: Path, calls: int) -> tuple[str, list[list[str]]]:
    """enqueue.lua of ``source`` and the arguments of ``calls`` bulk calls as its client makes them."""
    program = f"""
import json, sys
sys.path.insert(0, {str(ROOT / "bench" / "systems")!r})
from queue_system import Client, JobRequest, QueueConfig
from queue_system.enqueue_wire import script_calls
from queue_system.scripts import script_source
from queue_system.serialization import PayloadCodec
from arq.connections import ArqRedis
import qs_app

config = QueueConfig()
client = Client(ArqRedis(), config, PayloadCodec(max_payload_bytes=config.max_payload_bytes))  # (never connects)
info = qs_app.JOBS["noop"].spec.info
out = []
for call in range({calls}):
    first = call * {JOBS_PER_CALL}
    requests = [JobRequest("noop", (i, 0.0)) for i in range(first, first + {JOBS_PER_CALL})]
    try:
        prepared = [client._prepare_any(r, info, 1763900000000) for r in requests]
    except TypeError:  # (a checkout from before the call's enqueue time was passed in)
        prepared = [client._prepare_any(r, info) for r in requests]
    (one,) = script_calls(prepared)
    out.append(["1763900000000", config.prefix] + [a.decode() if isinstance(a, bytes) else a for a in one.args])
print(json.dumps({{"source": script_source("enqueue"), "calls": out}}))
"""
    env = {**os.environ, "PYTHONPATH": str(source)}
    done = subprocess.run([PYTHON, "-c", program], cwd=source, env=env, check=True, capture_output=True, text=True)
    prepared = json.loads(done.stdout)
    return prepared["source"], prepared["calls"]


def instructions(script: str, calls: list[list[str]], workdir: Path) -> int:
    """Instructions of one redis-server (under callgrind) that runs ``calls`` and shuts down."""
    port = free_port()
    out = workdir / f"callgrind.{len(calls)}.out"
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "redis-server", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("redis-server did not start under valgrind") from None
                time.sleep(0.1)
        sha = client.script_load(script)
        for args in calls:
            client.evalsha(sha, 0, *args)
        with contextlib.suppress(redis.ConnectionError):  # (the server closes the connection as it exits)
            client.shutdown(nosave=True)
        server.wait(timeout=120)
    finally:
        if server.poll() is None:
            server.kill()
    return callgrind_total(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout whose queue_system/ is measured")
    parser.add_argument("--small", type=int, default=2, help="bulk calls of 1,000 jobs in the first run")
    parser.add_argument("--large", type=int, default=12, help="bulk calls of 1,000 jobs in the second run")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("redis-server") is None:
        raise SystemExit("valgrind and redis-server are needed (Debian: apt-get install valgrind redis-server)")
    script, calls = _prepare(args.source.resolve(), args.large)
    with tempfile.TemporaryDirectory() as workdir:
        small = instructions(script, calls[: args.small], Path(workdir))
        large = instructions(script, calls, Path(workdir))
    per_job = (large - small) / ((args.large - args.small) * JOBS_PER_CALL)
    print(
        f"source {args.source}: redis-server ran {small:,} instructions for {args.small * JOBS_PER_CALL} jobs, "
        f"{large:,} for {args.large * JOBS_PER_CALL}"
    )
    print(f"per bulk-enqueued job: {per_job:,.0f} instructions")


if __name__ == "__main__":
    sys.exit(main())
