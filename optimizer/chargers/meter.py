"""The hand-over of wallbox meter readings to the SoC estimator.

Drivers push `MeterReading`s as they arrive (OCPP MeterValues, Modbus polls); the estimator
consumes them with `async for reading in feed.readings()`. The queue is bounded so a service
whose estimator stalls cannot grow without limit: the oldest reading is dropped and counted,
because the newest cumulative energy supersedes it anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from optimizer.events import MeterReading

TO_KILO: dict[str, float] = {"W": 0.001, "kW": 1.0, "Wh": 0.001, "kWh": 1.0}
"""Factor from a meter's unit to kW or kWh; other units are not power or energy."""


class MeterFeed:
    """A `MeterSource`: one consumer, readings in arrival order."""

    def __init__(self, maxsize: int = 1000) -> None:
        self._queue: asyncio.Queue[MeterReading] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0

    def publish(self, reading: MeterReading) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(reading)

    async def readings(self) -> AsyncIterator[MeterReading]:
        while True:
            yield await self._queue.get()
