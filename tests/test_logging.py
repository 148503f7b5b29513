"""What a worker writes to stderr: one JSON object per line in production, carrying each job's context, and
never a sensitive job's arguments. Workers run as real ``queue-system worker`` processes on the private Redis."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from queue_system import Client
from queue_system.logging_setup import ConsoleLines
from queue_system.types import JobState, Priority
from tests.app.jobs import secret_job
from tests.support.queue_fixtures import ROOT, run_burst, run_cli, subprocess_env

WORKER = "tests.app.settings.WorkerSettings"
CARD = "4111111111111111"
JOB_EVENTS = ("job.completed", "job.retry_scheduled", "job.failed")
JOB_CONTEXT = ("job_id", "function", "queue", "job_try")


def run_json_worker(redis_url: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Run a burst worker with JSON logs; every non-empty stderr line must be one JSON object."""
    proc = run_cli("worker", WORKER, "--burst", redis_url=redis_url, timeout=30, QS_LOG_FORMAT="json")
    assert proc.returncode == 0, proc.stderr
    events: list[dict[str, Any]] = []
    for number, line in enumerate(proc.stderr.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            pytest.fail(f"stderr line {number} is not JSON: {line!r}\n--- stderr ---\n{proc.stderr}")
        assert isinstance(event, dict), line
        assert {"event", "level", "timestamp"} <= event.keys(), line
        events.append(event)
    return proc, events


def job_events(events: list[dict[str, Any]], job_id: str) -> list[tuple[str, int]]:
    return [(e["event"], e["job_try"]) for e in events if e.get("job_id") == job_id]


async def test_json_logs_are_one_event_per_line_with_the_job_context(client: Client, redis_url: str) -> None:
    echo = await client.enqueue_job("echo", "hello", _queue="alpha")
    flaky = await client.enqueue_job("flaky", 2, _queue="alpha")  # fails on try 1, succeeds on try 2
    failing = await client.enqueue_job("always_fails", "boom", _queue="alpha")  # 2 tries, then the failed store

    _, events = run_json_worker(redis_url)

    outcomes = [e for e in events if e["event"] in JOB_EVENTS]
    assert {e["event"] for e in outcomes} == set(JOB_EVENTS)
    for event in outcomes:
        for key in JOB_CONTEXT:
            assert key in event, f"{key} missing from {event}"
        assert event["queue"] == "alpha"
        assert isinstance(event["job_try"], int)
    assert job_events(events, echo.job_id) == [("job.completed", 1)]
    assert job_events(events, flaky.job_id) == [("job.retry_scheduled", 1), ("job.completed", 2)]
    assert job_events(events, failing.job_id) == [("job.retry_scheduled", 1), ("job.failed", 2)]

    by_event = {(e["job_id"], e["event"]): e for e in outcomes}
    retry = by_event[(flaky.job_id, "job.retry_scheduled")]
    assert retry["function"] == "flaky"
    assert retry["level"] == "warning"
    assert retry["next_try"] == 2
    assert "transient failure on try 1" in retry["error"]
    failed = by_event[(failing.job_id, "job.failed")]
    assert failed["level"] == "error"
    assert "ValueError: always fails boom" in failed["exception"]  # a multi-line traceback stays on its line
    assert by_event[(echo.job_id, "job.completed")]["function"] == "echo"
    assert {"worker.started", "worker.stopped"} <= {e["event"] for e in events}
    assert await client.job(flaky.job_id, "alpha").result(timeout=5) == "ok on try 2"


async def test_sensitive_arguments_never_reach_redis_or_the_logs(
    client: Client, redis_url: str, app_settings: type
) -> None:
    # A deployed worker has published the routing, so a producer enqueueing by name knows the job is sensitive.
    await run_burst(app_settings)
    ok = await client.enqueue_job("secret_job", CARD, _queue="alpha")
    declined = await client.enqueue_job("secret_job", CARD, _queue="alpha", fail=True)

    for job in (ok, declined):
        raw = await client.redis.get("arq:job:" + job.job_id)
        assert raw is not None
        assert CARD.encode() not in raw
        assert b'"enc"' in raw

    proc, events = run_json_worker(redis_url)

    assert CARD not in proc.stderr
    assert CARD not in proc.stdout
    assert job_events(events, ok.job_id) == [("job.completed", 1)]
    assert job_events(events, declined.job_id) == [("job.failed", 1)]
    assert await client.job(ok.job_id, "alpha").result(timeout=5) == CARD[-4:]
    entry = await client.failed.get(declined.job_id)
    assert CARD not in json.dumps(entry.to_dict())
    assert entry.args == ["<redacted>"]


async def test_sensitive_arguments_are_encrypted_through_the_typed_handle(client: Client) -> None:
    job = await secret_job.options(client=client, queue="alpha").enqueue(CARD)

    raw = await client.redis.get("arq:job:" + job.job_id)
    assert raw is not None
    assert CARD.encode() not in raw


async def test_sensitive_arguments_are_encrypted_even_before_any_worker_has_run(client: Client) -> None:
    job = await client.enqueue_job("secret_job", CARD, _queue="alpha")

    raw = await client.redis.get("arq:job:" + job.job_id)
    assert raw is not None
    assert CARD.encode() not in raw


_LOG_SOME_LINES = textwrap.dedent(
    """
    import logging
    import sys

    from queue_system.logging_setup import configure_logging, get_logger

    configure_logging(fmt=sys.argv[1])
    get_logger("qs.test").info("hello.console", job_id="abc123", job_try=2)
    logging.getLogger("plain.stdlib").warning("from the standard library %s", "too")
    """
)


def _log_with(fmt: str, redis_url: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _LOG_SOME_LINES, fmt],
        cwd=ROOT,
        env=subprocess_env(redis_url),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    return [line for line in proc.stderr.splitlines() if line.strip()]


def test_console_format_is_human_readable(redis_url: str) -> None:
    lines = _log_with("console", redis_url)

    assert len(lines) == 2
    for line in lines:
        with pytest.raises(ValueError):
            json.loads(line)
    structured, stdlib = lines
    assert "hello.console" in structured
    assert "info" in structured
    assert "job_id=abc123" in structured
    assert "job_try=2" in structured
    assert "from the standard library too" in stdlib
    assert "warning" in stdlib


def test_json_format_is_one_object_per_line(redis_url: str) -> None:
    lines = _log_with("json", redis_url)

    events = [json.loads(line) for line in lines]
    assert len(events) == 2
    assert events[0]["event"] == "hello.console"
    assert events[0]["job_id"] == "abc123"
    assert events[0]["level"] == "info"
    assert events[1]["event"] == "from the standard library too"
    assert events[1]["logger"] == "plain.stdlib"


@pytest.mark.parametrize(("qs_env", "want_json"), [("production", True), ("test", False)])
def test_auto_log_format_is_json_in_production_only(redis_url: str, qs_env: str, want_json: bool) -> None:
    proc = run_cli("worker", WORKER, "--burst", redis_url=redis_url, timeout=30, QS_LOG_FORMAT="auto", QS_ENV=qs_env)

    assert proc.returncode == 0, proc.stderr
    started = [line for line in proc.stderr.splitlines() if "worker.started" in line]
    assert len(started) == 1, proc.stderr
    if want_json:
        assert json.loads(started[0])["event"] == "worker.started"
    else:
        with pytest.raises(ValueError):
            json.loads(started[0])


def test_a_module_logger_follows_reconfiguration_and_the_current_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """get_logger's logger is bound once, but a new configuration (the CLI, then the worker) or stderr takes effect."""
    from queue_system.logging_setup import JOB_LOG_FIELDS, configure_logging, get_logger

    log = get_logger("qs.test.rebind")
    try:
        configure_logging(fmt="json")
        log.info("first.line", n=1)
        configure_logging(fmt="console")
        log.info("second.line", n=2)
        token = JOB_LOG_FIELDS.set({"job_id": "j-1", "job_try": 3})
        try:
            log.info("third.line", job_try=4)  # the line's own keyword wins over the attempt's field
            logging.getLogger("plain.stdlib").warning("from logging")
        finally:
            JOB_LOG_FIELDS.reset(token)
        log.info("fourth.line")
    finally:
        configure_logging(fmt="console")
    first, second, third, stdlib, fourth = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert json.loads(first)["event"] == "first.line"
    with pytest.raises(ValueError):
        json.loads(second)
    assert "second.line" in second
    assert "job_id=j-1" in third and "job_try=4" in third
    assert "from logging" in stdlib and "job_id=j-1" in stdlib and "job_try=3" in stdlib
    assert "job_id" not in fourth


CONSOLE_EVENTS: list[dict[str, Any]] = [
    {
        "event": "job.completed",
        "duration_ms": 0.031,
        "job_id": "48e6ef86",
        "function": "noop",
        "queue": "q",
        "job_try": 1,
    },
    {"event": "x" * 40, "text": "two words", "eq": "a=b", "quote": "it's", "tab": "a\tb", "plain": "ok"},
    {"event": "values", "none": None, "flag": True, "items": [1, "a b"], "mapping": {"k": "v"}, "ratio": 1.5},
    {"event": "ünïcode ✓", "name": "Nguyễn Thị Hồng", "level_name": "custom"},
    {"event": "no logger"},
    {"event": "stdlib line", "logger_name": "arq.worker", "message": "x"},
    {"event": 42, "number_event": 1},
    {"event": "", "empty": ""},
    {"event": "enums", "state": JobState.COMPLETED, "priority": Priority.HIGH},
]


@pytest.mark.parametrize("level", ["debug", "info", "warning", "error", "critical", "exception"])
def test_console_lines_match_structlogs_default_layout(level: str) -> None:
    """CONSOLE_COLUMNS only makes the rendering cheaper: the text is what ConsoleRenderer's default layout writes."""
    import structlog

    from queue_system.logging_setup import CONSOLE_COLUMNS

    ours = structlog.dev.ConsoleRenderer(sort_keys=False, columns=CONSOLE_COLUMNS)
    direct = ConsoleLines()
    reference = structlog.dev.ConsoleRenderer(colors=False, sort_keys=False)
    for event in CONSOLE_EVENTS:
        full = {"timestamp": "2026-11-23T06:49:46.475964Z", "level": level, "logger": "qs.test", **event}
        if event["event"] == "no logger":
            del full["logger"]
        expected = reference(None, level, dict(full))
        assert ours(None, level, dict(full)) == expected
        assert direct(None, level, dict(full)) == expected


def test_console_lines_with_an_exception_are_structlogs() -> None:
    """A line with an exception (or a stack) is ConsoleRenderer's own: the traceback follows the line, without
    terminal colour codes (the lines go to files as often as to a terminal)."""
    import structlog

    try:
        raise KeyError("missing")
    except KeyError as exc:
        error = exc
    event = {"timestamp": "2026-11-23T06:49:46.475964Z", "level": "error", "event": "job.failed", "exc_info": error}
    line = ConsoleLines()(None, "error", dict(event))
    reference = structlog.dev.ConsoleRenderer(colors=False, sort_keys=False)(None, "error", dict(event))
    assert line.splitlines()[0] == reference.splitlines()[0]  # (the traceback shows locals, which differ between calls)
    assert "Traceback" in line and "KeyError: 'missing'" in line and "\x1b[" not in line  # no colour codes in files


@pytest.mark.parametrize("method", ["debug", "info", "warn", "warning", "error", "exception", "critical"])
def test_standard_fields_are_those_of_structlogs_five_processors(method: str) -> None:
    """add_standard_fields adds what merge_contextvars, add_job_fields, add_log_level, add_logger_name and an ISO UTC
    TimeStamper add, with the same precedence (a line's own keywords, then bound context, then the attempt's)."""
    import structlog

    from queue_system.logging_setup import JOB_LOG_FIELDS, add_job_fields, add_standard_fields

    class Named:
        name = "qs.test.fields"

    chain = [
        structlog.contextvars.merge_contextvars,
        add_job_fields,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    token = JOB_LOG_FIELDS.set({"job_id": "j-1", "job_try": 2, "queue": "q"})
    try:
        with structlog.contextvars.bound_contextvars(queue="bound", request="r-1"):
            event = {"event": "x", "job_try": 5}
            expected = dict(event)
            for processor in chain:
                expected = processor(Named(), method, expected)
            ours = add_standard_fields(Named(), method, dict(event))
    finally:
        JOB_LOG_FIELDS.reset(token)
    stamp, reference_stamp = ours.pop("timestamp"), expected.pop("timestamp")
    assert ours == expected and list(ours) == list(expected)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)
    parsed = [datetime.fromisoformat(text.replace("Z", "+00:00")) for text in (stamp, reference_stamp)]
    assert abs((parsed[0] - parsed[1]).total_seconds()) < 1


def test_utc_timestamp_is_now_in_utc() -> None:
    from queue_system.logging_setup import utc_timestamp

    before = datetime.now(UTC)
    stamps = [utc_timestamp() for _ in range(1000)]
    after = datetime.now(UTC)
    for text in (stamps[0], stamps[-1]):
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        assert before - timedelta(microseconds=1) <= moment <= after
