"""queue-system: typed-handle enqueue, ``client.enqueue_many`` for bulk, and the ``queue-system worker`` command."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import common
import qs_app

from queue_system import Client, JobRequest, QueueConfig
from queue_system.cli import main as queue_system_command
from queue_system.registry import EnqueueOptions


class QueueSystem(common.Adapter):
    packages = ("queue-system", "arq", "redis", "hiredis")
    bulk_method = "client.enqueue_many, 1000 jobs per call"

    async def connect(self) -> None:
        self.client = await Client.connect(QueueConfig.from_env())
        self.handles: dict[str, EnqueueOptions[Any]] = {
            name: handle.options(client=self.client) for name, handle in qs_app.JOBS.items()
        }
        for name, handle in qs_app.JOBS.items():
            self.client.register(name, handle.spec.info)

    async def enqueue(self, job: str, i: int, sent: float) -> None:
        await self.handles[job].enqueue(i, sent)

    async def enqueue_bulk(self, job: str, items: Sequence[common.Item]) -> None:
        await self.client.enqueue_many([JobRequest(job, (i, sent)) for i, sent in items])

    async def close(self) -> None:
        await self.client.close()

    def run_worker(self, concurrency: int, poll_delay: float | None) -> None:
        sys.argv = ["queue-system", "worker", "qs_app.WorkerSettings", "--concurrency", str(concurrency)]
        queue_system_command()


if __name__ == "__main__":
    common.main(QueueSystem())
