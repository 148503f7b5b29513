"""Everything one dashboard/API app needs, held on the app (never module globals): the configuration, the
public read API (connected on first use, so an app mounted inside another app, whose lifespan Starlette never
runs, works too), the authenticator, the session codec, the login limiter and the redactor."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

import structlog

from ..api import QueueAPI
from ..config import QueueConfig
from .auth import Authenticator
from .limits import LoginLimiter
from .redact import Redactor
from .sessions import SessionCodec

log = structlog.get_logger("queue_system.web")

HOW_TO_ADD_A_USER = (
    "no dashboard user is configured: create one with `queue-system web user NAME --role admin` and put the "
    "printed line in QS_WEB_USERS (API tokens: `queue-system web token NAME`, into QS_WEB_TOKENS)"
)


@dataclass(frozen=True)
class NavLink:
    """A page in the dashboard's menu (a path relative to the dashboard's root)."""

    title: str
    path: str


DEFAULT_NAV = (
    NavLink("Queues", "/"),
    NavLink("Failed", "/failed"),
    NavLink("Batches", "/batches"),
    NavLink("Schedules", "/schedules"),
    NavLink("Workers", "/workers"),
    NavLink("API", "/docs"),
)


@dataclass
class WebContext:
    config: QueueConfig
    auth: Authenticator
    sessions: SessionCodec
    limiter: LoginLimiter
    redactor: Redactor
    nav: list[NavLink] = field(default_factory=lambda: list(DEFAULT_NAV))
    _api: QueueAPI | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def from_config(cls, config: QueueConfig, api: QueueAPI | None = None) -> WebContext:
        secret = config.web_secret_key
        if not secret:
            secret = secrets.token_urlsafe(32)
            log.warning("web.ephemeral_secret_key", hint="set QS_WEB_SECRET_KEY so sessions survive restarts")
        auth = Authenticator.from_strings(config.web_users, config.web_tokens)
        if not auth.configured:
            log.warning("web.no_users", hint=HOW_TO_ADD_A_USER)
        return cls(
            config=config,
            auth=auth,
            sessions=SessionCodec(secret, config.web_session_max_age_s),
            limiter=LoginLimiter(config.web_login_attempts, config.web_login_window_s),
            redactor=Redactor(config.web_redact_fields),
            _api=api,
        )

    async def api(self) -> QueueAPI:
        if self._api is None:
            async with self._lock:
                if self._api is None:
                    self._api = await QueueAPI.connect(self.config)
        return self._api

    def connected_api(self) -> QueueAPI:
        """The API once :meth:`api` has connected it, for callers that cannot await (health.py's provider)."""
        if self._api is None:
            raise RuntimeError("the dashboard's QueueAPI is not connected yet: await api() first")
        return self._api

    async def close(self) -> None:
        if self._api is not None:
            await self._api.close()
            self._api = None
