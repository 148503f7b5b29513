"""Notifications: templated email through the real SMTP sink, signed webhooks to a receiver on loopback that
verifies every signature, and what each answer means for retries."""

from __future__ import annotations

import asyncio
import email
import time
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from redis.asyncio import Redis

from jobs.scraping import send_email, send_webhook
from jobs.scraping.errors import DeliveryRejected, NotConfigured, ServerError, TemplateError
from jobs.scraping.politeness import KeyedLimiter
from jobs.scraping.runtime import CTX_KEY, ScrapingRuntime
from jobs.scraping.settings import HostLimit
from jobs.scraping.webhooks import deliver, sign, verify_signature
from queue_system import Client, JobFailed, QueueAPI, SharedRateLimiter

from ..support.queue_fixtures import run_burst
from .conftest import DatabaseTarget
from .helpers import Sink
from .scraping_fixtures import (  # noqa: F401
    WEBHOOK_SECRET,
    Receiver,
    _site_server,
    receiver,
    runtime,
    scraper_app_settings,
    scraper_db,
    scraper_settings,
    scraper_worker,
    site,
)


@pytest.fixture
def database_target(sqlite_target: DatabaseTarget) -> DatabaseTarget:
    """SQLite only: these tests do no database work worth running twice."""
    return sqlite_target


def ctx_for(runtime: ScrapingRuntime, job_id: str = "job-1") -> dict[str, object]:  # noqa: F811
    return {CTX_KEY: runtime, "job_id": job_id, "job_try": 1}


def read(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


async def test_an_email_is_rendered_from_templates_and_sent(runtime: ScrapingRuntime, sink: Sink) -> None:  # noqa: F811
    data = {"product": {"name": "<b>Kopi</b> & Teh", "currency": "IDR", "price": 95000, "url": "https://s.test/p/1"}}
    result = await send_email(
        ctx_for(runtime), ["a@example.test", "b@example.test"], "price-drop", data | {"old_price": 99000}
    )
    assert result["message_id"] == "<job-1.scraper@example.test>"
    (path,) = sink.files()
    message = read(path)
    assert message["Subject"] == "Price drop: <b>Kopi</b> & Teh"
    assert message["To"] == "a@example.test, b@example.test" and message["Message-ID"] == result["message_id"]
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "<b>Kopi</b> & Teh is now IDR 95000 (was 99000)" in text.get_content()
    assert "&lt;b&gt;Kopi&lt;/b&gt; &amp; Teh" in html.get_content()  # scraped text is escaped in HTML


async def test_a_missing_template_or_variable_fails_permanently(runtime: ScrapingRuntime, sink: Sink) -> None:  # noqa: F811
    with pytest.raises(TemplateError, match=r"no email template 'nope\.txt'"):
        await send_email(ctx_for(runtime), "a@example.test", "nope", {})
    with pytest.raises(TemplateError, match="'queue' is undefined"):
        await send_email(ctx_for(runtime), "a@example.test", "queue-alert", {"waiting": 51, "threshold": 50})
    assert sink.files() == []


async def test_templates_in_the_template_dir_override_the_built_in_ones(
    runtime: ScrapingRuntime,  # noqa: F811
    sink: Sink,
    tmp_path: Path,
) -> None:
    from jobs.scraping.mail import TemplateRenderer

    (tmp_path / "queue-alert.txt").write_text("Antrian {{ queue }}: {{ waiting }} menunggu\n")
    runtime.templates = TemplateRenderer(tmp_path)
    await send_email(
        ctx_for(runtime), "ops@example.test", "queue-alert", {"queue": "scraping", "waiting": 51, "threshold": 50}
    )
    message = read(sink.files()[0])
    assert message["Subject"] == "Queue scraping: 51 jobs waiting"
    body = message.get_body(("plain",))
    assert body is not None and body.get_content().strip() == "Antrian scraping: 51 menunggu"


async def test_a_webhook_is_signed_with_a_timestamp_and_verified_by_the_receiver(
    runtime: ScrapingRuntime,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    result = await send_webhook(
        ctx_for(runtime, "hook-1"), receiver.url("/ok"), {"jobId": "j-9"}, event="job_completed"
    )
    assert result["status"] == 204
    (delivery,) = receiver.app.deliveries
    assert delivery.verified and delivery.delivery_id == "hook-1"
    assert delivery.body == {"event": "job_completed", "data": {"jobId": "j-9"}}


def test_signatures_bind_the_body_and_the_time() -> None:
    body, now = b'{"a":1}', int(time.time())
    signature = sign("s3cret", now, body)
    assert verify_signature("s3cret", body, str(now), signature)
    assert not verify_signature("other", body, str(now), signature)
    assert not verify_signature("s3cret", b'{"a":2}', str(now), signature)
    assert not verify_signature("s3cret", body, str(now - 600), sign("s3cret", now - 600, body))  # a replay
    assert not verify_signature("s3cret", body, None, signature)


async def test_webhook_answers_decide_retries(runtime: ScrapingRuntime, receiver: Receiver) -> None:  # noqa: F811
    with pytest.raises(ServerError):
        await send_webhook(ctx_for(runtime), receiver.url("/flaky"), {"n": 1})
    assert (await send_webhook(ctx_for(runtime), receiver.url("/flaky"), {"n": 1}))["status"] == 204
    with pytest.raises(DeliveryRejected, match="410"):
        await send_webhook(ctx_for(runtime), receiver.url("/gone"), {"n": 1})
    runtime.settings = runtime.settings.model_copy(update={"webhook_secret": "", "webhook_secrets": {}})
    with pytest.raises(NotConfigured, match="refusing to send unsigned"):
        await send_webhook(ctx_for(runtime), receiver.url("/ok"), {"n": 1})
    assert all(d.verified for d in receiver.app.deliveries)


async def test_through_the_queue_5xx_is_retried_and_4xx_is_not(
    scraper_worker: type,  # noqa: F811
    client: Client,
    receiver: Receiver,  # noqa: F811
) -> None:
    flaky = await send_webhook.options(client=client).enqueue(receiver.url("/flaky"), {"n": 1}, "e")
    gone = await send_webhook.options(client=client).enqueue(receiver.url("/gone"), {"n": 2}, "e")
    await run_burst(scraper_worker, queues=["notifications"])
    assert (await flaky.result(timeout=1))["status"] == 204
    with pytest.raises(JobFailed, match="DeliveryRejected"):
        await gone.result(timeout=1)
    assert (receiver.app.hits["/flaky"], receiver.app.hits["/gone"]) == (2, 1)
    ids = {d.delivery_id for d in receiver.app.deliveries if d.path == "/flaky"}
    assert ids == {flaky.job_id}  # the same delivery id on the retry: the receiver can deduplicate


async def test_a_429_postpones_the_webhook_without_using_a_try(
    receiver: Receiver,  # noqa: F811
    scraper_worker: type,  # noqa: F811
    client: Client,
) -> None:
    job = await send_webhook.options(client=client).enqueue(receiver.url("/limited"), {"n": 1}, "e")
    await run_burst(scraper_worker, queues=["notifications"])  # waits for the postponed job to come back
    assert (await job.result(timeout=1))["status"] == 204
    info = await QueueAPI(client).job(job.job_id)
    assert info.state == "completed" and info.tries == 1  # the 429 did not use a try
    assert (info.started_at_ms or 0) - (info.enqueued_at_ms or 0) >= 1000  # it came back after Retry-After
    assert (await QueueAPI(client).postponed())[send_webhook.name] == 1
    assert receiver.app.hits["/limited"] == 2


async def test_each_endpoint_is_rate_limited(runtime: ScrapingRuntime, receiver: Receiver) -> None:  # noqa: F811
    runtime.webhook_limiter = KeyedLimiter(lambda _key: HostLimit(rate_per_s=20, concurrency=8))
    started = time.monotonic()
    for n in range(5):
        await send_webhook(ctx_for(runtime), receiver.url("/ok"), {"n": n})
    assert time.monotonic() - started >= 4 / 20 - 0.01
    assert WEBHOOK_SECRET and len(receiver.app.deliveries) == 5


async def test_an_endpoint_rate_holds_across_processes_sharing_redis(
    runtime: ScrapingRuntime,  # noqa: F811
    receiver: Receiver,  # noqa: F811
    redis_url: str,
) -> None:
    redis = Redis.from_url(redis_url)
    limit = HostLimit(rate_per_s=10, concurrency=8)
    # two worker processes' limiters: each alone would let 10 a second through, together still 10
    limiters = [KeyedLimiter(lambda _k: limit, shared=SharedRateLimiter(redis), namespace="webhook") for _ in range(2)]
    url = receiver.url("/ok")
    started = time.monotonic()
    try:
        await asyncio.gather(
            *(
                deliver(runtime.webhooks, limiters[n % 2], url, {"n": n}, secret=WEBHOOK_SECRET, delivery_id=f"d{n}")
                for n in range(25)
            )
        )
    finally:
        await redis.aclose()
    assert time.monotonic() - started >= 2 * 0.95  # 25 at 10 per 1 s window: two more windows
    assert len(receiver.app.deliveries) == 25 and all(d.verified for d in receiver.app.deliveries)
