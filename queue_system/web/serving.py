"""Serving the API app with uvicorn, alone or with a worker in the same event loop (``serve --with-worker``, for
small setups that want one process).

uvicorn's own signal handling re-raises the signal once the server has shut down, which would kill a worker that
is still finishing its jobs. So here one handler stops both: the server stops accepting and finishes its
requests, the worker stops claiming and finishes its running jobs (within ``QS_SHUTDOWN_GRACE_S``); if either
ends on its own (a port in use, say), the other is stopped the same way. Then the project's clean-ups run.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from ..logging_setup import configure_logging
from ..worker import QueueWorker, create_worker
from .extensions import Cleanup

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the signals are handled by serve_app (see the module's docstring)


def serve_app(
    app: FastAPI, host: str, port: int, *, cleanups: Sequence[Cleanup] = (), worker_settings: type | None = None
) -> None:
    """Serve ``app`` until SIGINT/SIGTERM, with a worker for ``worker_settings`` beside it when given."""
    asyncio.run(_serve(app, host, port, cleanups, worker_settings))


async def _serve(app: FastAPI, host: str, port: int, cleanups: Sequence[Cleanup], worker_settings: type | None) -> None:
    config = uvicorn.Config(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
    server = _Server(config)
    worker = _worker(worker_settings) if worker_settings is not None else None

    def stop() -> None:
        server.should_exit = True
        if worker is not None and not worker.stopping:
            worker.handle_sig(signal.SIGTERM)

    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop)
    tasks = [asyncio.create_task(server.serve(), name="api")]
    if worker is not None:
        tasks.append(asyncio.create_task(worker.async_run(), name="worker"))
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop()
        await asyncio.gather(*tasks)
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        if worker is not None:
            await worker.close()
        for cleanup in cleanups:
            await cleanup()


def _worker(settings: type) -> QueueWorker:
    config = settings.qs_config  # type: ignore[attr-defined]
    configure_logging(fmt=config.effective_log_format, level=config.log_level)
    return create_worker(settings, handle_signals=False)
