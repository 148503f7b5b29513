"""``queue-system supervise``: keeps each group's worker processes running and sized to its queues' load.

Every ``check_interval_s`` it reads the queues once (counts, oldest waiting age, heartbeats: the same snapshot
its ``/metrics`` serves), then per group: reaps exited processes, applies the scaling rule (scaling.py; each
decision logged and published as a ``scaling_up``/``scaling_down`` event) and starts processes up to the target.
A process that exits 0 retired on purpose (``queue-system restart``, ``--max-jobs``, ``--memory``) and is
replaced at once, with the code now on disk; one that crashed or was killed is replaced after a backoff that
doubles per crash in a row. SIGTERM/SIGINT stops every process gracefully (their running jobs finish), waits for
them, and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..api import QueueAPI
from ..config import QueueConfig
from ..connection import REDIS_DOWN_ERRORS
from ..events import publish
from ..logging_setup import get_logger
from ..metrics import Snapshot, SnapshotCollector, take_snapshot
from .config import GroupConfig, SupervisorConfig
from .process import WorkerProcess
from .scaling import Load, decide

log = get_logger("queue_system.supervisor")
KILL_AFTER_S = 5.0  # past the workers' own grace period


@dataclass
class GroupState:
    config: GroupConfig
    target: int
    processes: list[WorkerProcess] = field(default_factory=list)
    last_scaled: float = float("-inf")
    crashes: int = 0
    next_start: float = 0.0

    @property
    def live(self) -> list[WorkerProcess]:
        return [p for p in self.processes if not p.retiring]


class Supervisor:
    def __init__(self, settings: SupervisorConfig, config: QueueConfig) -> None:
        self.settings = settings
        self.config = config
        self.groups = [GroupState(g, g.min_workers) for g in settings.groups]
        self.collector = SnapshotCollector()
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        self._stop.set()

    def serve_metrics(self, port: int, host: str) -> None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector)
        registry.register(_GroupCollector(self))
        start_http_server(port, addr=host, registry=registry)
        log.info("supervisor.metrics_serving", host=host, port=port)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        async with await QueueAPI.connect(self.config) as api:
            log.info("supervisor.started", groups=[g.config.name for g in self.groups])
            try:
                while not self._stop.is_set():
                    await self.tick(api)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), self.settings.check_interval_s)
            finally:
                await self.stop_all()

    async def tick(self, api: QueueAPI) -> None:
        try:
            snapshot = await take_snapshot(api)
        except REDIS_DOWN_ERRORS as exc:
            log.warning("supervisor.redis_unavailable", error=str(exc))
            snapshot = None
        if snapshot is not None:
            self.collector.snapshot = snapshot
        for group in self.groups:
            self.reap(group)
            if snapshot is not None:
                await self.scale(api, group, _load(group.config, snapshot))
            self.fill(group)

    def reap(self, group: GroupState) -> None:
        for proc in [p for p in group.processes if p.poll() is not None]:
            group.processes.remove(proc)
            code = proc.poll()
            if proc.retiring:
                log.info("supervisor.worker_stopped", group=group.config.name, pid=proc.pid, code=code)
            elif code == 0:
                log.info("supervisor.worker_retired", group=group.config.name, pid=proc.pid, replaced="now")
            else:
                self._crashed(group, proc, code)

    def _crashed(self, group: GroupState, proc: WorkerProcess, code: int | None) -> None:
        if proc.uptime_s >= self.settings.stable_after_s:
            group.crashes = 0
        delay = min(self.settings.restart_backoff_s * 2**group.crashes, self.settings.restart_backoff_max_s)
        group.crashes += 1
        group.next_start = time.monotonic() + delay
        log.warning("supervisor.worker_crashed", group=group.config.name, pid=proc.pid, code=code, restart_in_s=delay)

    async def scale(self, api: QueueAPI, group: GroupState, load: Load) -> None:
        current = len(group.live)
        decision = decide(group.config, current, load, since_last_scaling_s=time.monotonic() - group.last_scaled)
        if decision is None or decision.target == group.target:
            return
        event = "scaling_up" if decision.target > group.target else "scaling_down"
        log.info(
            f"supervisor.{event}",
            group=group.config.name,
            queues=list(group.config.queues),
            **{"from": group.target, "to": decision.target},
            reason=decision.reason,
        )
        values = {"from": str(group.target), "to": str(decision.target), "reason": decision.reason}
        group.target, group.last_scaled = decision.target, time.monotonic()
        for extra in group.live[decision.target :]:  # the newest go first
            extra.retire()
        try:
            await publish(
                api.redis, api.keys, self.config.events_maxlen, event,
                group=group.config.name, queue=",".join(group.config.queues), **values,
            )  # fmt: skip
        except REDIS_DOWN_ERRORS as exc:
            log.warning("supervisor.event_not_published", error=str(exc))

    def fill(self, group: GroupState) -> None:
        while len(group.live) < group.target and time.monotonic() >= group.next_start:
            proc = WorkerProcess(group.config, self.settings.worker_settings)
            group.processes.append(proc)
            log.info("supervisor.worker_started", group=group.config.name, pid=proc.pid)

    async def stop_all(self) -> None:
        """SIGTERM every process, wait for their jobs to finish (their grace period), then SIGKILL stragglers."""
        procs = [p for g in self.groups for p in g.processes]
        log.info("supervisor.stopping", processes=len(procs))
        for proc in procs:
            proc.retire()
        deadline = time.monotonic() + self.config.shutdown_grace_s + KILL_AFTER_S
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for proc in procs:
            if proc.poll() is None:
                log.error("supervisor.worker_killed", pid=proc.pid)
                proc.signal(signal.SIGKILL)
                proc.process.wait()
        log.info("supervisor.stopped")


def _load(group: GroupConfig, snapshot: Snapshot) -> Load:
    mine = [s for s in snapshot.stats if s.queue in group.queues and not s.paused]
    return Load(
        waiting=sum(s.counts.waiting for s in mine),
        active=sum(s.counts.active for s in mine),
        oldest_waiting_s=max((snapshot.oldest_s.get(s.queue, 0.0) for s in mine), default=0.0),
    )


class _GroupCollector(Collector):
    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def collect(self) -> Iterator[Metric]:
        running = GaugeMetricFamily("queue_system_supervisor_processes", "Processes per group.", labels=["group"])
        target = GaugeMetricFamily(
            "queue_system_supervisor_target_processes", "Processes each group is scaled to.", labels=["group"]
        )
        for group in self.supervisor.groups:
            running.add_metric([group.config.name], len(group.live))
            target.add_metric([group.config.name], group.target)
        yield from (running, target)
