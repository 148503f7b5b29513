"""``queue-system dashboard | serve | web user | web token``: run the dashboard or the API app, create users
and API tokens. Registered as plugin commands (pyproject entry points), so the core CLI never imports the web
stack and stays fast for health checks."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from ..config import QueueConfig
from ..errors import ConfigError
from ..logging_setup import configure_logging
from .auth import Authenticator, Role, hash_password, new_token
from .context import HOW_TO_ADD_A_USER

if TYPE_CHECKING:
    from fastapi import FastAPI

ROLES = click.Choice([r.value for r in Role])


def _config() -> QueueConfig:
    try:
        config = QueueConfig.from_env()
        auth = Authenticator.from_strings(config.web_users, config.web_tokens)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if not auth.configured:
        click.echo(f"queue-system: {HOW_TO_ADD_A_USER}", err=True)
    return config


def _run(app: FastAPI, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback unless told).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
def dashboard(host: str, port: int) -> None:
    """Run the dashboard and the HTTP API alone (pages at /, API at /api/v1, OpenAPI at /openapi.json)."""
    from .app import create_dashboard

    _run(create_dashboard(_config()), host, port)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback unless told).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--with-worker",
    "worker_settings",
    metavar="SETTINGS",
    help="Also run a worker for SETTINGS (e.g. settings.WorkerSettings) in this process, for small setups.",
)
def serve(host: str, port: int, worker_settings: str | None) -> None:
    """Run the project's API app: the dashboard at /admin/queues, the installed packages' routes (entry points
    ``queue_system.web``) and, with --with-worker, a worker beside it."""
    from .app import create_app
    from .extensions import install
    from .serving import serve_app

    config = _config()
    configure_logging(fmt=config.effective_log_format, level=config.log_level)  # before the extensions log
    settings = _worker_settings(worker_settings) if worker_settings else None
    app = create_app(config)
    try:
        cleanups = install(app)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    serve_app(app, host, port, cleanups=cleanups, worker_settings=settings)


def _worker_settings(path: str) -> type:
    from ..worker_settings import load_settings

    try:
        return load_settings(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def web() -> None:
    """Dashboard users and API tokens."""


@web.command()
@click.argument("name")
@click.option("--role", type=ROLES, default="viewer", show_default=True)
@click.password_option(help="Asked for when not given (at least 8 characters).")
def user(name: str, role: str, password: str) -> None:
    """Print a QS_WEB_USERS entry for NAME with an argon2 hash of the password (separate entries with ';')."""
    if ":" in name or ";" in name:
        raise click.BadParameter("a user name may not contain ':' or ';'", param_hint="NAME")
    try:
        click.echo(f"{name}:{role}:{hash_password(password)}")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@web.command()
@click.argument("name")
@click.option("--role", type=ROLES, default="viewer", show_default=True)
def token(name: str, role: str) -> None:
    """Create an API token for NAME: prints the token (shown once) and the QS_WEB_TOKENS entry to configure."""
    if ":" in name or ";" in name:
        raise click.BadParameter("a token name may not contain ':' or ';'", param_hint="NAME")
    secret, digest = new_token()
    click.echo(f"token (send as 'Authorization: Bearer <token>'): {secret}", err=not sys.stdout.isatty())
    click.echo(f"{name}:{role}:{digest}")
