"""How many finished job records each queue keeps, and for how long (BullMQ's ``removeOnComplete {age, count}``).

A queue's policy comes from, in this order: ``worker_settings(retention={queue: QueueRetention(...)})``, the
``keep_completed``/``keep_failed`` of the jobs declared on that queue, then the configured defaults
(``QS_KEEP_COMPLETED_COUNT`` … ``QS_KEEP_FAILED_AGE_S``). Two different declarations for one queue are a
``ConfigError``: a count is a property of the queue's list of records, not of one job.

A completed record's age defaults to its job's ``keep_result``, and a record's result lives exactly as long as
the record (trimming deletes both), so ``job.result()``, ``get_job`` and the counts never disagree. Aborted
records follow the failed policy. The Lua scripts take a policy as (count, age ms), -1 meaning "no limit".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .config import QueueConfig
from .errors import ConfigError
from .spec import JobSpec
from .types import JobState, Retention

Limits = tuple[int, int]  # (keep count, keep age ms), -1 = no limit
# A result outlives its record's age by this much, so the sweep (not the TTL) removes record and result together.
RESULT_TTL_SLACK_MS = 60_000


@dataclass(frozen=True)
class QueueRetention:
    """The retention of one queue's completed and failed (and aborted) records."""

    completed: Retention = field(default_factory=Retention)
    failed: Retention = field(default_factory=Retention)

    @classmethod
    def of(cls, completed: Retention | int | None = None, failed: Retention | int | None = None) -> QueueRetention:
        return cls(Retention.parse(completed) or Retention(), Retention.parse(failed) or Retention())


class RetentionPolicies:
    """The resolved policy of every queue a worker serves (and the defaults for any other queue)."""

    def __init__(
        self,
        config: QueueConfig,
        by_queue: Mapping[str, QueueRetention],
        keep_result_s_by_queue: Mapping[str, float] | None = None,
    ) -> None:
        self.config = config
        # The longest keep_result of a queue's jobs: the age its periodic sweep uses when the policy sets none.
        self.keep_result_s_by_queue = dict(keep_result_s_by_queue or {})
        self._limits: dict[tuple[str, JobState, float | None], Limits] = {}  # asked once per finished job
        self.completed_default = Retention(config.keep_completed_count, config.keep_completed_age_s)
        self.failed_default = Retention(config.keep_failed_count, config.keep_failed_age_s)
        self.by_queue = {
            queue: QueueRetention(
                policy.completed.merged_over(self.completed_default), policy.failed.merged_over(self.failed_default)
            )
            for queue, policy in by_queue.items()
        }

    @classmethod
    def resolve(
        cls, config: QueueConfig, specs: Iterable[JobSpec], explicit: Mapping[str, QueueRetention] | None = None
    ) -> RetentionPolicies:
        declared: dict[str, QueueRetention] = {}
        keep_results: dict[str, float] = {}
        for spec in specs:
            keep = config.keep_result_s if spec.keep_result_s is None else spec.keep_result_s
            keep_results[spec.queue] = max(keep, keep_results.get(spec.queue, 0))
            if spec.keep_completed is None and spec.keep_failed is None:
                continue
            mine = QueueRetention(spec.keep_completed or Retention(), spec.keep_failed or Retention())
            other = declared.setdefault(spec.queue, mine)
            if other != mine:
                raise ConfigError(f"jobs on queue {spec.queue!r} declare different keep_completed/keep_failed")
        for queue, policy in (explicit or {}).items():
            if queue in declared and declared[queue] != policy:
                raise ConfigError(f"queue {queue!r}: retention given in worker_settings and differently by its jobs")
            declared[queue] = policy
        return cls(config, declared, keep_results)

    def of(self, queue: str) -> QueueRetention:
        return self.by_queue.get(queue) or QueueRetention(self.completed_default, self.failed_default)

    def limits(self, queue: str, state: JobState, keep_result_s: float | None = None) -> Limits:
        """(count, age ms) for a finished state; a completed record's unset age is ``keep_result_s``."""
        key = (queue, state, keep_result_s)
        found = self._limits.get(key)
        if found is None:
            found = self._limits[key] = self._resolve_limits(queue, state, keep_result_s)
        return found

    def _resolve_limits(self, queue: str, state: JobState, keep_result_s: float | None) -> Limits:
        policy = self.of(queue)
        if state is JobState.COMPLETED:
            age = policy.completed.age_s
            if age is None:
                age = self.config.keep_result_s if keep_result_s is None else keep_result_s
            return _limit(policy.completed.count), _ms(age)
        return _limit(policy.failed.count), _ms(policy.failed.age_s)

    def sweep_args(self, queue: str) -> list[str | int | float | bytes]:
        """The state/count/age triples sweep.lua takes for ``queue``."""
        keep_result_s = self.keep_result_s_by_queue.get(queue)
        args: list[str | int | float | bytes] = []
        for state in (JobState.COMPLETED, JobState.FAILED, JobState.ABORTED):
            count, age_ms = self.limits(queue, state, keep_result_s)
            args += [state.value, count, age_ms]
        return args


def result_ttl_ms(limits: Limits) -> int:
    """How long a result is stored: its record's age plus a little; -1 = forever; 0 = store none (no record kept)."""
    count, age_ms = limits
    if count == 0 or age_ms == 0:
        return 0
    return -1 if age_ms < 0 else age_ms + RESULT_TTL_SLACK_MS


def _limit(count: int | None) -> int:
    return -1 if count is None else count


def _ms(age_s: float | None) -> int:
    return -1 if age_s is None else int(age_s * 1000)
