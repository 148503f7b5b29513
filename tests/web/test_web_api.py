"""The HTTP API through httpx: reads for any role, actions for admins only, 4xx with a message for bad input,
and the actions doing what they say against the real Redis and a real worker (burst)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from queue_system import Client, JobState, QueueAPI
from tests.support.queue_fixtures import run_burst


def register(client: Client, app_settings: type) -> None:
    for spec in app_settings.qs_specs:
        client.register(spec.name, spec.info)


async def test_who_may_read_and_act(
    anonymous: httpx.AsyncClient, viewer: httpx.AsyncClient, admin: httpx.AsyncClient, client: Client
) -> None:
    assert (await anonymous.get("/api/v1/queues")).status_code == 401
    assert (await viewer.get("/api/v1/me")).json() == {"name": "reader", "role": "viewer", "via": "token"}
    refused = await viewer.post("/api/v1/queues/alpha/pause")
    assert refused.status_code == 403 and "viewer" in refused.json()["detail"]
    assert not await QueueAPI(client).is_paused("alpha")
    done = await admin.post("/api/v1/queues/alpha/pause")
    assert done.json() == {"queue": "alpha", "paused": True, "changed": True}
    assert await QueueAPI(client).is_paused("alpha")
    stats = (await viewer.get("/api/v1/queues")).json()
    assert [(s["queue"], s["paused"]) for s in stats] == [("alpha", True)]
    assert (await admin.post("/api/v1/queues/alpha/resume")).json()["changed"] is True


async def test_bad_ids_states_queues_and_filters_are_4xx(
    admin: httpx.AsyncClient, client: Client, app_settings: type
) -> None:
    register(client, app_settings)
    job = await client.enqueue_job("echo", 1, _queue="alpha")
    answers = {
        "unknown job": (await admin.get("/api/v1/jobs/no-such-job"), 404),
        "unknown job action": (await admin.post("/api/v1/jobs/no-such-job/retry"), 404),
        "bad verb": (await admin.post(f"/api/v1/jobs/{job.job_id}/explode"), 422),
        "bad state": (await admin.get("/api/v1/queues/alpha/jobs", params={"state": "sleeping"}), 422),
        "bad queue": (await admin.get("/api/v1/queues/bad queue!/jobs"), 400),
        "bad tag": (await admin.get("/api/v1/queues/alpha/jobs", params={"tag": "no-equals"}), 400),
        "retry a waiting job": (await admin.post(f"/api/v1/jobs/{job.job_id}/retry"), 409),
        "promote a waiting job": (await admin.post(f"/api/v1/jobs/{job.job_id}/promote"), 409),
        "clean active": (await admin.post("/api/v1/queues/alpha/clean", json={"state": "active"}), 400),
        "clean older than the epoch": (
            await admin.post("/api/v1/queues/alpha/clean", json={"state": "failed", "older_than_s": 1.8e305}),
            422,
        ),
        "bad body": (await admin.post("/api/v1/bulk", json={"action": "retry", "ids": []}), 422),
    }
    for what, (response, status) in answers.items():
        assert response.status_code == status, (what, response.text)
        assert response.json()["detail"], what


async def test_failed_job_retried_through_the_api_completes(
    admin: httpx.AsyncClient, client: Client, app_settings: type
) -> None:
    register(client, app_settings)
    bad = await client.enqueue_job("needs_fix", "test:fixed", _queue="alpha", _tags={"event": "7"})
    await run_burst(app_settings)
    failed = (await admin.get("/api/v1/queues/alpha/jobs", params={"state": "failed"})).json()
    assert [j["job_id"] for j in failed["jobs"]] == [bad.job_id] and failed["total"] == 1
    store = (await admin.get("/api/v1/failed", params={"queue": "alpha", "tag": "event=7"})).json()
    assert store["total"] == 1 and "payload" not in store["entries"][0]
    detail = (await admin.get(f"/api/v1/jobs/{bad.job_id}")).json()
    assert detail["state"] == "failed" and "Traceback" in detail["failure"]["traceback"]
    assert (await admin.post(f"/api/v1/jobs/{bad.job_id}/retry")).json()["outcome"] == "retried"
    await client.redis.set("test:fixed", 1)
    await run_burst(app_settings)
    detail = (await admin.get(f"/api/v1/jobs/{bad.job_id}")).json()
    assert detail["state"] == "completed", detail
    assert (await admin.post(f"/api/v1/jobs/{bad.job_id}/retry")).status_code == 409


async def test_bulk_retry_by_filter_and_by_ids(admin: httpx.AsyncClient, client: Client, app_settings: type) -> None:
    register(client, app_settings)
    ids = [(await client.enqueue_job("always_fails", f"n{i}", _queue="alpha")).job_id for i in range(3)]
    other = await client.enqueue_job("always_fails", "beta one", _queue="beta")
    await run_burst(app_settings)
    answer = (await admin.post("/api/v1/bulk", json={"action": "retry", "ids": [ids[0], "nope"]})).json()
    assert answer["done"] == 1 and answer["skipped"][0]["job_id"] == "nope"
    assert (await admin.post("/api/v1/failed/retry", json={"queue": "alpha"})).json() == {"retried": 2}
    counts = (await admin.get("/api/v1/queues/alpha")).json()["counts"]
    assert counts["waiting"] == 3 and counts["failed"] == 0
    assert (await admin.get(f"/api/v1/failed/{other.job_id}")).status_code == 200
    assert (await admin.post(f"/api/v1/failed/{other.job_id}/forget")).json() == {"forgotten": 1}
    assert (await admin.get(f"/api/v1/failed/{other.job_id}")).status_code == 404


async def test_promote_remove_and_bulk_remove_by_filter(
    admin: httpx.AsyncClient, client: Client, app_settings: type
) -> None:
    register(client, app_settings)
    later = await client.enqueue_job("echo", "later", _queue="alpha", _defer_by=3600)
    echoes = [await client.enqueue_job("echo", i, _queue="alpha") for i in range(3)]
    await client.enqueue_job("ordered", "keep", _queue="alpha")
    assert (await admin.post(f"/api/v1/jobs/{later.job_id}/promote")).json()["outcome"] == "promoted"
    removed = await admin.post(f"/api/v1/jobs/{echoes[0].job_id}/remove")
    assert removed.json() == {"job_id": echoes[0].job_id, "outcome": "removed", "previous_state": "waiting"}
    assert (await admin.get(f"/api/v1/jobs/{echoes[0].job_id}")).status_code == 404
    body = {"state": "waiting", "function": "echo"}
    assert (await admin.post("/api/v1/queues/alpha/remove", json=body)).json()["removed"] == 2
    await run_burst(app_settings)
    assert (await admin.get(f"/api/v1/jobs/{later.job_id}")).json()["state"] == "completed"
    counts = (await admin.get("/api/v1/queues/alpha")).json()["counts"]
    assert (counts["waiting"], counts["delayed"], counts["completed"]) == (0, 0, 2)


async def test_search_by_payload_text_and_redaction(
    admin: httpx.AsyncClient, client: Client, app_settings: type
) -> None:
    register(client, app_settings)
    for i in range(30):
        await client.enqueue_job("echo", {"sku": f"SKU-{i:03d}", "email": f"user{i}@example.test"}, _queue="alpha")
    page = (await admin.get("/api/v1/queues/alpha/jobs", params={"q": "sku-017"})).json()
    assert len(page["jobs"]) == 1
    detail = (await admin.get(f"/api/v1/jobs/{page['jobs'][0]['job_id']}")).json()
    assert detail["args"] == [{"sku": "SKU-017", "email": "<redacted>"}]
    assert page["more"] is False
    paged = (await admin.get("/api/v1/queues/alpha/jobs", params={"q": "SKU-0", "limit": 10})).json()
    assert len(paged["jobs"]) == 10 and paged["more"] is True
    by_function = (await admin.get("/api/v1/queues/alpha/jobs", params={"function": "echo", "limit": 5})).json()
    assert len(by_function["jobs"]) == 5 and by_function["more"] is True


async def test_filters_page_from_indexes_with_exact_totals_and_search_says_how_far(
    admin: httpx.AsyncClient, client: Client, app_settings: type
) -> None:
    register(client, app_settings)
    ids = []
    for i in range(40):
        function, tags = "echo" if i % 2 else "ordered", {"shop": str(i % 4)}
        job = await client.enqueue_job(function, {"sku": f"SKU-{i:03d}"}, _queue="alpha", _tags=tags)
        ids.append(job.job_id)

    def numbers(page: dict[str, Any]) -> list[int]:
        return [ids.index(j["job_id"]) for j in page["jobs"]]

    url = "/api/v1/queues/alpha/jobs"
    both = (await admin.get(url, params={"function": "echo", "tag": "shop=1", "limit": 4, "offset": 2})).json()
    assert both["total"] == 10 and both["more"] is True and both["next_cursor"] is None
    assert len(both["jobs"]) == 4 and all(j["function"] == "echo" and j["tags"] == {"shop": "1"} for j in both["jobs"])
    assert numbers(both) == [29, 25, 21, 17]
    by_tag = (await admin.get(url, params={"tag": "shop=2", "offset": 8})).json()
    assert by_tag["total"] == 10 and numbers(by_tag) == [6, 2]
    counts = (await admin.get("/api/v1/queues/alpha", params={"function": "ordered"})).json()
    assert counts["function"] == "ordered" and counts["counts"]["waiting"] == 20
    both_counts = await admin.get("/api/v1/queues/alpha", params={"function": "ordered", "tag": "shop=1"})
    assert both_counts.status_code == 400
    found = (await admin.get(url, params={"q": "sku-03", "function": "echo", "limit": 2})).json()
    assert numbers(found) == [39, 37]
    assert found["search_space"] == 20 and found["scanned"] == 2 and found["next_cursor"] == 2
    rest = (await admin.get(url, params={"q": "sku-03", "function": "echo", "offset": found["next_cursor"]})).json()
    assert numbers(rest) == [35, 33, 31]
    assert rest["scanned"] == 18 and rest["next_cursor"] is None and rest["more"] is False


async def test_throughput_and_events(admin: httpx.AsyncClient, client: Client, app_settings: type) -> None:
    register(client, app_settings)
    for i in range(3):
        await client.enqueue_job("echo", i, _queue="alpha")
    await client.enqueue_job("always_fails", "x", _queue="alpha")
    await run_burst(app_settings)
    series = (await admin.get("/api/v1/throughput", params={"queue": "alpha", "minutes": 5})).json()
    assert (sum(series["completed"]), sum(series["failed"]), len(series["completed"])) == (3, 1, 5)
    events = (await admin.get("/api/v1/events", params={"last": 50})).json()
    assert {e["event"] for e in events} >= {"completed", "failed"}


async def test_openapi_is_published(anonymous: httpx.AsyncClient) -> None:
    schema = (await anonymous.get("/openapi.json")).json()
    assert {"/api/v1/queues", "/api/v1/jobs/{job_id}", "/api/v1/failed/retry", "/api/v1/bulk"} <= set(schema["paths"])
    assert not any(p.startswith(("/login", "/stream")) for p in schema["paths"])


@pytest.mark.parametrize("state", [s.value for s in JobState])
async def test_every_state_lists(admin: httpx.AsyncClient, state: str) -> None:
    page = (await admin.get("/api/v1/queues/alpha/jobs", params={"state": state})).json()
    assert page["jobs"] == [] and page["state"] == state


async def test_removing_finished_jobs_keeps_counts_exact(
    admin: httpx.AsyncClient, client: Client, app_settings: type
) -> None:
    register(client, app_settings)
    done = await client.enqueue_job("echo", "x", _queue="alpha", _tags={"batch": "b"})
    bad = await client.enqueue_job("always_fails", "y", _queue="alpha", _tags={"batch": "b"})
    await run_burst(app_settings)
    for job in (done, bad):
        assert (await admin.post(f"/api/v1/jobs/{job.job_id}/remove")).status_code == 200
        assert (await admin.get(f"/api/v1/jobs/{job.job_id}")).status_code == 404
    assert (await admin.get(f"/api/v1/failed/{bad.job_id}")).status_code == 404  # its failed entry went too
    for path in ("/api/v1/queues/alpha", "/api/v1/queues/alpha?tag=batch=b"):
        stats = (await admin.get(path)).json()
        assert stats["counts"] == {s.value: 0 for s in JobState}, path
        assert (stats["totals"]["completed"], stats["totals"]["failed"]) == (1, 1)  # history stays
    events = [e["event"] for e in (await admin.get("/api/v1/events")).json()]
    assert events.count("removed") == 2
    assert (await admin.post(f"/api/v1/jobs/{done.job_id}/remove")).status_code == 404
