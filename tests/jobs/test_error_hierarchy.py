"""Every error the seed systems define is rooted in queue_system.errors (DEVELOPERS.md: one error hierarchy), so
callers, the CLI and the HTTP layer can tell the project's own failures from anything else.

The one exception is the code the certificate render processes import: they are kept free of the framework
(importing queue_system costs each process about a quarter of a second at start), so the errors raised there
derive from builtins and reach the worker as such. The test computes that set of modules rather than listing it.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import jobs
from queue_system import QueueSystemError

RENDER_PROCESS_ENTRY = "jobs.certificates.cpu_pool"  # what a render process imports to run its work


def _render_process_modules() -> set[str]:
    probe = f"import sys, {RENDER_PROCESS_ENTRY}; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    return set(loaded)


def _error_classes() -> list[type[BaseException]]:
    found = []
    for module_info in pkgutil.walk_packages(jobs.__path__, prefix="jobs."):
        if ".migrations" in module_info.name:  # Alembic's scripts run inside Alembic, not on import
            continue
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found.append(value)
    return found


def test_the_render_processes_do_not_import_the_framework() -> None:
    loaded = _render_process_modules()
    assert RENDER_PROCESS_ENTRY in loaded
    assert not any(name == "queue_system" or name.startswith("queue_system.") for name in loaded)


def test_every_other_error_of_the_jobs_is_a_queue_system_error() -> None:
    render_modules = _render_process_modules()
    classes = [cls for cls in _error_classes() if cls.__module__ not in render_modules]
    assert len(classes) > 20  # the walk found the packages' errors at all
    outside = sorted(f"{cls.__module__}.{cls.__qualname__}" for cls in classes if not issubclass(cls, QueueSystemError))
    assert outside == []


def test_an_error_keeps_the_builtin_base_its_callers_catch() -> None:
    from jobs.certificates.service import EventNotFound
    from jobs.errors import DatabaseNotMigrated
    from jobs.whatsapp.phones import InvalidPhoneNumber

    assert issubclass(InvalidPhoneNumber, ValueError) and InvalidPhoneNumber("x", "y").http_status == 400
    assert issubclass(DatabaseNotMigrated, RuntimeError) and DatabaseNotMigrated.http_status == 503
    assert issubclass(EventNotFound, LookupError) and EventNotFound.http_status == 404
