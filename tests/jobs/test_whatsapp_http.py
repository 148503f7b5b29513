"""The WhatsApp blast endpoints through HTTP (the project's API app, on both databases), with the real worker and
Redis sending to the loopback Cloud API in between: create with refusals, move, cancel, list, deliveries,
templates and their sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from jobs.config import AppSettings
from jobs.db import Database
from jobs.db.whatsapp import TemplateStatus, WhatsAppTemplate
from queue_system import Client, JobState, QueueAPI, QueueConfig

from ..support.queue_fixtures import run_burst
from .cloud_api import CloudApi
from .http_fixtures import AS_VIEWER, ok, project_http, refused
from .test_whatsapp_jobs import whatsapp_worker
from .whatsapp_fixtures import add_template, cloud_api, number

__all__ = ["cloud_api", "project_http"]
BLASTS = "/api/whatsapp/blasts"


def blast_body(template: str, recipients: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "name": "Promo Harbolnas",
        "template": template,
        "language": "id",
        "variables": ["Siti"],
        "recipients": recipients,
        **extra,
    }


async def test_a_blast_is_created_moved_sent_once_and_its_deliveries_listed(
    project_http: httpx.AsyncClient,
    database: Database,
    client: Client,
    config: QueueConfig,
    app_settings: AppSettings,
    cloud_api: tuple[CloudApi, str],
) -> None:
    api, url = cloud_api
    template = await add_template(database)
    api.refuse["6281200000004"] = (131026, "Message undeliverable")
    later = datetime.now(UTC) + timedelta(minutes=10)
    recipients = [number(i) for i in range(12)] + ["0812 0000 0001"]  # a repeat, written locally
    created = await ok(
        await project_http.post(
            BLASTS, json=blast_body(template.name, recipients, send_at=later.isoformat(), default_region="ID")
        ),
        201,
    )
    assert (created["status"], created["total_recipients"], created["duplicates"]) == ("SCHEDULED", 12, 1)
    blast_id, job_id = created["blast_id"], created["job_id"]
    shown = (await ok(await project_http.get(f"{BLASTS}/{blast_id}", headers=AS_VIEWER)))["blast"]
    assert (shown["status"], shown["template"], shown["deliveries"]["pending"]) == ("SCHEDULED", template.name, 12)
    assert abs(datetime.fromisoformat(shown["send_at"]) - later) < timedelta(milliseconds=1)

    queue_api = QueueAPI(client)
    even_later = later + timedelta(minutes=5)
    moved = await ok(await project_http.patch(f"{BLASTS}/{blast_id}", json={"send_at": even_later.isoformat()}))
    assert moved["blast"]["job_id"] == job_id  # the same deferred job, moved
    assert (await queue_api.job(job_id)).due_at_ms == int(even_later.timestamp() * 1000)
    now = await ok(
        await project_http.patch(
            f"{BLASTS}/{blast_id}", json={"send_at": datetime.now(UTC).isoformat(), "name": "Promo now"}
        )
    )
    assert (now["blast"]["name"], now["blast"]["schedule_version"]) == ("Promo now", 1)

    await run_burst(whatsapp_worker(config, app_settings, url))
    done = (await ok(await project_http.get(f"{BLASTS}/{blast_id}")))["blast"]
    assert done["status"] == "COMPLETED"
    assert done["deliveries"] == {"pending": 0, "sending": 0, "sent": 11, "failed": 1, "unknown": 0}
    assert (done["sent_count"], done["failed_count"]) == (11, 1)
    assert sorted(api.accepted().values()) == [1] * 11  # once each

    failed = await ok(await project_http.get(f"{BLASTS}/{blast_id}/deliveries", params={"status": "failed"}))
    assert failed["total"] == 1
    assert (failed["deliveries"][0]["phone"], failed["deliveries"][0]["error_code"]) == (number(4), 131026)
    page = await ok(await project_http.get(f"{BLASTS}/{blast_id}/deliveries", params={"offset": 10, "limit": 5}))
    assert (page["total"], len(page["deliveries"])) == (12, 2)
    assert all(d["message_id"] for d in page["deliveries"] if d["status"] == "sent")
    listed = await ok(await project_http.get(BLASTS, params={"status": "COMPLETED"}))
    assert [b["id"] for b in listed["blasts"]] == [blast_id] and listed["total"] == 1
    assert (await ok(await project_http.get(BLASTS, params={"status": "SCHEDULED"})))["total"] == 0
    again = await project_http.patch(f"{BLASTS}/{blast_id}", json={"send_at": later.isoformat()})
    assert "COMPLETED" in await refused(again, 409)  # a sent blast cannot be moved


async def test_invalid_numbers_and_unapproved_templates_are_refused_with_reasons(
    project_http: httpx.AsyncClient, database: Database
) -> None:
    approved = await add_template(database)
    submitted = await add_template(database, TemplateStatus.SUBMITTED)
    numbers = [number(1), "+62 12", "08123", "hello", number(2)]
    message = await refused(await project_http.post(BLASTS, json=blast_body(approved.name, numbers)), 422)
    assert message.startswith("3 invalid phone numbers") and "'hello': not a phone number" in message
    rejected = (await project_http.post(BLASTS, json=blast_body(approved.name, numbers))).json()["rejected"]
    assert [r["input"] for r in rejected] == ["+62 12", "08123", "hello"] and all(r["reason"] for r in rejected)
    assert (await ok(await project_http.get(BLASTS)))["total"] == 0  # nothing was stored

    skipping = await ok(
        await project_http.post(BLASTS, json=blast_body(approved.name, numbers, skip_invalid=True)), 201
    )
    assert (skipping["status"], skipping["total_recipients"], len(skipping["rejected"])) == ("DRAFT", 2, 3)
    all_bad = blast_body(approved.name, ["nope"], skip_invalid=True)
    assert "no valid recipient" in await refused(await project_http.post(BLASTS, json=all_bad), 422)

    not_approved = await project_http.post(BLASTS, json=blast_body(submitted.name, [number(1)]))
    assert "only APPROVED templates" in await refused(not_approved, 409)
    unknown = await project_http.post(BLASTS, json=blast_body("no_such_template", [number(1)]))
    assert "no template 'no_such_template'" in await refused(unknown, 422)
    naive = blast_body(approved.name, [number(1)], send_at="2030-01-01T09:00:00")
    assert "send_at" in await refused(await project_http.post(BLASTS, json=naive), 422)
    missing = await refused(await project_http.post(BLASTS, json={"name": "x"}), 422)
    assert "recipients: Field required" in missing


async def test_a_cancelled_blast_loses_its_job_and_cannot_be_changed(
    project_http: httpx.AsyncClient, database: Database, client: Client
) -> None:
    template = await add_template(database)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = await ok(await project_http.post(BLASTS, json=blast_body(template.name, [number(1)], send_at=later)), 201)
    blast_id = created["blast_id"]
    cancelled = await ok(await project_http.post(f"{BLASTS}/{blast_id}/cancel"))
    assert cancelled["blast"]["status"] == "CANCELLED" and cancelled["blast"]["job_id"] is None
    assert (await QueueAPI(client).job(created["job_id"])).state == JobState.ABORTED  # it never runs
    assert "CANCELLED" in await refused(await project_http.post(f"{BLASTS}/{blast_id}/cancel"), 409)
    assert await refused(await project_http.patch(f"{BLASTS}/{blast_id}", json={"name": "x"}), 409)
    assert "nothing to change" in await refused(await project_http.patch(f"{BLASTS}/{blast_id}", json={}), 422)

    assert await refused(await project_http.get(f"{BLASTS}/999999"), 404) == "no blast 999999"
    assert (await project_http.post(f"{BLASTS}/999999/cancel")).status_code == 404
    assert (await project_http.get(f"{BLASTS}/999999/deliveries")).status_code == 404
    assert (await project_http.get(BLASTS, params={"status": "SENT"})).status_code == 422
    assert (await project_http.get(BLASTS, params={"limit": 0})).status_code == 422


async def test_reads_need_a_viewer_and_changes_an_admin(project_http: httpx.AsyncClient, database: Database) -> None:
    template = await add_template(database)
    anonymous = {"Authorization": ""}
    assert (await project_http.get(BLASTS, headers=anonymous)).status_code == 401
    assert (await project_http.get("/api/whatsapp/templates", headers=anonymous)).status_code == 401
    assert (await project_http.get(BLASTS, headers=AS_VIEWER)).status_code == 200
    as_viewer = await project_http.post(BLASTS, json=blast_body(template.name, [number(1)]), headers=AS_VIEWER)
    assert as_viewer.status_code == 403
    assert (await project_http.post("/api/whatsapp/templates/sync", headers=AS_VIEWER)).status_code == 403


async def test_templates_are_listed_and_synced_on_demand(
    project_http: httpx.AsyncClient,
    database: Database,
    config: QueueConfig,
    app_settings: AppSettings,
    cloud_api: tuple[CloudApi, str],
) -> None:
    api, url = cloud_api
    waiting = await add_template(database, TemplateStatus.SUBMITTED, name="promo_waiting")
    await add_template(database, name="promo_live")
    body = [{"type": "BODY", "text": "Halo {{1}}, kode promo {{2}}"}]
    api.templates = [
        {"id": "77", "name": waiting.name, "language": "id", "status": "REJECTED", "rejected_reason": "INVALID_FORMAT"},
        {"id": "78", "name": "promo_live", "language": "id", "status": "APPROVED", "components": body},
    ]
    listed = await ok(await project_http.get("/api/whatsapp/templates", headers=AS_VIEWER))
    assert [(t["name"], t["status"]) for t in listed["templates"]] == [
        ("promo_live", "APPROVED"),
        ("promo_waiting", "SUBMITTED"),
    ]
    queued = await ok(await project_http.post("/api/whatsapp/templates/sync"), 202)
    assert queued["job_id"]
    await run_burst(whatsapp_worker(config, app_settings, url))
    rejected = await ok(await project_http.get("/api/whatsapp/templates", params={"status": "REJECTED"}))
    assert [(t["name"], t["rejection_reason"]) for t in rejected["templates"]] == [("promo_waiting", "INVALID_FORMAT")]
    assert rejected["templates"][0]["synced_at"] is not None
    (live,) = (await ok(await project_http.get("/api/whatsapp/templates", params={"status": "APPROVED"})))["templates"]
    assert (live["body"], live["parameters"]) == ("Halo {{1}}, kode promo {{2}}", 2)  # its body, synced meanwhile


async def test_a_blast_whose_template_lost_its_approval_cannot_be_moved(
    project_http: httpx.AsyncClient, database: Database
) -> None:
    template = await add_template(database)
    later = datetime.now(UTC) + timedelta(hours=1)
    body = blast_body(template.name, [number(1)], send_at=later.isoformat())
    blast_id = (await ok(await project_http.post(BLASTS, json=body), 201))["blast_id"]
    async with database.session() as session, session.begin():
        await session.execute(
            update(WhatsAppTemplate)
            .where(WhatsAppTemplate.id == template.id)
            .values(status=TemplateStatus.REJECTED, rejection_reason="PAUSED by Meta")
        )
    change = {"name": "renamed", "send_at": (later + timedelta(hours=1)).isoformat()}
    message = await refused(await project_http.patch(f"{BLASTS}/{blast_id}", json=change), 409)
    assert "REJECTED: PAUSED by Meta" in message
    shown = (await ok(await project_http.get(f"{BLASTS}/{blast_id}")))["blast"]
    assert shown["name"] == "Promo Harbolnas"  # nothing of the refused change was kept
    assert abs(datetime.fromisoformat(shown["send_at"]) - later) < timedelta(milliseconds=1)


async def test_variables_that_do_not_fill_the_templates_parameters_are_refused_with_422(
    project_http: httpx.AsyncClient, database: Database
) -> None:
    template = await add_template(database, body="Halo {{1}}, diskon {{2}} hari ini")
    one = blast_body(template.name, [number(1)])  # one variable for two parameters
    assert "takes 2 variable(s) ({{1}} … in its body), 1 given" in await refused(
        await project_http.post(BLASTS, json=one), 422
    )
    assert (await ok(await project_http.get(BLASTS)))["total"] == 0  # nothing was stored
    later = datetime.now(UTC) + timedelta(hours=1)
    two = blast_body(template.name, [number(1)], variables=["Siti", "50%"], send_at=later.isoformat())
    blast_id = (await ok(await project_http.post(BLASTS, json=two), 201))["blast_id"]

    change = {"variables": ["Siti"], "name": "renamed", "send_at": (later + timedelta(hours=1)).isoformat()}
    assert "1 given" in await refused(await project_http.patch(f"{BLASTS}/{blast_id}", json=change), 422)
    shown = (await ok(await project_http.get(f"{BLASTS}/{blast_id}")))["blast"]
    assert (shown["name"], shown["variables"]) == ("Promo Harbolnas", ["Siti", "50%"])  # nothing was changed
    assert abs(datetime.fromisoformat(shown["send_at"]) - later) < timedelta(milliseconds=1)
    changed = await ok(await project_http.patch(f"{BLASTS}/{blast_id}", json={"variables": ["Budi", "30%"]}))
    assert changed["blast"]["variables"] == ["Budi", "30%"]
