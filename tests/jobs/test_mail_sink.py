"""The mail sink reads DATA in chunks (``BulkDataSMTP``): it must store and answer exactly what aiosmtpd's own
line-by-line reading stores and answers, for every shape of DATA, however the bytes are split on the wire."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd import smtp as aiosmtpd_smtp
from aiosmtpd.smtp import SMTP, Envelope, Session

from jobs.mail_sink import (
    PLAIN_ADDRESS,
    BulkDataSMTP,
    EmlDirectorySink,
    bound_port,
    bulk_data_available,
    start_sink,
)

BASE64_LINE = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
# DATA as sent (dot-stuffed, ending with the lone dot), in the shapes that matter to the end-of-data search.
DATA = {
    "empty": b".\r\n",
    "one line": b"Subject: hi\r\n.\r\n",
    "a stuffed first line": b"..starts with a dot\r\nbody\r\n.\r\n",
    "stuffed lines first": b"..one\r\n...two\r\n..\r\nthree\r\n.\r\n",
    "stuffed lines inside": b"Subject: dots\r\n\r\n..a\r\n...b\r\n..\r\nend\r\n.\r\n",
    "only a stuffed line": b"..\r\n.\r\n",
    "large": b"Subject: big\r\n\r\n" + BASE64_LINE * 2000 + b"..last\r\n.\r\n",
    "a long line": b"Subject: long\r\n\r\n" + b"x" * 1200 + b"\r\n.\r\n",
    "a dot line longer than the limit": b"." + b"y" * 1500 + b"\r\n.\r\n",
    "too much": b"Subject: over\r\n\r\n" + BASE64_LINE * 3000 + b".\r\n",
}


class Recorder:
    """A handler that keeps what it was given."""

    def __init__(self) -> None:
        self.contents: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.contents.append(envelope.content)
        return "250 kept"


Server = tuple[Recorder, int]


async def serve(protocol: Callable[..., SMTP]) -> AsyncIterator[Server]:
    loop = asyncio.get_running_loop()
    recorder = Recorder()
    server = await loop.create_server(
        lambda: protocol(recorder, hostname="sink.test", loop=loop, data_size_limit=200_000), "127.0.0.1", 0
    )
    try:
        yield recorder, bound_port(server)
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def bulk() -> AsyncIterator[Server]:
    async for server in serve(BulkDataSMTP):
        yield server


@pytest.fixture
async def plain() -> AsyncIterator[Server]:
    async for server in serve(SMTP):
        yield server


async def session(port: int, data: bytes, piece: int) -> list[bytes]:
    """One SMTP transaction with ``data`` sent ``piece`` bytes at a time; the server's replies from DATA on."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await reader.readline()
        for command in (b"EHLO client.test", b"MAIL FROM:<a@example.test>", b"RCPT TO:<b@example.test>"):
            writer.write(command + b"\r\n")
            await writer.drain()
            while (await reader.readline())[3:4] == b"-":
                pass
        writer.write(b"DATA\r\n")
        replies = [await reader.readline()]
        for start in range(0, len(data), piece):
            writer.write(data[start : start + piece])
            await writer.drain()
            await asyncio.sleep(0)  # let the server read this piece on its own
        replies.append(await reader.readline())
        writer.write(b"QUIT\r\n")
        replies.append(await reader.readline())
        return replies
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize("piece", [1, 3, 500, 1 << 20])
@pytest.mark.parametrize("shape", sorted(DATA))
async def test_bulk_reading_stores_and_answers_what_aiosmtpd_does(
    shape: str, piece: int, bulk: Server, plain: Server
) -> None:
    if piece < 100 and len(DATA[shape]) > 5000:
        pytest.skip("byte by byte is slow for the large message; 500-byte pieces split it anyway")
    replies = {}
    for name, (_, port) in (("bulk", bulk), ("plain", plain)):
        replies[name] = await session(port, DATA[shape], piece)
    assert replies["bulk"] == replies["plain"]
    assert bulk[0].contents == plain[0].contents
    if shape not in ("too much", "a long line", "a dot line longer than the limit"):
        assert replies["bulk"][1].startswith(b"250 kept") and len(bulk[0].contents) == 1


async def test_the_sink_stores_each_message_as_sent(tmp_path: Path) -> None:
    handler = EmlDirectorySink(tmp_path / "mail")
    server = await start_sink(handler)
    try:
        replies = await session(bound_port(server), DATA["stuffed lines inside"], 7)
    finally:
        server.close()
        await server.wait_closed()
    assert replies[1].startswith(b"250 2.0.0") and handler.accepted == 1
    (stored,) = (tmp_path / "mail").glob("*.eml")
    assert stored.read_bytes() == b"Subject: dots\r\n\r\n.a\r\n..b\r\n.\r\nend\r\n"


async def test_the_bulk_way_is_the_one_taken(bulk: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """With aiosmtpd's own line-by-line DATA made to fail, the sink still reads every message: the comparisons
    above compare two different readers, not one with itself."""
    assert bulk_data_available()

    async def line_by_line(self: SMTP, arg: str) -> None:
        raise AssertionError("aiosmtpd's own DATA reading was used")

    monkeypatch.setattr(SMTP, "smtp_DATA", line_by_line)
    replies = await session(bulk[1], DATA["large"], 500)
    assert replies[1].startswith(b"250 kept") and len(bulk[0].contents) == 1


async def sink_session(handler: EmlDirectorySink, data: bytes = DATA["one line"]) -> list[bytes]:
    server = await start_sink(handler)
    try:
        return await session(bound_port(server), data, 1 << 20)
    finally:
        server.close()
        await server.wait_closed()


async def test_a_stored_message_appears_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file is written under a hidden temporary name and renamed into place: at the rename no .eml file is
    there yet and the temporary one already holds the whole message."""
    handler = EmlDirectorySink(tmp_path / "mail")
    seen: list[tuple[str, list[Path], bytes]] = []
    real_rename, real_replace = os.rename, os.replace

    def watch(rename: Callable[..., None]) -> Callable[..., None]:
        def renamed(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
            seen.append((Path(source).name, sorted(handler.directory.glob("*.eml")), Path(source).read_bytes()))
            rename(source, target, *args, **kwargs)

        return renamed

    monkeypatch.setattr(os, "rename", watch(real_rename))
    monkeypatch.setattr(os, "replace", watch(real_replace))
    replies = await sink_session(handler)
    assert replies[1].startswith(b"250 2.0.0")
    ((temp_name, eml_files, content),) = seen
    assert temp_name.startswith(".") and not temp_name.endswith(".eml") and eml_files == []
    assert content == b"Subject: hi\r\n"
    assert [p.read_bytes() for p in handler.directory.iterdir()] == [content]  # the temporary name is gone


async def test_a_message_is_stored_in_the_event_loop_without_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A development sink: no thread hand-off and no flush to disk per message (both cost more CPU than the
    write itself)."""

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the sink handed the write to a thread or flushed it to disk")

    monkeypatch.setattr(asyncio, "to_thread", refused)
    monkeypatch.setattr(os, "fsync", refused)
    handler = EmlDirectorySink(tmp_path / "mail")
    replies = await sink_session(handler)
    assert replies[1].startswith(b"250 2.0.0") and len(list(handler.directory.glob("*.eml"))) == 1


async def test_a_message_that_cannot_be_stored_is_refused_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "rename", no_space)
    monkeypatch.setattr(os, "replace", no_space)
    handler = EmlDirectorySink(tmp_path / "mail")
    replies = await sink_session(handler)
    assert not replies[1].startswith(b"2") and handler.accepted == 0
    assert list(handler.directory.iterdir()) == []


# MAIL FROM / RCPT TO arguments (after the keyword, stripped, as aiosmtpd passes them on): plain addresses that the
# regular expression reads, and forms it leaves to aiosmtpd's parser, well-formed or not.
ADDRESSES = [
    "<a@example.test>",
    "<participant1.abc123@example.test>",
    "<First.Last+tag@Sub.Example-Domain.TEST>",
    "<o'brien!x#y$z%&*/=?^_`{|}~-w@example.test>",
    "<a@localhost>",
    "<a@example.test> SIZE=1000",
    "<a@example.test>  SIZE=1000 BODY=8BITMIME",
    "<a@example.test>\tSMTPUTF8",
    "<a@example.test> SIZE=1 (a comment after)",
    "<a@example.test>SIZE=1",
    "<a@example.test> (a comment) SIZE=1",
    "<a@example.test> \x0bSIZE=1",
    "<a@example.test>>",
    "<>",
    '<"first last"@example.test>',
    "<a@[127.0.0.1]>",
    "<ñandú@example.test>",
    "<a@exämple.test>",
    "<a..b@example.test>",
    "<.a@example.test>",
    "<a.@example.test>",
    "<a@example..test>",
    "<a@.example.test>",
    "<a@example.test.>",
    "<a@>",
    "<@example.test>",
    "<a>",
    "<a@example.test",
    "a@example.test>",
    "a@example.test",
    "a@example.test SIZE=1",
    "<a b@example.test>",
    "<a@b@example.test>",
    "<@relay.test:a@example.test>",
    "<" + "x" * 65 + "@example.test>",
    "",
]


@pytest.mark.parametrize("local_part_limit", [0, 64])
async def test_addresses_are_read_as_aiosmtpd_reads_them(local_part_limit: int) -> None:
    loop = asyncio.get_running_loop()
    ours = BulkDataSMTP(Recorder(), hostname="sink.test", loop=loop)
    theirs = SMTP(Recorder(), hostname="sink.test", loop=loop)
    for server in (ours, theirs):
        server.local_part_limit = local_part_limit
    for argument in ADDRESSES:
        assert ours._getaddr(argument) == theirs._getaddr(argument), argument


async def test_plain_addresses_skip_the_header_parser(bulk: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The addresses the certificate mailer sends are read by the regular expression, not by the standard
    library's header parser: the comparisons above compare two readers, not one with itself."""
    plain = [argument for argument in ADDRESSES if PLAIN_ADDRESS.fullmatch(argument)]
    assert plain == [*ADDRESSES[:9], "<" + "x" * 65 + "@example.test>"]  # the rest go to the parser

    def parser(value: str) -> Any:
        raise AssertionError(f"the header parser read {value!r}")

    monkeypatch.setattr(aiosmtpd_smtp, "get_angle_addr", parser)
    monkeypatch.setattr(aiosmtpd_smtp, "get_addr_spec", parser)
    replies = await session(bulk[1], DATA["one line"], 1 << 20)  # MAIL FROM:<a@…> and RCPT TO:<b@…>
    assert replies[1].startswith(b"250 kept") and len(bulk[0].contents) == 1


async def envelope_replies(port: int, sender: str, recipient: str) -> list[bytes]:
    """The server's replies to MAIL FROM and RCPT TO with these arguments, over EHLO."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await reader.readline()
        replies = []
        for command in ("EHLO client.test", f"MAIL FROM:{sender}", f"RCPT TO:{recipient}", "RSET"):
            writer.write(command.encode() + b"\r\n")
            await writer.drain()
            while (line := await reader.readline())[3:4] == b"-":
                pass
            replies.append(line)
        return replies[1:3]
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize("argument", [a for a in ADDRESSES if "\x0b" not in a and a])
async def test_the_server_answers_every_address_as_aiosmtpd_does(argument: str, bulk: Server, plain: Server) -> None:
    answers = {}
    for name, (_, port) in (("bulk", bulk), ("plain", plain)):
        answers[name] = await envelope_replies(port, argument, argument)
    assert answers["bulk"] == answers["plain"]
