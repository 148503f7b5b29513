"""``queue-system stats | jobs | job | events | pause | resume | abort | clean`` as a user runs them: real
processes, real exit codes, JSON output, all through the public read API."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import pytest

from queue_system import Client, JobRequest, QueueAPI
from tests.support.queue_fixtures import ROOT, run_burst, run_cli, subprocess_env
from tests.test_cli import EXIT_NOT_FOUND, EXIT_USAGE, ok_json_all, run_all

pytestmark = pytest.mark.slow


async def test_stats_jobs_and_job(client: Client, app_settings: type, redis_url: str) -> None:
    ok = await client.enqueue_job("echo", "hi", _queue="alpha", _tags={"event_id": 5})
    bad = await client.enqueue_job("fails_permanently", "key", _queue="alpha", _tags={"event_id": 5})
    await client.enqueue_job("on_beta", 1, _queue="beta", _defer_by=600)
    await run_burst(app_settings, queues=["alpha"])
    every, alpha, tagged, by_function, completed, failed, one = ok_json_all(
        [
            ["stats"],
            ["stats", "alpha"],
            ["stats", "alpha", "--tag", "event_id=5"],
            ["stats", "alpha", "--function", "fails_permanently"],
            ["jobs", "alpha", "--state", "completed"],
            ["jobs", "alpha", "--state", "failed", "--tag", "event_id=5", "--function", "fails_permanently"],
            ["job", ok.job_id],
        ],
        redis_url=redis_url,
    )
    assert {s["queue"]: s["counts"] for s in every}["beta"]["delayed"] == 1
    assert alpha[0]["counts"]["completed"] == 1 and alpha[0]["counts"]["failed"] == 1
    assert tagged[0]["tag"] == "event_id=5" and tagged[0]["totals"]["completed"] == 1
    assert [j["job_id"] for j in completed["jobs"]] == [ok.job_id] and completed["total"] == 1
    assert [j["job_id"] for j in failed["jobs"]] == [bad.job_id] and failed["total"] == 1
    assert by_function[0]["function"] == "fails_permanently" and by_function[0]["counts"]["failed"] == 1
    assert by_function[0]["counts"]["completed"] == 0
    assert one["state"] == "completed" and one["result"] == "hi" and one["tags"] == {"event_id": "5"}

    text, missing, bad_state, both = run_all(
        [
            ["stats"],
            ["job", "nope"],
            ["jobs", "alpha", "--state", "finished"],
            ["stats", "alpha", "--tag", "event_id=5", "--function", "echo"],
        ],
        redis_url=redis_url,
    )
    assert text.returncode == 0 and "alpha" in text.stdout and "waiting" in text.stdout
    assert missing.returncode == EXIT_NOT_FOUND and "nope" in missing.stderr
    assert bad_state.returncode == EXIT_USAGE
    assert both.returncode != 0 and "one of them" in both.stderr


async def test_pause_resume_abort_and_clean(client: Client, app_settings: type, redis_url: str) -> None:
    jobs = await client.enqueue_many([JobRequest("echo", (i,), queue="alpha") for i in range(5)])
    paused, aborted = ok_json_all([["pause", "alpha"], ["abort", jobs[0].job_id]], redis_url=redis_url)
    assert paused == {"queue": "alpha", "paused": True, "changed": True}
    assert aborted["outcome"] == "aborted" and aborted["previous_state"] == "waiting"
    missing = run_cli("abort", "nope", "--json", redis_url=redis_url)
    assert missing.returncode == EXIT_NOT_FOUND and json.loads(missing.stdout)["outcome"] == "not_found"
    api = QueueAPI(client)
    assert await api.is_paused("alpha")
    (resumed,) = ok_json_all([["resume", "alpha"]], redis_url=redis_url)
    assert resumed["changed"] is True
    await run_burst(app_settings)
    cleaned, refused, needs_yes = run_all(
        [
            ["clean", "alpha", "--state", "completed", "--older-than", "0s", "--json"],
            ["clean", "alpha", "--state", "active"],
            ["clean", "alpha", "--state", "waiting"],
        ],
        redis_url=redis_url,
    )
    assert cleaned.returncode == 0 and json.loads(cleaned.stdout)["removed"] == 4
    assert refused.returncode == EXIT_USAGE
    assert needs_yes.returncode != 0  # asks for confirmation, and stdin is empty
    counts = await api.counts("alpha")
    assert (counts.completed, counts.aborted) == (0, 1)


async def test_events_replays_and_follows(client: Client, app_settings: type, redis_url: str) -> None:
    api = QueueAPI(client)
    await api.pause("beta")
    (replayed,) = run_all([["events", "--last", "5", "--json"]], redis_url=redis_url)
    assert [json.loads(line)["event"] for line in replayed.stdout.splitlines()] == ["paused"]
    command = [sys.executable, "-m", "queue_system.cli", "events", "--follow", "--last", "0", "--json"]
    follower = subprocess.Popen(
        command, cwd=ROOT, env=subprocess_env(redis_url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        await _until_following(client)  # the follower's start-up (seconds on a loaded machine)
        await api.resume("beta")
        job = await client.enqueue_job("echo", "e", _queue="alpha", _tags={"k": "v"})
        await run_burst(app_settings)
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        assert follower.stdout is not None
        while not any(e["event"] == "completed" for e in seen):
            assert time.monotonic() < deadline and follower.poll() is None, seen
            seen.append(json.loads(follower.stdout.readline()))
    finally:
        follower.terminate()
        follower.communicate(timeout=10)  # waits, and closes its pipes
    assert [e["event"] for e in seen] == ["resumed", "completed"]
    assert seen[-1]["job_id"] == job.job_id and seen[-1]["tags"] == {"k": "v"} and seen[-1]["function"] == "echo"


async def _until_following(client: Client, timeout: float = 20) -> None:
    """Wait until a connection blocks in XREAD: the follower is reading the stream (a fixed sleep was not enough
    when the machine was loaded, and an event sent before that would be missed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(c.get("cmd") == "xread" for c in await client.redis.client_list()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the follower never started reading the event stream")
