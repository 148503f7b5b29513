"""This project's schedules: the maintenance crons and the queue alerts, composed for ``settings.py``.

Crons (fired once per tick across every worker, see queue_system/scheduler.py):

* ``prune_failed_jobs`` nightly at 02:00 in ``APP_TIME_ZONE`` (default UTC): failed-store entries older than 30
  days and batches finished more than 7 days ago (old results go by each queue's retention); ``run_once`` after
  an outage, so a night missed while nothing ran is made up once at start-up.

Alerts (queue_system.alerts' ready-made rules), delivered by the notification jobs: an email through
``send-email`` (template ``queue-alert-rule``) to ``ALERT_EMAIL`` (comma-separated) and a signed webhook POST through
``send-webhook`` (event ``queue.alert``) to ``ALERT_WEBHOOK_URL``. With neither set there are no alerts. The rules:
scraping has more than ``ALERT_SCRAPING_WAITING`` (default 50, the scraper seed's number) waiting; any queue's
oldest waiting job is older than ``ALERT_LONG_WAIT_S`` (default 600); more than ``ALERT_FAILURES`` (default 20)
jobs of a queue failed in 10 minutes; no worker alive for a queue (from the workers' heartbeats). Each fires at
most once per ``ALERT_COOLDOWN_S`` (default 900).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from queue_system import Condition, Timed, alerts, cron

from .maintenance import prune_failed_jobs
from .queues import NOTIFICATIONS, QUEUES, SCRAPING

ALERT_TEMPLATE = "queue-alert-rule"
ALERT_EVENT = "queue.alert"


def cron_jobs(environ: Mapping[str, str] | None = None) -> list[Timed]:
    environ = os.environ if environ is None else environ
    tz = environ.get("APP_TIME_ZONE", "UTC")
    return [cron(prune_failed_jobs, "0 2 * * *", tz=tz, misfire="run_once")]


def deliveries(environ: Mapping[str, str] | None = None) -> list[alerts.Delivery]:
    """The notification jobs alerts go through, from ``ALERT_EMAIL`` and ``ALERT_WEBHOOK_URL``."""
    environ = os.environ if environ is None else environ
    found = []
    recipients = [r.strip() for r in environ.get("ALERT_EMAIL", "").split(",") if r.strip()]
    if recipients:
        kwargs = {"to": recipients, "template": ALERT_TEMPLATE}
        found.append(alerts.Delivery("send-email", kwargs, "data", queue=NOTIFICATIONS))
    if environ.get("ALERT_WEBHOOK_URL"):
        kwargs = {"url": environ["ALERT_WEBHOOK_URL"], "event": ALERT_EVENT}
        found.append(alerts.Delivery("send-webhook", kwargs, "data", queue=NOTIFICATIONS))
    return found


def alert_rules(environ: Mapping[str, str] | None = None, queues: Sequence[str] = QUEUES) -> list[Condition]:
    environ = os.environ if environ is None else environ
    deliver = deliveries(environ)
    if not deliver:
        return []
    cooldown = float(environ.get("ALERT_COOLDOWN_S", "900"))
    rules = alerts.depth_above(SCRAPING, int(environ.get("ALERT_SCRAPING_WAITING", "50")), deliver, cooldown_s=cooldown)
    for queue in queues:
        long_wait = float(environ.get("ALERT_LONG_WAIT_S", "600"))
        rules += alerts.oldest_waiting_above(queue, long_wait, deliver, cooldown_s=cooldown)
        failures = int(environ.get("ALERT_FAILURES", "20"))
        rules += alerts.failures_above(queue, failures, deliver, window_s=600, cooldown_s=cooldown)
        rules += alerts.no_worker_alive(queue, deliver, cooldown_s=cooldown)
    return rules
