"""The seed's certificate endpoints through HTTP (httpx against the project's API app as ``queue-system serve``
builds it, with the dashboard's tokens and roles), on both databases, with the real worker and Redis doing the
work in between."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from jobs import api as project_api
from jobs.config import AppSettings
from jobs.db import Database, DeliveryStatus, EmailDelivery, Participant
from queue_system import QueueConfig
from queue_system.web import create_app
from queue_system.web.extensions import install

from ..support.queue_fixtures import run_burst
from ..web.conftest import ADMIN_TOKEN, VIEWER_TOKEN, web_settings
from .helpers import create_event

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def http(config: QueueConfig, app_settings: AppSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(config.model_copy(update=web_settings()))
    cleanups = install(app, [("jobs", lambda app: project_api.install(app, app_settings))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://certificates.test") as session:
        yield session
    for cleanup in cleanups:
        await cleanup()
    await app.state.qs_web.close()


async def post(http: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await http.post(f"/api/certificates{path}", headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is True
    return body


async def status(http: httpx.AsyncClient, event_id: int | None = None) -> dict[str, Any]:
    path = "/api/certificates/queue/status" + (f"/{event_id}" if event_id is not None else "")
    response = await http.get(path, headers=AUTH)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_generate_status_send_and_clean_answer_in_the_seeds_shapes(
    http: httpx.AsyncClient, database: Database, certificate_worker: type
) -> None:
    event_id, ids = await create_event(database, ["Ñandú Çelik", "Ахмед", "Nguyễn Thị Hồng"])
    other_event, _ = await create_event(database, ["Jürgen Groß"])

    body = await post(http, f"/generate-event/{event_id}")
    assert body["message"] == "Added 3 certificate generation jobs to queue"
    assert body["data"]["total"] == 3 and body["data"]["queued"] == 3
    assert body["data"]["queue_info"]["name"] == "certificate-generation"
    again = await post(http, f"/generate-event/{event_id}")  # the first run has not started: nothing twice
    assert (again["data"]["queued"], again["data"]["duplicates"]) == (0, 3)
    await post(http, f"/generate-event/{other_event}")

    waiting = await status(http, event_id)
    assert waiting["certificate_queue"]["event"] == {"waiting": 3, "active": 0, "completed": 0, "failed": 0}
    assert waiting["certificate_queue"]["total"]["waiting"] == 4
    await run_burst(certificate_worker, queues=["certificate-generation"])

    done = await status(http, event_id)
    assert done["certificate_queue"]["event"] == {"waiting": 0, "active": 0, "completed": 3, "failed": 0}
    sent = await post(http, f"/send-event/{event_id}")
    assert sent["message"] == "Added 3 email sending jobs to queue"
    assert sent["data"]["queue_info"]["name"] == "email-sending"
    async with database.session() as session:  # the delivery rows come with the queueing, before any job runs
        pending = list(await session.scalars(select(EmailDelivery.status).where(EmailDelivery.participant_id.in_(ids))))
    assert pending == [DeliveryStatus.PENDING] * 3
    await run_burst(certificate_worker, queues=["email-sending"])
    overall = await status(http)
    assert "event" not in overall["email_queue"]
    assert overall["email_queue"]["total"] == {"waiting": 0, "active": 0, "completed": 3, "failed": 0}

    cleaned = await post(http, "/queue/clean")
    assert cleaned["data"]["removed"] == {"certificate-generation": 4, "email-sending": 3}
    assert (await status(http))["certificate_queue"]["total"]["completed"] == 0


async def test_failed_jobs_are_retried_with_fresh_tries(
    http: httpx.AsyncClient, database: Database, certificate_worker: type
) -> None:
    event_id, participant_ids = await create_event(database, ["Siti Nurhaliza"])
    await post(http, f"/generate-event/{event_id}")
    async with database.session() as session, session.begin():  # the participant vanishes: a permanent failure
        await session.delete(await session.get(Participant, participant_ids[0]))
    await run_burst(certificate_worker, queues=["certificate-generation"])
    assert (await status(http, event_id))["certificate_queue"]["event"]["failed"] == 1

    body = await post(http, "/queue/retry/certificate")
    assert body["data"] == {"queue": "certificate-generation", "retried": 1}
    assert (await status(http, event_id))["certificate_queue"]["event"]["waiting"] == 1
    assert (await post(http, "/queue/retry/email"))["data"]["retried"] == 0


async def test_unknown_events_missing_tokens_and_viewers_changes_are_refused(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/certificates/generate-event/999999", headers=AUTH)
    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "event 999999 does not exist"}
    assert (await http.post("/api/certificates/send-event/999999", headers=AUTH)).status_code == 404
    assert (await http.post("/api/certificates/generate-event/1")).status_code == 401
    assert (await http.get("/api/certificates/queue/status")).status_code == 401
    as_viewer = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
    assert (await http.get("/api/certificates/queue/status", headers=as_viewer)).status_code == 200
    refused = await http.post("/api/certificates/queue/clean", headers=as_viewer)
    assert refused.status_code == 403 and "viewer" in refused.json()["detail"]
    assert (await http.post("/api/certificates/generate-event/abc", headers=AUTH)).status_code == 422
