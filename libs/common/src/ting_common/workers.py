"""The bounded worker pool every service runs its blocking engine work on.

``workers`` jobs run at once, at most ``max_queue`` more wait; beyond that a call is refused with
RESOURCE_EXHAUSTED instead of piling up. When the coroutine awaiting a job is cancelled (the caller
went away or its deadline passed), a job still queued is dropped and a running one gets its stop flag
set, which the engine checks between windows/chunks/stages.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from prometheus_client import Gauge

from ting_common.errors import ResourceExhaustedError

T = TypeVar("T")


class Stoppable(Protocol):
    """A call's control object: a stop flag and a check that raises once it is set."""

    stop: threading.Event

    def check(self) -> None:
        """Raise when the call has been stopped."""
        ...


class BoundedPool:
    """Threads for blocking work with a bounded queue; see the module docstring."""

    def __init__(
        self,
        workers: int,
        max_queue: int,
        *,
        name: str,
        title: str,
        queued: Gauge | None = None,
        active: Gauge | None = None,
    ) -> None:
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._capacity = workers + max_queue
        self._title = title
        self._queued = queued
        self._active = active
        self._waiting = 0

    async def run(self, fn: Callable[[], T], control: Stoppable) -> T:
        """Run ``fn`` on a worker; stop it when this coroutine is cancelled."""
        if self._waiting >= self._capacity:
            raise ResourceExhaustedError(
                f"the {self._title} server is at capacity (all workers busy and the queue is full); retry later"
            )
        self._waiting += 1
        if self._queued is not None:
            self._queued.inc()
        started = False

        def job() -> T:
            nonlocal started
            started = True
            if self._queued is not None:
                self._queued.dec()
            if self._active is not None:
                self._active.inc()
            try:
                control.check()
                return fn()
            finally:
                if self._active is not None:
                    self._active.dec()

        future = asyncio.get_running_loop().run_in_executor(self._executor, job)
        try:
            return await future
        except asyncio.CancelledError:
            control.stop.set()
            raise
        finally:
            self._waiting -= 1
            if not started and future.cancelled() and self._queued is not None:
                self._queued.dec()

    def shutdown(self) -> None:
        """Stop the threads; queued jobs are dropped."""
        self._executor.shutdown(wait=False, cancel_futures=True)
