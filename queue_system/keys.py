"""The whole Redis key schema in one place.

arq's own keys (``arq:job:{id}``, ``arq:result:{id}``, ``arq:in-progress:{id}``, ``arq:retry:{id}``) are fixed by
arq and re-exported here so nothing else spells them. Everything the framework adds lives under a configurable
prefix (default ``qs``). Queue sorted sets keep arq's naming so a plain-arq producer can address them:
queue ``default`` is arq's own ``arq:queue``; queue ``emails`` is ``arq:queue:emails``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from arq.constants import (
    default_queue_name as ARQ_DEFAULT_QUEUE,
)
from arq.constants import (
    in_progress_key_prefix as ARQ_IN_PROGRESS_PREFIX,
)
from arq.constants import (
    job_key_prefix as ARQ_JOB_PREFIX,
)
from arq.constants import (
    result_key_prefix as ARQ_RESULT_PREFIX,
)
from arq.constants import (
    retry_key_prefix as ARQ_RETRY_PREFIX,
)

from .errors import UnknownQueue

DEFAULT_QUEUE = "default"
# The version of the bookkeeping (lua/include/state.lua) this code keeps, stored at Keys.schema. 1: counters and
# state indexes per queue and tag; 2: also per function (indexes, counters, tag hashes' "fn:{f}:{state}" fields).
# Raise it whenever a derived structure is added, so a worker on older data says to run ``queue-system reindex``.
BOOKKEEPING_VERSION = 2
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


def validate_queue_name(name: str) -> str:
    """Queue names become parts of Redis keys; keep them to a safe, readable alphabet."""
    if not isinstance(name, str) or not _QUEUE_NAME.match(name):
        raise UnknownQueue(f"invalid queue name {name!r}: use letters, digits, '-', '_' or '.' (max 100)")
    return name


def queue_key(name: str) -> str:
    """The arq sorted set that holds a queue's jobs."""
    return ARQ_DEFAULT_QUEUE if name == DEFAULT_QUEUE else f"{ARQ_DEFAULT_QUEUE}:{name}"


def queue_name_from_key(key: str) -> str:
    if key == ARQ_DEFAULT_QUEUE:
        return DEFAULT_QUEUE
    prefix = ARQ_DEFAULT_QUEUE + ":"
    return key[len(prefix) :] if key.startswith(prefix) else key


def job_key(job_id: str) -> str:
    return ARQ_JOB_PREFIX + job_id


def result_key(job_id: str) -> str:
    return ARQ_RESULT_PREFIX + job_id


def retry_key(job_id: str) -> str:
    return ARQ_RETRY_PREFIX + job_id


def in_progress_key(job_id: str) -> str:
    return ARQ_IN_PROGRESS_PREFIX + job_id


@dataclass(frozen=True)
class Keys:
    """The framework's own keys, all under ``prefix``."""

    prefix: str = "qs"

    def meta(self, job_id: str) -> str:
        """Hash of a job's record: queue, priority, function, tags, state, timestamps, tries, progress, error.

        The one place a job's state is kept (field ``s``); written only by the Lua scripts that move the job.
        """
        return f"{self.prefix}:meta:{job_id}"

    def logs(self, job_id: str) -> str:
        """List of a job's log lines (``"<ms> <text>"``), capped to the last ``QS_JOB_LOG_LINES``."""
        return f"{self.prefix}:logs:{job_id}"

    def counts(self, queue: str) -> str:
        """Hash state -> number of the queue's jobs in it (plus ``total_*`` outcomes ever recorded)."""
        return f"{self.prefix}:counts:{queue}"

    def tag_counts(self, queue: str, key: str, value: str) -> str:
        """The same counts for the queue's jobs tagged ``key=value``."""
        return f"{self.prefix}:counts:{queue}:tag:{key}={value}"

    def function_counts(self, queue: str, function: str) -> str:
        """The same counts for the queue's jobs of one function."""
        return f"{self.prefix}:counts:{queue}:fn:{function}"

    def index(self, queue: str, state: str) -> str:
        """Sorted set of the queue's jobs in one state: completed, failed, aborted (by finish time, ms), delayed
        and retrying (by due time, as in the queue). Waiting jobs are the queue's ready band; active ones have none."""
        return f"{self.prefix}:jobs:{queue}:{state}"

    def function_index(self, queue: str, state: str, function: str) -> str:
        """Sorted set of the queue's jobs of one function in one state (any but active); waiting ones are scored
        as in the queue, the others as in :meth:`index`."""
        return f"{self.prefix}:jobs:{queue}:{state}:fn:{function}"

    def tag_index(self, queue: str, state: str, key: str, value: str) -> str:
        """Sorted set of the queue's jobs tagged ``key=value`` in one state (any but active), scored as
        :meth:`function_index`."""
        return f"{self.prefix}:jobs:{queue}:{state}:tag:{key}={value}"

    @property
    def schema(self) -> str:
        """The :data:`BOOKKEEPING_VERSION` the indexes and counters were last built for (set by a fresh start and by
        ``queue-system reindex``; reindex.py)."""
        return f"{self.prefix}:schema"

    @property
    def paused(self) -> str:
        """Set of paused queue names; claims skip them."""
        return f"{self.prefix}:paused"

    @property
    def aborting(self) -> str:
        """Set of active job ids whose abort was requested and not yet carried out."""
        return f"{self.prefix}:aborting"

    @property
    def control(self) -> str:
        """Pub/sub channel every worker listens on (``abort <job id>``)."""
        return f"{self.prefix}:control"

    @property
    def events(self) -> str:
        """Stream of job and queue events, trimmed to about ``QS_EVENTS_MAXLEN`` entries."""
        return f"{self.prefix}:events"

    def throughput(self, minute: int) -> str:
        """Hash ``{queue}:completed`` / ``{queue}:failed`` -> jobs that ended in that minute (ms // 60 000), kept 25 h
        (lua/include/state.lua)."""
        return f"{self.prefix}:throughput:{minute}"

    def seq(self, queue: str) -> str:
        """Counter that orders jobs FIFO within a priority level."""
        return f"{self.prefix}:seq:{queue}"

    def wake(self, queue: str) -> str:
        """List holding at most one token; idle workers block on it and wake when a job is enqueued."""
        return f"{self.prefix}:wake:{queue}"

    @property
    def functions(self) -> str:
        """Hash function name -> JSON policy summary, published by workers for producers and the inbox router."""
        return f"{self.prefix}:functions"

    @property
    def queues(self) -> str:
        """Set of every queue name that has seen a job."""
        return f"{self.prefix}:queues"

    def stats(self, queue: str) -> str:
        """Hash ``{event}:{function}`` -> jobs of the queue ever enqueued, started, completed, failed, retried or
        postponed by a rate limit (metrics.py); enqueue.lua counts enqueues, workers add the rest every beat."""
        return f"{self.prefix}:stats:{queue}"

    def worker(self, worker_id: str) -> str:
        """A live worker's heartbeat (JSON), expiring unless the worker beats again (heartbeat.py)."""
        return f"{self.prefix}:worker:{worker_id}"

    @property
    def workers(self) -> str:
        """Sorted set of worker ids by their last heartbeat (ms), so listing them needs no SCAN."""
        return f"{self.prefix}:workers"

    @property
    def restart(self) -> str:
        """When ``queue-system restart`` was last asked (ms); a worker that saw another value at start-up exits."""
        return f"{self.prefix}:restart"

    @property
    def limits(self) -> str:
        """Hash ``q:<queue>`` / ``f:<function>`` -> JSON of the rate limit and concurrency cap workers enforce
        (lua/include/limits.lua); written by workers at start-up."""
        return f"{self.prefix}:limits"

    def rate(self, scope: str) -> str:
        """Sorted set of admitted starts (score = ms) of one rate limit: ``q:<queue>``, ``f:<fn>``, ``k:<fn>:<key>``,
        and ``t:<scope>`` for the shared rate limiter of throttle.py."""
        return f"{self.prefix}:rate:{scope}"

    def throttle_pause(self, scope: str) -> str:
        """String whose TTL is the pause of one throttle.py scope (a 429's Retry-After, for every process)."""
        return f"{self.prefix}:throttle-pause:{scope}"

    def rate_tail(self, scope: str) -> str:
        """When the last job refused by a rate limit comes back (ms); refused jobs are spread from it."""
        return f"{self.prefix}:rate-tail:{scope}"

    def cap(self, scope: str) -> str:
        """Sorted set of the job ids holding a concurrency slot (``q:<queue>``, ``f:<fn>``), scored by lease end."""
        return f"{self.prefix}:cap:{scope}"

    @property
    def postponed(self) -> str:
        """Hash function -> jobs postponed by a limit or a SlowDown (field ``*``: all functions)."""
        return f"{self.prefix}:postponed"

    def unique(self, key: str) -> str:
        """String holding the id of the job that owns a unique key (``<function>:<key>``)."""
        return f"{self.prefix}:unique:{key}"

    @property
    def failed(self) -> str:
        """Sorted set of failed job ids by failure time (ms)."""
        return f"{self.prefix}:failed"

    def failed_entry(self, job_id: str) -> str:
        return f"{self.prefix}:failed:job:{job_id}"

    def failed_by_queue(self, queue: str) -> str:
        return f"{self.prefix}:failed:queue:{queue}"

    def failed_by_function(self, function: str) -> str:
        return f"{self.prefix}:failed:fn:{function}"

    def failed_by_tag(self, key: str, value: str) -> str:
        return f"{self.prefix}:failed:tag:{key}={value}"

    # ---- scheduling (schedule_store.py, recovery.py) ----------------------------------------------------------

    @property
    def schedules(self) -> str:
        """Hash schedule name -> definition JSON (declared crons and schedules added at run time alike)."""
        return f"{self.prefix}:schedules"

    @property
    def schedules_changed(self) -> str:
        """Pub/sub channel told the name of each schedule written or removed, so schedulers re-read at once."""
        return f"{self.prefix}:schedules:changed"

    def schedule(self, name: str) -> str:
        """Hash of a schedule's clock: version ``v``, ``next`` tick ms, ``last`` fired ms, ``fired`` count.

        ``{this}:pending`` (tick -> claim ms) holds claimed ticks not yet confirmed enqueued."""
        return f"{self.prefix}:schedule:{name}"

    def recovery(self, name: str) -> str:
        """Set (with a TTL) by the worker that runs start-up recovery hook ``name``; the others skip it."""
        return f"{self.prefix}:recovery:{name}"

    def batch(self, batch_id: str) -> str:
        """Hash of a batch: name, status, counts per outcome, callbacks (lua/include/batch.lua documents it)."""
        return f"{self.prefix}:batch:{batch_id}"

    def batch_jobs(self, batch_id: str) -> str:
        """Hash of a batch's jobs: job id -> pending | completed | failed | cancelled."""
        return f"{self.prefix}:batch:{batch_id}:jobs"

    @property
    def batches(self) -> str:
        """Sorted set of batch ids by creation time (ms)."""
        return f"{self.prefix}:batches"

    @property
    def batches_finished(self) -> str:
        """Sorted set of finished batch ids by finish time (ms), for pruning."""
        return f"{self.prefix}:batches:finished"
