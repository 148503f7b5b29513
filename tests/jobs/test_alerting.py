"""The project's queue alerts end to end: a ready-made rule crosses its threshold, the scheduler enqueues the
notification jobs once per cooldown, and they deliver a real email (SMTP sink) and a signed webhook (receiver)."""

from __future__ import annotations

import email
import time
from email.policy import default as default_policy

import pytest

from jobs.queues import SCRAPING
from jobs.schedules import alert_rules, cron_jobs
from queue_system import Client, Metric, QueueAPI
from queue_system.scheduler import Scheduler

from ..support.queue_fixtures import run_burst
from .conftest import DatabaseTarget
from .helpers import Sink
from .scraping_fixtures import (  # noqa: F401
    Receiver,
    _site_server,
    receiver,
    scraper_app_settings,
    scraper_db,
    scraper_settings,
    scraper_worker,
    site,
)


@pytest.fixture
def database_target(sqlite_target: DatabaseTarget) -> DatabaseTarget:
    return sqlite_target


def test_rules_come_from_the_environment() -> None:
    assert alert_rules({}) == []  # nowhere to deliver: no alerts
    rules = alert_rules({"ALERT_EMAIL": "a@example.test, b@example.test"}, queues=["emails"])
    assert {r.metric for r in rules} == set(Metric)
    assert rules[0].kwargs == {"to": ["a@example.test", "b@example.test"], "template": "queue-alert-rule"}
    (nightly,) = cron_jobs({"APP_TIME_ZONE": "Asia/Jakarta"})
    assert nightly.describe() == "cron 0 2 * * * (Asia/Jakarta)" and nightly.misfire.value == "run_once"


async def test_a_depth_alert_sends_one_email_and_one_webhook_per_cooldown(
    scraper_worker: type,  # noqa: F811
    client: Client,
    receiver: Receiver,  # noqa: F811
    sink: Sink,
) -> None:
    environ = {
        "ALERT_EMAIL": "ops@example.test",
        "ALERT_WEBHOOK_URL": receiver.url("/ok"),
        "ALERT_SCRAPING_WAITING": "2",
    }
    api = QueueAPI(client)
    await api.pause(SCRAPING)
    for n in range(3):
        await client.enqueue_job("scrape-product", f"https://shop.test/p/{n}", _queue=SCRAPING)
    now = [time.time()]
    scheduler = Scheduler(client, clock=lambda: now[0])
    depth_rules = [r for r in alert_rules(environ, queues=[SCRAPING]) if r.metric is Metric.WAITING]
    await scheduler.declare(depth_rules)  # (no worker serves scraping here: that rule would fire too)
    await scheduler.run_once()
    now[0] += 60  # within the 900 s cooldown: no second alert
    await scheduler.run_once()
    await run_burst(scraper_worker, queues=["notifications"])

    (path,) = sink.files()
    message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
    assert message["To"] == "ops@example.test"
    assert message["Subject"].startswith("Queue alert: scraping: waiting is 3")
    (delivery,) = receiver.app.deliveries
    assert delivery.verified and delivery.body["event"] == "queue.alert"
    data = delivery.body["data"]
    assert (data["rule"], data["metric"], data["value"], data["threshold"]) == (
        "alert.depth.scraping.send-webhook", "waiting", 3, 2,
    )  # fmt: skip
