"""The scraper's HTTP client: one per worker process, shared by every scraping job through the runtime.

A fetch goes: robots.txt check (unless the job opted out) → the host's politeness gate → GET with the next
user agent in rotation, directly or through the next proxy → the answer classified:

    2xx, 404/410, other 4xx      returned as a ``Page``: the caller decides (parse, record "not found", refuse)
    429                           the host is paused for Retry-After (every process), then ``RateLimited``
    5xx                           ``ServerError`` (transient)
    timeout / connection error    ``FetchTimeout`` / ``ConnectionFailed`` (transient)

The host's gate (politeness.py) keeps the host's rate and pauses across every worker process through the
framework's ``SharedRateLimiter`` when the runtime gives one; a long pause raises ``Throttled`` (a ``RateLimited``).

Connections are kept alive and reused across jobs (one pool per proxy, one direct): opening a TCP (and TLS)
connection per page would cost more than the page.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpx
import orjson

from queue_system import SharedRateLimiter
from queue_system.logging_setup import get_logger

from .errors import BlockedByRobots, ConnectionFailed, FetchTimeout, NotConfigured, RateLimited, ServerError
from .politeness import KeyedLimiter
from .robots import RobotsCache
from .settings import ScraperSettings

log = get_logger(__name__)
DEFAULT_RETRY_AFTER_S = 30.0
MAX_RETRY_AFTER_S = 3600.0
NOT_FOUND = frozenset({404, 410})


@dataclass(frozen=True)
class Page:
    url: str
    status: int
    content_type: str
    body: bytes = field(repr=False)

    @property
    def not_found(self) -> bool:
        return self.status in NOT_FOUND

    @property
    def is_json(self) -> bool:
        return self.content_type.endswith("json")

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass(frozen=True)
class FetchOptions:
    """What a job may choose per request (the seed's ``options: {useProxy: true}``)."""

    respect_robots: bool = True
    use_proxy: bool = False
    timeout_s: float | None = None


class Fetcher:
    def __init__(
        self,
        settings: ScraperSettings,
        *,
        tls: ssl.SSLContext | None = None,
        shared: SharedRateLimiter | None = None,
    ) -> None:
        self.settings = settings
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
        common: dict[str, Any] = {
            "verify": tls or tls_context(),
            "timeout": httpx.Timeout(settings.timeout_s),
            "limits": limits,
            "follow_redirects": True,
            "headers": {"Accept-Language": "id-ID,id;q=0.9,en;q=0.8"},
        }
        self._direct = httpx.AsyncClient(**common)
        self._proxied = [httpx.AsyncClient(proxy=url, **common) for url in settings.proxy_urls]
        self._proxy_turn = itertools.cycle(range(len(self._proxied))) if self._proxied else None
        self._agents = itertools.cycle(settings.user_agents)
        self.limiter = KeyedLimiter(settings.limit_for, shared=shared, namespace="scrape:host")
        self.robots = RobotsCache(user_agent=settings.robots_user_agent, ttl_s=settings.robots_ttl_s)

    async def close(self) -> None:
        for client in (self._direct, *self._proxied):
            await client.aclose()

    async def get(self, url: str, options: FetchOptions = FetchOptions(), **params: str | int) -> Page:
        host = urlsplit(url).hostname or ""
        client = self._client(options.use_proxy)
        if options.respect_robots:
            rules = await self.robots.rules_for(url, lambda robots_url: self._fetch_robots(client, robots_url))
            if not rules.allows(url):
                raise BlockedByRobots(f"robots.txt of {host} disallows {url} for {rules.user_agent}")
            if rules.crawl_delay_s:
                self.limiter.slow_to(host, rules.crawl_delay_s)
        timeout_s = options.timeout_s or self.settings.timeout_s
        async with self.limiter.slot(host):
            response = await self._send(client, url, params, timeout_s)
        if response.status_code == 429:
            retry_after = retry_after_s(response.headers.get("Retry-After"))
            await self.limiter.pause(host, retry_after)
            log.warning("scrape.rate_limited", host=host, retry_after_s=retry_after)
            raise RateLimited(url, retry_after)
        if response.status_code >= 500:
            raise ServerError(url, response.status_code)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        return Page(str(response.url), response.status_code, content_type, response.content)

    def _client(self, use_proxy: bool) -> httpx.AsyncClient:
        if not use_proxy:
            return self._direct
        if self._proxy_turn is None:
            raise NotConfigured("the job asked for a proxy (use_proxy=True) but SCRAPER_PROXY_URLS is empty")
        return self._proxied[next(self._proxy_turn)]

    async def _send(
        self, client: httpx.AsyncClient, url: str, params: dict[str, str | int], timeout_s: float
    ) -> httpx.Response:
        headers = {"User-Agent": next(self._agents)}
        try:
            # httpx's timeout bounds each phase; the outer one bounds a server that trickles bytes forever.
            async with asyncio.timeout(timeout_s * 2):
                return await client.get(url, params=params or None, headers=headers, timeout=timeout_s)
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise FetchTimeout(f"{url}: no answer within {timeout_s:g}s") from exc
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"{url}: {type(exc).__name__}: {exc}") from exc

    async def _fetch_robots(self, client: httpx.AsyncClient, url: str) -> tuple[int, str]:
        host = urlsplit(url).hostname or ""
        async with self.limiter.slot(host):
            response = await self._send(client, url, {}, self.settings.timeout_s)
        return response.status_code, response.text


def tls_context() -> ssl.SSLContext:
    """One verifying TLS context (certifi's CAs, as httpx uses) for every client of a process: building one reads
    the CA bundle, which costs about 80 ms, once per client otherwise."""
    return ssl.create_default_context(cafile=certifi.where())


def retry_after_s(value: str | None, *, now: float | None = None) -> float:
    """Retry-After as seconds: delta-seconds or an HTTP date; a missing or odd value gives the default."""
    if not value:
        return DEFAULT_RETRY_AFTER_S
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER_S
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)
