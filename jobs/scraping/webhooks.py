"""``send-webhook``: POST a JSON payload, signed, so the receiver can trust who sent it and when.

Headers (the scheme Stripe and GitHub made familiar)::

    X-Webhook-Timestamp: 1795000000                    unix seconds when this try was signed
    X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
    X-Webhook-Id: <job id>                             the same on every retry: the receiver's dedup key

Signing the timestamp with the body lets a receiver refuse replays older than a tolerance (``verify_signature``
does, with 5 minutes by default). Each try is signed anew, so a retry an hour later still verifies.

Outcomes: 2xx delivered; 429 → the endpoint paused for Retry-After (every process) and ``RateLimited``, which
the job turns into a postponement that uses no try; 5xx, timeouts and connection errors → retried by the job's
backoff; any other answer (4xx, 3xx) is final: ``DeliveryRejected``. Each endpoint is rate limited
(``WEBHOOK_RATE_PER_S``) across every worker process when the limiter is shared (politeness.py), so a burst of
events does not flood one receiver; requests in flight at once are capped per process.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from .errors import ConnectionFailed, DeliveryRejected, FetchTimeout, RateLimited, ServerError
from .http import retry_after_s
from .politeness import KeyedLimiter

SIGNATURE_HEADER = "X-Webhook-Signature"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
ID_HEADER = "X-Webhook-Id"
DEFAULT_TOLERANCE_S = 300


@dataclass(frozen=True)
class WebhookResult:
    status: int
    elapsed_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "elapsed_ms": round(self.elapsed_ms, 1)}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """What a receiver checks: a well-formed, recent timestamp and a matching signature (compared in constant time)."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def endpoint_key(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


async def deliver(
    client: httpx.AsyncClient,
    limiter: KeyedLimiter,
    url: str,
    payload: Any,
    *,
    secret: str,
    delivery_id: str,
    method: str = "POST",
) -> WebhookResult:
    body = orjson.dumps(payload)
    key = endpoint_key(url)
    async with limiter.slot(key):
        timestamp = int(time.time())  # signed when it is really sent, after any wait for the rate limit
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            ID_HEADER: delivery_id,
            "User-Agent": "queue-system-webhooks/1",
        }
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
        started = time.perf_counter()
        try:
            response = await client.request(method, url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise FetchTimeout(f"{url}: no answer in time") from exc
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"{url}: {type(exc).__name__}: {exc}") from exc
    elapsed_ms = (time.perf_counter() - started) * 1000
    status = response.status_code
    if 200 <= status < 300:
        return WebhookResult(status, elapsed_ms)
    if status == 429:
        retry_after = retry_after_s(response.headers.get("Retry-After"))
        await limiter.pause(key, retry_after)
        raise RateLimited(url, retry_after)
    if status >= 500:
        raise ServerError(url, status)
    raise DeliveryRejected(f"{url} refused the webhook with {status}: {response.text[:300]}")
