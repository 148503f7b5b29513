"""robots.txt, fetched once per origin and cached, read by the standard library's parser.

What an answer means follows RFC 9309: 2xx is parsed; 4xx (no robots.txt) allows everything; 5xx or no answer
means "assume everything is disallowed for now", which here is a transient error, so the job retries later
instead of recording the URL as blocked for good. Concurrent jobs on a cold cache share one fetch per origin.

Rules are matched against ``robots_user_agent`` (a crawler token), not the rotating browser strings, because
site owners write rules for crawler names. The standard library applies the first matching rule rather than
RFC 9309's longest match; fixture and real-world files rarely tell the two apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from .errors import ServerError


@dataclass(frozen=True)
class RobotsRules:
    parser: RobotFileParser
    user_agent: str
    fetched_at: float

    def allows(self, url: str) -> bool:
        return self.parser.can_fetch(self.user_agent, url)

    @property
    def crawl_delay_s(self) -> float:
        delay = self.parser.crawl_delay(self.user_agent)
        return float(delay) if delay else 0.0


# (status, body) of GET <origin>/robots.txt; raises TransientFetchError when there is no answer
FetchRobots = Callable[[str], Awaitable[tuple[int, str]]]


class RobotsCache:
    def __init__(self, *, user_agent: str, ttl_s: float) -> None:
        self._user_agent = user_agent
        self._ttl_s = ttl_s
        self._rules: dict[str, RobotsRules] = {}
        self._loading: dict[str, asyncio.Future[RobotsRules]] = {}

    async def rules_for(self, url: str, fetch: FetchRobots) -> RobotsRules:
        """The rules of ``url``'s origin; ``fetch`` reads robots.txt on a miss (the way the page will be read)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._rules.get(origin)
        if cached is not None and time.monotonic() - cached.fetched_at < self._ttl_s:
            return cached
        pending = self._loading.get(origin)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[RobotsRules] = asyncio.get_running_loop().create_future()
        self._loading[origin] = future
        try:
            rules = await self._load(origin, fetch)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark it retrieved: waiters (if any) re-raise it themselves
            raise
        finally:
            self._loading.pop(origin, None)
        future.set_result(rules)
        self._rules[origin] = rules
        return rules

    async def _load(self, origin: str, fetch: FetchRobots) -> RobotsRules:
        status, body = await fetch(f"{origin}/robots.txt")
        parser = RobotFileParser()
        if 200 <= status < 300:
            parser.parse(body.splitlines())
        elif 400 <= status < 500:
            parser.parse([])  # no rules: everything allowed
        else:
            raise ServerError(f"{origin}/robots.txt", status)
        return RobotsRules(parser, self._user_agent, time.monotonic())
