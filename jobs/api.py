"""The project's HTTP endpoints in ``queue-system serve`` (entry point ``queue_system.web``: ``jobs.api:install``).

The certificate system's endpoints (seed 000), the WhatsApp blasts' (seed 004) and the product batches' (seed
003), sharing one database engine and the dashboard's queue API. Reads need any dashboard user or API token, changes an
admin, exactly like the dashboard's own API (queue_system.web.security).
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request

from queue_system.web.extensions import Cleanup
from queue_system.web.security import admin, context, viewer

from .certificates.http import CertificateBackends, mount_certificates
from .config import AppSettings
from .db import Database
from .products.http import ProductBackends, mount_products
from .whatsapp.http import WhatsAppBackends, mount_whatsapp


def install(app: FastAPI, settings: AppSettings | None = None) -> Cleanup:
    """Mount the project's routers; the returned clean-up closes the database engine."""
    settings = settings or AppSettings.from_env()
    db = Database(settings.resolved_database_url, schema=settings.database_schema)

    async def backends(request: Request) -> CertificateBackends:
        return CertificateBackends(db, await context(request).api(), sender=settings.mail_from)

    async def whatsapp(request: Request) -> WhatsAppBackends:
        return WhatsAppBackends(db, await context(request).api())

    async def products(request: Request) -> ProductBackends:
        return ProductBackends(db, await context(request).api())

    read, write = [Depends(viewer)], [Depends(admin)]
    mount_certificates(app, backends, read=read, write=write)
    mount_whatsapp(app, whatsapp, read=read, write=write)
    mount_products(app, products, read=read, write=write)
    return db.dispose
