"""Batches, schedules, deferred jobs, workers and limits through the HTTP API (httpx over ASGI, the real Redis,
real bursts and one real worker process), every route with its errors; and the ops endpoints of create_app."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from queue_system import Batch, Client, QueueAPI, QueueConfig, worker_settings
from queue_system.schedule_store import ScheduleStore
from queue_system.schedule_types import cron
from queue_system.web import create_app
from tests.app.jobs import always_fails, echo
from tests.app.limited import LIMITED
from tests.support.processes import Spawn
from tests.support.queue_fixtures import run_burst
from tests.web.conftest import ADMIN_TOKEN, Http, web_settings


def register(client: Client, app_settings: type) -> None:
    for spec in app_settings.qs_specs:
        client.register(spec.name, spec.info)


async def test_batches_list_detail_jobs_retry_and_prune(
    admin: httpx.AsyncClient, viewer: httpx.AsyncClient, client: Client, app_settings: type
) -> None:
    jobs = [echo.call(i) for i in range(3)] + [always_fails.call("x")]
    batch = await Batch.create("four jobs", jobs, client=client)
    listed = (await viewer.get("/api/v1/batches")).json()
    assert listed["total"] == 1 and listed["batches"][0]["batch_id"] == batch.batch_id
    assert listed["batches"][0]["progress"] == {
        "total": 4, "pending": 4, "completed": 0, "failed": 0, "cancelled": 0, "percentage": 0.0,
    }  # fmt: skip
    pending = (await viewer.get(f"/api/v1/batches/{batch.batch_id}/jobs", params={"outcome": "pending"})).json()
    assert pending["total"] == 4 and {j["outcome"] for j in pending["jobs"]} == {"pending"}
    assert (await viewer.post(f"/api/v1/batches/{batch.batch_id}/retry")).status_code == 403

    await run_burst(app_settings)
    detail = (await viewer.get(f"/api/v1/batches/{batch.batch_id}")).json()
    assert detail["status"] == "failed" and detail["progress"]["completed"] == 3 and detail["progress"]["failed"] == 1
    failed = (await viewer.get(f"/api/v1/batches/{batch.batch_id}/jobs", params={"outcome": "failed"})).json()
    assert failed["total"] == 1
    refused = await admin.post(f"/api/v1/batches/{batch.batch_id}/cancel")
    assert refused.status_code == 409 and "only a running batch" in refused.json()["detail"]

    assert (await admin.post(f"/api/v1/batches/{batch.batch_id}/retry")).json()["retried"] == 1
    assert (await viewer.get(f"/api/v1/batches/{batch.batch_id}")).json()["status"] == "running"  # re-opened
    await run_burst(app_settings)
    assert (await admin.post("/api/v1/batches/prune", json={"older_than_s": 0})).json() == {"pruned": 1}
    assert (await viewer.get(f"/api/v1/batches/{batch.batch_id}")).status_code == 404


async def test_cancelling_a_running_batch_and_batch_errors(admin: httpx.AsyncClient, client: Client) -> None:
    batch = await Batch.create("held", [echo.call(i) for i in range(5)], client=client)
    answer = await admin.post(f"/api/v1/batches/{batch.batch_id}/cancel")
    assert answer.json() == {"batch_id": batch.batch_id, "removed": 5, "status": "cancelled"}
    assert (await QueueAPI(client).counts("alpha")).waiting == 0
    cancelled = (await admin.get(f"/api/v1/batches/{batch.batch_id}/jobs", params={"outcome": "cancelled"})).json()
    assert cancelled["total"] == 5
    errors = {
        "unknown batch": (await admin.get("/api/v1/batches/nope"), 404),
        "unknown batch jobs": (await admin.get("/api/v1/batches/nope/jobs"), 404),
        "cancel unknown": (await admin.post("/api/v1/batches/nope/cancel"), 404),
        "retry unknown": (await admin.post("/api/v1/batches/nope/retry"), 404),
        "cancel twice": (await admin.post(f"/api/v1/batches/{batch.batch_id}/cancel"), 409),
        "bad outcome": (await admin.get(f"/api/v1/batches/{batch.batch_id}/jobs", params={"outcome": "x"}), 422),
        "bad paging": (await admin.get("/api/v1/batches", params={"limit": 0}), 422),
        "negative prune": (await admin.post("/api/v1/batches/prune", json={"older_than_s": -1}), 422),
    }
    for what, (response, status) in errors.items():
        assert response.status_code == status, (what, response.text)
        assert response.json()["detail"], what


async def test_schedules_added_changed_listed_and_removed(
    admin: httpx.AsyncClient, viewer: httpx.AsyncClient, client: Client
) -> None:
    body = {"kind": "cron", "name": "nightly", "function": "echo", "cron": "0 2 * * *", "args": [1], "queue": "alpha"}
    assert (await viewer.post("/api/v1/schedules", json=body)).status_code == 403
    added = await admin.post("/api/v1/schedules", json=body)
    assert added.status_code == 201, added.text
    first = added.json()
    assert first["origin"] == "dynamic" and len(first["next_runs_ms"]) == 5
    assert all(datetime.fromtimestamp(ms / 1000, UTC).hour == 2 for ms in first["next_runs_ms"])
    assert (await admin.post("/api/v1/schedules", json=body)).status_code == 409

    interval = {"kind": "interval", "name": "nightly", "function": "echo", "every_s": 60}
    changed = await admin.put("/api/v1/schedules/nightly", json=interval)
    assert changed.status_code == 200 and changed.json()["kind"] == "timed"
    runs = changed.json()["next_runs_ms"]
    assert [b - a for a, b in itertools.pairwise(runs)] == [60_000] * 4
    condition = {
        "kind": "condition", "name": "backlog", "function": "echo", "queue": "alpha", "metric": "waiting",
        "threshold": 50, "cooldown_s": 600,
    }  # fmt: skip
    assert (await admin.put("/api/v1/schedules/backlog", json=condition)).status_code == 201
    listed = (await viewer.get("/api/v1/schedules", params={"next_runs": 2})).json()
    assert [(s["name"], s["kind"]) for s in listed] == [("backlog", "condition"), ("nightly", "timed")]
    assert len(listed[1]["next_runs_ms"]) == 2
    assert "waiting > 50" in (await viewer.get("/api/v1/schedules/backlog")).json()["when"]

    assert (await admin.delete("/api/v1/schedules/backlog")).json() == {"name": "backlog", "removed": True}
    assert (await viewer.get("/api/v1/schedules/backlog")).status_code == 404
    assert [s.name for s in await QueueAPI(client).schedules()] == ["nightly"]


async def test_bad_schedules_and_declared_ones_are_refused(admin: httpx.AsyncClient, client: Client) -> None:
    await ScheduleStore(client.redis, client.keys).put(cron("echo", "*/5 * * * *", name="declared"), 0)
    base = {"kind": "cron", "name": "s1", "function": "echo"}
    answers = {
        "bad cron": (await admin.post("/api/v1/schedules", json={**base, "cron": "every day"}), 400),
        "never fires": (await admin.post("/api/v1/schedules", json={**base, "cron": "0 0 30 2 *"}), 400),
        "bad zone": (await admin.post("/api/v1/schedules", json={**base, "cron": "0 2 * * *", "tz": "Mars/Base"}), 400),
        "bad name": (await admin.post("/api/v1/schedules", json={**base, "name": "a b", "cron": "* * * * *"}), 400),
        "bad queue": (await admin.post("/api/v1/schedules", json={**base, "cron": "* * * * *", "queue": "x y"}), 400),
        "unknown kind": (await admin.post("/api/v1/schedules", json={**base, "kind": "yearly"}), 422),
        "unknown field": (await admin.post("/api/v1/schedules", json={**base, "cron": "* * * * *", "x": 1}), 422),
        "interval too short": (
            await admin.post("/api/v1/schedules", json={**base, "kind": "interval", "every_s": 0.01}),
            422,
        ),
        "bad metric": (
            await admin.post(
                "/api/v1/schedules",
                json={**base, "kind": "condition", "queue": "alpha", "metric": "mood", "threshold": 1},
            ),
            422,
        ),
        "path and body disagree": (
            await admin.put("/api/v1/schedules/other", json={**base, "cron": "* * * * *"}),
            409,
        ),
        "change a declared one": (
            await admin.put("/api/v1/schedules/declared", json={**base, "name": "declared", "cron": "* * * * *"}),
            409,
        ),
        "remove a declared one": (await admin.delete("/api/v1/schedules/declared"), 409),
        "remove an unknown one": (await admin.delete("/api/v1/schedules/nope"), 404),
    }
    for what, (response, status) in answers.items():
        assert response.status_code == status, (what, response.text)
        assert response.json()["detail"], what
    assert [s.name for s in await QueueAPI(client).schedules()] == ["declared"]  # nothing else was written


async def test_deferred_jobs_listed_rescheduled_and_cancelled(
    admin: httpx.AsyncClient, viewer: httpx.AsyncClient, client: Client, app_settings: type
) -> None:
    register(client, app_settings)
    later = await client.enqueue_job("echo", "later", _queue="alpha", _defer_by=60, _tags={"event": "5"})
    other = await client.enqueue_job("echo", "other", _queue="alpha", _defer_by=30)
    page = (await viewer.get("/api/v1/queues/alpha/deferred")).json()
    assert [j["job_id"] for j in page["jobs"]] == [other.job_id, later.job_id]  # the soonest first
    tagged = (await viewer.get("/api/v1/queues/alpha/deferred", params={"tag": "event=5"})).json()
    assert [j["job_id"] for j in tagged["jobs"]] == [later.job_id]

    until = datetime.now(UTC) + timedelta(hours=2)
    moved = await admin.post(f"/api/v1/deferred/{later.job_id}/reschedule", json={"defer_until": until.isoformat()})
    assert moved.status_code == 200 and abs(moved.json()["due_at_ms"] - until.timestamp() * 1000) < 2
    moved = await admin.post(f"/api/v1/deferred/{other.job_id}/reschedule", json={"defer_by_s": 0})
    assert moved.status_code == 200
    cancelled = await admin.post(f"/api/v1/deferred/{later.job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "aborted"
    await run_burst(app_settings)  # `other` is due now and runs
    started = await admin.post(f"/api/v1/deferred/{other.job_id}/reschedule", json={"defer_by_s": 5})
    assert started.status_code == 409 and "already" in started.json()["detail"]
    assert (await admin.post(f"/api/v1/deferred/{other.job_id}/cancel")).status_code == 409
    naive = datetime(2030, 1, 1).isoformat()  # without a zone: refused
    errors = {
        "viewer": (await viewer.post(f"/api/v1/deferred/{later.job_id}/cancel"), 403),
        "unknown": (await admin.post("/api/v1/deferred/nope/cancel"), 404),
        "unknown reschedule": (await admin.post("/api/v1/deferred/nope/reschedule", json={"defer_by_s": 1}), 404),
        "both times": (
            await admin.post(
                f"/api/v1/deferred/{later.job_id}/reschedule", json={"defer_by_s": 1, "defer_until": naive + "Z"}
            ),
            422,
        ),
        "naive time": (
            await admin.post(f"/api/v1/deferred/{later.job_id}/reschedule", json={"defer_until": naive}),
            422,
        ),
        "bad tag": (await viewer.get("/api/v1/queues/alpha/deferred", params={"tag": "x"}), 400),
        "bad queue": (await viewer.get("/api/v1/queues/a b/deferred"), 400),
    }
    for what, (response, status) in errors.items():
        assert response.status_code == status, (what, response.text)
        assert response.json()["detail"], what


async def test_workers_and_limits(viewer: httpx.AsyncClient, client: Client, config: QueueConfig, spawn: Spawn) -> None:
    assert (await viewer.get("/api/v1/workers")).json() == []
    worker = spawn("w1", "-q", "alpha", "-q", "beta")
    deadline = time.monotonic() + 20
    while not (listed := (await viewer.get("/api/v1/workers")).json()) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert len(listed) == 1, worker.log()
    row = listed[0]
    assert row["pid"] == worker.pid and sorted(row["queues"]) == ["alpha", "beta"]
    assert row["concurrency"] >= 1 and row["rss_bytes"] > 0 and row["heartbeat_age_s"] < 10
    assert {"host", "jobs_done", "jobs_failed", "current_jobs", "last_beat_ms", "uptime_s"} <= row.keys()

    assert (await viewer.get("/api/v1/limits")).json() == {"postponed": {}, "total": 0}
    job = await client.enqueue_job("slows_down", 1, _queue="limited")
    await run_burst(worker_settings(jobs=LIMITED, queues=["limited"], poll_delay_s=0.01, config=config))
    assert await job.result(timeout=5) == 2
    limits = (await viewer.get("/api/v1/limits")).json()
    assert limits["postponed"]["slows_down"] == 1 and limits["total"] == 1


async def test_create_app_serves_health_readiness_and_metrics(config: QueueConfig, client: Client) -> None:
    app = create_app(config.model_copy(update=web_settings()))
    async with Http(app).client() as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        await client.enqueue_job("echo", 1, _queue="alpha")
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["queues_without_workers"] == ["alpha"]
        metrics = await http.get("/metrics")
        assert metrics.status_code == 200 and "queue_system_" in metrics.text
        assert (
            await http.get("/admin/queues/api/v1/me", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        ).is_success
    await app.state.qs_dashboard.state.qs_web.close()


@pytest.mark.parametrize("path", ["/readyz", "/metrics"])
async def test_ops_endpoints_answer_503_when_redis_is_unreachable(config: QueueConfig, path: str) -> None:
    down = config.model_copy(update={**web_settings(), "redis_url": "redis://127.0.0.1:9/0", "connect_timeout_s": 0.2})
    async with Http(create_app(down)).client() as http:
        assert (await http.get("/healthz")).status_code == 200  # liveness needs no Redis
        answer = await http.get(path)
        assert answer.status_code == 503 and "unavailable" in answer.text


async def test_pages_render_and_their_forms_check_role_and_input(
    admin: httpx.AsyncClient, viewer: httpx.AsyncClient, client: Client
) -> None:
    batch = await Batch.create("page batch", [echo.call(1)], client=client)
    await QueueAPI(client).put_schedule(cron("echo", "0 3 * * *", name="nightly"))
    pages = {
        "/batches": "page batch",
        f"/batches/{batch.batch_id}": "Cancel batch",
        f"/batches/{batch.batch_id}?outcome=pending": "pending",
        "/schedules": "cron 0 3 * * *",
        "/workers": "No live worker",
    }
    for path, text in pages.items():
        answer = await viewer.get(path)
        assert answer.status_code == 200 and text in answer.text, (path, answer.text[:2000])
    assert "Add a schedule" not in (await viewer.get("/schedules")).text  # the add form is for admins
    assert (await viewer.post(f"/batches/{batch.batch_id}/cancel")).status_code == 403
    assert (await viewer.post("/schedules/nightly/remove")).status_code == 403
    bad = {"kind": "cron", "name": "x", "function": "echo", "when": "not a cron"}
    refused = await admin.post("/schedules/add", data=bad)
    assert refused.status_code == 400 and "use 5 fields" in refused.json()["detail"]
    refused = await admin.post("/schedules/add", data={**bad, "kind": "interval", "when": "soon"})
    assert refused.status_code == 400 and "every_s" in refused.json()["detail"]
    added = await admin.post("/schedules/add", data={**bad, "kind": "interval", "when": "30"})
    assert added.status_code == 303
    assert (await admin.post("/schedules/x/remove")).status_code == 303
    assert (await admin.post(f"/batches/{batch.batch_id}/cancel")).status_code == 303
    assert [s.name for s in await QueueAPI(client).schedules()] == ["nightly"]
