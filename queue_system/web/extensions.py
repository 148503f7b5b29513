"""The project's own routes in the API app (``queue-system serve``).

The framework never imports the application, so an installed package adds its routes through the entry-point
group ``queue_system.web`` (``name = "module:function"``, like the CLI's ``queue_system.commands``). Each
function receives the app, includes its routers (the routes may guard themselves with ``security.viewer`` /
``security.admin``: the app shares the dashboard's users, tokens and roles) and may return an async clean-up
that runs when the server stops (closing a database engine, say).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.metadata import entry_points

import structlog
from fastapi import FastAPI

from ..errors import ConfigError

ENTRY_POINT_GROUP = "queue_system.web"
Cleanup = Callable[[], Awaitable[None]]
Installer = Callable[[FastAPI], Cleanup | None]

log = structlog.get_logger("queue_system.web")


def installed() -> list[tuple[str, Installer]]:
    """The installers the installed packages declare, by name."""
    found = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            found.append((entry.name, entry.load()))
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"cannot load the web extension {entry.name} ({entry.value}): {exc}") from exc
    return found


def install(app: FastAPI, installers: list[tuple[str, Installer]] | None = None) -> list[Cleanup]:
    """Run every installer on ``app`` (one built by ``create_app``); returns their clean-ups."""
    app.state.qs_web = app.state.qs_dashboard.state.qs_web  # security.viewer/admin for the project's routes
    cleanups = []
    for name, installer in installed() if installers is None else installers:
        cleanup = installer(app)
        log.info("web.extension_installed", extension=name)
        if cleanup is not None:
            cleanups.append(cleanup)
    return cleanups
