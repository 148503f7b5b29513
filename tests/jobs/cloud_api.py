"""A WhatsApp Cloud API stand-in on loopback: the Graph API's message and template endpoints, misbehaving on cue.

    POST /{version}/{phone-number-id}/messages        a template message → {"messages": [{"id": "wamid.…"}]}
    GET  /{version}/{waba-id}/message_templates       ``templates``, ``limit`` per page with an ``after`` cursor

Per recipient number (digits, as the API receives them), for the first N messages to it:
``throttle`` answers 429 + Retry-After, ``throttle_code`` answers 400 with Graph code 130429, ``server_error``
answers 500; ``refuse`` always answers 400 with the given (code, message). A wrong bearer token gets 401 with
code 190, as the real API answers an expired token. Every request is recorded (``requests``, ``messages``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .scraping_http import LoopbackServer, Request, Response

VERSION = "v21.0"
TOKEN = "test-token"
PHONE_NUMBER_ID = "1000200030004"
WABA_ID = "5000600070008"


@dataclass
class SentMessage:
    to: str
    template: str
    language: str
    variables: list[str]
    callback_data: str | None
    message_id: str
    at: float = field(default_factory=time.monotonic)  # when the stand-in accepted it


@dataclass
class CloudApi:
    token: str = TOKEN
    retry_after: str = "1"
    delay_s: float = 0.0  # every message answer waits this long
    # Cleared: message requests are held (counted in ``held``) until it is set again; what is held is then
    # accepted, even if the client gave up meanwhile, as a real API may have taken a message whose answer was lost.
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0
    throttle: Counter[str] = field(default_factory=Counter)
    throttle_code: Counter[str] = field(default_factory=Counter)
    server_error: Counter[str] = field(default_factory=Counter)
    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)
    templates: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)  # accepted ones only
    record_requests: bool = True
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.gate.set()

    def accepted(self) -> Counter[str]:
        """Accepted messages per recipient (E.164 with +)."""
        return Counter(f"+{m.to}" for m in self.messages)

    async def __call__(self, request: Request) -> Response:
        if self.record_requests:
            self.requests.append(request)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, 190, "Error validating access token: Session has expired")
        if request.method == "POST" and request.path == f"/{VERSION}/{PHONE_NUMBER_ID}/messages":
            return await self._message(json.loads(request.body))
        if request.method == "GET" and request.path == f"/{VERSION}/{WABA_ID}/message_templates":
            return self._templates(request.query)
        return _error(400, 100, f"Unsupported request: {request.method} {request.path}")

    async def _message(self, body: dict[str, Any]) -> Response:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if not self.gate.is_set():
            self.held += 1
            await self.gate.wait()
        to = str(body.get("to", ""))
        if body.get("messaging_product") != "whatsapp" or body.get("type") != "template":
            return _error(400, 100, "Invalid parameter")
        if self.throttle[to] > 0:
            self.throttle[to] -= 1
            return _error(429, 130429, "Rate limit hit", headers={"Retry-After": self.retry_after})
        if self.throttle_code[to] > 0:
            self.throttle_code[to] -= 1
            return _error(400, 130429, "Rate limit hit")
        if self.server_error[to] > 0:
            self.server_error[to] -= 1
            return _error(500, 131000, "Something went wrong")
        if to in self.refuse:
            code, message = self.refuse[to]
            return _error(400, code, message)
        template = body["template"]
        components = template.get("components") or [{"parameters": []}]
        message = SentMessage(
            to=to,
            template=template["name"],
            language=template["language"]["code"],
            variables=[p["text"] for p in components[0]["parameters"]],
            callback_data=body.get("biz_opaque_callback_data"),
            message_id=f"wamid.TEST{next(self._ids):08d}",
        )
        self.messages.append(message)
        answer = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": message.message_id, "message_status": "accepted"}],
        }
        return _json(200, answer)

    def _templates(self, query: dict[str, str]) -> Response:
        rows = [t for t in self.templates if not query.get("name") or t["name"] == query["name"]]
        limit = int(query.get("limit", "25"))
        start = int(query.get("after") or 0)
        page = rows[start : start + limit]
        paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
        if start + limit < len(rows):
            paging["next"] = f"http://127.0.0.1/{VERSION}/{WABA_ID}/message_templates?after={start + limit}"
        return _json(200, {"data": page, "paging": paging})


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload).encode(), "application/json", headers or {})


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    error = {"message": f"(#{code}) {message}", "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}
    return _json(status, {"error": error}, headers)


async def start_cloud_api(api: CloudApi) -> LoopbackServer:
    return await LoopbackServer(api).start()
