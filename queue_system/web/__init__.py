"""The dashboard and HTTP API: ``create_app`` (the project's API app), ``create_dashboard`` (the dashboard alone),
``mount_dashboard`` (into any FastAPI/Starlette app at ``/admin/queues``)."""

from .app import MOUNT_PATH, create_app, create_dashboard, mount_dashboard

__all__ = ["MOUNT_PATH", "create_app", "create_dashboard", "mount_dashboard"]
