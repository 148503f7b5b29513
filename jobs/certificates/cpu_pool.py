"""The CPU work of the certificate jobs, in processes beside the worker: rendering, checking and writing a
certificate. (The email is built in the worker: ~0.2 ms, less than a round trip to this pool.)

A worker is one process, and Python runs one thread of it at a time: with the render in the worker's threads,
a 2-core machine rendered on one core while the other waited. The jobs' other work (the database, SMTP, the
queue) is waiting on sockets, which one process does well. So each worker keeps a small process pool
(``CERTIFICATE_RENDER_PROCESSES``, by default one per CPU core) for the pure functions below, and does the rest
itself. One database writer per worker also keeps SQLite's single write lock uncontended.

The pool's processes start (``spawn``, not ``fork``: the worker has threads and open sockets) together, with
the first job that needs them (a worker serving other queues never starts them), each loading the prepared
fonts once. With 0 processes the same functions run in the worker's own threads. A pool whose process died is
replaced, and the job that saw it is retried by its policy.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import structlog

from .fonts import CertificateFont, find_font, load_font
from .fpdf_font import preload
from .render import CertificateContent, render_certificate
from .storage import CertificateStorage
from .verify import check_certificate

T = TypeVar("T")
log = structlog.stdlib.get_logger(__name__)


class RenderPoolBroken(RuntimeError):
    """A render process died (killed, out of memory); the pool was replaced and the job may simply be retried."""


@dataclass(frozen=True)
class FontSource:
    """Where a pool process finds the font: the configured file and the cache of prepared ones."""

    configured: Path | None
    cache_dir: Path

    def load(self) -> CertificateFont:
        return load_font(find_font(self.configured), self.cache_dir)


def produce_certificate(content: CertificateContent, storage_root: Path, relative: str) -> tuple[str, int]:
    """Render, read back, write atomically; the file's sha256 and size. Raises what ``render``/``verify`` raise."""
    pdf = render_certificate(content, _font())
    check_certificate(pdf, expected_name=content.participant_name)
    CertificateStorage(storage_root).write(relative, pdf)
    return hashlib.sha256(pdf).hexdigest(), len(pdf)


class CpuPool:
    """Runs the functions above in a process pool, or in threads of this process when ``processes`` is 0."""

    def __init__(self, processes: int, font: FontSource) -> None:
        self.processes = processes
        self.font = font
        self._pool: ProcessPoolExecutor | None = None
        if processes == 0:
            _start_process(font)  # this process's threads render: the font is already loaded and parsed here

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        if self.processes == 0:
            return await asyncio.to_thread(function, *args)
        pool = self._pool or self._start()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(function, *args))
        except BrokenProcessPool as exc:
            if self._pool is pool:
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
                log.warning("certificates.render_pool_replaced", processes=self.processes)
            raise RenderPoolBroken(f"a certificate render process died: {exc}") from exc

    def start(self) -> None:
        """Start the pool's processes now rather than with the first job (the demo does, before its clock runs)."""
        if self.processes and self._pool is None:
            self._start()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _start(self) -> ProcessPoolExecutor:
        pool = self._pool = ProcessPoolExecutor(
            self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_process,
            initargs=(self.font,),
        )
        for _ in range(self.processes):  # the executor starts one more process per task while none is idle:
            pool.submit(os.getpid)  # start them all at once, not one per job as the first jobs arrive
        return pool


_loaded: CertificateFont | None = None
_source: FontSource | None = None


def _start_process(source: FontSource) -> None:
    """In each pool process: remember where the font is, and parse it before the first job arrives."""
    global _source
    _source = source
    preload([prepared.path for prepared in _font().prepared])


def _font() -> CertificateFont:
    """The font of this process (``load_font`` is cached: without a pool, the worker's own)."""
    global _loaded
    if _loaded is None:
        if _source is None:
            raise RuntimeError("the certificate font source is not set in this process")
        _loaded = _source.load()
    return _loaded
