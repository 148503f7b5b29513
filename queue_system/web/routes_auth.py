"""Logging in and out. The login form itself carries a CSRF token (of an anonymous session cookie set with the
form), failed attempts are rate-limited per user and client address, and a successful login starts a new
session (a new CSRF token), so a token planted before login is worthless after it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..throttle import Grant
from .context import HOW_TO_ADD_A_USER, log
from .pages import render
from .security import check_csrf, context, session_of
from .sessions import COOKIE, Session

router = APIRouter(include_in_schema=False)


def _set_cookie(request: Request, response: Response, session: Session) -> None:
    ctx = context(request)
    response.set_cookie(
        COOKIE,
        ctx.sessions.dumps(session),
        max_age=ctx.config.web_session_max_age_s,
        httponly=True,
        samesite="lax",
        secure=ctx.config.web_secure_cookies,
        path=request.scope.get("root_path") or "/",
    )


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, error: str = "") -> Response:
    session = session_of(request) or Session.anonymous()
    hint = "" if context(request).auth.users else HOW_TO_ADD_A_USER
    response = render(request, "login.html", None, error=error, hint=hint, login_csrf=session.csrf)
    _set_cookie(request, response, session)
    return response


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
) -> Response:
    await check_csrf(request)
    ctx = context(request)
    address = request.client.host if request.client else "?"
    api = await ctx.api()
    grant = await ctx.limiter.attempt(api, username, address)  # counted in Redis: every API process shares it
    if not isinstance(grant, Grant):
        raise HTTPException(429, f"too many failed logins: try again in {int(grant) + 1} s")
    principal = ctx.auth.login(username, password)
    if principal is None:
        log.warning("web.login_failed", user=username, address=address)
        target = str(request.url_for("login_form")) + "?error=wrong+user+name+or+password"
        return RedirectResponse(target, status_code=303)
    await ctx.limiter.succeeded(api, grant, username, address)
    log.info("web.login", user=principal.name, role=principal.role.value, address=address)
    response = RedirectResponse(str(request.url_for("overview")), status_code=303)
    fresh = Session.anonymous()
    _set_cookie(request, response, Session(fresh.csrf, principal.name, principal.role.value))
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await check_csrf(request)
    response = RedirectResponse(str(request.url_for("login_form")), status_code=303)
    _set_cookie(request, response, Session.anonymous())
    return response
