"""The dashboard in a real browser: headless Debian chromium driven by Playwright (launched by its path, never
downloaded), against uvicorn on loopback and a real worker process. Screenshots of every page go to the test's
output directory (pytest's tmp_path), not into the repository."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from queue_system import Batch, Client, QueueAPI
from queue_system.web import sse
from tests.app.jobs import echo
from tests.support.processes import Spawn
from tests.web.conftest import ADMIN, ADMIN_PASSWORD, VIEWER, VIEWER_PASSWORD
from tests.web.server import LiveServer

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if CHROMIUM is None:
        message = "the Debian chromium package is not installed (scripts/test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    yield await context.new_page()
    await context.close()


async def log_in(page: Page, server: LiveServer, user: str, password: str, out: Path | None = None) -> None:
    await page.goto(f"{server.url}/")
    await expect(page).to_have_url(f"{server.url}/login")
    if out is not None:
        await shot(page, out, "login")
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await expect(page.locator("header .user")).to_contain_text(user)


async def shot(page: Page, out: Path, name: str) -> None:
    await page.screenshot(path=str(out / f"{name}.png"), full_page=True)


def register(client: Client, app_settings: type) -> None:
    for spec in app_settings.qs_specs:
        client.register(spec.name, spec.info)


async def test_admin_watches_searches_retries_and_pauses(
    page: Page,
    live_dashboard: LiveServer,
    client: Client,
    app_settings: type,
    spawn: Spawn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sse, "SPARKLINE_EVERY", 2)  # sparklines redrawn every 2 s instead of 15
    register(client, app_settings)
    api = QueueAPI(client)
    for i in range(12):
        await client.enqueue_job("sleeper", 0.15, f"order-{i:02d}", _queue="alpha")
    broken = [await client.enqueue_job("needs_fix", "test:fixed", f"case-{i}", _queue="alpha") for i in range(3)]
    await log_in(page, live_dashboard, ADMIN, ADMIN_PASSWORD, tmp_path)
    completed = page.locator('[data-count="alpha:completed"]').first
    await expect(completed).to_have_text("0")
    await expect(page.locator("#live.on")).to_be_visible()  # the event stream is connected
    await shot(page, tmp_path, "overview-before")

    spawn("worker")  # the counters move without a reload
    await expect(completed).to_have_text("12", timeout=TIMEOUT_MS)
    await expect(page.locator('[data-count="alpha:failed"]').first).to_have_text("3")
    await expect(page.locator('[data-hour="alpha"]')).to_have_text("12 ✓ · 3 ✗")  # the sparkline follows
    await shot(page, tmp_path, "overview-after")

    await page.click("a[href$='/queues/alpha']")
    await page.click("a[href='?state=completed']")
    await page.fill("input[name=q]", "order-07")
    await page.click("form.search button")
    await expect(page.locator("table.jobs tbody tr")).to_have_count(1)
    await page.click("table.jobs tbody a")
    await expect(page.locator("pre.payload")).to_contain_text("order-07")
    await shot(page, tmp_path, "job-completed")

    await client.redis.set("test:fixed", 1)  # the cause is fixed: the failed jobs can succeed now
    await page.goto(f"{live_dashboard.url}/jobs/{broken[0].job_id}")
    await expect(page.locator("pre.traceback")).to_contain_text("not fixed yet")
    await shot(page, tmp_path, "job-failed")
    await page.click("form[action$='/retry'] button")
    await expect(page.locator(".flash")).to_contain_text("retried")
    await _reload_until(page, "#job-state", "completed")

    await page.goto(f"{live_dashboard.url}/queues/alpha?state=failed")
    await expect(page.locator("table.jobs tbody input[name=ids]")).to_have_count(2)
    await shot(page, tmp_path, "queue-failed")
    await page.check("#select-all")
    await page.click("button[name=action][value=retry]")
    await expect(page.locator(".flash")).to_contain_text("retry: 2 done")
    await _reload_until(page, '.tabs [data-count="alpha:completed"]', "15")

    await page.click("form[action$='/pause'] button")
    await expect(page.locator("h1 .badge.paused")).to_be_visible()
    assert await api.is_paused("alpha")
    await page.click("form[action$='/resume'] button")
    await expect(page.locator("h1 .badge.paused")).to_have_count(0)
    assert not await api.is_paused("alpha")

    await page.goto(f"{live_dashboard.url}/failed")
    await shot(page, tmp_path, "failed-store")
    await page.set_viewport_size({"width": 390, "height": 844})  # a phone
    for path in ("/", "/queues/alpha?state=completed", f"/jobs/{broken[0].job_id}"):
        await page.goto(f"{live_dashboard.url}{path}")
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways on a phone by {overflow}px"
    await shot(page, tmp_path, "phone-job")


async def _reload_until(page: Page, selector: str, text: str, tries: int = 50) -> None:
    for _ in range(tries):
        if (await page.locator(selector).first.inner_text()).strip() == text:
            return
        await page.wait_for_timeout(200)
        await page.reload()
    await expect(page.locator(selector).first).to_have_text(text)


async def test_viewer_actions_and_csrf_less_posts_are_refused(
    page: Page, live_dashboard: LiveServer, client: Client, app_settings: type, tmp_path: Path
) -> None:
    register(client, app_settings)
    await client.enqueue_job("echo", "hello", _queue="alpha")
    await log_in(page, live_dashboard, VIEWER, VIEWER_PASSWORD)
    await page.goto(f"{live_dashboard.url}/queues/alpha")
    pause = page.locator("form[action$='/pause'] button")
    await expect(pause).to_be_disabled()
    await pause.evaluate("button => button.removeAttribute('disabled')")  # a viewer who edits the page
    await pause.click()
    await expect(page.locator("body")).to_contain_text("only admins may change jobs and queues")
    await shot(page, tmp_path, "viewer-refused")
    assert not await QueueAPI(client).is_paused("alpha")

    await page.context.clear_cookies()
    await log_in(page, live_dashboard, ADMIN, ADMIN_PASSWORD)
    answer = await page.request.post(f"{live_dashboard.url}/queues/alpha/pause", form={"x": "1"})
    assert answer.status == 403 and "CSRF" in await answer.text()
    answer = await page.request.post(f"{live_dashboard.url}/api/v1/queues/alpha/pause")
    assert answer.status == 403
    assert not await QueueAPI(client).is_paused("alpha")


async def test_batches_schedules_and_workers_pages(
    page: Page, live_dashboard: LiveServer, client: Client, spawn: Spawn, tmp_path: Path
) -> None:
    held = await Batch.create("held back", [echo.call(i) for i in range(4)], client=client)
    page.on("dialog", lambda dialog: dialog.accept())  # the cancel button asks for confirmation
    await log_in(page, live_dashboard, ADMIN, ADMIN_PASSWORD)
    await page.click("header nav a[href$='/batches']")
    row = page.locator(f'tr[data-batch="{held.batch_id}"]')
    await expect(row.locator("progress")).to_have_attribute("value", "0.0")
    await shot(page, tmp_path, "batches")
    await row.locator("a").first.click()
    await expect(page.locator("#batch-status")).to_have_text("running")
    await page.click("form[action$='/cancel'] button")
    await expect(page.locator(".flash")).to_contain_text("4 queued job(s) removed")
    await expect(page.locator("#batch-status")).to_have_text("cancelled")
    await expect(page.locator("form[action$='/cancel'] button")).to_be_disabled()
    await shot(page, tmp_path, "batch-cancelled")
    assert (await QueueAPI(client).batch(held.batch_id)).status.value == "cancelled"

    await page.click("header nav a[href$='/schedules']")
    await page.select_option("select[name=kind]", "interval")
    await page.fill("input[name=name]", "poll-shop")
    await page.fill("input[name=function]", "echo")
    await page.fill("input[name=when]", "90")
    await page.click("form.add-schedule button")
    await expect(page.locator(".flash")).to_contain_text("poll-shop added")
    await expect(page.locator('tr[data-schedule="poll-shop"] .next-runs li')).to_have_count(3)
    await shot(page, tmp_path, "schedules")
    await page.click('tr[data-schedule="poll-shop"] button')
    await expect(page.locator(".flash")).to_contain_text("poll-shop removed")
    await expect(page.locator('tr[data-schedule="poll-shop"]')).to_have_count(0)

    await page.click("header nav a[href$='/workers']")
    await expect(page.locator("#worker-count")).to_have_text("0")
    worker = spawn("w1")  # the list refreshes in place: the new worker shows up without a reload
    await expect(page.locator('tr[data-worker] td[data-label="worker"]')).to_contain_text(str(worker.pid))
    await expect(page.locator("#live-workers.on")).to_be_visible()
    await shot(page, tmp_path, "workers")
    await page.set_viewport_size({"width": 390, "height": 844})  # a phone
    for path in ("/batches", f"/batches/{held.batch_id}", "/schedules", "/workers"):
        await page.goto(f"{live_dashboard.url}{path}")
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways on a phone by {overflow}px"
    await shot(page, tmp_path, "phone-workers")
    await page.goto("about:blank")  # stop the workers list polling before the server shuts down
