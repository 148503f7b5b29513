"""Bad payloads never run code and never vanish: they fail into the failed store and the worker keeps going."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from queue_system import Client, QueueConfig
from queue_system.keys import queue_key
from tests.app.jobs import secret_job
from tests.support.queue_fixtures import recorded_runs, run_burst


class _Exploit:
    """Unpickling this would create a file: proof that pickle.loads ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


async def _plant(client: Client, job_id: str, payload: bytes) -> None:
    await client.redis.set(f"arq:job:{job_id}", payload)
    await client.redis.zadd(queue_key("alpha"), {job_id: 1})


async def test_a_planted_pickle_executes_nothing(client: Client, app_settings: type, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"t": 1, "f": "echo", "a": [_Exploit(marker)], "k": {}, "et": 1})
    await _plant(client, "planted", payload)
    follower = await client.enqueue_job("echo", "after", _queue="alpha")
    await run_burst(app_settings)
    assert not marker.exists()
    entry = await client.failed.get("planted")
    assert entry.reason == "undecodable payload"
    assert "undecodable payload" in entry.message
    assert await follower.result(timeout=1) == "after"  # the worker kept running


async def test_garbage_and_wrongly_shaped_json_fail_the_same_way(client: Client, app_settings: type) -> None:
    await _plant(client, "garbage", b"\x00\x01 not json")
    await _plant(client, "shape", b'{"f": "echo", "a": "not-a-list", "k": {}, "t": null, "et": 1}')
    await _plant(client, "list", b"[1, 2, 3]")
    await run_burst(app_settings)
    for job_id in ("garbage", "shape", "list"):
        assert (await client.failed.get(job_id)).reason == "undecodable payload"
    assert await recorded_runs(client) == []


async def test_unknown_function_fails_with_its_name_and_arguments(client: Client, app_settings: type) -> None:
    job = await client.enqueue_job("no_such_function", 1, x=2, _queue="alpha")
    follower = await client.enqueue_job("echo", "after", _queue="alpha")
    await run_burst(app_settings)
    entry = await client.failed.get(job.job_id)
    assert entry.reason == "function not found"
    assert entry.message == "function 'no_such_function' not found"
    assert (entry.function, entry.args, entry.kwargs) == ("no_such_function", [1], {"x": 2})
    assert await follower.result(timeout=1) == "after"


async def test_sensitive_jobs_are_encrypted_at_rest_and_redacted_when_failed(
    client: Client, app_settings: type
) -> None:
    ok = await secret_job.options(client=client).enqueue("4111111111111111")
    bad = await secret_job.options(client=client).enqueue("5500000000000004", fail=True)
    for job in (ok, bad):
        stored = await client.redis.get(f"arq:job:{job.job_id}")
        assert b"4111111111111111" not in stored and b"5500000000000004" not in stored and b'"enc"' in stored
    await run_burst(app_settings)
    assert await ok.result(timeout=1) == "1111"
    entry = await client.failed.get(bad.job_id)
    assert entry.args == ["<redacted>"] and "5500000000000004" not in entry.payload
    result_raw = await client.redis.get(f"arq:result:{ok.job_id}")
    assert b'"1111"' not in result_raw  # the result is encrypted too


async def test_enqueue_by_name_encrypts_once_workers_published_the_function(
    client: Client, app_settings: type, config: QueueConfig
) -> None:
    await run_burst(app_settings)  # a worker start publishes the function table
    async with await Client.connect(config) as producer:
        job = await producer.enqueue_job("secret_job", "4111111111111111")
        assert b"4111111111111111" not in await producer.redis.get(f"arq:job:{job.job_id}")


async def test_a_plaintext_payload_for_a_sensitive_function_is_refused_but_replayable(
    client: Client, app_settings: type
) -> None:
    # A producer without keys (e.g. plain arq) wrote the card number in clear: the worker must not run it.
    await client.redis.set("arq:job:clear", b'{"t":null,"f":"secret_job","a":["4111111111111111"],"k":{},"et":1}')
    await client.redis.zadd(queue_key("alpha"), {"clear": 1})
    await run_burst(app_settings)
    assert await recorded_runs(client, "secret_job") == []
    entry = await client.failed.get("clear")
    assert entry.function == "secret_job" and entry.args == ["<redacted>"]
    assert "4111111111111111" not in entry.payload and "unencrypted" in entry.message
    retried = await client.retry_failed("clear")  # the replay is stored encrypted, and runs
    assert b"4111111111111111" not in await client.redis.get("arq:job:clear")
    await run_burst(app_settings)
    assert await retried.result(timeout=2) == "1111"
