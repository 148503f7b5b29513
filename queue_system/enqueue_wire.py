"""How the jobs of one enqueue become ``lua/enqueue.lua`` calls.

A job comes prepared in one of two forms. The general form (a list of strings: id, payload, ttl, due, priority,
queue, queue key, function, tags, id mode and the optional unique and limit fields) can say anything; a job with
a new id, ready now, and no unique or limit key (what a bulk enqueue mostly is) comes as a :data:`PlainJob`: the
fields it shares with its neighbours (its :data:`PlainShape`) and its payload. Consecutive plain jobs of one shape
go to the script as one run: the shape once, the ids as one string, each payload as its own argument. Sent as
general entries, every payload would be escaped into a JSON string and every field repeated; that was about half
of a bulk enqueue's cost in Python and a fifth of it in Redis. Order is kept: the calls run in a pipeline, each
holding one run or consecutive general entries, so FIFO numbers are handed out as the jobs came.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import orjson

from .scripts import ScriptArgs

# Jobs per enqueue.lua call: large enough to amortize the call, small enough not to block Redis for long.
ENQUEUE_CHUNK = 1000
# What plain jobs of one run share: ttl ms, priority, queue, queue key, function, tags JSON.
PlainShape = tuple[str, str, str, str, str, str]
PlainJob = tuple[PlainShape, bytes]
PreparedJob = list[str] | PlainJob
EMPTY_ENTRIES = b"[]"
ID_BYTES = 16  # random bytes per drawn id (32 hex digits, like arq's uuid4().hex)


@dataclass(slots=True)
class ScriptCall:
    """One enqueue.lua call: its arguments after the time and prefix, and each job's id and queue, in order.
    ``run``: the call is a run of plain jobs, which the script answers with their number (all are created: their
    ids are new) rather than one answer per job."""

    args: ScriptArgs
    ids: list[str]
    queues: list[str]
    run: bool = False


def script_calls(prepared: list[PreparedJob]) -> list[ScriptCall]:
    """Split ``prepared`` into calls of at most :data:`ENQUEUE_CHUNK` jobs (ids for plain jobs are drawn here)."""
    calls: list[ScriptCall] = []
    start, total = 0, len(prepared)
    while start < total:
        first = prepared[start]
        end = start + 1
        limit = min(total, start + ENQUEUE_CHUNK)
        if isinstance(first, list):
            while end < limit and isinstance(prepared[end], list):
                end += 1
            calls.append(_entries_call(prepared[start:end]))  # type: ignore[arg-type]
        else:
            shape = first[0]
            while end < limit and isinstance(prepared[end], tuple) and prepared[end][0] == shape:
                end += 1
            calls.append(_run_call(shape, prepared[start:end]))  # type: ignore[arg-type]
        start = end
    return calls


def _entries_call(entries: list[list[str]]) -> ScriptCall:
    return ScriptCall([orjson.dumps(entries)], [entry[0] for entry in entries], [entry[5] for entry in entries])


def _run_call(shape: PlainShape, jobs: list[PlainJob]) -> ScriptCall:
    ids = os.urandom(ID_BYTES * len(jobs)).hex()
    width = 2 * ID_BYTES
    args: ScriptArgs = [EMPTY_ENTRIES, orjson.dumps(shape), ids]
    args += [payload for _, payload in jobs]
    drawn = [ids[at : at + width] for at in range(0, len(ids), width)]
    return ScriptCall(args, drawn, [shape[2]] * len(jobs), run=True)
