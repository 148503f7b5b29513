"""The ``queue-system`` command as a user runs it: real processes, real exit codes, the private test Redis.

Exit codes under test (queue_system/cli/common.py): 0 ok, 1 error, 2 usage, 3 not found, 4 Redis unavailable,
5 configuration.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import pytest
from cryptography.fernet import Fernet

from queue_system import Client, FailedFilter, JobNotFound, Priority
from queue_system.keys import queue_key
from tests.support.queue_fixtures import TEST_KEY, failed_entry, recorded_runs, run_burst, run_cli

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_REDIS_UNAVAILABLE = 4
EXIT_CONFIG = 5

# A URL nothing listens on: the kernel refuses the connection at once.
REFUSED_URL = "redis://127.0.0.1:1/0"
WORKER = "tests.app.settings.WorkerSettings"

T = TypeVar("T")


def ok_json(*args: str, redis_url: str) -> Any:
    """Run ``queue-system ARGS --json``, require exit 0 and return the parsed output."""
    proc = run_cli(*args, "--json", redis_url=redis_url)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return json.loads(proc.stdout)


def parallel(*calls: Callable[[], T]) -> list[T]:
    """Run independent blocking calls side by side; results in the order of ``calls``.

    Each command is a new process whose time goes mostly into imports, so overlapping them keeps the file fast.
    """
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def run_all(calls: Sequence[Sequence[str]], *, redis_url: str) -> list[subprocess.CompletedProcess[str]]:
    """Run independent ``queue-system`` commands side by side."""
    return parallel(*(partial(run_cli, *args, redis_url=redis_url) for args in calls))


def ok_json_all(calls: Sequence[Sequence[str]], *, redis_url: str) -> list[Any]:
    procs = run_all([[*args, "--json"] for args in calls], redis_url=redis_url)
    for args, proc in zip(calls, procs, strict=True):
        assert proc.returncode == 0, f"{args}: exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return [json.loads(proc.stdout) for proc in procs]


def listed_ids(page: dict[str, Any]) -> list[str]:
    return [entry["job_id"] for entry in page["entries"]]


async def stored_payload(client: Client, job_id: str) -> dict[str, Any]:
    raw = await client.redis.get("arq:job:" + job_id)
    assert raw is not None, f"job {job_id} has no payload in Redis"
    return client.codec.deserialize(raw)


# --- enqueue ---------------------------------------------------------------------------------------------------------


async def test_enqueue_prints_json_and_creates_the_job(client: Client, redis_url: str) -> None:
    out = ok_json("enqueue", "echo", '"hi"', "--queue", "alpha", redis_url=redis_url)

    assert set(out) == {"job_id", "queue", "duplicate"}
    assert out["queue"] == "alpha"
    assert out["duplicate"] is False
    assert isinstance(out["job_id"], str) and out["job_id"]
    assert await client.queue_size("alpha") == 1
    payload = await stored_payload(client, out["job_id"])
    assert payload["f"] == "echo"
    assert payload["a"] == ["hi"]  # '"hi"' is JSON, so the job gets the string hi


async def test_enqueue_parses_each_arg_as_json_when_it_can_and_takes_kwargs(client: Client, redis_url: str) -> None:
    out = ok_json(
        "enqueue", "echo", "1", '{"a": [2]}', "not json", "--kwargs", '{"extra": true}', "--queue", "beta",
        redis_url=redis_url,
    )  # fmt: skip

    payload = await stored_payload(client, out["job_id"])
    assert payload["a"] == [1, {"a": [2]}, "not json"]
    assert payload["k"] == {"extra": True}
    assert await client.queue_size("beta") == 1


async def test_enqueue_with_a_taken_job_id_exits_1_and_reports_duplicate(client: Client, redis_url: str) -> None:
    first = run_cli("enqueue", "echo", "1", "--queue", "alpha", "--job-id", "X", redis_url=redis_url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "enqueued: X on alpha"

    second = run_cli("enqueue", "echo", "2", "--queue", "alpha", "--job-id", "X", "--json", redis_url=redis_url)

    assert second.returncode == EXIT_ERROR
    assert json.loads(second.stdout) == {"job_id": "X", "queue": "alpha", "duplicate": True}
    assert await client.queue_size("alpha") == 1
    assert (await stored_payload(client, "X"))["a"] == [1]  # the first job is untouched


async def test_enqueue_priority_must_be_a_known_one(client: Client, redis_url: str) -> None:
    bogus, high = run_all(
        [
            ["enqueue", "echo", "1", "--queue", "alpha", "--priority", "bogus"],
            ["enqueue", "echo", "2", "--queue", "beta", "--priority", "HIGH", "--json"],
        ],
        redis_url=redis_url,
    )

    assert bogus.returncode != 0
    assert "bogus" in bogus.stderr
    for name in ("critical", "high", "normal", "low", "background"):
        assert name in bogus.stderr
    assert "Traceback" not in bogus.stderr
    assert await client.queue_size("alpha") == 0

    assert high.returncode == 0, high.stderr
    score = await client.redis.zscore(queue_key("beta"), json.loads(high.stdout)["job_id"])
    assert Priority.from_score(score) == Priority.HIGH


async def test_enqueue_usage_errors_exit_2(client: Client, redis_url: str) -> None:
    cases = {
        "--kwargs": ["--kwargs", "[1]"],  # valid JSON, but not an object
        "not JSON": ["--kwargs", "{nope"],
        "key=value": ["--tag", "no-equals-sign"],
    }
    procs = run_all(
        [["enqueue", "echo", "1", "--queue", "alpha", *args] for args in cases.values()], redis_url=redis_url
    )

    for (hint, args), proc in zip(cases.items(), procs, strict=True):
        assert proc.returncode == EXIT_USAGE, (args, proc.stderr)
        assert hint in proc.stderr, (args, proc.stderr)
    assert await client.queue_size("alpha") == 0


async def test_enqueue_with_a_tag_stores_it(client: Client, redis_url: str) -> None:
    out = ok_json("enqueue", "echo", "1", "--queue", "alpha", "--tag", "event_id=5", redis_url=redis_url)

    assert await client.queue_size("alpha") == 1
    raw_tags = await client.redis.hget(client.keys.meta(out["job_id"]), "tg")  # type: ignore[misc]
    assert raw_tags is not None
    assert json.loads(raw_tags) == {"event_id": "5"}


# --- size ------------------------------------------------------------------------------------------------------------


async def test_size_counts_the_named_queues(client: Client, redis_url: str) -> None:
    for value in (1, 2):
        await client.enqueue_job("echo", value, _queue="alpha")
    await client.enqueue_job("on_beta", 3, _queue="beta")

    assert ok_json("size", "alpha", "beta", "gamma", redis_url=redis_url) == {"alpha": 2, "beta": 1, "gamma": 0}


async def test_size_without_arguments_lists_the_known_queues(client: Client, redis_url: str) -> None:
    empty = run_cli("size", redis_url=redis_url)
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.strip() == "no queues yet"

    await client.enqueue_job("echo", 1, _queue="alpha")
    await client.enqueue_job("on_beta", 2, _queue="beta")
    await client.enqueue_job("on_beta", 3, _queue="beta")
    proc = run_cli("size", redis_url=redis_url)

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["alpha\t1", "beta\t2"]


# --- failed ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failures:
    """Three entries in the failed store, made by a real worker run."""

    a: str  # always_fails("x") on alpha, tag event_id=5 (2 tries)
    b: str  # always_fails("y") on beta, tag event_id=6 (2 tries)
    c: str  # fails_permanently("key") on alpha, tag event_id=5 (1 try: KeyError is in fail_on)

    @property
    def all(self) -> set[str]:
        return {self.a, self.b, self.c}


@pytest.fixture
async def failures(client: Client, app_settings: type) -> AsyncIterator[Failures]:
    a = await client.enqueue_job("always_fails", "x", _queue="alpha", _tags={"event_id": "5"})
    b = await client.enqueue_job("always_fails", "y", _queue="beta", _tags={"event_id": "6"})
    c = await client.enqueue_job("fails_permanently", "key", _queue="alpha", _tags={"event_id": "5"})
    await run_burst(app_settings)
    assert await client.failed.count() == 3
    assert await client.queue_size("alpha") == await client.queue_size("beta") == 0
    yield Failures(a.job_id, b.job_id, c.job_id)


async def test_failed_list_totals_and_filters(failures: Failures, redis_url: str) -> None:
    cases: list[tuple[list[str], set[str]]] = [
        ([], failures.all),
        (["--queue", "alpha"], {failures.a, failures.c}),
        (["--queue", "beta"], {failures.b}),
        (["--function", "always_fails"], {failures.a, failures.b}),
        (["--tag", "event_id=5"], {failures.a, failures.c}),
        (["--queue", "alpha", "--function", "always_fails"], {failures.a}),  # several filters intersect
        (["--tag", "event_id=404"], set()),
    ]
    pages = ok_json_all([["failed", "list", *flt] for flt, _ in cases], redis_url=redis_url)

    for (flt, expected), page in zip(cases, pages, strict=True):
        assert page["total"] == len(expected), flt
        assert set(listed_ids(page)) == expected, flt
    entry = next(e for e in pages[0]["entries"] if e["job_id"] == failures.a)
    assert entry["function"] == "always_fails"
    assert entry["queue"] == "alpha"
    assert entry["exc_type"] == "ValueError"
    assert entry["message"] == "always fails x"
    assert entry["tries"] == 2
    assert entry["tags"] == {"event_id": "5"}
    assert "traceback" not in entry and "payload" not in entry  # summaries only; `show` has the rest


async def test_failed_list_pages_newest_first(failures: Failures, redis_url: str) -> None:
    *pages, past_the_end = ok_json_all(
        [["failed", "list", "--offset", str(offset), "--limit", "1"] for offset in (0, 1, 2, 3)], redis_url=redis_url
    )
    text = run_cli("failed", "list", "--limit", "2", redis_url=redis_url)

    assert [p["total"] for p in pages] == [3, 3, 3]
    assert [len(p["entries"]) for p in pages] == [1, 1, 1]
    entries = [p["entries"][0] for p in pages]
    assert {e["job_id"] for e in entries} == failures.all
    times = [e["failed_at_ms"] for e in entries]
    assert times == sorted(times, reverse=True)
    assert past_the_end == {"total": 3, "entries": []}

    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == "3 failed job(s)"
    assert len(lines) == 3
    assert lines[1].startswith(entries[0]["job_id"] + "\t")


async def test_failed_show_has_the_traceback(failures: Failures, redis_url: str) -> None:
    as_json, as_text, missing = run_all(
        [["failed", "show", failures.a, "--json"], ["failed", "show", failures.a], ["failed", "show", "missing"]],
        redis_url=redis_url,
    )

    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["job_id"] == failures.a
    assert data["exc_type"] == "ValueError"
    assert data["message"] == "always fails x"
    assert data["args"] == ["x"]
    assert data["tags"] == {"event_id": "5"}
    assert "Traceback (most recent call last)" in data["traceback"]
    assert "ValueError: always fails x" in data["traceback"]
    assert "payload" not in data

    assert as_text.returncode == 0, as_text.stderr
    assert f"job_id: {failures.a}" in as_text.stdout
    assert "exc_type: ValueError" in as_text.stdout
    assert "ValueError: always fails x" in as_text.stdout

    assert missing.returncode == EXIT_NOT_FOUND
    assert "missing" in missing.stderr
    assert missing.stdout == ""


async def test_failed_retry_by_id_requeues_with_fresh_tries(
    client: Client, app_settings: type, failures: Failures, redis_url: str
) -> None:
    assert ok_json("failed", "retry", failures.a, redis_url=redis_url) == {"retried": 1}

    assert await client.queue_size("alpha") == 1
    assert set(await client.failed.ids()) == {failures.b, failures.c}
    with pytest.raises(JobNotFound):
        await client.failed.get(failures.a)

    # The replayed job runs again with a full set of tries and fails back into the store with its tags.
    await run_burst(app_settings)
    entry = await client.failed.get(failures.a)
    assert entry.tries == 2
    assert entry.tags == {"event_id": "5"}
    runs = [r for r in await recorded_runs(client, "always_fails") if r["job_id"] == failures.a]
    assert [r["try"] for r in runs] == [1, 2, 1, 2]


async def test_failed_retry_all_with_a_filter(client: Client, failures: Failures, redis_url: str) -> None:
    out = ok_json("failed", "retry", "--all", "--function", "always_fails", redis_url=redis_url)

    assert out == {"retried": 2}
    assert await client.queue_size("alpha") == 1
    assert await client.queue_size("beta") == 1
    assert await client.failed.ids() == [failures.c]


async def test_failed_retry_errors(client: Client, failures: Failures, redis_url: str) -> None:
    neither, both, missing = run_all(
        [["failed", "retry"], ["failed", "retry", failures.a, "--all"], ["failed", "retry", "missing"]],
        redis_url=redis_url,
    )

    for proc in (neither, both):
        assert proc.returncode == EXIT_USAGE
        assert "--all" in proc.stderr
    assert missing.returncode == EXIT_NOT_FOUND
    assert "missing" in missing.stderr
    assert await client.failed.count() == 3
    assert await client.queue_size("alpha") == 0


async def test_failed_forget(client: Client, failures: Failures, redis_url: str) -> None:
    found, missing = run_all(
        [["failed", "forget", failures.a, "--json"], ["failed", "forget", "missing", "--json"]], redis_url=redis_url
    )
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == {"forgotten": 1}
    assert missing.returncode == EXIT_NOT_FOUND
    assert json.loads(missing.stdout) == {"forgotten": 0}
    assert set(await client.failed.ids()) == {failures.b, failures.c}
    assert await client.queue_size("alpha") == 0  # forgetting does not retry

    # Some found, some not: the found ones go, and the exit code still says that something was missing.
    partly = run_cli("failed", "forget", failures.b, "missing", "--json", redis_url=redis_url)
    assert partly.returncode == EXIT_NOT_FOUND
    assert json.loads(partly.stdout) == {"forgotten": 1}
    assert await client.failed.ids() == [failures.c]
    # The filter indexes were cleaned up too.
    assert await client.failed.ids(FailedFilter(function="always_fails")) == []


async def test_failed_flush(client: Client, failures: Failures, redis_url: str) -> None:
    assert ok_json("failed", "flush", "--queue", "beta", "--yes", redis_url=redis_url) == {"flushed": 1}
    assert set(await client.failed.ids()) == {failures.a, failures.c}

    assert ok_json("failed", "flush", "--yes", redis_url=redis_url) == {"flushed": 2}
    assert await client.failed.count() == 0
    assert await client.failed.ids(FailedFilter(tags={"event_id": "5"})) == []
    assert await client.redis.keys(client.keys.prefix + ":failed*") == []


async def test_failed_prune_forgets_only_old_entries(client: Client, failures: Failures, redis_url: str) -> None:
    two_hours_ago_ms = int((time.time() - 2 * 3600) * 1000)
    old = failed_entry("old-failure", failed_at_ms=two_hours_ago_ms, args=["old"], tags={"event_id": "5"})
    await client.failed.record(old)
    assert await client.failed.count() == 4

    assert ok_json("failed", "prune", "--hours", "1", redis_url=redis_url) == {"pruned": 1}

    assert set(await client.failed.ids()) == failures.all  # the recent ones are kept
    assert set(await client.failed.ids(FailedFilter(tags={"event_id": "5"}))) == {failures.a, failures.c}
    with pytest.raises(JobNotFound):
        await client.failed.get("old-failure")


# --- errors ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port that accepts connections (into the kernel backlog) but never answers: a hung Redis."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


def _timed_size(url: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    proc = run_cli("size", redis_url=url, timeout=30, QS_CONNECT_TIMEOUT_S="1")
    return proc, time.monotonic() - started


def test_unreachable_redis_exits_4_within_seconds(silent_server: str) -> None:
    urls = {
        "refused": REFUSED_URL,
        "refused, with a password": "redis://:s3cret-pw@127.0.0.1:1/0",
        "never answers": silent_server,
    }
    results = parallel(*(partial(_timed_size, url) for url in urls.values()))

    for case, (proc, elapsed) in zip(urls, results, strict=True):
        assert proc.returncode == EXIT_REDIS_UNAVAILABLE, (case, proc.stderr)
        assert elapsed < 8, case
        assert "Redis" in proc.stderr, case
        assert "s3cret-pw" not in proc.stderr  # a password never reaches the terminal
        assert "Traceback" not in proc.stderr, case
        assert proc.stdout == "", case
    assert "127.0.0.1:1/0" in results[0][0].stderr


def test_bad_settings_exit_5_naming_the_setting(redis_url: str) -> None:
    unknown, invalid = parallel(
        partial(run_cli, "size", redis_url=redis_url, QS_NOPE="1"),
        partial(run_cli, "size", redis_url=redis_url, QS_LOG_LEVEL="LOUD"),
    )

    assert unknown.returncode == EXIT_CONFIG
    assert "QS_NOPE" in unknown.stderr
    assert invalid.returncode == EXIT_CONFIG
    assert "log_level" in invalid.stderr
    for proc in (unknown, invalid):
        assert "Traceback" not in proc.stderr


def test_keygen_prints_a_fernet_key_without_needing_redis() -> None:
    proc = run_cli("keygen", redis_url=REFUSED_URL)

    assert proc.returncode == 0, proc.stderr
    key = proc.stdout.strip()
    assert proc.stdout == key + "\n"
    assert len(key) == 44
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert key != TEST_KEY
    token = Fernet(key.encode()).encrypt(b"round trip")
    assert Fernet(key.encode()).decrypt(token) == b"round trip"


# --- worker ----------------------------------------------------------------------------------------------------------


async def test_worker_burst_runs_the_jobs_and_exits_0(client: Client, redis_url: str) -> None:
    values: list[Any] = ["a", 2, {"k": [1, None]}]
    jobs = [await client.enqueue_job("echo", v, _queue="alpha") for v in values]

    proc = run_cli("worker", WORKER, "--burst", redis_url=redis_url, timeout=30)

    assert proc.returncode == 0, proc.stderr
    assert [await client.job(j.job_id, "alpha").result(timeout=5) for j in jobs] == values
    assert await client.queue_size("alpha") == 0


async def test_worker_queue_option_serves_only_that_queue(client: Client, redis_url: str) -> None:
    on_alpha = await client.enqueue_job("echo", 1, _queue="alpha")
    on_beta = await client.enqueue_job("on_beta", 41, _queue="beta")

    proc = run_cli("worker", WORKER, "--queue", "beta", "--burst", redis_url=redis_url, timeout=30)

    assert proc.returncode == 0, proc.stderr
    assert await client.job(on_beta.job_id, "beta").result(timeout=5) == 42
    assert await client.queue_size("alpha") == 1
    assert [r["job_id"] for r in await recorded_runs(client)] == [on_beta.job_id]
    assert on_alpha.job_id not in proc.stderr


def test_worker_configuration_errors_exit_5(redis_url: str) -> None:
    cases: list[tuple[list[str], dict[str, str], str]] = [
        ([WORKER, "--queue", "nope", "--burst"], {}, "nope"),
        (["no.such.Module"], {}, "no.such.Module"),
        (["tests.app.settings.Missing", "--burst"], {}, "tests.app.settings.Missing"),
        (["tests.app.jobs.RUNS_KEY", "--burst"], {}, "worker_settings"),  # exists, but is not worker settings
        ([WORKER, "--burst"], {"QS_NOPE": "1"}, "QS_NOPE"),  # refused before the worker starts
    ]
    procs = parallel(
        *(partial(run_cli, "worker", *args, redis_url=redis_url, timeout=30, **env) for args, env, _ in cases)
    )

    for (args, env, named), proc in zip(cases, procs, strict=True):
        assert proc.returncode == EXIT_CONFIG, (args, env, proc.stderr)
        assert named in proc.stderr, (args, env, proc.stderr)
        assert "Traceback" not in proc.stderr, (args, env)


def test_version_and_unknown_command(redis_url: str) -> None:
    version, usage = run_all([["--version"], ["no-such-command"]], redis_url=redis_url)

    assert version.returncode == 0, version.stderr
    assert "0.1.0" in version.stdout
    assert usage.returncode == EXIT_USAGE
    assert "no-such-command" in usage.stderr
