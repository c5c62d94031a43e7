"""Bounded inference: at most N images are processed at once, each within a time limit.

A request waits for a free slot up to `queue_seconds`, then gets 503 (busy, retry). Its image is
then processed in a worker thread; once the request has taken `queue_seconds + request_seconds`
in all it gets 503 while the thread finishes on its own, still holding its slot, so the number of
images being processed never exceeds the bound. The slots and the threads belong to the gate, not
to an event loop, so they hold across loops (the test client runs one per request).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from fastapi import HTTPException


class _Busy(Exception):
    """No slot came free within the queue time."""


class InferenceGate:
    def __init__(self, slots: int, queue_seconds: float, request_seconds: float) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.slots, self.queue_seconds, self.request_seconds = slots, queue_seconds, request_seconds
        self._free = threading.BoundedSemaphore(slots)
        # Threads beyond the slots only wait for one; past them, requests queue in the executor.
        self._threads = ThreadPoolExecutor(max_workers=2 * slots + 4, thread_name_prefix="digitrec-infer")

    async def run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`function(*args, **kwargs)` in a worker thread, once a slot is free and within the time limit."""

        def work() -> Any:
            if not self._free.acquire(timeout=self.queue_seconds):
                raise _Busy
            try:
                return function(*args, **kwargs)
            finally:
                self._free.release()

        done = asyncio.get_running_loop().run_in_executor(self._threads, work)
        try:
            return await asyncio.wait_for(asyncio.shield(done), self.queue_seconds + self.request_seconds)
        except _Busy:
            raise HTTPException(503, f"busy: {self.slots} images are being processed; retry shortly",
                                headers={"Retry-After": "1"}) from None
        except TimeoutError:
            done.cancel()  # not started yet: it never will be; started: it finishes, and its result is dropped
            raise HTTPException(503, f"the image took longer than {self.request_seconds:g} s to process; "
                                     "send a smaller one", headers={"Retry-After": "1"}) from None
