"""One worker's emails share its SMTP connections: the connection is opened once, not once per email."""

from __future__ import annotations

import asyncio

from jobs.certificates.smtp import SmtpConfig, SmtpPool

from .helpers import Sink


async def test_sequential_sends_reuse_one_connection(sink: Sink) -> None:
    pool = SmtpPool(SmtpConfig.from_url(sink.url), size=4)
    try:
        for i in range(20):
            async with pool.connection() as client:
                await client.sendmail("a@example.test", [f"p{i}@example.test"], f"Subject: {i}\r\n\r\nhello\r\n")
    finally:
        await pool.close()
    assert pool.connects == 1
    assert len(sink.files()) == 20


async def test_concurrent_sends_open_at_most_pool_size_connections(sink: Sink) -> None:
    pool = SmtpPool(SmtpConfig.from_url(sink.url), size=3)

    async def send(i: int) -> None:
        async with pool.connection() as client:
            await client.sendmail("a@example.test", [f"p{i}@example.test"], f"Subject: {i}\r\n\r\nhello\r\n")

    try:
        await asyncio.gather(*(send(i) for i in range(30)))
    finally:
        await pool.close()
    assert pool.connects <= 3
    assert len(sink.files()) == 30
