"""The true state of every job, derived independently of the bookkeeping under test, and the check that the
counters, indexes and records agree with it.

The truth is read from arq's own keys only (result, queue score, lease, retry counter), in one MULTI so that it
and the counters are one consistent snapshot even while workers run:
  result stored          -> completed / failed / aborted (by the result's success flag and exception type)
  in a queue, leased     -> active
  ready score (< 1e12)   -> waiting
  due-time score         -> retrying if it was tried before (retry counter > 0), else delayed
  nothing                -> gone (its record was removed by retention, or it never existed)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from queue_system import Client, JobState
from queue_system.keys import queue_key
from queue_system.serialization import loads
from queue_system.types import READY_SCORE_CEILING

INDEXED = ("completed", "failed", "aborted")
STATES = [s.value for s in JobState]


@dataclass
class Snapshot:
    truth: dict[str, str]  # job id -> true state ("gone" when nothing is kept)
    recorded: dict[str, str | None]  # job id -> the state its record says
    counts: dict[str, dict[str, int]]  # queue -> state (and total_*) -> counter
    tag_counts: dict[tuple[str, str], dict[str, int]]  # (queue, "k=v") -> counters
    index_sizes: dict[tuple[str, str], int]  # (queue, state) -> ZCARD


async def snapshot(
    client: Client, queue_of: dict[str, str], tags_of: dict[str, dict[str, str]], queues: list[str]
) -> Snapshot:
    ids = list(queue_of)
    tag_values = sorted({(queue_of[i], f"{k}={v}") for i in ids for k, v in tags_of.get(i, {}).items()})
    keys = client.keys
    async with client.redis.pipeline(transaction=True) as pipe:
        for queue in queues:
            pipe.zrange(queue_key(queue), 0, -1, withscores=True)
            pipe.hgetall(keys.counts(queue))
            for state in INDEXED:
                pipe.zcard(keys.index(queue, state))
        for queue, kv in tag_values:
            pipe.hgetall(keys.tag_counts(queue, *kv.split("=", 1)))
        for job_id in ids:
            pipe.get(f"arq:result:{job_id}")
            pipe.exists(f"arq:in-progress:{job_id}")
            pipe.get(f"arq:retry:{job_id}")
            pipe.hget(keys.meta(job_id), "s")
        answers = iter(await pipe.execute())
    scores: dict[str, float] = {}
    counts: dict[str, dict[str, int]] = {}
    index_sizes: dict[tuple[str, str], int] = {}
    for queue in queues:
        scores.update({member.decode(): score for member, score in next(answers)})
        counts[queue] = _ints(next(answers))
        for state in INDEXED:
            index_sizes[(queue, state)] = int(next(answers))
    tag_counts = {pair: _ints(next(answers)) for pair in tag_values}
    truth: dict[str, str] = {}
    recorded: dict[str, str | None] = {}
    for job_id in ids:
        result, leased, tries, state = next(answers), next(answers), next(answers), next(answers)
        truth[job_id] = _true_state(result, bool(leased), int(tries or 0), scores.get(job_id))
        recorded[job_id] = state.decode() if state else None
    return Snapshot(truth, recorded, counts, tag_counts, index_sizes)


def _true_state(result: bytes | None, leased: bool, tries: int, score: float | None) -> str:
    if result is not None:
        data: dict[str, Any] = loads(result)
        if data["s"] is True:
            return "completed"
        failure = data.get("r")
        return "aborted" if "JobAborted" in str(failure) else "failed"
    if score is None:
        return "gone"
    if leased:
        return "active"
    if score < READY_SCORE_CEILING:
        return "waiting"
    return "retrying" if tries > 0 else "delayed"


def _ints(raw: dict[bytes, bytes]) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in raw.items()}


def assert_exact(snap: Snapshot, queue_of: dict[str, str], tags_of: dict[str, dict[str, str]]) -> None:
    """Every counter, tag counter, index and record agrees with the true states."""
    wrong_records = {
        job_id: (snap.recorded[job_id], true)
        for job_id, true in snap.truth.items()
        if snap.recorded[job_id] != (None if true == "gone" else true)
    }
    assert not wrong_records, f"{len(wrong_records)} records disagree, e.g. {list(wrong_records.items())[:5]}"
    for queue, counters in snap.counts.items():
        true = Counter(s for i, s in snap.truth.items() if queue_of[i] == queue and s != "gone")
        assert {s: counters.get(s, 0) for s in STATES} == {s: true.get(s, 0) for s in STATES}, queue
        for state in INDEXED:
            assert snap.index_sizes[(queue, state)] == true.get(state, 0), (queue, state)
    for (queue, kv), counters in snap.tag_counts.items():
        key, value = kv.split("=", 1)
        true = Counter(
            s
            for i, s in snap.truth.items()
            if queue_of[i] == queue and tags_of.get(i, {}).get(key) == value and s != "gone"
        )
        assert {s: counters.get(s, 0) for s in STATES} == {s: true.get(s, 0) for s in STATES}, (queue, kv)
