#!/usr/bin/env python
"""What a certificate costs (issue 7): render time per PDF with fpdf2, the font parsed per document (fpdf2's own
``add_font``) and parsed once per process (``jobs/certificates/fpdf_font.py``) side by side, then the whole
3000-participant demo (render + email to a local SMTP sink) on a private Redis and a throwaway SQLite database.

    .venv/bin/python bench/certificates.py                       # render bench + the demo, 3000 participants
    .venv/bin/python bench/certificates.py --skip-demo           # render bench only
    .venv/bin/python bench/certificates.py --participants 500 --demo-args "--workers 2"
    .venv/bin/python bench/certificates.py --skip-render --skip-demo --direct 300   # jobs' code, no queue
    .venv/bin/python bench/certificates.py --skip-render --skip-demo --sink 3000    # the mail sink's CPU per email
    .venv/bin/python bench/certificates.py --skip-render --database-url postgresql+asyncpg://postgres@127.0.0.1/test \
        --database-schema bench_cert                                              # the demo on PostgreSQL

Render bench: the same fake names the demo uses (several scripts, fixed seed), rendered in one process with the
prepared fonts loaded once beforehand (as a worker does); each way is timed over its own loop, then the pypdf
check that follows every render in production is timed on the outputs. The two alternate in rounds so a change
in machine load hits both alike; the median round is printed. Then the font's two costs inside fpdf2, timed
apart on one fixed page: adding the font to a document, and ``output()`` (which subsets and embeds it).
On code without ``reuse_font`` (main before issue 7's fpdf_font, run with PYTHONPATH) only fpdf2 alone runs.

Direct (``--direct N``): the jobs' own code without the queue, one participant after another in one process
(``--direct-concurrency C``: C at a time, as a worker with concurrency C runs them, so concurrent jobs' database
work can be grouped):
``generator.generate`` then ``mailer.send`` (to a sink in the same process) for N participants of a fresh demo
event on a throwaway SQLite database, with wall and CPU time per participant. CPU time moves less with the
machine's load than wall time, and splits the demo's cost into render+check and everything else.

Sink (``--sink N``): the mail sink as the demo runs it, in its own process (``python -m jobs.mail_sink`` from this
checkout), receiving N certificate emails (a few rendered certificates, built as the mailer builds them, sent
with the mailer's MAIL FROM, RCPT TO and DATA over ``SMTP_POOL_SIZE``'s default of 20 connections, after 100
unmeasured ones); the sink process's CPU time per email, user and system, from ``/proc/<pid>/stat``. In the demo
the sink shares the two cores with the worker sending to it; this isolates its share.

Demo: ``queue-system demo certificates --participants N --cleanup --seed 1`` as a subprocess, with
``REDIS_URL`` pointing at a private ``redis-server`` and ``APP_DATA_DIR`` at a temporary directory (so the
database, the certificates and the mail sink's ``.eml`` files are all fresh). Its own per-stage lines are
printed, plus the wall time of the whole command (which includes creating the event and the migrations) and
its CPU time with that of every process it started (user+sys, from ``getrusage(RUSAGE_CHILDREN)``): on this
shared machine the CPU time moves less with other agents' load than the wall time, so it is the figure to
compare two versions by.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fpdf import FPDF  # noqa: E402

from jobs.certificates.demo import fake_names  # noqa: E402
from jobs.certificates.fonts import CertificateFont, find_font, load_font  # noqa: E402
from jobs.certificates.render import CertificateContent, render_certificate  # noqa: E402
from jobs.certificates.verify import check_certificate  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

Renderer = Callable[[CertificateContent, CertificateFont], bytes]


def contents(count: int) -> list[CertificateContent]:
    return [
        CertificateContent(
            title="Certificate of Participation",
            participant_name=name,
            event_name="Kegiatan Test 3000 Peserta",
            event_date=date(2026, 11, 22),
            number=f"E1-{i:06d}-1",
            verify_url=f"http://localhost:8000/certificates/verify/{i:016x}",
        )
        for i, name in enumerate(fake_names(count, seed=1), start=1)
    ]


def time_renderer(render: Renderer, items: list[CertificateContent], font: CertificateFont) -> tuple[float, float]:
    """(render ms, check ms) per certificate over ``items``."""
    started = time.perf_counter()
    pdfs = [render(item, font) for item in items]
    rendered = time.perf_counter()
    for item, pdf in zip(items, pdfs, strict=True):
        check_certificate(pdf, expected_name=item.participant_name)
    checked = time.perf_counter()
    return (rendered - started) * 1000 / len(items), (checked - rendered) * 1000 / len(items)


def renderers() -> dict[str, Renderer]:
    found: dict[str, Renderer] = {
        "fpdf2 alone": lambda item, font: render_certificate(item, font, reuse_font=False)  # type: ignore[call-arg]
    }
    if "reuse_font" in inspect.signature(render_certificate).parameters:
        found["font reused"] = render_certificate
    else:  # older code: fpdf2 parses the font for every document
        found = {"fpdf2 alone": render_certificate}
    return found


def font_costs(font: CertificateFont, rounds: int = 200) -> None:
    """add_font and output() of one fixed page, per way of adding the font (median of ``rounds``)."""
    path = font.prepared[0].path
    Way = tuple[Callable[[FPDF], None], Callable[[FPDF], bytes]]
    ways: dict[str, Way] = {"fpdf2 alone": (lambda pdf: pdf.add_font("f", "", str(path)), lambda pdf: pdf.output())}
    try:
        from jobs.certificates import fpdf_font
    except ImportError:
        pass
    else:
        write = getattr(fpdf_font, "output", lambda pdf: pdf.output())  # older fpdf_font: fpdf2's own output
        ways["font reused"] = (lambda pdf: fpdf_font.add_font(pdf, "f", path), write)
    kib = path.stat().st_size / 1024
    print(f"font costs in fpdf2, one page with the latin tier ({kib:.0f} KiB), median of {rounds}")
    print(f"{'way':<16} {'add_font ms':>12} {'output ms':>10}")
    for name, (add, write) in ways.items():
        adds, outputs = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            pdf = FPDF(orientation="L", unit="mm", format="A4")
            add(pdf)
            added = time.perf_counter()
            pdf.add_page()
            pdf.set_font("f", size=30)
            pdf.text(20, 40, "CERTIFICATE OF PARTICIPATION — Siti Nurhaliza, 22 November 2026")
            drawn = time.perf_counter()
            bytes(write(pdf))
            adds.append(added - started)
            outputs.append(time.perf_counter() - drawn)
        print(f"{name:<16} {statistics.median(adds) * 1000:>12.2f} {statistics.median(outputs) * 1000:>10.2f}")


def render_bench(count: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        font = load_font(find_font(), Path(cache))
        print(f"font prepared (tiers cut, once per worker) in {time.perf_counter() - started:.2f} s")
        items = contents(count)
        ways = renderers()
        for item in items[:20]:  # first use parses each tier's file once; not part of a certificate's cost
            for render in ways.values():
                render(item, font)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
        for _ in range(rounds):
            for name, render in ways.items():
                results[name].append(time_renderer(render, items, font))
        sizes = {name: [len(render(item, font)) for item in items[:200]] for name, render in ways.items()}
        print(f"render bench: {count} certificates, {rounds} rounds, median round")
        print(f"{'way':<16} {'render ms':>10} {'check ms':>10} {'sum ms':>10} {'mean KiB':>9}")
        for name, runs in results.items():
            render_ms = statistics.median(r for r, _ in runs)
            check_ms = statistics.median(c for _, c in runs)
            kib = statistics.mean(sizes[name]) / 1024
            print(f"{name:<16} {render_ms:>10.2f} {check_ms:>10.2f} {render_ms + check_ms:>10.2f} {kib:>9.1f}")
        font_costs(font)


async def direct(count: int, concurrency: int) -> None:
    from sqlalchemy import select

    from jobs.certificates.demo import create_demo_event
    from jobs.certificates.runtime import open_runtime
    from jobs.config import AppSettings
    from jobs.db import Database, Participant
    from jobs.db.migrate import upgrade
    from jobs.mail_sink import EmlDirectorySink, bound_port, start_sink
    from queue_system.logging_setup import configure_logging

    configure_logging(level="WARNING")  # as the demo's workers run: per-job info lines would be measured too

    with tempfile.TemporaryDirectory() as data_dir:
        settings = AppSettings.from_env({"APP_DATA_DIR": data_dir})
        db = Database(settings.resolved_database_url)
        await upgrade(db)
        event = await create_demo_event(db, count, seed=1)
        sink = await start_sink(EmlDirectorySink(Path(data_dir) / "sink"))
        runtime = await open_runtime(settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{bound_port(sink)}"}))
        try:
            async with db.session() as session:
                query = select(Participant.id).where(Participant.event_id == event.id)
                ids = list((await session.scalars(query)).all())
            how = "one after another" if concurrency == 1 else f"{concurrency} at a time"
            print(f"direct: {count} participants, {how}, no queue")
            for label, step in (("generate", runtime.generator.generate), ("send", runtime.mailer.send)):
                cpu, wall = time.process_time(), time.perf_counter()
                await run_concurrently(step, ids, concurrency)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                print(
                    f"{label:<9} {wall * 1000 / count:6.1f} ms wall, {cpu * 1000 / count:6.1f} ms CPU per participant"
                )
        finally:
            await runtime.close()
            sink.close()
            await db.dispose()


async def sink_cpu(count: int, lanes: int = 20, warm_up: int = 100) -> None:
    from jobs.certificates.demo import start_sink_process
    from jobs.certificates.message import CertificateEmail, build_message, new_message_id
    from jobs.certificates.render import format_date
    from jobs.certificates.smtp import SmtpConfig, SmtpPool, send_data
    from jobs.config import AppSettings

    sender = AppSettings().mail_from
    with tempfile.TemporaryDirectory() as cache:
        font = load_font(find_font(), Path(cache))
        emails = []
        for i, item in enumerate(contents(20)):
            mail = CertificateEmail(
                sender=sender,
                recipient_name=item.participant_name,
                recipient_address=f"participant{i}.{i:06x}@example.test",
                event_name=item.event_name,
                event_date_text=format_date(item.event_date),
                certificate_number=item.number,
                message_id=new_message_id(sender),
            )
            emails.append((mail, build_message(mail, render_certificate(item, font))))
    with tempfile.TemporaryDirectory() as data_dir:
        # The sink runs ``-m jobs.mail_sink``: from this checkout, wherever the bench is started from.
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
        process, url = await start_sink_process(Path(data_dir) / "sink")
        pool = SmtpPool(SmtpConfig.from_url(url), lanes)

        async def send(index: int) -> None:
            mail, data = emails[index % len(emails)]
            async with pool.connection() as client:
                await client.mail(mail.sender_address)
                await client.rcpt(mail.recipient_address)
                await send_data(client, data)

        try:
            await run_concurrently(send, list(range(warm_up)), lanes)
            before, wall = _process_cpu(process.pid), time.perf_counter()
            await run_concurrently(send, list(range(warm_up, warm_up + count)), lanes)
            after, wall = _process_cpu(process.pid), time.perf_counter() - wall
            stored = len(list((Path(data_dir) / "sink").glob("*.eml")))
        finally:
            await pool.close()
            process.terminate()
            await process.wait()
    user, system = ((a - b) * 1000 / count for a, b in zip(after, before, strict=True))
    kib = statistics.mean(len(data) for _, data in emails) / 1024
    print(f"sink: {count} emails of {kib:.0f} KiB over {lanes} connections, {stored} stored, {count / wall:.0f}/s")
    print(f"sink process CPU per email: {user + system:.3f} ms ({user:.3f} user, {system:.3f} system)")


def _process_cpu(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


async def run_concurrently(step: Callable[[int], Awaitable[object]], ids: list[int], concurrency: int) -> None:
    """``step`` for every id, ``concurrency`` at a time (as a worker runs that many jobs)."""
    pending = iter(ids)

    async def lane() -> None:
        for participant_id in pending:
            await step(participant_id)

    await asyncio.gather(*(lane() for _ in range(concurrency)))


def demo(participants: int, extra: list[str], database: dict[str, str]) -> None:
    redis = RedisServer()
    redis.start()
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            env = {**os.environ, "REDIS_URL": redis.url, "APP_DATA_DIR": data_dir}
            for name in ("DATABASE_URL", "DATABASE_SCHEMA", "CERTIFICATE_DIR", "SMTP_URL", "MAIL_SINK_DIR"):
                env.pop(name, None)
            env.update(database)
            command = [
                str(ROOT / ".venv" / "bin" / "queue-system"),
                "demo",
                "certificates",
                "--participants",
                str(participants),
                "--cleanup",
                "--seed",
                "1",
                *extra,
            ]
            print("$ " + shlex.join(command[1:]))
            started, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
            lines = [line for line in done.stdout.splitlines() if "%" not in line and line.strip()]
            print("\n".join(lines))
            print(f"wall time of the command: {wall:.1f} s (exit {done.returncode})")
            print(
                f"CPU time of the command: {cpu:.1f} s user+sys, {cpu * 1000 / participants:.1f} ms per participant "
                "(the demo and its processes: worker, render processes, mail sink; not Redis)"
            )
    finally:
        redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300, help="certificates per round and way")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--participants", type=int, default=3000)
    parser.add_argument("--demo-args", default="", help="extra options for the demo command, e.g. '--workers 2'")
    parser.add_argument("--direct", type=int, default=0, help="also time N generate+send calls without the queue")
    parser.add_argument("--direct-concurrency", type=int, default=1, help="how many --direct calls run at a time")
    parser.add_argument("--sink", type=int, default=0, help="also time N emails into a mail sink process (its CPU)")
    parser.add_argument("--database-url", default="", help="the demo's DATABASE_URL (default: SQLite in a temp dir)")
    parser.add_argument("--database-schema", default="", help="the demo's DATABASE_SCHEMA (PostgreSQL; must exist)")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--skip-render", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    if not args.skip_render:
        render_bench(args.count, args.rounds)
    if args.direct:
        asyncio.run(direct(args.direct, args.direct_concurrency))
    if args.sink:
        asyncio.run(sink_cpu(args.sink))
    if not args.skip_demo:
        database = {"DATABASE_URL": args.database_url, "DATABASE_SCHEMA": args.database_schema}
        demo(args.participants, shlex.split(args.demo_args), {k: v for k, v in database.items() if v})
    print(f"load average at end: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
