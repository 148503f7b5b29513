"""``queue-system schedules | deferred | reschedule | cancel`` as a user runs them (real processes, real Redis;
independent commands run side by side)."""

from __future__ import annotations

import json

import pytest

from queue_system import Client, QueueAPI
from tests.test_cli import run_all

pytestmark = pytest.mark.slow


async def test_schedule_and_deferred_commands(redis_url: str, client: Client) -> None:
    first = await client.enqueue_job("echo", 1, _queue="alpha", _defer_by=600, _tags={"campaign": "7"})
    second = await client.enqueue_job("echo", 2, _queue="alpha", _defer_by=300, _tags={"campaign": "7"})
    added, condition, bad, moved, cancelled, unknown = run_all(
        [
            ["schedules", "add", "sync", "echo", "--cron", "*/30 * * * *", "--arg", '"templates"', "--misfire",
             "run_once", "--json"],
            ["schedules", "add-condition", "no-workers", "echo", "--queue", "alpha", "--metric", "workers",
             "--threshold", "1", "--cooldown", "10m"],
            ["schedules", "add", "x", "echo", "--cron", "99 * * * *"],
            ["reschedule", first.job_id, "--in", "60s", "--json"],
            ["cancel", second.job_id],
            ["cancel", "no-such-job"],
        ],
        redis_url=redis_url,
    )  # fmt: skip
    for proc in (added, condition, moved, cancelled):
        assert proc.returncode == 0, proc.stderr
    assert json.loads(added.stdout)["written"] is True
    assert bad.returncode == 5 and "not valid" in bad.stderr
    assert unknown.returncode == 3

    listed, text, upcoming, again = run_all(
        [
            ["schedules", "--next", "2", "--json"],
            ["schedules"],
            ["deferred", "alpha", "--tag", "campaign=7", "--json"],
            ["cancel", second.job_id],
        ],
        redis_url=redis_url,
    )
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    sync = rows["sync"]
    assert sync["when"] == "cron */30 * * * *" and sync["misfire"] == "run_once" and sync["args"] == ["templates"]
    assert len(sync["next_runs_ms"]) == 2 and sync["next_runs_ms"][1] - sync["next_runs_ms"][0] == 1_800_000
    assert rows["no-workers"]["unavailable"] is None  # read from the workers' heartbeats
    assert "not yet available" not in text.stdout and "sync\techo\tcron */30 * * * *\tnext: " in text.stdout
    assert [j["job_id"] for j in json.loads(upcoming.stdout)["jobs"]] == [first.job_id]  # second was cancelled
    assert again.returncode == 1 and "already aborted" in again.stderr

    removed, missing = run_all([["schedules", "remove", "sync"], ["schedules", "remove", "nope"]], redis_url=redis_url)
    assert removed.returncode == 0 and missing.returncode == 3
    assert [s.name for s in await QueueAPI(client).schedules()] == ["no-workers"]
