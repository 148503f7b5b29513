"""The development mail server: accepts every message over SMTP and stores it as an ``.eml`` file.

    python -m jobs.mail_sink                       # 127.0.0.1:1025, files in .qs/data/mail-sink (MAIL_SINK_DIR)
    python -m jobs.mail_sink --port 2525 --dir /tmp/mail

It is what the default ``SMTP_URL`` (``smtp://127.0.0.1:1025``) points at, so the email jobs run end to end on
a fresh clone without sending anything anywhere; open a stored file with any mail client to see the message.
The tests start the same server in-process on a free port (``start_sink``); the certificate demo runs this
module in a process of its own with ``--port 0`` and reads the URL it prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from aiosmtpd.smtp import SMTP, Envelope, Session

from .config import AppSettings
from .files import atomic_write

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 1025
ACCEPTED = "250 2.0.0 Message accepted for delivery"


class EmlDirectorySink:
    """An aiosmtpd handler that writes every message it accepts to ``directory`` as one ``.eml`` file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.accepted = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        data = content if isinstance(content, bytes) else (content or "").encode()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        await asyncio.to_thread(atomic_write, self.directory / f"{stamp}-{uuid.uuid4().hex[:12]}.eml", data)
        self.accepted += 1
        return ACCEPTED


async def start_sink(handler: Any, *, host: str = DEFAULT_HOST, port: int = 0, **smtp_options: Any) -> asyncio.Server:
    """Serve ``handler`` over SMTP on ``host:port`` (0 = a free port; see ``server.sockets``) in this loop."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, hostname="mail-sink.test", loop=loop, **smtp_options), host=host, port=port
    )


def bound_port(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port


async def _serve_forever(directory: Path, host: str, port: int) -> None:
    server = await start_sink(EmlDirectorySink(directory), host=host, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    click.echo(f"mail sink: smtp://{host}:{bound_port(server)} → {directory}", err=True)
    async with server:
        await stop.wait()
    click.echo("mail sink stopped", err=True)


@click.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--dir", "directory", type=click.Path(path_type=Path), help="Where to store .eml files.")
def main(host: str, port: int, directory: Path | None) -> None:
    """Accept all mail over SMTP and store each message as an .eml file."""
    target = (directory or AppSettings.from_env().resolved_mail_sink_dir).resolve()
    target.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(target, host, port))


if __name__ == "__main__":
    main()
