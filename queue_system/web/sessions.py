"""Signed cookie sessions: the cookie holds who is logged in, their role and the session's CSRF token, signed
(itsdangerous, HMAC-SHA1 over a key from QS_WEB_SECRET_KEY) and timestamped, so nothing is stored server-side and
a tampered or expired cookie reads as no session at all."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "qs_session"


@dataclass(frozen=True)
class Session:
    csrf: str
    user: str = ""
    role: str = ""

    @classmethod
    def anonymous(cls) -> Session:
        return cls(csrf=secrets.token_urlsafe(24))


class SessionCodec:
    def __init__(self, secret_key: str, max_age_s: int) -> None:
        self.serializer = URLSafeTimedSerializer(secret_key, salt="queue-system.session")
        self.max_age_s = max_age_s

    def dumps(self, session: Session) -> str:
        return self.serializer.dumps({"c": session.csrf, "u": session.user, "r": session.role})

    def loads(self, raw: str | None) -> Session | None:
        if not raw:
            return None
        try:
            data: Any = self.serializer.loads(raw, max_age=self.max_age_s)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        return Session(csrf=data["c"], user=str(data.get("u") or ""), role=str(data.get("r") or ""))
