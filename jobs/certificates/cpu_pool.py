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
replaced, and the jobs whose work it held are retried by their policy.

Calls travel in batches: the calls made while every process is busy go to the next free one together, each
answered on its own (its result or its own exception). A hand-off wakes the executor's threads and a process,
and its answer comes back through them: ~0.33 ms of the worker's CPU per call handed over alone, ~0.15 ms in
the batches the demo makes (``bench/render_handoff.py``); on two cores that CPU is taken from the renders.
An idle pool still gets a lone call at once.
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
MAX_BATCH = 8  # calls per hand-off, at most: a batch's answers all wait for its last call


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


_Call = tuple[Callable[[], Any], "asyncio.Future[Any]"]
_Answer = tuple[bool, Any]  # (True, the result) or (False, the exception it raised)


def _run_batch(calls: list[Callable[[], Any]]) -> list[_Answer]:
    """In a pool process: every call of a batch, each answered on its own, so one certificate's error fails only
    its own job."""
    answers: list[_Answer] = []
    for call in calls:
        try:
            answers.append((True, call()))
        except Exception as exc:
            answers.append((False, exc))
    return answers


def _failures(calls: int, reason: str) -> list[_Answer]:
    """A :class:`RenderPoolBroken` for each call (one object per job: each job's traceback is its own)."""
    return [(False, RenderPoolBroken(reason)) for _ in range(calls)]


def _settle(calls: list[_Call], answers: list[_Answer]) -> None:
    for (_, answer), (ok, value) in zip(calls, answers, strict=True):
        if answer.done():  # (its job was cancelled meanwhile)
            continue
        if ok:
            answer.set_result(value)
        else:
            answer.set_exception(value)


class CpuPool:
    """Runs the functions above in a process pool, or in threads of this process when ``processes`` is 0."""

    def __init__(self, processes: int, font: FontSource) -> None:
        self.processes = processes
        self.font = font
        self._pool: ProcessPoolExecutor | None = None
        self._waiting: list[_Call] = []  # calls not handed over yet
        self._in_flight = 0  # batches handed over and not answered yet
        self._dispatch_soon = False
        self._closed = False
        self.batches = 0  # hand-offs to the processes (fewer than calls while they are busy)
        if processes == 0:
            _start_process(font)  # this process's threads render: the font is already loaded and parsed here

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        if self.processes == 0:
            return await asyncio.to_thread(function, *args)
        answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((functools.partial(function, *args), answer))
        if not self._dispatch_soon:  # once per event-loop turn: the calls of one turn can share a batch
            self._dispatch_soon = True
            asyncio.get_running_loop().call_soon(self._dispatch)
        return await answer

    def _dispatch(self) -> None:
        """Hand the waiting calls over in batches while a process is free (or about to be: one batch may wait
        behind each busy process, so none idles while an answer travels back)."""
        self._dispatch_soon = False
        while self._waiting and self._in_flight < self.processes + 1:
            if self._closed:  # (``close`` runs in another thread: checked before each hand-off)
                _settle(self._waiting, _failures(len(self._waiting), "the render pool is closed"))
                self._waiting = []
                return
            free = self.processes + 1 - self._in_flight
            size = min(MAX_BATCH, -(-len(self._waiting) // free))  # spread over the free places
            batch, self._waiting = self._waiting[:size], self._waiting[size:]
            pool = self._pool or self._start()
            try:
                handed = asyncio.get_running_loop().run_in_executor(pool, _run_batch, [work for work, _ in batch])
            except RuntimeError as exc:  # the pool was shut down meanwhile (``close`` from another thread)
                _settle(batch, _failures(len(batch), f"the render pool is closed: {exc}"))
                continue
            self._in_flight += 1
            self.batches += 1
            handed.add_done_callback(functools.partial(self._answer, pool, batch))

    def _answer(self, pool: ProcessPoolExecutor, batch: list[_Call], handed: asyncio.Future[list[_Answer]]) -> None:
        """Each call of a returned batch gets its own answer; then the next calls go."""
        self._in_flight -= 1
        if handed.cancelled():  # the pool was shut down before the batch started
            answers = _failures(len(batch), "the render pool was shut down")
        elif (exc := handed.exception()) is not None:  # the batch as a whole failed (a process died)
            answers = self._batch_failures(pool, exc, len(batch))
        else:
            answers = handed.result()
        _settle(batch, answers)
        self._dispatch()

    def _batch_failures(self, pool: ProcessPoolExecutor, exc: BaseException, calls: int) -> list[_Answer]:
        if not isinstance(exc, BrokenProcessPool):
            return [(False, exc)] * calls
        if self._pool is pool:
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            log.warning("certificates.render_pool_replaced", processes=self.processes)
        answers = _failures(calls, f"a certificate render process died: {exc}")
        for _, failure in answers:
            failure.__cause__ = exc
        return answers

    def start(self) -> None:
        """Start the pool's processes now rather than with the first job (the demo does, so they load the font while
        its first stage is being queued)."""
        if self.processes and self._pool is None:
            self._start()

    def close(self) -> None:
        """Shut the processes down (called from a thread: the calls still waiting fail when they are next
        dispatched, the ones handed over fail as their batch is cancelled)."""
        self._closed = True
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
