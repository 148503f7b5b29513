"""Reaching the SMTP server: ``SMTP_URL`` parsing, a small per-worker connection pool, and what an error means.

``SMTP_URL`` examples::

    smtp://127.0.0.1:1025                                  the dev mail sink (plain, no login)
    smtp://user:secret@mail.example.org:587?starttls=1     STARTTLS, then AUTH
    smtps://user:secret@mail.example.org                   implicit TLS on 465
    smtp://…?starttls=1&cafile=/etc/ssl/private-ca.pem     trust a private CA (or a test's self-signed cert)
    smtp://…?timeout=30                                    seconds per command (default 30)

A worker keeps up to ``SMTP_POOL_SIZE`` connections open and reuses them across jobs: a TLS handshake and a
login per email would cost more than the email. SMTP is one transaction at a time per connection, so each job
borrows a connection for its transaction and gives it back; a connection that saw any error is closed rather
than returned, so no job inherits a half-finished transaction.

``send_data`` sends DATA for a message already in wire form. aiosmtplib's ``SMTP.data`` rewrites every message
with two regular expressions (line ends to CRLF, a dot doubled at the start of a line), copying it twice: for a
~25 KB certificate email that was a quarter of the worker's CPU per email, for messages that ``message`` writes
with CRLF line ends and with no line that starts with a dot. ``send_data`` checks that with a few C-speed scans
(or not at all for a :class:`WireMessage`, whose maker knows it) and then does the DATA exchange itself on
aiosmtplib's protocol object, with its lock and reply handling, as ``SMTP.data`` would; any other message goes
through ``SMTP.data``. ``prepared_data_available`` checks the internals this uses when the module is imported (if
they changed, every message goes through ``SMTP.data``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from aiosmtplib import (
    SMTP,
    SMTPDataError,
    SMTPException,
    SMTPResponse,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPStatus,
    SMTPTimeoutError,
)
from aiosmtplib.protocol import SMTPProtocol

from ..config import SettingsError
from ..errors import AppError

TRUE_WORDS = {"1", "true", "yes", "on"}


class SmtpUrlError(SettingsError):
    """``SMTP_URL`` cannot be understood."""


class SmtpTransientError(AppError):
    """The message was certainly not accepted and may be sent again later (a 4xx answer, a dropped connection)."""


class SmtpLoginRefused(AppError):
    """The server refused the connection or the login for good (5xx): the settings, not the message, are wrong."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    implicit_tls: bool = False
    cafile: Path | None = None
    timeout_s: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise SmtpUrlError(f"SMTP_URL must start with smtp:// or smtps://, got {url!r}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"starttls", "cafile", "timeout"}
        if unknown:
            raise SmtpUrlError(f"unknown SMTP_URL options {sorted(unknown)}; known: starttls, cafile, timeout")
        implicit = parts.scheme == "smtps"
        starttls = query.get("starttls", "").lower() in TRUE_WORDS
        if implicit and starttls:
            raise SmtpUrlError("smtps:// is already TLS; starttls=1 applies to smtp:// only")
        try:
            port = parts.port or (465 if implicit else 587 if starttls else 25)
            timeout = float(query.get("timeout", "30"))
        except ValueError as exc:
            raise SmtpUrlError(f"invalid SMTP_URL {parts._replace(netloc=parts.hostname or '').geturl()!r}") from exc
        return cls(
            host=parts.hostname or "localhost",
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            starttls=starttls,
            implicit_tls=implicit,
            cafile=Path(query["cafile"]) if query.get("cafile") else None,
            timeout_s=timeout,
        )

    @property
    def uses_tls(self) -> bool:
        return self.starttls or self.implicit_tls

    def describe(self) -> str:
        """The URL without the password, for logs."""
        auth = f"{self.username}:***@" if self.username else ""
        tls = " (STARTTLS)" if self.starttls else " (TLS)" if self.implicit_tls else ""
        return f"smtp{'s' if self.implicit_tls else ''}://{auth}{self.host}:{self.port}{tls}"


def is_permanent(exc: SMTPResponseException) -> bool:
    """5xx answers are final (unknown mailbox, message refused); 4xx ask to try again later."""
    return 500 <= exc.code < 600


def server_answer(exc: SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


class SmtpPool:
    """Up to ``size`` open connections to one server, shared by the jobs of one worker process."""

    def __init__(self, config: SmtpConfig, size: int) -> None:
        self.config = config
        self._slots = asyncio.Semaphore(size)
        self._idle: list[SMTP] = []
        self._tls = self._tls_context()
        self._local_hostname = socket.gethostname() or "localhost"
        self.connects = 0  # how many connections were opened (reuse shows as a small number)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[SMTP]:
        """Borrow a connected client; it goes back to the pool only if the block finished without an error."""
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            if client is None or not client.is_connected:
                client = await self._connect()
            reusable = False
            try:
                yield client
                reusable = True
            finally:
                if reusable and client.is_connected:
                    self._idle.append(client)
                else:
                    client.close()

    async def reconnect(self, client: SMTP) -> None:
        """Open ``client`` again after the server closed an idle connection."""
        client.close()
        await client.connect()
        self.connects += 1

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            with contextlib.suppress(SMTPException, OSError, TimeoutError):
                await asyncio.wait_for(client.quit(), timeout=5)
            client.close()

    async def _connect(self) -> SMTP:
        config = self.config
        client = SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.implicit_tls,
            start_tls=config.starttls,  # never "if offered": TLS is either required or not used
            tls_context=self._tls,
            timeout=config.timeout_s,
            local_hostname=self._local_hostname,
        )
        try:
            await client.connect()
        except SMTPResponseException as exc:
            if is_permanent(exc):
                raise SmtpLoginRefused(f"{config.describe()}: {server_answer(exc)}") from exc
            raise SmtpTransientError(f"{config.describe()}: {server_answer(exc)}") from exc
        except (SMTPException, OSError, TimeoutError) as exc:
            raise SmtpTransientError(f"cannot connect to {config.describe()}: {exc}") from exc
        self.connects += 1
        return client

    def _tls_context(self) -> ssl.SSLContext | None:
        if not self.config.uses_tls:
            return None
        cafile = str(self.config.cafile) if self.config.cafile else None
        return ssl.create_default_context(cafile=cafile)


def prepared_data_available() -> bool:
    """Whether aiosmtplib's protocol has what ``send_data`` uses (``_command_lock`` and ``_response_pending`` are
    set per connection, so they are checked on the connection too)."""
    return all(callable(getattr(SMTPProtocol, name, None)) for name in ("write", "read_response"))


_PREPARED = prepared_data_available()


class WireMessage(bytes):
    """A message its maker knows to be in wire form (``message.build_message`` does, by how it writes the
    message), so ``in_wire_form`` need not scan it: the five scans took ~0.15 ms of the worker's CPU for a
    certificate email (45 KB), more than half as much as building it."""


def in_wire_form(message: bytes) -> bool:
    """CRLF line ends only, ending with one, and no line starting with a dot: DATA sends it unchanged."""
    if isinstance(message, WireMessage):
        return True
    crlf = message.count(b"\r\n")
    return (
        message.endswith(b"\r\n")
        and message.count(b"\n") == crlf
        and message.count(b"\r") == crlf
        and not message.startswith(b".")
        and b"\n." not in message
    )


async def send_data(client: SMTP, message: bytes) -> SMTPResponse:
    """DATA and ``message``; the server's final answer. Raises as ``SMTP.data`` does (``SMTPDataError`` for an
    answer other than 354 then 250; the connection is closed on a drop or a time-out)."""
    protocol = client.protocol
    lock = getattr(protocol, "_command_lock", None)
    if (
        not _PREPARED
        or protocol is None
        or not isinstance(lock, asyncio.Lock)
        or not hasattr(protocol, "_response_pending")
        or client.is_ehlo_or_helo_needed
        or not in_wire_form(message)
    ):
        return await client.data(message)
    timeout = client.timeout
    try:
        async with lock:
            protocol._response_pending = True  # a reply is expected: aiosmtplib drops data it did not ask for
            protocol.write(b"DATA\r\n")
            start = await protocol.read_response(timeout=timeout)
            if start.code != SMTPStatus.start_input:
                raise SMTPDataError(start.code, start.message)
            protocol._response_pending = True
            protocol.write(message)
            protocol.write(b".\r\n")
            response = await protocol.read_response(timeout=timeout)
            if response.code != SMTPStatus.completed:
                raise SMTPDataError(response.code, response.message)
    except (SMTPServerDisconnected, SMTPTimeoutError):
        client.close()
        raise
    return response
