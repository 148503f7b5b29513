"""What the product-item jobs share within one worker process: the database engine (opened once, in the context).

``products_hooks()`` gives the worker's ``on_startup`` / ``on_shutdown``; without them the first job opens it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from queue_system import JobContext

from ..config import AppSettings
from ..db import Database
from ..worker_resources import Hook, lifecycle_hooks, resources_in

CTX_KEY = "products"


@dataclass
class ProductsRuntime:
    db: Database

    async def close(self) -> None:
        await self.db.dispose()


async def open_runtime(settings: AppSettings) -> ProductsRuntime:
    return ProductsRuntime(Database(settings.resolved_database_url, schema=settings.database_schema))


def products_hooks(settings: Callable[[], AppSettings] = AppSettings.from_env) -> tuple[Hook, Hook]:
    return lifecycle_hooks(CTX_KEY, lambda: open_runtime(settings()))


async def runtime_from(ctx: JobContext) -> ProductsRuntime:
    return await resources_in(ctx, CTX_KEY, lambda: open_runtime(AppSettings.from_env()))
