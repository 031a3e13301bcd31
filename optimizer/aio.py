"""asyncio helpers that keep a service stoppable.

Before Python 3.12, `asyncio.wait_for` returns the result and drops the cancellation when
the awaited thing completes in the same loop pass as a `cancel()` (CPython gh-86296); a task
stopped at shutdown then carries on. These helpers use `asyncio.wait`, which never does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

T = TypeVar("T")

STOP_ROUNDS = 10
STOP_WAIT_S = 0.5


async def result_within(awaitable: Awaitable[T], timeout_s: float | None) -> T | None:
    """The awaitable's result, or None once `timeout_s` has passed (it is then cancelled)."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait([task], timeout=timeout_s)
    finally:
        if not task.done():
            task.cancel()
    return task.result() if done else None


async def stop_tasks(tasks: Iterable[asyncio.Task[object]]) -> None:
    """Cancel the tasks and wait for them, cancelling again those that swallowed it (a
    library inside them may use `wait_for`); their exceptions are retrieved, not raised."""
    tasks = list(tasks)
    for _ in range(STOP_ROUNDS):
        pending = [task for task in tasks if not task.done()]
        if not pending:
            break
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=STOP_WAIT_S)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()
