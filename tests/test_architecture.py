"""Layering rules for the ``queue_system`` package, checked on the source with ``ast`` (no import-linter).

Rules:
  (a) nothing under ``queue_system/`` imports the application modules ``jobs`` or ``settings``;
  (b) a module of ``queue_system`` imports only modules of a strictly lower layer (see ``LAYERS``) or modules of its
      own package component; the facade ``queue_system/__init__.py`` may import anything inside the package, and
      nothing inside the package may import the facade;
  (c) ``import queue_system`` at run time loads neither ``jobs`` nor ``settings``.

Imports inside ``if TYPE_CHECKING:`` blocks are ignored (they never run); imports inside functions count.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

# Layer of every top-level module / sub-package of queue_system (the name relative to queue_system; a sub-package such
# as queue_system/middleware/ is classified as a whole by its first component, "middleware").
#
# THE RULE: a module may import only modules whose layer is strictly LOWER than its own, plus modules of its own
# component (queue_system.middleware.retries may import queue_system.middleware.base). Two modules of the same layer
# therefore never import each other. A new module must be added here before the tests pass: pick the lowest layer
# above everything it imports.
LAYERS: dict[str, int] = {
    # 0: the error hierarchy, imported by everything
    "errors": 0,
    # 1: leaves over errors: value types, the key schema, encryption, log set-up
    "types": 1,
    "keys": 1,
    "crypto": 1,
    "logging_setup": 1,
    "deadlines": 1,  # jobs' timeouts on one timer per loop
    # 2: pure helpers: settings, payload format, backoff strategies
    "config": 2,
    "serialization": 2,
    "backoff": 2,
    "cron": 2,
    "limits": 2,
    # 3: Redis access, Lua scripts, job declarations
    "connection": 3,
    "scripts": 3,
    "spec": 3,
    "heartbeat": 3,  # worker heartbeats (read by the condition schedules, so below them)
    "schedule_types": 3,
    "wakeup": 3,  # an idle worker's wait with its claim queued behind it
    # 4: stores built on Redis, the internal routes for broken jobs
    "failed": 4,
    "internal_jobs": 4,
    "leases": 4,
    "retention": 4,
    "progress": 4,
    "pubsub": 4,  # listening on a channel across outages (the control channel and the scheduler use it)
    "events": 4,
    "views": 4,
    "listing": 4,  # paged reads from the job indexes (read API)
    "reindex": 4,  # rebuilding the job indexes and counters from the records; the bookkeeping version check
    "misfire": 4,
    "schedule_store": 4,
    "conditions": 4,
    "recovery": 4,
    "alerts": 4,
    "batch_store": 4,
    "restart": 4,  # the restart request
    "job_stats": 4,  # per-process job counts, flushed to Redis
    "backlog": 4,  # oldest waiting age
    "admission": 4,
    "throttle": 4,  # the shared rate limiter for requests, not jobs (its Lua in scripts)
    "enqueue_wire": 4,  # how prepared jobs become enqueue.lua calls (compact runs of plain jobs)
    # 5: the middleware package (any submodule)
    "middleware": 5,
    # 5: a worker's companion task (heartbeats, stats flush, retiring)
    "monitor": 5,
    # 5: the worker's control channel (on pubsub)
    "control": 5,
    # 6: running one attempt; producing jobs
    "runner": 6,
    "client": 6,
    # 6: writing attempts' outcomes (lua/finish.lua), for the engine's executor
    "finisher": 6,
    # 7: the typed job handle (enqueues through the client); running one claimed job under our engine; the
    # public read API (reads and steers through a client)
    "registry": 7,
    "execution": 7,
    "api": 7,
    "scheduler": 7,
    # 8: wiring a worker
    "worker_settings": 8,
    # 8: batches (create through the client and the typed calls, read through the read API)
    "batches": 8,
    # 8: the system's Prometheus metrics (through the read API)
    "metrics": 8,
    # 9: our Worker subclass
    "worker": 9,
    # 9: operating it: the health/metrics router, the autoscaling supervisor
    "health": 9,
    "supervisor": 9,
    # 10: user interfaces (the CLI; the dashboard and HTTP API: queue_system/web)
    "cli": 10,
    "web": 10,
}

PACKAGE = "queue_system"
FORBIDDEN_TOP_LEVEL = frozenset({"jobs", "settings"})
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name of the importing file
    imported: str  # dotted name of the imported module (relative imports resolved)
    path: Path
    lineno: int

    def where(self, root: Path) -> str:
        try:
            shown = self.path.relative_to(root)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.lineno}"


def discover_modules(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under root/package (``__init__.py`` names the package)."""
    modules: dict[str, Path] = {}
    base = root / package
    if not base.is_dir():
        return modules
    for path in sorted(base.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, known: set[str]) -> None:
        self.module = module
        self.is_package = is_package
        self.known = known
        self.found: list[tuple[str, int]] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:  # the else branch does run
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append((alias.name, node.lineno))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            package_parts = self.module.split(".") if self.is_package else self.module.split(".")[:-1]
            up = node.level - 1
            if up > len(package_parts) - 1:
                base = "." * node.level + (node.module or "")  # beyond the top-level package; keep as written
                self.found.append((base, node.lineno))
                return
            base_parts = package_parts[: len(package_parts) - up]
            base = ".".join([*base_parts, *([node.module] if node.module else [])])
        else:
            base = node.module or ""
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            # `from pkg import mod` imports the submodule; `from mod import name` imports mod.
            self.found.append((candidate if candidate in self.known else base, node.lineno))


def collect_imports(root: Path, package: str) -> list[Import]:
    modules = discover_modules(root, package)
    known = set(modules)
    imports: list[Import] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        collector = _ImportCollector(module, path.name == "__init__.py", known)
        collector.visit(tree)
        imports.extend(Import(module, name, path, lineno) for name, lineno in collector.found)
    return imports


def component(module: str, package: str = PACKAGE) -> str | None:
    """First component below the package ("" for the package itself), or None for modules outside it."""
    parts = module.split(".")
    if parts[0] != package:
        return None
    return parts[1] if len(parts) > 1 else ""


def forbidden_imports(imports: list[Import], root: Path) -> list[str]:
    problems = [
        f"{imp.where(root)}: {imp.importer} imports {imp.imported!r} (the framework must not import jobs/settings)"
        for imp in imports
        if imp.imported.split(".")[0] in FORBIDDEN_TOP_LEVEL
    ]
    return list(dict.fromkeys(problems))


def unclassified_modules(modules: dict[str, Path], layers: dict[str, int], package: str = PACKAGE) -> list[str]:
    missing: dict[str, list[str]] = {}
    for module in modules:
        comp = component(module, package)
        if comp and comp not in layers:
            missing.setdefault(comp, []).append(module)
    return [
        f"{comp!r} ({', '.join(sorted(mods))}) is not in LAYERS: classify it in tests/test_architecture.py"
        for comp, mods in sorted(missing.items())
    ]


def layer_violations(imports: list[Import], layers: dict[str, int], root: Path, package: str = PACKAGE) -> list[str]:
    problems: list[str] = []
    for imp in imports:
        src = component(imp.importer, package)
        dst = component(imp.imported, package)
        if src is None or dst is None or src == "" or src == dst:
            continue  # external import, the facade itself, or within one component
        where = imp.where(root)
        if dst == "":
            problems.append(
                f"{where}: {imp.importer} imports the {package} facade ({package}/__init__.py); import the module "
                "that defines the name instead"
            )
            continue
        if src not in layers or dst not in layers:
            continue  # reported by unclassified_modules (or an import of a module that does not exist)
        if layers[dst] >= layers[src]:
            problems.append(
                f"{where}: {imp.importer} (layer {layers[src]}) imports {imp.imported} (layer {layers[dst]}); "
                "only strictly lower layers may be imported"
            )
    return list(dict.fromkeys(problems))  # one line per offending import statement


# --- the rules, on the real tree ------------------------------------------------------------------------------------


def test_queue_system_does_not_import_jobs_or_settings() -> None:
    problems = forbidden_imports(collect_imports(ROOT, PACKAGE), ROOT)
    assert not problems, "\n".join(problems)


def test_every_module_is_classified() -> None:
    problems = unclassified_modules(discover_modules(ROOT, PACKAGE), LAYERS)
    assert not problems, "\n".join(problems)


def test_layers() -> None:
    problems = layer_violations(collect_imports(ROOT, PACKAGE), LAYERS, ROOT)
    assert not problems, "\n".join(problems)


def test_importing_queue_system_loads_neither_jobs_nor_settings() -> None:
    # cwd is the repository root, so `jobs` and `settings` *are* importable: any import of them would succeed.
    code = textwrap.dedent(
        """
        import sys
        import queue_system
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"jobs", "settings"})
        print(" ".join(loaded))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"`import queue_system` loaded: {proc.stdout.strip()}"


# --- the checker itself, on a synthetic package -----------------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_checker_resolves_imports_and_skips_type_checking(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from .worker import Worker\n",
            "pkg/errors.py": "",
            "pkg/keys.py": "",
            "pkg/worker.py": """
                from __future__ import annotations
                import typing
                from typing import TYPE_CHECKING
                from . import errors
                from .keys import KEY
                import pkg.client
                if TYPE_CHECKING:
                    from .cli import Cli
                    import jobs
                else:
                    import os
                if typing.TYPE_CHECKING:
                    import settings
                def lazy() -> None:
                    from pkg import middleware
                """,
            "pkg/client.py": "",
            "pkg/cli.py": "",
            "pkg/middleware/__init__.py": "from . import retries\nfrom .. import keys\n",
            "pkg/middleware/retries.py": "from ..errors import E\nfrom . import base\nfrom .base import B\n",
            "pkg/middleware/base.py": "",
        },
    )
    found = {(imp.importer, imp.imported) for imp in collect_imports(tmp_path, "pkg")}
    assert found == {
        ("pkg", "pkg.worker"),
        ("pkg.worker", "__future__"),
        ("pkg.worker", "typing"),
        ("pkg.worker", "pkg.errors"),
        ("pkg.worker", "pkg.keys"),
        ("pkg.worker", "pkg.client"),
        ("pkg.worker", "os"),
        ("pkg.worker", "pkg.middleware"),
        ("pkg.middleware", "pkg.middleware.retries"),
        ("pkg.middleware", "pkg.keys"),
        ("pkg.middleware.retries", "pkg.errors"),
        ("pkg.middleware.retries", "pkg.middleware.base"),
    }


def test_checker_reports_violations(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from .cli import main\n",
            "pkg/errors.py": "import jobs.emails\n",
            "pkg/keys.py": "from . import errors\n",
            "pkg/client.py": "from .cli import main\nfrom . import errors\n",
            "pkg/cli.py": "from pkg import client\nfrom pkg import Thing\n",
            "pkg/middleware/a.py": "from . import b\nfrom ..client import C\n",
            "pkg/middleware/b.py": "from settings import X\n",
            "pkg/mystery.py": "",
        },
    )
    layers = {"errors": 0, "keys": 0, "middleware": 4, "client": 5, "cli": 7}
    imports = collect_imports(tmp_path, "pkg")

    forbidden = forbidden_imports(imports, tmp_path)
    assert len(forbidden) == 2
    assert any("pkg/errors.py:1" in p and "jobs.emails" in p for p in forbidden)
    assert any("pkg/middleware/b.py:1" in p and "settings" in p for p in forbidden)

    assert unclassified_modules(discover_modules(tmp_path, "pkg"), layers, "pkg") == [
        "'mystery' (pkg.mystery) is not in LAYERS: classify it in tests/test_architecture.py"
    ]

    violations = layer_violations(imports, layers, tmp_path, "pkg")
    assert len(violations) == 4, violations
    assert any("pkg.keys (layer 0) imports pkg.errors (layer 0)" in v for v in violations)  # same layer
    assert any("pkg.client (layer 5) imports pkg.cli (layer 7)" in v for v in violations)  # upwards
    assert any("pkg.middleware.a (layer 4) imports pkg.client (layer 5)" in v for v in violations)
    assert any("pkg.cli imports the pkg facade" in v for v in violations)
