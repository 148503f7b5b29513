"""The check that every job index and per-function counter agrees exactly with the job records.

One Lua call reads, atomically (so it holds while workers run), every index under ``{prefix}:jobs:``, every
per-function counter hash and the record of every job they name or the caller knows. From the records alone the
expected indexes are derived -- the state's own index for completed, failed, aborted, delayed and retrying; a
function's and each tag's index for every state but active -- and compared member for member. The records
themselves are checked against arq's own keys by tests/support/states.py.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass

from queue_system import Client

STATE_INDEXED = {"completed", "failed", "aborted", "delayed", "retrying"}
STATES = ("waiting", "delayed", "active", "retrying", "completed", "failed", "aborted")

READ_ALL = """
local prefix = ARGV[1]
local indexes, fn_counts, records, seen = {}, {}, {}, {}
local ids = {}
for i = 2, #ARGV do
  if not seen[ARGV[i]] then seen[ARGV[i]] = true; ids[#ids + 1] = ARGV[i] end
end
for _, key in ipairs(redis.call("KEYS", prefix .. ":jobs:*")) do
  local members = redis.call("ZRANGE", key, 0, -1)
  indexes[#indexes + 1] = { key, members }
  for _, id in ipairs(members) do
    if not seen[id] then seen[id] = true; ids[#ids + 1] = id end
  end
end
for _, pattern in ipairs({ ":counts:*:fn:*", ":counts:*:tag:*" }) do
  for _, key in ipairs(redis.call("KEYS", prefix .. pattern)) do
    fn_counts[#fn_counts + 1] = { key, redis.call("HGETALL", key) }
  end
end
for _, id in ipairs(ids) do
  local rec = redis.call("HMGET", prefix .. ":meta:" .. id, "q", "s", "f", "tg")
  records[#records + 1] = { id, rec[1] or "", rec[2] or "", rec[3] or "", rec[4] or "" }
end
return { indexes, fn_counts, records }
"""


@dataclass(frozen=True)
class Record:
    queue: str
    state: str
    function: str
    tags: dict[str, str]


Indexes = dict[str, set[str]]  # key -> members


async def read_all(client: Client, job_ids: list[str]) -> tuple[Indexes, dict[str, dict[str, int]], dict[str, Record]]:
    prefix = client.keys.prefix
    raw_indexes, raw_counts, raw_records = await client.redis.eval(READ_ALL, 0, prefix, *job_ids)  # type: ignore[misc]
    indexes = {key.decode(): {m.decode() for m in members} for key, members in raw_indexes}
    counts = {
        key.decode(): {flat[i].decode(): int(flat[i + 1]) for i in range(0, len(flat), 2)} for key, flat in raw_counts
    }
    records = {}
    for job_id, queue, state, function, tags in raw_records:
        if state:
            decoded = json.loads(tags) if tags else {}
            records[job_id.decode()] = Record(
                queue.decode(), state.decode(), function.decode(), {str(k): str(v) for k, v in decoded.items()}
            )
    return indexes, counts, records


def expected_indexes(prefix: str, records: dict[str, Record]) -> dict[str, set[str]]:
    expected: dict[str, set[str]] = defaultdict(set)
    for job_id, rec in records.items():
        if rec.state == "active":
            continue
        base = f"{prefix}:jobs:{rec.queue}:{rec.state}"
        if rec.state in STATE_INDEXED:
            expected[base].add(job_id)
        if rec.function:
            expected[f"{base}:fn:{rec.function}"].add(job_id)
        for key, value in rec.tags.items():
            expected[f"{base}:tag:{key}={value}"].add(job_id)
    return dict(expected)


async def assert_indexes_exact(client: Client, job_ids: list[str]) -> dict[str, set[str]]:
    """Each index holds exactly the jobs whose record says its queue, state (and function or tag), each
    per-function counter counts exactly the records of its queue and function in each state, and each tag's
    per-function fields those of its queue, tag and function. Returns the indexes."""
    prefix = client.keys.prefix
    indexes, counts, records = await read_all(client, job_ids)
    expected = expected_indexes(prefix, records)
    assert set(indexes) == set(expected), (
        f"missing {sorted(set(expected) - set(indexes))[:5]}, extra {sorted(set(indexes) - set(expected))[:5]}"
    )
    wrong = {key: (len(indexes[key]), len(members)) for key, members in expected.items() if indexes[key] != members}
    assert not wrong, f"{len(wrong)} indexes disagree with the records (size, expected), e.g. {list(wrong.items())[:5]}"
    true_counts = Counter((rec.queue, rec.function, rec.state) for rec in records.values() if rec.function)
    for queue, function in {(rec.queue, rec.function) for rec in records.values() if rec.function}:
        counted = counts.get(f"{prefix}:counts:{queue}:fn:{function}", {})
        assert {s: counted.get(s, 0) for s in STATES} == {s: true_counts[(queue, function, s)] for s in STATES}, (
            queue,
            function,
        )
    tagged = Counter(
        (rec.queue, f"{k}={v}", f"fn:{rec.function}:{rec.state}")
        for rec in records.values()
        if rec.function
        for k, v in rec.tags.items()
    )
    for key, counted in counts.items():  # a counter with no record left counts nothing
        queue, kind, name = _counter_name(prefix, key)
        if kind == "fn":
            assert {s: counted.get(s, 0) for s in STATES} == {s: true_counts[(queue, name, s)] for s in STATES}, key
        else:  # a tag's counts of its jobs per function and state
            by_function = {f: n for f, n in counted.items() if f.startswith("fn:") and n}
            assert by_function == {f: n for (q, kv, f), n in tagged.items() if (q, kv) == (queue, name)}, key
    assert {(q, kv) for q, kv, _ in tagged} <= {_counter_name(prefix, key)[::2] for key in counts}
    return indexes


def _counter_name(prefix: str, key: str) -> tuple[str, str, str]:
    """``{prefix}:counts:{queue}:fn:{function}`` or ``...:tag:{k=v}`` -> (queue, "fn" | "tag", name)."""
    queue, kind, name = key[len(prefix) + len(":counts:") :].split(":", 2)
    return queue, kind, name
