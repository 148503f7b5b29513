"""Jobs' timeouts kept by one timer per event loop, instead of one timer per job.

``asyncio.timeout`` arms a timer for every job: a ``TimerHandle`` created, pushed on the loop's heap, cancelled
when the job ends and swept off the heap later — about a tenth of a no-op job's cost in the worker (py-spy,
bench/RESULTS.md). Jobs with the same timeout reach their deadlines in the order they started, so each distinct
timeout keeps its running jobs in an insertion-ordered dict (adding and removing one is O(1)), and a single timer
is armed for the earliest deadline. When it fires, the overdue jobs' tasks are cancelled as ``asyncio.timeout``
cancels them, and :meth:`Deadlines.end` tells the job's own exit whether that cancellation is the reason it
stopped (then it is a timeout), or whether something else cancelled the task as well (then it stays a
cancellation: a shutdown, an abort, a lost lease).
"""

from __future__ import annotations

import asyncio
import math


class Deadline:
    """One running job's deadline (loop time)."""

    __slots__ = ("at", "cancelling", "expired", "seconds", "task")

    def __init__(self, task: asyncio.Task[object], seconds: float, at: float) -> None:
        self.task = task
        self.seconds = seconds
        self.at = at
        self.cancelling = task.cancelling()  # cancellations already requested before the job started
        self.expired = False


class Deadlines:
    """The deadlines of the jobs running on one event loop (see the module's docstring)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lanes: dict[float, dict[Deadline, None]] = {}  # timeout -> its running jobs' deadlines, in order
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def start(self, seconds: float) -> Deadline:
        """Watch the current task: it is cancelled once ``seconds`` have passed, unless :meth:`end` came first."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline needs a running task")
        loop = task.get_loop()
        if loop is not self._loop:  # a new event loop (tests run several): the old one's timer never fires here
            self._loop, self._lanes, self._timer, self._timer_at = loop, {}, None, math.inf
        deadline = Deadline(task, seconds, loop.time() + seconds)
        lane = self._lanes.get(seconds)
        if lane is None:
            lane = self._lanes[seconds] = {}
        lane[deadline] = None
        if deadline.at < self._timer_at:
            self._arm(loop, deadline.at)
        return deadline

    def end(self, deadline: Deadline, *, cancelled: bool) -> bool:
        """Stop watching. True when the job should end as timed out: its deadline passed and cancelled the task,
        the job ended ``cancelled``, and nobody else asked to cancel the task since (``asyncio.timeout``'s rule)."""
        if not deadline.expired:
            lane = self._lanes.get(deadline.seconds)
            if lane is not None:
                lane.pop(deadline, None)
            return False
        return deadline.task.uncancel() <= deadline.cancelling and cancelled

    def _arm(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(at, self._expire)
        self._timer_at = at

    def _expire(self) -> None:
        """Cancel every job past its deadline, then arm the timer for the earliest one left."""
        self._timer, self._timer_at = None, math.inf
        loop = self._loop
        if loop is None:
            return
        now = loop.time()
        earliest = math.inf
        for seconds, lane in list(self._lanes.items()):
            while lane:
                first = next(iter(lane))
                if first.at > now:
                    earliest = min(earliest, first.at)
                    break
                del lane[first]
                first.expired = True
                first.task.cancel()
            if not lane:
                del self._lanes[seconds]
        if earliest < math.inf:
            self._arm(loop, earliest)
