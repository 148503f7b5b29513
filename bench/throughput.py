#!/usr/bin/env python
"""Throughput and latency of queue-system's worker against its Python peers, in one run on one private Redis.

    bench/setup                                   # once: a venv per peer under bench/.venvs/
    .venv/bin/python bench/throughput.py          # the full run (about 30 minutes on 2 cores)
    .venv/bin/python bench/throughput.py --quick  # 1 run at 1/10 of the sizes, to smoke-test
    .venv/bin/python bench/throughput.py --systems qs,saq --scenarios drain,latency --runs 1

Systems: ``qs`` (``queue-system worker``, default middleware, failed store and retries on), ``arq`` (plain arq 0.28,
poll_delay 0.5 s), ``arq-fast`` (poll_delay 0.01 s), ``saq``, ``streaq`` and ``taskiq`` (taskiq-redis streams).
Each system's producer and worker run as subprocesses of that system's venv python (``bench/systems/*_system.py``)
and talk to this harness only through Redis and the last JSON line of stdout. Redis is flushed before every
measurement; the scenarios rotate over the systems inside each run, so drift in machine load hits them alike.
queue_system/ is copied when the run starts and put first on the workers' PYTHONPATH, so edits made to the tree
during a run do not change what is measured; the header names the commit and a digest of the copied files.

Scenarios (sizes shown for the full run):
    enqueue  20 000 no-op jobs enqueued one by one (sequential awaits)                        -> jobs/s
    bulk     20 000 no-op jobs through the system's bulk call, 1000 per call                   -> jobs/s
    drain    20 000 pre-enqueued no-op jobs, one worker at concurrency 100; first job start
             to last job end, after checking every job ran exactly once                        -> jobs/s
    sleep    the same with 5 000 jobs that each ``await asyncio.sleep(0.01)``                  -> jobs/s
    latency  an idle worker; its RSS and its Redis commands/s over 5 s are measured, then 1 000
             jobs are enqueued 5 ms apart; latency = job start - enqueue call (same clock) -> p50, p99 ms
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SYSTEMS_DIR = BENCH / "systems"
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(SYSTEMS_DIR))

from common import JOB_NOOP, JOB_SLEEP, PROBE_ID, RECORDS_KEY  # noqa: E402

from tests.support.redis_server import RedisServer  # noqa: E402

PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
CONCURRENCY = 100
PRODUCE_TIMEOUT_S = 600.0
DRAIN_TIMEOUT_S = 600.0
PROBE_TIMEOUT_S = 60.0
LATENCY_TIMEOUT_S = 120.0
GRACE_S = 0.5  # after the last expected record: a job that runs twice shows up in this time
IDLE_SETTLE_S = 2.0
IDLE_WINDOW_S = 5.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class System:
    name: str
    python: Path
    adapter: str
    worker_args: tuple[str, ...] = ()

    @property
    def is_peer(self) -> bool:
        return self.name != "qs"


def _venv(name: str) -> Path:
    return BENCH / ".venvs" / name / "bin" / "python"


SYSTEMS = {
    s.name: s
    for s in (
        System("qs", PROJECT_PYTHON, "qs_system.py"),
        System("arq", PROJECT_PYTHON, "arq_system.py"),
        System("arq-fast", PROJECT_PYTHON, "arq_system.py", ("--poll-delay", "0.01")),
        System("saq", _venv("saq"), "saq_system.py"),
        System("streaq", _venv("streaq"), "streaq_system.py"),
        System("taskiq", _venv("taskiq"), "taskiq_system.py"),
    )
}
REFERENCE = "arq"  # the second ratio column: against plain arq with its defaults

SCENARIOS = ("enqueue", "bulk", "drain", "sleep", "latency")
FULL_SIZES = {"enqueue": 20_000, "bulk": 20_000, "drain": 20_000, "sleep": 5_000, "latency": 1_000}


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    unit: str
    higher_is_better: bool
    digits: int = 0


METRICS = {
    m.key: m
    for m in (
        Metric("enqueue", "1. enqueue one by one", "jobs/s", True),
        Metric("bulk", "2. bulk enqueue", "jobs/s", True),
        Metric("drain", "3. drain no-op jobs (1 worker, concurrency 100)", "jobs/s", True),
        Metric("sleep", "4. drain 10 ms sleep jobs (1 worker, concurrency 100)", "jobs/s", True),
        Metric("latency_p50", "5. pickup latency p50 (idle worker, a job every 5 ms)", "ms", False, 2),
        Metric("latency_p99", "5. pickup latency p99 (idle worker, a job every 5 ms)", "ms", False, 2),
        Metric("idle_rss", "idle worker RSS after start-up (process tree)", "MB", False, 1),
        Metric("idle_cmds", "idle worker Redis load", "commands/s", False, 1),
    )
}
SCENARIO_METRICS = {
    "enqueue": ("enqueue",),
    "bulk": ("bulk",),
    "drain": ("drain",),
    "sleep": ("sleep",),
    "latency": ("latency_p50", "latency_p99", "idle_rss", "idle_cmds"),
}


class BenchError(Exception):
    """One scenario failed for one system; the message is the reason shown in the table."""


class NotApplicable(Exception):
    """The system has no way to do what the scenario measures."""


@dataclass(frozen=True)
class Record:
    i: int
    sent: float
    start: float
    end: float

    @classmethod
    def parse(cls, raw: bytes) -> Record:
        i, sent, start, end = raw.split()
        return cls(int(i), float(sent), float(start), float(end))


def _last_line(text: str, limit: int = 160) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "no output")[:limit]


def _tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux /proc)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                pids += _tree_pids(int(child))
    return pids


def _rss_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class WorkerProcess:
    """One system's worker command, in its own process group, with its output in a log file."""

    def __init__(self, system: System, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        command = [str(system.python), system.adapter, "worker", "--concurrency", str(CONCURRENCY)]
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [*command, *system.worker_args],
                cwd=SYSTEMS_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check_alive(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise BenchError(f"worker exited with status {code}: {self.last_line()}")

    def last_line(self) -> str:
        return _last_line(self.log_path.read_text(errors="replace"))

    def rss_mb(self) -> float:
        return sum(_rss_kb(pid) for pid in _tree_pids(self.proc.pid)) / 1024

    def stop(self) -> None:
        """SIGTERM to the whole group (as a terminal's Ctrl-C would), SIGKILL if it is still there after 10 s."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # a child (taskiq's) that outlived its parent goes too
        self.proc.wait(timeout=STOP_TIMEOUT_S)


class Bench:
    """The private Redis, the subprocess plumbing and the measurements the scenarios share."""

    def __init__(self, redis: RedisServer, log_dir: Path, source_dir: Path) -> None:
        self.redis = redis.client()
        self.log_dir = log_dir
        self.env = {
            **os.environ,
            "BENCH_REDIS_URL": redis.url,
            "REDIS_URL": redis.url,
            "PYTHONPATH": str(source_dir),
            "PYTHONUNBUFFERED": "1",
        }
        self._logs = 0

    def command(self, system: System, *args: str, timeout: float = PRODUCE_TIMEOUT_S) -> dict[str, Any]:
        """Run the adapter once and return the JSON object on the last line of its stdout."""
        proc = subprocess.run(
            [str(system.python), system.adapter, *args],
            cwd=SYSTEMS_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise BenchError(f"`{' '.join(args[:3])}` exited with {proc.returncode}: {_last_line(proc.stderr)}")
        try:
            result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError) as exc:
            raise BenchError(f"`{' '.join(args[:3])}` printed no JSON: {_last_line(proc.stdout)}") from exc
        return result

    def produce(self, system: System, scenario: str, n: int, job: str = JOB_NOOP) -> dict[str, Any]:
        return self.command(system, "produce", "--scenario", scenario, "--job", job, "--n", str(n))

    @contextlib.contextmanager
    def worker(self, system: System, label: str) -> Iterator[WorkerProcess]:
        self._logs += 1
        worker = WorkerProcess(system, self.env, self.log_dir / f"{self._logs:03d}-{system.name}-{label}.log")
        try:
            yield worker
        finally:
            worker.stop()

    def flush(self) -> None:
        self.redis.flushall()

    def wait_records(self, expected: set[int], worker: WorkerProcess, timeout: float) -> list[Record]:
        """Wait until as many jobs recorded as expected, then check that each expected job ran exactly once."""
        deadline = time.monotonic() + timeout
        while (count := int(self.redis.llen(RECORDS_KEY))) < len(expected):
            worker.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"timed out after {timeout:.0f} s with {count} of {len(expected)} jobs done")
            time.sleep(0.05)
        time.sleep(GRACE_S)
        records = [Record.parse(raw) for raw in self.redis.lrange(RECORDS_KEY, 0, -1)]
        ran = {r.i for r in records}
        if len(records) != len(expected) or ran != expected:
            problems = [f"{len(records)} runs for {len(expected)} jobs"]
            if len(records) > len(ran):
                problems.append(f"{len(records) - len(ran)} extra runs of jobs that had already run")
            if expected - ran:
                problems.append(f"{len(expected - ran)} jobs never ran")
            raise BenchError("not exactly once: " + ", ".join(problems))
        return records

    def idle_load(self, seconds: float) -> tuple[float, dict[str, float]]:
        """Commands/s that Redis processes over ``seconds`` (without our own INFO), and the busiest commands."""
        before = self.redis.info("all")
        started = time.perf_counter()
        time.sleep(seconds)
        after = self.redis.info("all")
        elapsed = time.perf_counter() - started
        total = (after["total_commands_processed"] - before["total_commands_processed"] - 1) / elapsed
        per_command = {
            key.removeprefix("cmdstat_"): (value["calls"] - before.get(key, {}).get("calls", 0)) / elapsed
            for key, value in after.items()
            if key.startswith("cmdstat_") and key != "cmdstat_info"
        }
        return total, {k: v for k, v in sorted(per_command.items(), key=lambda kv: -kv[1]) if v > 0}


# -- scenarios: each returns {metric: value} for one system and one run ---------------------------------------------


def run_enqueue(bench: Bench, system: System, n: int) -> dict[str, float]:
    out = bench.produce(system, "enqueue", n)
    return {"enqueue": n / out["seconds"]}


def run_bulk(bench: Bench, system: System, n: int) -> dict[str, float]:
    out = bench.produce(system, "bulk", n)
    if "na" in out:
        raise NotApplicable(out["na"])
    NOTES.bulk_methods[system.name] = out["bulk_method"]
    return {"bulk": n / out["seconds"]}


def _drain(bench: Bench, system: System, n: int, job: str) -> float:
    bench.produce(system, "fill", n, job)
    with bench.worker(system, job) as worker:
        records = bench.wait_records(set(range(n)), worker, DRAIN_TIMEOUT_S)
    span = max(r.end for r in records) - min(r.start for r in records)
    return n / span


def run_drain(bench: Bench, system: System, n: int) -> dict[str, float]:
    return {"drain": _drain(bench, system, n, JOB_NOOP)}


def run_sleep(bench: Bench, system: System, n: int) -> dict[str, float]:
    return {"sleep": _drain(bench, system, n, JOB_SLEEP)}


@dataclass
class Notes:
    """Facts printed under the tables: how each system bulk-enqueues, and each idle worker's busiest commands."""

    bulk_methods: dict[str, str] = field(default_factory=dict)
    idle_top: dict[str, dict[str, float]] = field(default_factory=dict)


NOTES = Notes()


def run_latency(bench: Bench, system: System, n: int) -> dict[str, float]:
    with bench.worker(system, "latency") as worker:
        bench.produce(system, "probe", 1)
        bench.wait_records({PROBE_ID}, worker, PROBE_TIMEOUT_S)
        time.sleep(IDLE_SETTLE_S)
        worker.check_alive()
        rss = worker.rss_mb()
        commands, top = bench.idle_load(IDLE_WINDOW_S)
        NOTES.idle_top[system.name] = top
        bench.redis.delete(RECORDS_KEY)
        bench.produce(system, "latency", n)
        records = bench.wait_records(set(range(n)), worker, LATENCY_TIMEOUT_S)
    latencies_ms = sorted((r.start - r.sent) * 1000 for r in records)
    centiles = statistics.quantiles(latencies_ms, n=100, method="inclusive")
    return {"latency_p50": centiles[49], "latency_p99": centiles[98], "idle_rss": rss, "idle_cmds": commands}


RUNNERS: dict[str, Callable[[Bench, System, int], dict[str, float]]] = {
    "enqueue": run_enqueue,
    "bulk": run_bulk,
    "drain": run_drain,
    "sleep": run_sleep,
    "latency": run_latency,
}


# -- results --------------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one metric gave for one system over the runs."""

    values: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    na: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None


@dataclass
class Results:
    outcomes: dict[tuple[str, str], Outcome] = field(default_factory=dict)

    def get(self, metric: str, system: str) -> Outcome:
        return self.outcomes.setdefault((metric, system), Outcome())


def _fmt(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return "—"
    return f"{value / reference:.2f}x"


def _best(values: list[float], metric: Metric) -> float | None:
    if not values:
        return None
    return max(values) if metric.higher_is_better else min(values)


def render_table(results: Results, metric: Metric, systems: list[System]) -> str:
    medians = {s.name: results.get(metric.key, s.name).median for s in systems}
    best_peer = _best([m for s in systems if s.is_peer and (m := medians[s.name]) is not None], metric)
    reference = medians.get(REFERENCE)
    better = "higher" if metric.higher_is_better else "lower"
    lines = [
        f"### {metric.title} — {metric.unit}, {better} is better",
        "",
        "| system | median | runs | ÷ best peer | ÷ arq |",
        "|---|---:|---|---:|---:|",
    ]
    for s in systems:
        outcome = results.get(metric.key, s.name)
        runs = ", ".join(_fmt(v, metric.digits) for v in outcome.values)
        if outcome.failures:
            runs = f"{runs}; " if runs else ""
            runs += f"{len(outcome.failures)} failed: {outcome.failures[-1]}"
        if outcome.na is not None:
            lines.append(f"| {s.name} | n/a | {outcome.na} | | |")
            continue
        median = medians[s.name]
        lines.append(
            f"| {s.name} | {_fmt(median, metric.digits)} | {runs} | {_ratio(median, best_peer)} "
            f"| {_ratio(median, reference)} |"
        )
    return "\n".join(lines)


def render_bulk_notes(systems: list[System]) -> str:
    lines = ["How each system bulk-enqueues:", ""]
    lines += [f"- {s.name}: {NOTES.bulk_methods[s.name]}" for s in systems if s.name in NOTES.bulk_methods]
    return "\n".join(lines)


def render_idle_notes(systems: list[System]) -> str:
    lines = [
        "Busiest Redis commands of each idle worker (calls/s, last run; commands run by Lua scripts included):",
        "",
    ]
    for s in systems:
        top = NOTES.idle_top.get(s.name)
        if top is not None:
            listed = ", ".join(f"{name} {rate:.1f}" for name, rate in list(top.items())[:6]) or "none"
            lines.append(f"- {s.name}: {listed}")
    return "\n".join(lines)


# -- driver ---------------------------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_systems(bench: Bench, systems: list[System]) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Installed versions per system, and the reason for each system that cannot run at all."""
    versions: dict[str, dict[str, str]] = {}
    broken: dict[str, str] = {}
    for s in systems:
        if not s.python.exists():
            broken[s.name] = f"no venv at {s.python.parent.parent}: run bench/setup"
            continue
        try:
            versions[s.name] = bench.command(s, "versions", timeout=120)
        except (BenchError, subprocess.TimeoutExpired) as exc:
            broken[s.name] = f"cannot import: {exc}"
    return versions, broken


def measure(bench: Bench, results: Results, system: System, scenario: str, n: int) -> str:
    """One scenario for one system; failures are recorded, never raised."""
    bench.flush()
    metrics = SCENARIO_METRICS[scenario]
    try:
        values = RUNNERS[scenario](bench, system, n)
    except NotApplicable as exc:
        for key in metrics:
            results.get(key, system.name).na = str(exc)
        return f"n/a ({exc})"
    except Exception as exc:
        reason = str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"
        for key in metrics:
            results.get(key, system.name).failures.append(reason)
        return f"FAILED: {reason}"
    for key, value in values.items():
        results.get(key, system.name).values.append(value)
    return ", ".join(f"{key} {_fmt(value, METRICS[key].digits)}" for key, value in values.items())


def snapshot_source(into: Path) -> str:
    """Copy queue_system/ into ``into`` (put first on the workers' PYTHONPATH), so every run measures the same
    code while others edit the tree; returns which code that is: the commit, plus a digest if it has changes."""
    shutil.copytree(ROOT / "queue_system", into / "queue_system", ignore=shutil.ignore_patterns("__pycache__"))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "queue_system"], cwd=ROOT, capture_output=True)
    except OSError:
        return "unknown commit (no git)"
    state = f"commit {head.stdout.strip() or 'unknown'}"
    if dirty.stdout.strip():
        digest = hashlib.sha1()
        for path in sorted((into / "queue_system").rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(into)).encode() + b"\0" + path.read_bytes())
        state += f" plus uncommitted changes (files' sha1 {digest.hexdigest()[:12]})"
    return state


def header(plan: Plan, started: Started, redis_version: str, source: str, versions: dict[str, dict[str, str]]) -> str:
    lines = [
        f"# Queue benchmark, {started.at:%Y-%m-%d %H:%M %Z} to {datetime.datetime.now().astimezone():%H:%M %Z}",
        "",
        f"- command: `{shlex.join(['bench/throughput.py', *sys.argv[1:]])}`",
        f"- machine: {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"1-minute load average {started.load:.2f} at the start and {os.getloadavg()[0]:.2f} at the end",
        f"- harness python {platform.python_version()}; redis-server {redis_version} (private, no persistence)",
        f"- runs: {plan.runs}; sizes: " + ", ".join(f"{k} {v:,}" for k, v in plan.sizes.items()),
        f"- worker concurrency {CONCURRENCY}, one worker process per system",
        f"- queue_system/ measured: {source}, copied when the run started",
        "- versions:",
    ]
    for name, found in versions.items():
        lines.append(f"  - {name}: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    return "\n".join(lines)


@dataclass(frozen=True)
class Plan:
    systems: list[System]
    scenarios: list[str]
    runs: int
    sizes: dict[str, int]


def parse_args() -> Plan:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated, from {','.join(SYSTEMS)}")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, from {','.join(SCENARIOS)}")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 run with 1/10 of the sizes, to smoke-test")
    args = parser.parse_args()
    for name, known in (("systems", SYSTEMS), ("scenarios", SCENARIOS)):
        unknown = [item for item in getattr(args, name).split(",") if item not in known]
        if unknown:
            parser.error(f"unknown {name}: {', '.join(unknown)}")
    chosen = args.scenarios.split(",")
    scenarios = [s for s in SCENARIOS if s in chosen]
    return Plan(
        systems=[SYSTEMS[name] for name in args.systems.split(",")],
        scenarios=scenarios,
        runs=1 if args.quick else args.runs,
        sizes={s: FULL_SIZES[s] // (10 if args.quick else 1) for s in scenarios},
    )


def run_all(bench: Bench, plan: Plan, broken: dict[str, str]) -> Results:
    """Every run, scenario and system, in that nesting, so each scenario's systems run close together in time."""
    results = Results()
    for run in range(1, plan.runs + 1):
        for scenario in plan.scenarios:
            for s in plan.systems:
                if s.name in broken:
                    for key in SCENARIO_METRICS[scenario]:
                        results.get(key, s.name).failures.append(broken[s.name])
                    continue
                started = time.perf_counter()
                summary = measure(bench, results, s, scenario, plan.sizes[scenario])
                took = time.perf_counter() - started
                log(f"[run {run}/{plan.runs}] {scenario:<7} {s.name:<8} {summary}  ({took:.0f} s)")
    return results


def report(plan: Plan, results: Results) -> None:
    for scenario in plan.scenarios:
        for key in SCENARIO_METRICS[scenario]:
            print(render_table(results, METRICS[key], plan.systems))
            print()
    if "bulk" in plan.scenarios:
        print(render_bulk_notes(plan.systems))
        print()
    if "latency" in plan.scenarios:
        print(render_idle_notes(plan.systems))
        print()


@dataclass(frozen=True)
class Started:
    at: datetime.datetime
    load: float


def main() -> None:
    plan = parse_args()
    started = Started(datetime.datetime.now().astimezone(), os.getloadavg()[0])
    with RedisServer() as server, tempfile.TemporaryDirectory(prefix="qs-bench-") as tmp:
        source = snapshot_source(Path(tmp) / "src")
        bench = Bench(server, Path(tmp), Path(tmp) / "src")
        redis_version = str(bench.redis.info("server")["redis_version"])
        versions, broken = check_systems(bench, plan.systems)
        for name, reason in broken.items():
            log(f"{name}: cannot run: {reason}")
        results = run_all(bench, plan, broken)
    print(header(plan, started, redis_version, source, versions))
    print()
    report(plan, results)


if __name__ == "__main__":
    main()
