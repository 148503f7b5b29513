"""The product batch endpoints through HTTP (the project's API app, on both databases), with the real worker and
Redis making the items in between: the seed's answer shape, progress, retry of failed jobs, and refusals that are
404 / 409 / 422 with a message, never a 500."""

from __future__ import annotations

from typing import Any

import httpx

from jobs.config import AppSettings
from jobs.db import Database
from queue_system import Client, QueueAPI, QueueConfig

from ..support.queue_fixtures import run_burst
from .http_fixtures import AS_VIEWER, ok, project_http, refused
from .test_product_jobs import product_worker, set_planned

__all__ = ["project_http"]
BATCHES = "/api/products/batches"


async def new_batch(http: httpx.AsyncClient, **fields: Any) -> int:
    batch_id: int = (await ok(await http.post(BATCHES, json={"name": "Kopi Gayo", **fields}), 201))["batch_id"]
    return batch_id


async def test_items_are_queued_in_the_seeds_shape_and_progress_follows(
    project_http: httpx.AsyncClient, config: QueueConfig, app_settings: AppSettings
) -> None:
    batch_id = await new_batch(project_http, product_name="Arabica 250 g")
    response = await project_http.post(
        f"{BATCHES}/{batch_id}/items", json={"quantity": 1000, "batch_size": 100, "qr_code_prefix": "KG-"}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"success", "batch_id", "total_quantity", "jobs_created", "job_ids", "estimated_duration"}
    assert (body["success"], body["batch_id"], body["total_quantity"], body["jobs_created"]) == (
        True,
        batch_id,
        1000,
        10,
    )
    assert body["job_ids"][0].endswith(":1-100") and body["estimated_duration"] == "18 seconds"

    waiting = await ok(await project_http.get(f"{BATCHES}/{batch_id}/progress", headers=AS_VIEWER))
    assert {k: waiting[k] for k in ("total", "waiting", "active", "completed", "failed")} == {
        "total": 10, "waiting": 10, "active": 0, "completed": 0, "failed": 0
    }  # fmt: skip
    assert (waiting["items"]["status"], waiting["items"]["planned"], waiting["items"]["created"]) == (
        "PROCESSING", 1000, 0
    )  # fmt: skip
    await run_burst(product_worker(config, app_settings))
    done = await ok(await project_http.get(f"{BATCHES}/{batch_id}/progress"))
    assert (done["total"], done["completed"], done["waiting"], done["failed"]) == (10, 10, 0, 0)
    assert (done["items"]["status"], done["items"]["created"], done["items"]["percent"]) == ("COMPLETED", 1000, 100.0)
    retried = await ok(await project_http.post(f"{BATCHES}/{batch_id}/retry"))
    assert retried["retried"] == 0


async def test_failed_jobs_are_retried_with_fresh_tries(
    project_http: httpx.AsyncClient, database: Database, config: QueueConfig, app_settings: AppSettings
) -> None:
    batch_id = await new_batch(project_http)
    await ok(await project_http.post(f"{BATCHES}/{batch_id}/items", json={"quantity": 100, "batch_size": 50}), 202)
    await set_planned(database, batch_id, 50)  # the job for 51…100 now asks past what is reserved: it fails
    await run_burst(product_worker(config, app_settings))
    failed = await ok(await project_http.get(f"{BATCHES}/{batch_id}/progress"))
    assert (failed["failed"], failed["completed"], failed["items"]["status"]) == (1, 1, "FAILED")
    assert "ItemRangeOutsideBatch" in failed["items"]["last_error"]

    await set_planned(database, batch_id, 100)
    retried = await ok(await project_http.post(f"{BATCHES}/{batch_id}/retry"))
    assert (retried["retried"], retried["message"]) == (1, "Retried 1 failed jobs")
    again = await ok(await project_http.get(f"{BATCHES}/{batch_id}/progress"))
    assert (again["waiting"], again["failed"], again["items"]["status"]) == (1, 0, "PROCESSING")
    await run_burst(product_worker(config, app_settings))
    done = await ok(await project_http.get(f"{BATCHES}/{batch_id}/progress"))
    assert (done["completed"], done["items"]["status"], done["items"]["created"]) == (2, "COMPLETED", 100)


async def test_a_failed_batch_with_nothing_left_to_retry_stays_failed(
    project_http: httpx.AsyncClient, database: Database, client: Client, config: QueueConfig, app_settings: AppSettings
) -> None:
    batch_id = await new_batch(project_http)
    await ok(await project_http.post(f"{BATCHES}/{batch_id}/items", json={"quantity": 100, "batch_size": 50}), 202)
    await set_planned(database, batch_id, 50)
    await run_burst(product_worker(config, app_settings))
    await QueueAPI(client).flush_failed()  # the failed store lost the entry (retention, or an operator flushed it)
    retried = await ok(await project_http.post(f"{BATCHES}/{batch_id}/retry"))
    assert retried["retried"] == 0
    after = await ok(await project_http.get(f"{BATCHES}/{batch_id}/progress"))
    assert after["items"]["status"] == "FAILED" and "ItemRangeOutsideBatch" in after["items"]["last_error"]


async def test_unknown_batches_bad_input_and_roles_are_answered_never_with_a_500(
    project_http: httpx.AsyncClient,
) -> None:
    for method, path in (("post", "/items"), ("get", "/progress"), ("post", "/retry")):
        response = await project_http.request(method, f"{BATCHES}/999999{path}", json={"quantity": 10})
        assert await refused(response, 404) == "no product batch 999999"

    batch_id = await new_batch(project_http)
    items = f"{BATCHES}/{batch_id}/items"
    for bad in ({"quantity": 0}, {"quantity": 1_000_001}, {"quantity": "many"}, {}, {"quantity": 5, "batch_size": 0},
                {"quantity": 5, "qr_code_prefix": ""}, {"quantity": 5, "colour": "red"}):  # fmt: skip
        message = await refused(await project_http.post(items, json=bad), 422)
        assert message.startswith("invalid request: ")
    assert "quantity" in await refused(await project_http.post(items, json={"quantity": 0}), 422)
    assert "prefix" in await refused(
        await project_http.post(items, json={"quantity": 5, "qr_code_prefix": "A\nB"}), 422
    )
    assert (
        await project_http.post(items, content=b"not json", headers={"Content-Type": "application/json"})
    ).status_code == 422
    assert (await project_http.get(f"{BATCHES}/abc/progress")).status_code == 422

    await ok(await project_http.post(items, json={"quantity": 5, "qr_code_prefix": "AA-"}), 202)
    conflict = await project_http.post(items, json={"quantity": 5, "qr_code_prefix": "BB-"})
    assert "already has items under prefix 'AA-'" in await refused(conflict, 409)
    appended = await ok(await project_http.post(items, json={"quantity": 5}), 202)  # the batch's prefix is kept
    assert appended["job_ids"] == [appended["job_ids"][0]] and appended["job_ids"][0].endswith(":6-10")

    assert (await project_http.post(items, json={"quantity": 5}, headers=AS_VIEWER)).status_code == 403
    assert (await project_http.get(f"{BATCHES}/{batch_id}/progress", headers=AS_VIEWER)).status_code == 200
    assert (await project_http.get(f"{BATCHES}/{batch_id}/progress", headers={"Authorization": ""})).status_code == 401
