"""Rendering a dashboard page: the package's Jinja2 templates (autoescaped) with the caller, their CSRF token and
the links every page needs."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from .auth import Principal
from .security import context, principal_of, session_of


def _when(ms: int | None) -> str:
    if not ms:
        return "—"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    """A short human duration ("3d 4h", "12m 5s") for ages and uptimes."""
    whole = int(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0s"


@cache
def templates() -> Jinja2Templates:
    folder = resources.files(__package__).joinpath("templates")
    env_templates = Jinja2Templates(directory=str(folder))
    env_templates.env.filters["when"] = _when
    env_templates.env.filters["duration"] = _duration
    return env_templates


def render(request: Request, name: str, principal: Principal | None, **values: Any) -> HTMLResponse:
    session = session_of(request)
    root = str(request.url_for("overview")).rstrip("/")
    values_all = {
        "principal": principal,
        "csrf": session.csrf if session else "",
        "root": root,
        "flash": request.query_params.get("flash", ""),
        "nav": context(request).nav,
        **values,
    }
    return templates().TemplateResponse(request, name, values_all)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    response = render(request, "error.html", principal_of(request), status=status, message=message)
    response.status_code = status
    return response
