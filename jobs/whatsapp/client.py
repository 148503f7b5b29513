"""The WhatsApp Cloud API client (Graph API over httpx): template messages and the WABA's template list.

    POST /{version}/{phone-number-id}/messages          one template message → its message id (wamid)
    GET  /{version}/{waba-id}/message_templates         the templates and their review status (paged)

Every answer is classified into the typed errors of ``errors.py``. The Graph API reports throttling both as
HTTP 429 and as HTTP 400 with codes 130429 (throughput) or 80007 (WABA rate limit), so the code decides, not
only the status. One client (and one connection pool) per worker process.

The messages endpoint has no idempotency key: sending the same request twice sends two messages. What stops a
duplicate is the delivery ledger (``sender.py``); ``biz_opaque_callback_data`` carries the delivery's key so
that status webhooks, and a person reconciling an "unknown" delivery, can tell which message was which.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import certifi
import httpx

from ..config import AppSettings
from .errors import (
    THROTTLE_CODES,
    CloudApiError,
    CloudNoAnswer,
    CloudRequestError,
    CloudServerError,
    CloudUnreachable,
    Throttled,
    WhatsAppNotConfigured,
)

DEFAULT_RETRY_AFTER_S = 1.0
MAX_RETRY_AFTER_S = 3600.0
TEMPLATE_FIELDS = "id,name,language,status,category,rejected_reason,components"
_MESSAGE_LIMIT = 1000


@dataclass(frozen=True)
class CloudApiSettings:
    base_url: str
    token: str
    phone_number_id: str
    waba_id: str
    version: str = "v21.0"
    timeout_s: float = 15.0

    @classmethod
    def from_app(cls, settings: AppSettings) -> CloudApiSettings:
        return cls(
            base_url=settings.whatsapp_api_url.rstrip("/"),
            token=settings.whatsapp_token,
            phone_number_id=settings.whatsapp_phone_number_id,
            waba_id=settings.whatsapp_waba_id,
            version=settings.whatsapp_api_version,
        )

    def require(self, *fields: str) -> None:
        missing = [f"WHATSAPP_{name.upper()}" for name in ("token", *fields) if not getattr(self, name)]
        if missing:
            raise WhatsAppNotConfigured(f"the WhatsApp Cloud API needs {', '.join(missing)}")


@dataclass(frozen=True)
class RemoteTemplate:
    """A template as the API reports it (``status``: APPROVED, PENDING, REJECTED, PAUSED, DISABLED, …)."""

    id: str
    name: str
    language: str
    status: str
    category: str
    rejected_reason: str | None
    body: str | None = None  # the BODY component's text, with its {{1}}, {{2}} … placeholders


class CloudApiClient:
    """``lanes`` single-connection httpx transports, each used by one request at a time.

    One shared pool of N connections would do the same work, but httpcore re-scans every connection and queued
    request whenever one starts or ends, and retries requests it assigned to a connection that another took:
    profiled with 32 requests in flight, that was a third of the blast's CPU time. A lane is taken from a queue,
    used, and given back, so each transport only ever sees its own one connection.

    Requests go to the transport, not through ``httpx.AsyncClient``: the client's per-request work (merging the
    base URL, headers and cookies, the auth and redirect loops, event hooks) cost a third of a message's CPU in
    the 10 000-recipient benchmark and none of it applies to a bearer-token POST. What it would add that this
    does not: redirects (the Graph API answers with none) and proxies read from ``HTTPS_PROXY``.
    """

    def __init__(self, settings: CloudApiSettings, *, lanes: int = 32) -> None:
        self.settings = settings
        self._base_url = f"{settings.base_url}/{settings.version}"
        self._messages_url = httpx.URL(f"{self._base_url}/{settings.phone_number_id}/messages")
        self._headers = {"Authorization": f"Bearer {settings.token}"}
        self._timeout = {"timeout": httpx.Timeout(settings.timeout_s).as_dict()}
        # One TLS context for every lane: building one reads the CA bundle (about 80 ms each).
        tls = ssl.create_default_context(cafile=certifi.where())
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self._transports = [httpx.AsyncHTTPTransport(verify=tls, limits=limits) for _ in range(lanes)]
        self._lanes: asyncio.LifoQueue[httpx.AsyncHTTPTransport] = asyncio.LifoQueue()
        for transport in self._transports:
            self._lanes.put_nowait(transport)

    async def close(self) -> None:
        for transport in self._transports:
            await transport.aclose()

    async def send_template(
        self, to: str, template: str, language: str, variables: Sequence[str] = (), *, callback_data: str = ""
    ) -> str:
        """Send one template message to ``to`` (E.164); returns the API's message id (wamid)."""
        self.settings.require("phone_number_id")
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to.lstrip("+"),
            "type": "template",
            "template": {"name": template, "language": {"code": language}},
        }
        if variables:
            parameters = [{"type": "text", "text": str(value)} for value in variables]
            body["template"]["components"] = [{"type": "body", "parameters": parameters}]
        if callback_data:
            body["biz_opaque_callback_data"] = callback_data
        answer = await self._request("POST", self._messages_url, json=body)
        try:
            return str(answer["messages"][0]["id"])
        except (KeyError, IndexError, TypeError) as exc:
            raise CloudServerError(f"the API accepted the message but sent no message id: {answer!r:.200}") from exc

    async def list_templates(self, *, name: str | None = None, page_size: int = 100) -> list[RemoteTemplate]:
        """Every template of the WABA (following the cursor pages), optionally only those called ``name``."""
        self.settings.require("waba_id")
        params: dict[str, str | int] = {"fields": TEMPLATE_FIELDS, "limit": page_size}
        if name:
            params["name"] = name
        templates: list[RemoteTemplate] = []
        while True:
            url = httpx.URL(f"{self._base_url}/{self.settings.waba_id}/message_templates")
            answer = await self._request("GET", url, params=params)
            templates += [_remote_template(item) for item in answer.get("data", [])]
            paging = answer.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return templates
            params["after"] = after

    async def _request(self, method: str, url: httpx.URL, **kwargs: Any) -> dict[str, Any]:
        request = httpx.Request(method, url, headers=self._headers, extensions=self._timeout, **kwargs)
        transport = await self._lanes.get()
        try:
            response = await transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise CloudUnreachable(f"cannot reach the Cloud API: {type(exc).__name__}: {exc}") from exc
        except httpx.TransportError as exc:  # the request may have been received: read timeout, dropped connection
            raise CloudNoAnswer(f"no answer from the Cloud API: {type(exc).__name__}: {exc}") from exc
        finally:
            self._lanes.put_nowait(transport)
        response.request = request
        if response.is_success:
            try:
                payload = response.json()
            except ValueError as exc:
                raise CloudServerError(f"the API answered {response.status_code} with no JSON") from exc
            return payload if isinstance(payload, dict) else {}
        raise classify(response)


def classify(response: httpx.Response) -> CloudApiError:
    """The typed error for a non-2xx answer, with the Graph error's code and message when it has one."""
    status = response.status_code
    code, message = _graph_error(response)
    text = f"{message} (HTTP {status}" + (f", code {code})" if code is not None else ")")
    if status == 429 or code in THROTTLE_CODES:
        return Throttled(text, retry_after_s(response.headers.get("Retry-After")), status=status, code=code)
    if status >= 500:
        return CloudServerError(text, status=status, code=code)
    return CloudRequestError(text, status=status, code=code)


def retry_after_s(value: str | None, *, now: float | None = None) -> float:
    """Retry-After as seconds (delta-seconds or an HTTP date); missing or unreadable gives the default."""
    if not value or not value.strip():
        return DEFAULT_RETRY_AFTER_S
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER_S
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _graph_error(response: httpx.Response) -> tuple[int | None, str]:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return None, _clip(response.text or response.reason_phrase)
    code = error.get("code")
    details = (error.get("error_data") or {}).get("details")
    message = str(error.get("message") or response.reason_phrase)
    if details and details not in message:
        message = f"{message}: {details}"
    return (int(code) if isinstance(code, int | str) and str(code).isdigit() else None), _clip(message)


def _remote_template(item: dict[str, Any]) -> RemoteTemplate:
    reason = item.get("rejected_reason")
    return RemoteTemplate(
        id=str(item.get("id", "")),
        name=str(item["name"]),
        language=str(item.get("language", "")),
        status=str(item.get("status", "")).upper(),
        category=str(item.get("category", "")),
        rejected_reason=None if reason in (None, "", "NONE") else str(reason),
        body=_body_text(item.get("components")),
    )


def _body_text(components: Any) -> str | None:
    """The text of the template's BODY component (HEADER, FOOTER and BUTTONS are not what a blast fills)."""
    for component in components if isinstance(components, list) else []:
        if isinstance(component, dict) and str(component.get("type", "")).upper() == "BODY":
            text = component.get("text")
            return str(text) if text is not None else None
    return None


def _clip(text: str) -> str:
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"
