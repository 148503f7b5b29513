"""The project's HTTP endpoints in ``queue-system serve`` (entry point ``queue_system.web``: ``jobs.api:install``).

Today: the certificate system's endpoints (seed 000). Reads need any dashboard user or API token, changes an
admin, exactly like the dashboard's own API (queue_system.web.security).
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request

from queue_system.web.extensions import Cleanup
from queue_system.web.security import admin, context, viewer

from .certificates.http import CertificateBackends, mount_certificates
from .config import AppSettings
from .db import Database


def install(app: FastAPI, settings: AppSettings | None = None) -> Cleanup:
    """Mount the project's routers; the returned clean-up closes the database engine."""
    settings = settings or AppSettings.from_env()
    db = Database(settings.resolved_database_url, schema=settings.database_schema)

    async def backends(request: Request) -> CertificateBackends:
        return CertificateBackends(db, await context(request).api())

    mount_certificates(app, backends, read=[Depends(viewer)], write=[Depends(admin)])
    return db.dispose
