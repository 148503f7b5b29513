"""The development mail server: accepts every message over SMTP and stores it as an ``.eml`` file.

    python -m jobs.mail_sink                       # 127.0.0.1:1025, files in .qs/data/mail-sink (MAIL_SINK_DIR)
    python -m jobs.mail_sink --port 2525 --dir /tmp/mail

It is what the default ``SMTP_URL`` (``smtp://127.0.0.1:1025``) points at, so the email jobs run end to end on
a fresh clone without sending anything anywhere; open a stored file with any mail client to see the message.
The tests start the same server in-process on a free port (``start_sink``); the certificate demo runs this
module in a process of its own with ``--port 0`` and reads the URL it prints.

aiosmtpd reads a message's DATA one line at a time, a turn of its Python loop per 76-character base64 line: for the
certificate emails (~25 KB, ~330 lines) that was two thirds of the sink's CPU, which shares the machine with the
worker sending to it. ``BulkDataSMTP`` reads DATA in the chunks the socket delivers instead (``read_data``) and
then does what aiosmtpd does with it: the same checks before, the same limits and the handler's ``handle_DATA``
after. It relies on aiosmtpd's internals (``bulk_data_available`` checks them when this module is imported; if
they changed, the server reads DATA as aiosmtpd does).

aiosmtpd parses the address of every MAIL FROM and RCPT TO with the standard library's RFC 5322 header parser
(``email._header_value_parser.get_angle_addr``), which was the next largest cost per message. ``BulkDataSMTP``
reads a plain ``<local@domain>`` (dot-atoms of ASCII letters, digits and the usual symbols, optionally followed
by parameters) with one regular expression, to the same address and parameters, and leaves every other form to
aiosmtpd's parser: quoted local parts, domain literals, comments, non-ASCII addresses and malformed ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session

from .config import AppSettings
from .errors import AppError
from .files import atomic_write

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 1025
ACCEPTED = "250 2.0.0 Message accepted for delivery"
END_OF_DATA = b"\r\n.\r\n"  # the line end before the lone dot belongs to the message's last line
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"  # RFC 5322's atext, ASCII only
# "<local@domain>", then either nothing or whitespace and parameters (which start with neither a space nor a
# comment: the parser skips those after the ">"). Any other form goes to aiosmtpd's parser.
PLAIN_ADDRESS = re.compile(
    rf"<(?P<local>{_ATEXT}(?:\.{_ATEXT})*)@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(?:[ \t]+(?P<rest>[^\s(].*))?"
)


class EmlDirectorySink:
    """An aiosmtpd handler that writes every message it accepts to ``directory`` as one ``.eml`` file.

    Each file is written to a hidden temporary name and renamed into place, so whoever reads the directory (a mail
    client, a test, the demo counting messages) sees a message whole or not at all. It is written in the event
    loop and not flushed to disk: a message of a few dozen KB goes to the page cache in tens of microseconds,
    less than handing it to a thread costs, and a development sink need not survive a power cut.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.accepted = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        data = content if isinstance(content, bytes) else (content or "").encode()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        atomic_write(self.directory / f"{stamp}-{uuid.uuid4().hex[:12]}.eml", data, durable=False)
        self.accepted += 1
        return ACCEPTED


class DataTooLong(AppError, ValueError):
    """The message's data passed the server's size limit (it was read to its end and dropped)."""


def bulk_data_available() -> bool:
    """Whether the installed aiosmtpd has the internals ``BulkDataSMTP.smtp_DATA`` uses."""
    names = ("_call_handler_hook", "_set_post_data_state", "check_helo_needed", "check_auth_needed", "push")
    return all(callable(getattr(SMTP, name, None)) for name in names) and isinstance(SMTP.line_length_limit, int)


_BULK = bulk_data_available()


class BulkDataSMTP(SMTP):
    """aiosmtpd's SMTP server, reading DATA in chunks rather than line by line and plain addresses with a regular
    expression (see the module's docstring)."""

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """The address in MAIL FROM or RCPT TO, and the rest of the argument (its parameters); ``(None, None)`` if
        malformed. What aiosmtpd's own ``_getaddr`` returns, by a regular expression for a plain address."""
        plain = PLAIN_ADDRESS.fullmatch(arg)
        if plain is None:
            return super()._getaddr(arg)
        local = plain["local"]
        if self.local_part_limit and len(local) > self.local_part_limit:
            return None, None
        return f"{local}@{plain['domain']}", plain["rest"] or ""

    async def smtp_DATA(self, arg: str) -> None:
        hooks = getattr(self, "_handle_hooks", {})
        decode = getattr(self, "_decode_data", True)
        if not _BULK or decode or "DATA" not in hooks or not hasattr(self, "_reader"):  # rarer set-ups: aiosmtpd's
            await super().smtp_DATA(arg)
            return
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content = await read_data(self._reader, self.data_size_limit)
        except DataTooLong:
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            await self.push("552 Error: Too much mail data")
            return
        except asyncio.CancelledError:  # the connection was lost during DATA (as aiosmtpd handles it)
            self._writer.close()
            raise
        if max(map(len, content.split(b"\r\n"))) > self.line_length_limit - 2:
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
            return
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)


async def read_data(reader: asyncio.StreamReader, limit: int | None) -> bytes:
    """The message after DATA's 354, up to the line with a lone ".", with the leading dots added for transparency
    removed (RFC 5321 4.5.2). Raises :class:`DataTooLong` (after reading to the end) past ``limit`` bytes.

    The end is searched as CRLF "." CRLF; the CRLF before DATA's first line was consumed with the command, so
    lines that start with a dot at the very beginning are read one by one until the first that does not."""
    lines: list[bytes] = []
    first = await reader.readexactly(1)
    while first == b".":
        rest = await _read_through(reader, b"\r\n", limit)
        if rest == b"\r\n":  # the lone dot: the message ends here
            return b"".join(lines)
        lines.append(rest)  # the line without its added dot
        first = await reader.readexactly(1)
    bulk = first + await _read_through(reader, END_OF_DATA, limit)
    content = b"".join(lines) + bulk[: -len(END_OF_DATA) + 2].replace(b"\r\n..", b"\r\n.")
    if limit and len(content) > limit:
        raise DataTooLong(f"{len(content)} bytes, the limit is {limit}")
    return content


async def _read_through(reader: asyncio.StreamReader, separator: bytes, limit: int | None) -> bytes:
    """Everything up to and including ``separator``, in the chunks the reader holds (its own limit is a line's).

    Past ``limit`` bytes the rest is read and dropped, and :class:`DataTooLong` raised at the separator."""
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = await reader.readuntil(separator)
        except asyncio.LimitOverrunError as exc:  # not in the buffer yet: take what cannot be part of it
            chunk = await reader.readexactly(exc.consumed)
            done = False
        else:
            done = True
        size += len(chunk)
        if limit and size > limit + len(separator):
            chunks.clear()
        else:
            chunks.append(chunk)
        if done:
            break
    if limit and size > limit + len(separator):
        raise DataTooLong(f"more than {limit} bytes")
    return b"".join(chunks)


async def start_sink(handler: Any, *, host: str = DEFAULT_HOST, port: int = 0, **smtp_options: Any) -> asyncio.Server:
    """Serve ``handler`` over SMTP on ``host:port`` (0 = a free port; see ``server.sockets``) in this loop."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: BulkDataSMTP(handler, hostname="mail-sink.test", loop=loop, **smtp_options), host=host, port=port
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
