"""The slot ticker: apscheduler fires at every slot boundary of the service's clock, on the
event loop's thread, also when that clock runs much faster than the wall clock."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

from optimizer.service.app import _SlotTicker
from optimizer.service.clock import ScaledClock


async def test_ticks_at_slot_boundaries_on_the_loop_thread() -> None:
    start = datetime(2026, 3, 5, 17, 59, 50, tzinfo=UTC)
    clock = ScaledClock(start, 1800.0)  # a 15-minute slot every 0.5 s
    seen: list[tuple[datetime, int]] = []
    done = asyncio.Event()

    def on_tick(now: datetime) -> None:
        seen.append((now, threading.get_ident()))
        if len(seen) == 3:
            done.set()

    ticker = _SlotTicker(clock, on_tick)
    ticker.start()
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        ticker.shutdown()
    boundaries = [datetime(2026, 3, 5, 18, 0, tzinfo=UTC) + timedelta(minutes=15 * i)
                  for i in range(3)]
    for (now, thread), boundary in zip(seen, boundaries, strict=True):
        assert thread == threading.get_ident()
        assert boundary <= now < boundary + timedelta(minutes=5)
