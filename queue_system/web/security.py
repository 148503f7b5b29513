"""Server-side checks on every request: who is calling (a session cookie or an API bearer token), whether their
role allows the action, and CSRF for state changes made with a cookie.

A cookie-authenticated state change must carry the session's CSRF token (the form field ``csrf`` or the header
``X-CSRF-Token``); a bearer-token request needs none, because a browser never adds that header on its own.
"""

from __future__ import annotations

import hmac

import structlog
from fastapi import HTTPException, Request

from .auth import Principal, Role
from .context import WebContext
from .sessions import COOKIE, Session

log = structlog.get_logger("queue_system.web")
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.qs_web
    return ctx


def session_of(request: Request) -> Session | None:
    return context(request).sessions.loads(request.cookies.get(COOKIE))


def principal_of(request: Request) -> Principal | None:
    """The caller, or None when not authenticated."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return context(request).auth.bearer(token.strip())
    session = session_of(request)
    if session is None or not session.user:
        return None
    if session.user not in context(request).auth.users:  # a user removed from the configuration is out
        return None
    return Principal(session.user, Role(session.role), "session")


async def viewer(request: Request) -> Principal:
    """Dependency: any authenticated caller (401 otherwise)."""
    principal = principal_of(request)
    if principal is None:
        raise HTTPException(401, "log in or send an API bearer token", headers={"WWW-Authenticate": "Bearer"})
    return principal


async def admin(request: Request) -> Principal:
    """Dependency for state changes: an admin, and with a cookie session a matching CSRF token (403 otherwise)."""
    principal = await viewer(request)
    if not principal.is_admin:
        log.warning("web.refused", user=principal.name, path=request.url.path, reason="viewer")
        raise HTTPException(403, f"{principal.name} is a viewer: only admins may change jobs and queues")
    if principal.via == "session":
        await check_csrf(request)
    log.info("web.action", user=principal.name, via=principal.via, method=request.method, path=request.url.path)
    return principal


async def check_csrf(request: Request) -> None:
    session = session_of(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        sent = str((await request.form()).get(CSRF_FIELD) or "")
    if session is None or not sent or not hmac.compare_digest(sent, session.csrf):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
